"""List health: how much of a campaign's lists the dialer can still call, now, later or never.

A supervisor deciding whether to load a new list needs to know whether the
current ones are running dry, and why: a list whose contacts all wait for
their retry delay is fine in an hour, one whose numbers sit on the do-not-call
list or have used every attempt is done.  Each contact lands in exactly one
group, judged the way the dialer's lead source and dial gate would judge it
(``campaigns.store.SqlLeadSource``, ``compliance.gate.CallingHoursRule``):

* **dialable now**: in a dialable status, attempts left, eligible already,
  its next phone not on the company or campaign do-not-call list, and inside
  the campaign's calling window in every candidate zone of that phone;
* **dialable later**: waiting for a retry delay or a callback time, bucketed
  by when (within the hour, later today in the campaign's zone, later);
* **finished**: a final disposition was reached, counted by that disposition;
* **not dialable**, by reason: on a do-not-call list, no usable phone,
  attempts exhausted, outside the calling hours right now (with when they
  open), unknown time zone, held by the dial gate, or in a call right now.

The national registry and the law's own narrower hours are checked by the gate
at dial time and are not repeated here: this is a forecast of the campaign's
own rules, not a dial decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from campaigns.models import Campaign, Contact, ContactList, ContactPhone, ContactStatus, DncEntry
from compliance.gate import CallingWindow, next_time_inside
from compliance.timezones import resolve

__all__ = [
    "LATER_BUCKETS",
    "REASONS",
    "ContactFacts",
    "HealthCounts",
    "ListHealthReport",
    "Verdict",
    "judge",
    "list_health",
    "reasons_in_order",
]

#: Why a contact cannot be dialed, in the order the page shows them, with the words it uses.
REASONS: dict[str, str] = {
    "dnc": "On a do-not-call list",
    "bad_phones": "No usable phone",
    "attempts_exhausted": "Attempts exhausted",
    "outside_hours": "Outside calling hours now",
    "unknown_timezone": "Time zone unknown",
    "held": "Held by the dial gate",
    "in_call": "In a call right now",
}
#: When the contacts waiting for a retry delay or callback come due.
LATER_BUCKETS: dict[str, str] = {
    "within_1h": "Within 1 hour",
    "today": "Later today",
    "later": "After today",
}
_BATCH = 2000
_DIALABLE = {ContactStatus.NEW.value, ContactStatus.RETRY.value, ContactStatus.CALLBACK.value}
_REASON_OF_STATUS = {
    ContactStatus.DNC.value: "dnc",
    ContactStatus.BAD_NUMBER.value: "bad_phones",
    ContactStatus.EXHAUSTED.value: "attempts_exhausted",
    ContactStatus.HELD.value: "held",
    ContactStatus.IN_CALL.value: "in_call",
}


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What the judgement of one contact needs: its status and counters, and its usable phones."""

    status: str
    attempts: int
    next_eligible_at: datetime | None
    last_disposition: str | None
    phones: tuple[tuple[str, tuple[str, ...]], ...]  # (e164, candidate zones) of the "ok" phones, dial order
    state: str | None = None
    postal_code: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One contact's group (now, later, finished, not) with its reason or bucket and the time it changes."""

    group: str
    key: str | None = None  # the bucket (later), disposition (finished) or reason (not)
    when: datetime | None = None  # later: when it comes due; outside_hours: when the window opens


