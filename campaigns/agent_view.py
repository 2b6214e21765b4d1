"""What an agent's console shows of a call, and what it accepts back.

The console is pushed a whole picture the moment a call connects (contact,
history, script, disposition codes), so it is built here in one place from the
engine's call id.  The disposition coming back is checked here too: a callback
time is typed in the *contact's* wall-clock time, which only the server can
turn into UTC reliably (the agent's browser sits in another zone, and DST
moves differ by place).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Agent, CallAttempt, Campaign, Contact, ContactList, ContactPhone, DispositionCode
from dialer.outcomes import DROPPED

PAUSE_REASONS = ("break", "lunch", "meeting", "training", "coaching", "other")
# How long wrap-up should take; the console shows it, it never ends wrap-up by itself.
DEFAULT_WRAP_LIMIT_S = 60
CALLBACK_HORIZON = timedelta(days=365)
NOTES_MAX = 4000
HISTORY_LIMIT = 50

_CALL_ID = re.compile(r"^c(\d+)-(\d+)-(\d+)$")
_MERGE_FIELD = re.compile(r"\{([A-Za-z0-9_][A-Za-z0-9_ .\-]{0,63})\}")


class ConsoleInputError(ValueError):
    """Bad input from the console, naming the field the agent has to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ------------------------------------------------------------------------------------------ pure parts


