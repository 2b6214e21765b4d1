"""What the API's resources look like as JSON: times in ISO 8601 UTC, ids as numbers, nothing hidden in formats.

Flask would write datetimes as HTTP dates; programs want ISO 8601, so every
record goes through these functions rather than ``jsonify`` on its own.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from campaigns.models import CallAttempt, Contact, ContactList, ContactPhone

CALL_TIMESTAMPS = (
    "queued_at",
    "placed_at",
    "ringing_at",
    "answered_at",
    "amd_at",
    "agent_reserved_at",
    "connected_at",
    "abandoned_at",
    "message_played_at",
    "ended_at",
    "wrap_ended_at",
)


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def plain(value: Any) -> Any:
    """``value`` with every datetime inside it as ISO 8601 text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def list_to_dict(contact_list: ContactList) -> dict[str, Any]:
    return {
        "id": contact_list.id,
        "campaign_id": contact_list.campaign_id,
        "name": contact_list.name,
        "default_region": contact_list.default_region,
        "rows_total": contact_list.rows_total,
        "rows_imported": contact_list.rows_imported,
        "rows_rejected": contact_list.rows_rejected,
        "rows_through": contact_list.rows_through,
        "created_at": iso(contact_list.created_at),
        "finished_at": iso(contact_list.finished_at),
    }


def phone_to_dict(phone: ContactPhone) -> dict[str, Any]:
    return {
        "id": phone.id,
        "e164": phone.e164,
        "label": phone.label,
        "position": phone.position,
        "timezones": list(phone.timezones or []),
        "status": phone.status,
        "attempts": phone.attempts,
    }


def contact_to_dict(contact: Contact, *, phones: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": contact.id,
        "campaign_id": contact.campaign_id,
        "list_id": contact.list_id,
        "external_id": contact.external_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "state": contact.state,
        "postal_code": contact.postal_code,
        "timezone": contact.timezone,
        "custom_fields": dict(contact.custom_fields or {}),
        "status": contact.status,
        "attempts": contact.attempts,
        "priority": contact.priority,
        "next_eligible_at": iso(contact.next_eligible_at),
        "last_attempt_at": iso(contact.last_attempt_at),
        "last_disposition": contact.last_disposition,
        "created_at": iso(contact.created_at),
    }
    if phones:
        data["phones"] = [phone_to_dict(phone) for phone in contact.phones]
    return data


def call_to_dict(call: CallAttempt, agent_login: str | None) -> dict[str, Any]:
    return {
        "id": call.id,
        "campaign_id": call.campaign_id,
        "contact_id": call.contact_id,
        "phone_id": call.phone_id,
        "e164": call.e164,
        "caller_id": call.caller_id,
        "attempt_number": call.attempt_number,
        "carrier_call_id": call.carrier_call_id,
        "state": call.state,
        "answer_class": call.answer_class,
        "amd_verdict": call.amd_verdict,
        "end_reason": call.end_reason,
        "disposition": call.disposition,
        "notes": call.notes,
        "agent": agent_login,
        "ring_s": call.ring_s,
        "talk_s": call.talk_s,
        "wrap_s": call.wrap_s,
        "timestamps": {name: iso(getattr(call, name)) for name in CALL_TIMESTAMPS},
    }


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}
