"""The JSON Twilio's REST API returns, field for field as in its OpenAPI schemas.

Times are kept in simulated seconds; ``epoch`` turns one into Unix time so that
the dates read as RFC 2822, as Twilio writes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dialer.carriers.fake_twilio.calls import FakeCall
from dialer.carriers.fake_twilio.conferences import Conference, Participant

API_VERSION = "2010-04-01"
Epoch = Callable[[float], float]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(unix: float) -> str:
    """``Tue, 31 Aug 2010 20:36:28 +0000``, independent of the process's locale."""
    t = time.gmtime(unix)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _date(epoch: Epoch, at: float | None) -> str | None:
    return None if at is None else rfc2822(epoch(at))


def formatted(number: str) -> str:
    """North American numbers as Twilio shows them, ``(415) 867-5309``; anything else as given."""
    if number.startswith("+1") and len(number) == 12 and number[2:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def account_path(account_sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}"


def call_json(call: FakeCall, epoch: Epoch) -> dict[str, Any]:
    uri = f"{account_path(call.account_sid)}/Calls/{call.sid}"
    updated = max(t for t in (call.created_at, call.started_at, call.ringing_at, call.answered_at, call.ended_at)
                  if t is not None)
    return {
        "sid": call.sid,
        "date_created": _date(epoch, call.created_at),
        "date_updated": _date(epoch, updated),
        "parent_call_sid": None,
        "account_sid": call.account_sid,
        "to": call.to,
        "to_formatted": formatted(call.to),
        "from": call.from_,
        "from_formatted": formatted(call.from_),
        "phone_number_sid": None,
        "status": call.status,
        "start_time": _date(epoch, call.started_at),
        "end_time": _date(epoch, call.ended_at),
        "duration": str(call.duration_s()) if call.ended else None,
        "price": None,
        "price_unit": "USD",
        "direction": "outbound-api",
        "answered_by": call.answered_by,
        "api_version": API_VERSION,
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": str(round(max(0.0, call.start_slot - call.created_at) * 1000)),
        "trunk_sid": None,
        "uri": f"{uri}.json",
        "subresource_uris": {
            name: f"{uri}/{path}.json"
            for name, path in (
                ("feedback", "Feedback"),
                ("notifications", "Notifications"),
                ("recordings", "Recordings"),
                ("streams", "Streams"),
                ("payments", "Payments"),
                ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
                ("user_defined_messages", "UserDefinedMessages"),
                ("events", "Events"),
                ("siprec", "Siprec"),
                ("transcriptions", "Transcriptions"),
            )
        },
    }


def conference_json(conference: Conference, epoch: Epoch) -> dict[str, Any]:
    uri = f"{account_path(conference.account_sid)}/Conferences/{conference.sid}"
    return {
        "account_sid": conference.account_sid,
        "date_created": _date(epoch, conference.created_at),
        "date_updated": _date(epoch, conference.updated_at),
        "api_version": API_VERSION,
        "friendly_name": conference.friendly_name,
        "region": "us1",
        "sid": conference.sid,
        "status": conference.status,
        "uri": f"{uri}.json",
        "subresource_uris": {"participants": f"{uri}/Participants.json", "recordings": f"{uri}/Recordings.json"},
        "reason_conference_ended": conference.reason_ended,
        "call_sid_ending_conference": conference.call_sid_ending,
    }


def participant_json(conference: Conference, participant: Participant, epoch: Epoch) -> dict[str, Any]:
    uri = f"{account_path(conference.account_sid)}/Conferences/{conference.sid}/Participants/{participant.call_sid}"
    return {
        "account_sid": conference.account_sid,
        "call_sid": participant.call_sid,
        "label": participant.label,
        "call_sid_to_coach": participant.call_sid_to_coach,
        "coaching": participant.coaching,
        "conference_sid": conference.sid,
        "date_created": _date(epoch, participant.created_at),
        "date_updated": _date(epoch, participant.updated_at),
        "end_conference_on_exit": participant.end_conference_on_exit,
        "muted": participant.muted,
        "hold": participant.hold,
        "start_conference_on_enter": participant.start_conference_on_enter,
        "status": participant.status,
        "queue_time": "0",
        "uri": f"{uri}.json",
    }


def page_json(key: str, items: list[dict[str, Any]], path: str, page_size: int = 50) -> dict[str, Any]:
    """A list response: everything on one page (the stand-in never holds enough to need more)."""
    uri = f"{path}?PageSize={page_size}&Page=0"
    return {
        key: items,
        "end": max(len(items) - 1, 0),
        "first_page_uri": uri,
        "next_page_uri": None,
        "page": 0,
        "page_size": max(page_size, len(items)),
        "previous_page_uri": None,
        "start": 0,
        "uri": uri,
    }
