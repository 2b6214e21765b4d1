"""What a Twilio error means for the engine.

The engine knows three cases (``CarrierError``): a number that will never work
(mark it bad), a request to back off, and anything else.  A fourth, an update
to a call that has already ended, is no error at all: webhooks race the
engine's decisions, so a hang-up can meet a call that is gone.
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioRestException

# The called number is invalid or cannot be reached: retrying will not help.
INVALID_NUMBER_CODES = frozenset({21211, 21214, 21217, 13224})
# Twilio's "too many concurrent requests"; never processed, always safe to retry.
RATE_LIMITED_CODE = 20429
# "Call is not in-progress. Cannot redirect": the call ended before our update.
CALL_ENDED_CODES = frozenset({21220})


def is_invalid_number(error: TwilioRestException) -> bool:
    return error.code in INVALID_NUMBER_CODES


def is_rate_limited(error: TwilioRestException) -> bool:
    return error.status == 429 or error.code == RATE_LIMITED_CODE


def is_call_ended(error: TwilioRestException) -> bool:
    return error.code in CALL_ENDED_CODES


def describe(error: TwilioRestException) -> str:
    """One line for logs and ``CarrierError`` messages: Twilio's code, status and message."""
    message = str(error.msg).strip().splitlines()[0] if error.msg else ""
    return f"Twilio error {error.code} (HTTP {error.status}): {message}"