def parse_call_id(call_id: str | None) -> tuple[int, int, int] | None:
    """(campaign, contact, attempt number) of an engine call id ``c<campaign>-<contact>-<attempt>``."""
    found = _CALL_ID.match(call_id or "")
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def _field_key(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", name.strip().lower())


def merge_fields(contact: Contact, *, phone: str, agent_name: str, campaign_name: str) -> dict[str, str]:
    """The values a script may name: the contact's own, then custom fields under their names."""
    values: dict[str, str] = {}
    for name, value in (contact.custom_fields or {}).items():
        if value is not None:
            values[_field_key(str(name))] = str(value)
    values.update({
        "first_name": contact.first_name or "",
        "last_name": contact.last_name or "",
        "phone": phone,
        "agent_name": agent_name,
        "campaign": campaign_name,
    })
    return values


def merge_script(script: str, values: Mapping[str, str]) -> str:
    """The script as HTML: text escaped, known fields filled in and marked, unknown ones left as ``{x}``.

    Unknown fields stay visible on purpose: an agent who sees ``{plan}`` knows to
    ask, where a blank would have them read a broken sentence to a customer.
    """
    keyed = {_field_key(k): v for k, v in values.items()}
    out: list[str] = []
    last = 0
    for found in _MERGE_FIELD.finditer(script):
        out.append(html.escape(script[last:found.start()]))
        name = found.group(1)
        value = keyed.get(_field_key(name))
        if value is None or value == "":
            out.append(f'<span class="merge missing" title="no value for this field">{html.escape(found.group(0))}'
                       "</span>")
        else:
            out.append(f'<span class="merge" title="{html.escape(name)}">{html.escape(value)}</span>')
        last = found.end()
    out.append(html.escape(script[last:]))
    return "".join(out).replace("\r\n", "\n").replace("\n", "<br>\n")


def contact_zones(contact: Contact, phone: ContactPhone | None) -> tuple[str, ...]:
    """Candidate zones of the contact, best first: what they stated, the called phone's, their other phones'."""
    found: list[str] = []
    if contact.timezone:
        found.append(contact.timezone)
    if phone is not None:
        found.extend(phone.timezones or ())
    for other in contact.phones:
        found.extend(other.timezones or ())
    usable = []
    for name in dict.fromkeys(found):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        usable.append(name)
    return tuple(usable)


def callback_to_utc(text: Any, zone: str, now: datetime) -> datetime:
    """A callback time typed in the contact's wall-clock time (``YYYY-MM-DDTHH:MM``), as UTC.

    A time that does not exist there (the hour skipped when clocks go forward)
    is refused; one that happens twice (clocks go back) is the first of the two.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConsoleInputError("callback_at", "give a date and time, e.g. 2026-12-03T14:30")
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise ConsoleInputError("callback_at", f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from error
    if local.tzinfo is not None:
        raise ConsoleInputError("callback_at", "give the contact's local time without a UTC offset")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConsoleInputError("callback_at", f"the contact's time zone {zone!r} is unknown") from error
    at = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if at.astimezone(tz).replace(tzinfo=None) != local:
        raise ConsoleInputError(
            "callback_at", f"{local:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks skip that hour")
    if at <= now:
        raise ConsoleInputError(
            "callback_at", f"{local:%Y-%m-%d %H:%M} in {zone} has passed; choose a time in the future")
    if at > now + CALLBACK_HORIZON:
        raise ConsoleInputError("callback_at", "a callback must be within a year")
    return at


@dataclass(frozen=True)
class DispositionRequest:
    """A checked disposition, ready to become engine commands."""

    code: str
    notes: str
    callback_at: datetime | None
    dnc: bool
    then_pause: str | None


def _flag(field: str, value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "off", "no"):
        return False
    raise ConsoleInputError(field, f"must be true or false, not {value!r}")


def read_disposition(
    body: Mapping[str, Any], codes: Sequence[Mapping[str, Any]], zone: str | None, now: datetime
) -> DispositionRequest:
    """Check a disposition form against the campaign's codes and the contact's time zone."""
    code = body.get("code")
    by_code = {c["code"]: c for c in codes}
    if not isinstance(code, str) or code.strip() not in by_code:
        raise ConsoleInputError("code", f"{code!r} is not a disposition of this campaign; "
                                        f"choose one of {', '.join(by_code)}")
    rule = by_code[code.strip()]
    notes = body.get("notes") or ""
    if not isinstance(notes, str):
        raise ConsoleInputError("notes", "must be text")
    if len(notes) > NOTES_MAX:
        raise ConsoleInputError("notes", f"at most {NOTES_MAX} characters")
    dnc = _flag("dnc", body.get("dnc"))
    callback_at = None
    raw_callback = body.get("callback_at")
    if raw_callback not in (None, ""):
        if dnc or rule["adds_to_dnc"]:
            raise ConsoleInputError("callback_at", "a person who asked not to be called gets no callback")
        if zone is None:
            raise ConsoleInputError("callback_at", "the contact's time zone is unknown, so no callback can be set")
        callback_at = callback_to_utc(raw_callback, zone, now)
    then_pause = body.get("then_pause")
    if then_pause in (None, "", False, "ready"):
        then_pause = None
    elif then_pause not in PAUSE_REASONS:
        raise ConsoleInputError("then_pause", f"must be one of {', '.join(PAUSE_REASONS)}")
    return DispositionRequest(code.strip(), notes.strip(), callback_at, dnc, then_pause)


def national_format(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# ------------------------------------------------------------------------------------------ from the database


def disposition_codes(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's own codes, else the default set; people first, the system's drop code left out."""
    rows = list(session.scalars(select(DispositionCode).where(DispositionCode.campaign_id == campaign_id)
                                .order_by(DispositionCode.id)))
    if not rows:
        rows = list(session.scalars(select(DispositionCode).where(DispositionCode.campaign_id.is_(None))
                                    .order_by(DispositionCode.id)))
    rows = [r for r in rows if r.code != DROPPED]
    rows.sort(key=lambda r: not r.human_answered)
    return [
        {"code": r.code, "label": r.label, "human_answered": r.human_answered, "final": r.final,
         "retry_after_min": r.retry_after_min, "adds_to_dnc": r.adds_to_dnc, "callback": r.callback, "sale": r.sale}
        for r in rows
    ]


def find_attempt(session: Session, campaign_id: int, call_id: str | None) -> CallAttempt | None:
    """The CallAttempt of an engine call id (its attempt row exists from the claim, before the dial)."""
    parsed = parse_call_id(call_id)
    if parsed is None or parsed[0] != campaign_id:
        return None
    _, contact_id, attempt_number = parsed
    return session.scalars(select(CallAttempt).where(
        CallAttempt.campaign_id == campaign_id, CallAttempt.contact_id == contact_id,
        CallAttempt.attempt_number == attempt_number)).first()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def contact_history(session: Session, contact_id: int, *, exclude_attempt: int | None) -> list[dict[str, Any]]:
    """Earlier attempts of the contact, newest first, with who handled them and what was said."""
    labels = {c.code: c.label for c in session.scalars(select(DispositionCode))}
    query = (
        select(CallAttempt, Agent.name, Agent.login)
        .outerjoin(Agent, Agent.id == CallAttempt.agent_id)
        .where(CallAttempt.contact_id == contact_id)
        .order_by(CallAttempt.queued_at.desc(), CallAttempt.id.desc())
        .limit(HISTORY_LIMIT)
    )
    if exclude_attempt is not None:
        query = query.where(CallAttempt.id != exclude_attempt)
    rows = session.execute(query).all()
    return [
        {"attempt": a.attempt_number, "at": _iso(a.placed_at or a.queued_at), "phone": national_format(a.e164),
         "agent": name or login or None, "disposition": a.disposition,
         "disposition_label": labels.get(a.disposition or "", a.disposition), "notes": a.notes or "",
         "talk_s": round(a.talk_s) if a.talk_s is not None else None, "answer": a.answer_class,
         "ended": a.ended_at is not None}
        for a, name, login in rows
    ]


def call_view(session: Session, campaign_id: int, call_id: str, *, agent_name: str,
              now: datetime) -> dict[str, Any] | None:
    """Everything the console shows for the call ``call_id``; None when its attempt is not found."""
    attempt = find_attempt(session, campaign_id, call_id)
    if attempt is None:
        return None
    contact = session.get(Contact, attempt.contact_id)
    campaign = session.get(Campaign, campaign_id)
    if contact is None or campaign is None:
        return None
    phone = session.get(ContactPhone, attempt.phone_id) if attempt.phone_id is not None else None
    contact_list = session.get(ContactList, contact.list_id)
    zones = contact_zones(contact, phone)
    zone = zones[0] if zones else None
    local = now.astimezone(ZoneInfo(zone)) if zone else None
    offset = local.utcoffset() if local is not None else None
    offsets = {now.astimezone(ZoneInfo(z)).utcoffset() for z in zones}
    shown_phone = national_format(attempt.e164)
    values = merge_fields(contact, phone=shown_phone, agent_name=agent_name, campaign_name=campaign.name)
    return {
        "call_id": call_id,
        "attempt_id": attempt.id,
        "attempt_number": attempt.attempt_number,
        "connected_at": _iso(attempt.connected_at),
        "contact": {
            "id": contact.id,
            "name": " ".join(p for p in (contact.first_name, contact.last_name) if p) or "(no name)",
            "first_name": contact.first_name, "last_name": contact.last_name,
            "phone": shown_phone, "e164": attempt.e164, "email": contact.email,
            "state": contact.state, "postal_code": contact.postal_code, "external_id": contact.external_id,
            "status": contact.status, "attempts": contact.attempts,
            "custom_fields": {str(k): "" if v is None else str(v) for k, v in (contact.custom_fields or {}).items()},
            "list": contact_list.name if contact_list else None,
            "time_zone": zone,
            "time_zones": list(zones),
            "zones_disagree": len(offsets) > 1,
            "local_time": local.strftime("%a %H:%M") if local else None,
            "local_now": local.strftime("%Y-%m-%dT%H:%M") if local else None,
            "utc_offset_min": int(offset.total_seconds() // 60) if offset is not None else None,
        },
        "history": contact_history(session, contact.id, exclude_attempt=attempt.id),
        "script_html": merge_script(campaign.script or "", values),
        "recording_announcement": campaign.recording_announcement if campaign.record_calls else "",
        "dispositions": disposition_codes(session, campaign_id),
        "wrap_limit_s": DEFAULT_WRAP_LIMIT_S,
    }


def contact_zone_for_call(session: Session, campaign_id: int, call_id: str | None) -> tuple[CallAttempt, str | None]:
    """The attempt of a call and the zone its contact's callback times are read in; LookupError when unknown."""
    attempt = find_attempt(session, campaign_id, call_id)
    if attempt is None:
        raise LookupError(call_id)
    contact = session.get_one(Contact, attempt.contact_id)
    phone = session.get(ContactPhone, attempt.phone_id) if attempt.phone_id is not None else None
    zones = contact_zones(contact, phone)
    return attempt, zones[0] if zones else None