def judge(
    facts: ContactFacts,
    *,
    now: datetime,
    window: CallingWindow,
    max_attempts: int,
    listed: set[str] | frozenset[str],
    office_zone: ZoneInfo,
) -> Verdict:
    """Where one contact stands, without touching the database (``listed``: its phones on a DNC list)."""
    if facts.status == ContactStatus.DONE.value:
        return Verdict("finished", facts.last_disposition or "done")
    if facts.status not in _DIALABLE:
        return Verdict("not", _REASON_OF_STATUS.get(facts.status, "held"))
    callback = facts.status == ContactStatus.CALLBACK.value
    if not callback and facts.attempts >= max_attempts:
        return Verdict("not", "attempts_exhausted")
    if not facts.phones:
        return Verdict("not", "bad_phones")
    e164, zones = facts.phones[facts.attempts % len(facts.phones)]  # the phone the dialer takes next
    if e164 in listed:
        return Verdict("not", "dnc")
    if facts.next_eligible_at is not None and facts.next_eligible_at > now:
        return Verdict("later", _bucket(facts.next_eligible_at, now, office_zone), facts.next_eligible_at)
    names = tuple(dict.fromkeys((*zones, *((facts.timezone,) if facts.timezone else ()))))
    if not names:
        names = resolve(e164, facts.state, facts.postal_code).zones
    readable = _zoneinfos(names)
    if not readable:
        return Verdict("not", "unknown_timezone")
    if all(window.contains(now.astimezone(zone).time()) for zone in readable):
        return Verdict("now")
    return Verdict("not", "outside_hours", next_time_inside(window, readable, now))


@dataclass
class HealthCounts:
    """The groups of one list (or of all lists together)."""

    list_id: int | None
    name: str
    total: int = 0
    dialable_now: int = 0
    dialable_later: int = 0
    later: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LATER_BUCKETS, 0))
    earliest_later: datetime | None = None
    finished: int = 0
    finished_by: Counter[str] = field(default_factory=Counter)
    not_dialable: int = 0
    not_by: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    hours_open_at: datetime | None = None  # when the first contact outside its hours may be called

    def add(self, verdict: Verdict, count: int = 1) -> None:
        self.total += count
        if verdict.group == "now":
            self.dialable_now += count
        elif verdict.group == "later":
            self.dialable_later += count
            self.later[verdict.key or "later"] += count
            self.earliest_later = _earliest(self.earliest_later, verdict.when)
        elif verdict.group == "finished":
            self.finished += count
            self.finished_by[verdict.key or "done"] += count
        else:
            self.not_dialable += count
            self.not_by[verdict.key or "held"] = self.not_by.get(verdict.key or "held", 0) + count
            if verdict.key == "outside_hours":
                self.hours_open_at = _earliest(self.hours_open_at, verdict.when)

    def share(self, count: int) -> float:
        return count / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "list_id": self.list_id,
            "name": self.name,
            "total": self.total,
            "dialable_now": self.dialable_now,
            "dialable_later": self.dialable_later,
            "later": dict(self.later),
            "earliest_later": self.earliest_later.isoformat() if self.earliest_later else None,
            "finished": self.finished,
            "finished_by": dict(self.finished_by.most_common()),
            "not_dialable": self.not_dialable,
            "not_by": dict(self.not_by),
            "hours_open_at": self.hours_open_at.isoformat() if self.hours_open_at else None,
        }


@dataclass
class ListHealthReport:
    """Every list of a campaign and their sum, as of ``at``."""

    campaign_id: int
    at: datetime
    lists: list[HealthCounts]
    total: HealthCounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "at": self.at.isoformat(),
            "total": self.total.to_dict(),
            "lists": [counts.to_dict() for counts in self.lists],
        }


def list_health(session: Session, campaign: Campaign, now: datetime) -> ListHealthReport:
    """The health of each of the campaign's lists at ``now`` (aware).

    Contacts outside the dialable statuses are counted by the database
    (grouped); only the dialable ones are read row by row, with their phones,
    in batches, since their verdict depends on the clock and their zones.
    """
    if now.tzinfo is None:
        raise ValueError("give an aware datetime")
    window = CallingWindow.parse(campaign.calling_window)
    office_zone = _office_zone(campaign.schedule_tz)
    query = select(ContactList.id, ContactList.name).where(ContactList.campaign_id == campaign.id)
    lists = {row.id: HealthCounts(row.id, row.name) for row in session.execute(query.order_by(ContactList.id))}
    total = HealthCounts(None, "All lists")

    def counts_for(list_id: int) -> HealthCounts:
        found = lists.get(list_id)
        if found is None:  # a contact of a list made while we read
            found = lists[list_id] = HealthCounts(list_id, f"list {list_id}")
        return found

    settled = session.execute(
        select(Contact.list_id, Contact.status, Contact.last_disposition, func.count())
        .where(Contact.campaign_id == campaign.id, Contact.status.not_in(_DIALABLE))
        .group_by(Contact.list_id, Contact.status, Contact.last_disposition)
    )
    for list_id, status, disposition, count in settled:
        facts = ContactFacts(status, 0, None, disposition, ())
        verdict = judge(facts, now=now, window=window, max_attempts=campaign.max_attempts, listed=frozenset(),
                        office_zone=office_zone)
        counts_for(list_id).add(verdict, int(count))
        total.add(verdict, int(count))

    listed = _listed_numbers(session, campaign.id)
    for list_id, facts in _dialable_contacts(session, campaign.id):
        verdict = judge(facts, now=now, window=window, max_attempts=campaign.max_attempts, listed=listed,
                        office_zone=office_zone)
        counts_for(list_id).add(verdict)
        total.add(verdict)
    return ListHealthReport(campaign.id, now, list(lists.values()), total)


