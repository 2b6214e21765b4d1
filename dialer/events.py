"""What a carrier tells the engine about a call it placed.

Carrier webhooks arrive late, twice, or out of order; an event therefore
carries the carrier's own time (``at``) and sequence number, and the call state
machine keeps the first-seen value of every milestone, so the outcome does not
depend on arrival order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CarrierEventKind(enum.StrEnum):
    INITIATED = "initiated"  # the carrier started dialing (after its own CPS queue)
    RINGING = "ringing"
    ANSWERED = "answered"  # someone or something picked up ("in-progress")
    AMD = "amd"  # the answering-machine verdict: detail = human | machine | fax | unknown
    BRIDGED = "bridged"  # the agent hears the customer
    COMPLETED = "completed"  # the call is over: detail = CallEnd value


class CallEnd(enum.StrEnum):
    """How a call ended, in the carrier's terms (Twilio's final CallStatus values)."""

    COMPLETED = "completed"  # it was answered and then hung up
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"  # invalid or unreachable number
    CANCELED = "canceled"  # we hung up before an answer


@dataclass(frozen=True, slots=True)
class CarrierEvent:
    call_sid: str
    kind: CarrierEventKind
    at: float
    sequence: int = 0
    detail: str = ""
