"""How a campaign's contacts come round again: in which order, and on which of their phones.

The hopper's query (``campaigns.store.SqlLeadSource``) orders contacts with
``lead_order_by`` and picks each contact's phone with ``next_phone``; the
campaign's settings are checked here so the forms, the API and the dialer read
them alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, case, literal

from campaigns.models import Contact, ContactStatus

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
