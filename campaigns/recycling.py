"""How a campaign's contacts come round again: in which order, on which of their phones, after which codes.

The hopper's query (``campaigns.store.SqlLeadSource``) orders contacts with
``lead_order_by`` and picks each contact's phone with ``next_phone``; the
campaign's settings and its disposition set are checked here, so the forms,
the API and the dialer read them alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, case, delete, literal, select
from sqlalchemy.orm import Session

from campaigns.lead_filters import FilterError, parse_filter
from campaigns.models import Contact, ContactStatus, DispositionCode

LEAD_ORDERS = ("priority", "newest_first", "oldest_first", "random")
POSITION = "position"  # the phone order that follows the list's columns
MAX_PHONE_LABELS = 20


class SettingError(ValueError):
    """A lead-lifecycle setting was refused; ``field`` names the setting."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def parse_lead_order(value: Any) -> str:
    if value is None or value == "":
        return "priority"
    if value not in LEAD_ORDERS:
        raise SettingError("lead_order", f"must be one of {', '.join(LEAD_ORDERS)}, not {value!r}")
    return str(value)


def parse_phone_order(value: Any) -> list[str]:
    """Phone labels to try first, in order, as stored: ``"position"``, None or [] mean the list's column order.

    Labels are compared without regard to case, and a label also matches a
    phone whose label has it as a word ("home" matches "Home phone").
    """
    if value is None or value == POSITION or value == []:
        return []
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\n]", value) if part.strip()]
    if not isinstance(value, list):
        raise SettingError("phone_order", f"must be 'position' or a list of phone labels, not {value!r}")
    if len(value) > MAX_PHONE_LABELS:
        raise SettingError("phone_order", f"at most {MAX_PHONE_LABELS} labels, not {len(value)}")
    labels: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip() or len(item.strip()) > 32:
            raise SettingError("phone_order", f"each label is text of 1 to 32 characters, not {item!r}")
        label = item.strip().lower()
        if label in labels:
            raise SettingError("phone_order", f"{item.strip()!r} is listed twice")
        labels.append(label)
    return labels


# phones -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhoneOption:
    """One usable (status ok) phone of a contact."""

    id: int
    label: str
    position: int
    attempts: int  # dials of this phone so far


def label_rank(label: str, order: Sequence[str]) -> int:
    """Where a phone's label stands in the campaign's order; labels not listed come after, by position."""
    name = (label or "").strip().lower()
    words = set(re.findall(r"[a-z0-9]+", name))
    for rank, wanted in enumerate(order):
        if name == wanted or wanted in words:
            return rank
    return len(order)


def next_phone(
    options: Sequence[PhoneOption], order: Sequence[str], preferred: int | None = None
) -> PhoneOption | None:
    """The phone to dial next: the first in the campaign's order not yet tried in this round.

    A round is one try of every usable phone: the least-dialed phones are the
    ones this round has not reached, so a no-answer moves the contact on to its
    next phone, and a phone marked bad simply leaves the round.  The phone the
    person last answered on (``preferred``) comes first while it is usable.
    """
    if not options:
        return None
    if preferred is not None:
        for option in options:
            if option.id == preferred:
                return option
    fewest = min(option.attempts for option in options)
    return min(
        (option for option in options if option.attempts == fewest),
        key=lambda option: (label_rank(option.label, order), option.position, option.id),
    )


# contacts ---------------------------------------------------------------------------------------

_MASK = 0xFFFFFFFF