# --------------------------------------------------------------------------- internals


def _dialable_contacts(session: Session, campaign_id: int) -> Iterator[tuple[int, ContactFacts]]:
    last_id = 0
    while True:
        rows = session.execute(
            select(
                Contact.id, Contact.list_id, Contact.status, Contact.attempts, Contact.next_eligible_at,
                Contact.last_disposition, Contact.state, Contact.postal_code, Contact.timezone,
            )
            .where(Contact.campaign_id == campaign_id, Contact.status.in_(_DIALABLE), Contact.id > last_id)
            .order_by(Contact.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        phones: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
        for phone in session.execute(
            select(ContactPhone.contact_id, ContactPhone.e164, ContactPhone.timezones)
            .where(ContactPhone.contact_id.in_([row.id for row in rows]), ContactPhone.status == "ok")
            .order_by(ContactPhone.contact_id, ContactPhone.position, ContactPhone.id)
        ):
            phones.setdefault(phone.contact_id, []).append((phone.e164, tuple(phone.timezones or ())))
        for row in rows:
            yield row.list_id, ContactFacts(
                row.status, row.attempts, row.next_eligible_at, row.last_disposition,
                tuple(phones.get(row.id, ())), row.state, row.postal_code, row.timezone,
            )  # fmt: skip
        last_id = rows[-1].id


def _listed_numbers(session: Session, campaign_id: int) -> frozenset[str]:
    """The campaign's phones on the company list or this campaign's list (one join on the e164 index)."""
    query = (
        select(ContactPhone.e164)
        .join(DncEntry, DncEntry.e164 == ContactPhone.e164)
        .where(
            ContactPhone.campaign_id == campaign_id,
            or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign_id),
        )
        .distinct()
    )
    return frozenset(session.scalars(query))


def _bucket(when: datetime, now: datetime, office_zone: ZoneInfo) -> str:
    if when - now <= timedelta(hours=1):
        return "within_1h"
    if when.astimezone(office_zone).date() == now.astimezone(office_zone).date():
        return "today"
    return "later"


def _earliest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate < current else current


def _office_zone(name: str | None) -> ZoneInfo:
    zones = _zoneinfos((name,) if name else ())
    return zones[0] if zones else ZoneInfo("UTC")


_zone_cache: dict[str, ZoneInfo | None] = {}


def _zoneinfos(names: Iterable[str]) -> list[ZoneInfo]:
    """The zones, or none when any is unreadable: the unreadable one might be where it is too early."""
    found: list[ZoneInfo] = []
    for name in names:
        if name not in _zone_cache:
            try:
                _zone_cache[name] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                _zone_cache[name] = None
        zone = _zone_cache[name]
        if zone is None:
            return []
        found.append(zone)
    return found


def reasons_in_order(counts: HealthCounts) -> Sequence[tuple[str, str, int]]:
    """(key, label, count) of the not-dialable reasons, the known ones first, then any others."""
    known = [(key, label, counts.not_by.get(key, 0)) for key, label in REASONS.items()]
    extra = [(key, key.replace("_", " "), n) for key, n in counts.not_by.items() if key not in REASONS]
    return known + extra