def _mix(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """One round of a 32-bit integer hash, in arithmetic SQLite and PostgreSQL both have (no XOR on SQLite)."""
    shifted = value.op(">>")(literal(16, Integer))
    xored = value.op("|")(shifted) - value.op("&")(shifted)
    return (xored * literal(0x45D9F3B, BigInteger)).op("&")(literal(_MASK, BigInteger))


def shuffle_key(campaign_id: int) -> ColumnElement[Any]:
    """A pseudo-random sort key from the contact's id and the campaign's: the same order after every restart."""
    seed = (campaign_id * 0x9E3779B1) & _MASK
    start = (Contact.id * literal(0x85EBCA6B, BigInteger) + literal(seed, BigInteger)).op("&")(
        literal(_MASK, BigInteger)
    )
    return _mix(_mix(start))


def lead_order_by(order: str, campaign_id: int) -> list[Any]:
    """ORDER BY of the hopper's query: callbacks that are due first, then the campaign's lead order."""
    callbacks_first = case((Contact.status == ContactStatus.CALLBACK.value, 0), else_=1)
    if order == "newest_first":
        return [callbacks_first, Contact.created_at.desc(), Contact.id.desc()]
    if order == "oldest_first":
        return [callbacks_first, Contact.created_at, Contact.id]
    if order == "random":
        return [callbacks_first, shuffle_key(campaign_id), Contact.id]
    # priority: the highest first, then the never-dialed, then the longest waiting
    return [callbacks_first, Contact.priority.desc(), Contact.next_eligible_at.is_not(None),
            Contact.next_eligible_at, Contact.id]


# settings and disposition sets, as a form or the API gives them ------------------------------------------


def parse_lifecycle_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The lead-lifecycle settings given (``phone_order``, ``lead_order``, ``lead_filter``), checked and normalized."""
    out: dict[str, Any] = {}
    if "phone_order" in settings:
        out["phone_order"] = parse_phone_order(settings["phone_order"])
    if "lead_order" in settings:
        out["lead_order"] = parse_lead_order(settings["lead_order"])
    if "lead_filter" in settings:
        try:
            out["lead_filter"] = parse_filter(settings["lead_filter"]).to_json()
        except FilterError as exc:
            raise SettingError("lead_filter", str(exc)) from exc
        if not out["lead_filter"]["conditions"]:
            out["lead_filter"] = {}
    return out


DISPOSITION_FLAGS = (
    "human_answered", "final", "sale", "adds_to_dnc", "callback", "wrong_number", "answering_machine",
    "different_hour",
)
_FLAG_DEFAULTS = {flag: flag == "human_answered" for flag in DISPOSITION_FLAGS}
_CODE = re.compile(r"^[A-Z0-9_]{1,32}$")
MAX_CODES = 100
MAX_RETRY_AFTER_MIN = 60 * 24 * 365
MAX_RETRIES = 100


def parse_disposition(raw: Any, index: int = 0) -> dict[str, Any]:
    """One code of a campaign's set, checked for sense: a code that stops the contact has no retry rules."""
    where = f"dispositions[{index}]"
    if not isinstance(raw, Mapping):
        raise SettingError(where, "must be an object with code, label and flags")
    unknown = set(raw) - {"code", "label", "retry_after_min", "max_retries", *DISPOSITION_FLAGS}
    if unknown:
        raise SettingError(f"{where}.{sorted(unknown)[0]}", "is not a disposition setting")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code.strip().upper()):
        raise SettingError(f"{where}.code", f"must be 1 to 32 letters, digits or _, not {code!r}")
    label = raw.get("label", code)
    if not isinstance(label, str) or not label.strip() or len(label.strip()) > 100:
        raise SettingError(f"{where}.label", "must be text of 1 to 100 characters")
    out: dict[str, Any] = {"code": code.strip().upper(), "label": label.strip()}
    for flag in DISPOSITION_FLAGS:
        value = raw.get(flag, _FLAG_DEFAULTS[flag])
        if not isinstance(value, bool):
            raise SettingError(f"{where}.{flag}", f"must be true or false, not {value!r}")
        out[flag] = value
    for name, top in (("retry_after_min", MAX_RETRY_AFTER_MIN), ("max_retries", MAX_RETRIES)):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top):
            raise SettingError(f"{where}.{name}", f"must be empty or a whole number from 0 to {top}, not {value!r}")
        out[name] = value
    stops = [flag for flag in ("final", "sale", "adds_to_dnc", "wrong_number") if out[flag]]
    if stops and out["callback"]:
        raise SettingError(f"{where}.callback", f"a code that is {stops[0]} cannot also ask for a callback")
    if (stops or out["callback"]) and (out["max_retries"] is not None or out["different_hour"]):
        field = "max_retries" if out["max_retries"] is not None else "different_hour"
        why = stops[0] if stops else "callback"
        raise SettingError(f"{where}.{field}", f"applies to retried codes only; this one is {why}")
    if out["answering_machine"] and out["human_answered"]:
        raise SettingError(f"{where}.answering_machine", "a machine is not a person: turn human_answered off")
    return out


def parse_disposition_set(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise SettingError("dispositions", "must be a list of codes")
    if len(raw) > MAX_CODES:
        raise SettingError("dispositions", f"at most {MAX_CODES} codes, not {len(raw)}")
    codes = [parse_disposition(item, i) for i, item in enumerate(raw)]
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if code["code"] in seen:
            raise SettingError(f"dispositions[{i}].code", f"{code['code']} is listed twice")
        seen.add(code["code"])
    return codes


def replace_dispositions(session: Session, campaign_id: int, raw: Any) -> list[DispositionCode]:
    """Make ``raw`` the campaign's own disposition set (an empty list: back to the default set).

    Agents are offered the campaign's set; codes the system gives by itself
    (NA, BUSY, AM, DROP, BAD) fall back to the default set's rules unless the
    campaign's set redefines them.  Flushes, never commits.
    """
    codes = parse_disposition_set(raw)
    session.execute(delete(DispositionCode).where(DispositionCode.campaign_id == campaign_id))
    rows = [DispositionCode(campaign_id=campaign_id, **code) for code in codes]
    session.add_all(rows)
    session.flush()
    return rows


def disposition_set(session: Session, campaign_id: int) -> list[DispositionCode]:
    """The codes that apply to a campaign: its own where it has them, the default set for the rest."""
    rows = session.scalars(
        select(DispositionCode)
        .where((DispositionCode.campaign_id == campaign_id) | DispositionCode.campaign_id.is_(None))
        .order_by(DispositionCode.campaign_id.is_(None), DispositionCode.id)
    ).all()
    chosen: dict[str, DispositionCode] = {}
    for row in rows:
        chosen.setdefault(row.code, row)
    return list(chosen.values())
