"""Do-not-call lists in the database: the company's, each campaign's, and the national registry's copy.

* ``dnc_entries`` (campaigns/models.py) is the present: a number with no
  campaign is on the company list (until someone removes it, with a reason),
  one with a campaign is on that campaign's list.
* ``dnc_changes`` is how it came to be: every addition and removal, from every
  source, with who, when it was received, when it took effect, why and any
  evidence; a request for a number already listed is written down too
  (``changed`` false), never dropped silently.  Each change is also appended
  to the audit trail (kind ``dnc_add`` / ``dnc_remove``) in the same transaction.
* Additions take effect when their transaction commits: ``SqlDncLookup`` asks
  the database at every dial (one indexed query), so no process keeps an old copy.
* The national registry lives in a memory-mapped file (``compliance.registry``);
  ``registry_loads`` records each copy loaded (file, download date, digest,
  counts).  ``SqlNationalRegistry`` opens the newest copy and follows reloads.

Sources (``DNC_SOURCES``): ``agent`` (a disposition), ``keypress`` (the drop
message's automated opt-out), ``api``, ``web``, ``bulk`` (a file upload),
``manual`` (the command line), ``sms`` (a STOP reply), ``email``, ``mail``,
``phone`` (a request by voice to staff).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, insert, or_, select
from sqlalchemy.orm import Session, aliased

from campaigns.audit_store import NewEvent, append_events
from campaigns.compliance_models import DncChange, RegistryLoad
from campaigns.models import Campaign, Contact, ContactPhone, DncEntry
from compliance.gate import DncLookup, NationalRegistry, RegistryAnswer
from compliance.phones import PhoneError, normalize_phone
from compliance.registry import (
    REGISTRY_MAX_AGE_DAYS,
    REGISTRY_NAME,
    LoadReport,
    Registry,
    RegistryError,
    RegistryInfo,
)

__all__ = [
    "DNC_SOURCES",
    "DncError",
    "ListedEntry",
    "ScrubReport",
    "SqlDncLookup",
    "SqlNationalRegistry",
    "UploadReport",
    "add_number",
    "add_numbers",
    "changes",
    "current_registry_load",
    "list_entries",
    "normalize_number",
    "record_registry_load",
    "remove_number",
    "scrub_campaign",
    "upload_csv",
]

DNC_SOURCES = ("agent", "keypress", "api", "web", "bulk", "manual", "sms", "email", "mail", "phone")

_ENTRIES = cast(Table, DncEntry.__table__)
_CHANGES = cast(Table, DncChange.__table__)
_BATCH = 2000


class DncError(ValueError):
    """A DNC change or lookup was refused; the message says why."""


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise DncError("times must be aware datetimes")
    return moment.astimezone(UTC)


def normalize_number(phone: str, region: str = "US") -> str:
    """The E.164 form of ``phone``, or DncError saying why it cannot be listed."""
    try:
        return normalize_phone(phone, region)
    except PhoneError as error:
        raise DncError(f"{phone!r} is not a number that can be listed: {error.message}") from error


def _scope(campaign_id: int | None) -> str:
    return "company" if campaign_id is None else f"campaign {campaign_id}"


def _check_campaign(conn: Connection, campaign_id: int | None) -> None:
    if campaign_id is not None and conn.scalar(select(Campaign.id).where(Campaign.id == campaign_id)) is None:
        raise DncError(f"no campaign has the id {campaign_id}")


def _check_who(source: str, actor: str, reason: str | None = None) -> None:
    if source not in DNC_SOURCES:
        raise DncError(f"unknown source {source!r}; one of: {', '.join(DNC_SOURCES)}")
    if not actor.strip():
        raise DncError("say who makes the change (actor)")
    if reason is not None and not reason.strip():
        raise DncError("a removal needs a reason")


def _in_scope(campaign_id: int | None) -> Any:
    if campaign_id is None:
        return _ENTRIES.c.campaign_id.is_(None)
    return _ENTRIES.c.campaign_id == campaign_id


# -- changes ---------------------------------------------------------------------------


def add_number(
    session: Session | Connection,
    phone: str,
    *,
    reason: str = "",
    source: str,
    actor: str,
    campaign_id: int | None = None,
    received_at: datetime | None = None,
    evidence: str = "",
    region: str = "US",
    now: datetime | None = None,
) -> DncChange:
    """Put a number on the company list (``campaign_id`` None) or a campaign's; logged and audited.

    Effective when the caller's transaction commits.  A number listed already
    stays as it was, and the request is still logged (``changed`` false).
    """
    e164 = normalize_number(phone, region)
    changes_ = add_numbers(
        session,
        [e164],
        reason=reason,
        source=source,
        actor=actor,
        campaign_id=campaign_id,
        received_at=received_at,
        evidence=evidence,
        now=now,
    )
    return changes_[0]


def add_numbers(
    session: Session | Connection,
    numbers: Sequence[str],
    *,
    reason: str = "",
    reasons: Sequence[str] | None = None,
    source: str,
    actor: str,
    campaign_id: int | None = None,
    received_at: datetime | None = None,
    evidence: str = "",
    now: datetime | None = None,
) -> list[DncChange]:
    """Add E.164 numbers (normalized already, each once) in bulk: one change row and one audit event each.

    Takes a session or a bare connection (the engine's recorder has only the
    latter); either way the change joins the caller's transaction.
    """
    _check_who(source, actor)
    if reasons is not None and len(reasons) != len(numbers):
        raise DncError("give one reason per number")
    effective = _now(now)
    received = _now(received_at) if received_at is not None else effective
    if received > effective:
        raise DncError("a request cannot be received after it takes effect (received_at is in the future)")
    conn = _connection(session)
    _check_campaign(conn, campaign_id)
    listed = _listed_among(conn, numbers, campaign_id)
    new = [e164 for e164 in numbers if e164 not in listed]
    why = list(reasons) if reasons is not None else [reason] * len(numbers)
    reason_of = dict(zip(numbers, why, strict=True))
    for start in range(0, len(new), _BATCH):
        conn.execute(
            insert(_ENTRIES),
            [
                {
                    "e164": e164,
                    "campaign_id": campaign_id,
                    "reason": reason_of[e164][:200],
                    "source": source,
                    "added_at": effective,
                }
                for e164 in new[start : start + _BATCH]
            ],
        )
    change_rows = [
        {
            "e164": e164,
            "campaign_id": campaign_id,
            "action": "add",
            "changed": e164 not in listed,
            "reason": reason_of[e164],
            "source": source,
            "actor": actor,
            "evidence": evidence,
            "received_at": received,
            "effective_at": effective,
        }
        for e164 in numbers
    ]
    return _log(session, change_rows)


def remove_number(
    session: Session | Connection,
    phone: str,
    *,
    reason: str,
    actor: str,
    source: str = "manual",
    campaign_id: int | None = None,
    evidence: str = "",
    region: str = "US",
    now: datetime | None = None,
) -> DncChange:
    """Take a number off the company list or a campaign's: needs who and why; logged and audited."""
    _check_who(source, actor, reason)
    e164 = normalize_number(phone, region)
    effective = _now(now)
    conn = _connection(session)
    gone = conn.execute(delete(_ENTRIES).where(_ENTRIES.c.e164 == e164, _in_scope(campaign_id))).rowcount
    if not gone:
        raise DncError(f"{e164} is not on the {_scope(campaign_id)} do-not-call list")
    row = {
        "e164": e164,
        "campaign_id": campaign_id,
        "action": "remove",
        "changed": True,
        "reason": reason,
        "source": source,
        "actor": actor,
        "evidence": evidence,
        "received_at": effective,
        "effective_at": effective,
    }
    return _log(session, [row])[0]


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def _log(session: Session | Connection, rows: list[dict[str, Any]]) -> list[DncChange]:
    """Write change rows and their audit events; the rows come back as objects (not attached to a session)."""
    conn = _connection(session)
    changes_: list[DncChange] = []
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        ids = conn.execute(insert(_CHANGES).returning(_CHANGES.c.id, sort_by_parameter_order=True), batch).scalars()
        for row_id, row in zip(ids, batch, strict=True):
            changes_.append(DncChange(id=row_id, **row))
    events = [
        NewEvent(
            kind=f"dnc_{change.action}",
            payload={
                "change_id": change.id,
                "list": _scope(change.campaign_id),
                "changed": change.changed,
                "reason": change.reason,
                "source": change.source,
                "actor": change.actor,
                "evidence": change.evidence,
                "received_at": change.received_at,
            },
            campaign_id=change.campaign_id,
            e164=change.e164,
            at=change.effective_at,
        )
        for change in changes_
    ]
    append_events(conn, events)
    return changes_


def _listed_among(conn: Connection, numbers: Sequence[str], campaign_id: int | None) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(numbers), _BATCH):
        chunk = list(numbers[start : start + _BATCH])
        found.update(conn.scalars(select(_ENTRIES.c.e164).where(_ENTRIES.c.e164.in_(chunk), _in_scope(campaign_id))))
    return found


# -- reading -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedEntry:
    e164: str
    campaign_id: int | None
    added_at: datetime
    reason: str
    source: str
    actor: str  # who made the addition that put it there ("" for entries older than the change log)

    def to_dict(self) -> dict[str, Any]:
        return {
            "e164": self.e164,
            "list": _scope(self.campaign_id),
            "added_at": self.added_at.isoformat(),
            "reason": self.reason,
            "source": self.source,
            "actor": self.actor,
        }


def list_entries(
    session: Session,
    *,
    campaign_id: int | None = None,
    every_list: bool = False,
    phone: str | None = None,
    limit: int | None = None,
) -> list[ListedEntry]:
    """The entries of the company list, or of one campaign's, or of every list; newest first."""
    query = select(DncEntry).order_by(DncEntry.added_at.desc(), DncEntry.id.desc())
    if not every_list:
        query = query.where(
            DncEntry.campaign_id.is_(None) if campaign_id is None else DncEntry.campaign_id == campaign_id
        )
    if phone is not None:
        query = query.where(DncEntry.e164 == phone)
    if limit is not None:
        query = query.limit(limit)
    entries = list(session.scalars(query))
    actors: dict[tuple[str, int | None], str] = {}
    numbers = sorted({entry.e164 for entry in entries})
    for start in range(0, len(numbers), _BATCH):
        rows = session.execute(
            select(DncChange.e164, DncChange.campaign_id, DncChange.actor)
            .where(
                DncChange.e164.in_(numbers[start : start + _BATCH]),
                DncChange.action == "add",
                DncChange.changed.is_(True),
            )
            .order_by(DncChange.id)
        )
        for row in rows:
            actors[(row.e164, row.campaign_id)] = row.actor  # the latest addition wins
    return [
        ListedEntry(
            entry.e164,
            entry.campaign_id,
            entry.added_at,
            entry.reason,
            entry.source,
            actors.get((entry.e164, entry.campaign_id), ""),
        )
        for entry in entries
    ]


def changes(
    session: Session,
    *,
    phone: str | None = None,
    campaign_id: int | None = None,
    every_list: bool = True,
    since: datetime | None = None,
) -> list[DncChange]:
    """The change log, oldest first, optionally for one number, one list, or from a time."""
    query = select(DncChange).order_by(DncChange.effective_at, DncChange.id)
    if phone is not None:
        query = query.where(DncChange.e164 == phone)
    if not every_list:
        query = query.where(
            DncChange.campaign_id.is_(None) if campaign_id is None else DncChange.campaign_id == campaign_id
        )
    if since is not None:
        query = query.where(DncChange.effective_at >= since)
    return list(session.scalars(query))


class SqlDncLookup:
    """The company and campaign lists for the dial gate, asked at every dial: additions count at once.

    ``listed(e164, campaign_id)`` returns ``"company"``, ``"campaign"`` or None
    (the gate's ``DncLookup``).  One query on the ``e164`` index; the company
    list wins when a number is on both.
    """

    def __init__(self, db: Engine) -> None:
        self.db = db
        self._query = (
            select(_ENTRIES.c.campaign_id)
            .where(
                _ENTRIES.c.e164 == bindparam("e164"),
                or_(_ENTRIES.c.campaign_id.is_(None), _ENTRIES.c.campaign_id == bindparam("campaign_id")),
            )
            .order_by(_ENTRIES.c.campaign_id.is_(None).desc())
            .limit(1)
        )

    def listed(self, e164: str, campaign_id: int) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute(self._query, {"e164": e164, "campaign_id": campaign_id}).first()
        if row is None:
            return None
        return "company" if row.campaign_id is None else "campaign"


# -- bulk upload ----------------------------------------------------------------------------

_PHONE_HEADERS = ("phone", "phone_number", "phonenumber", "number", "e164", "telephone", "tel", "mobile", "cell")
_REASON_HEADERS = ("reason", "note", "notes", "why")


@dataclass(slots=True)
class UploadRow:
    row: int  # spreadsheet row number (the header is row 1)
    status: str  # added | already_listed | duplicate | rejected
    e164: str = ""
    detail: str = ""
    text: str = ""


@dataclass(slots=True)
class UploadReport:
    """Every row's outcome (``rows``) and the counts by outcome."""

    rows: list[UploadRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    list_name: str = "company"

    def note(self, row: UploadRow) -> None:
        self.rows.append(row)
        self.counts[row.status] = self.counts.get(row.status, 0) + 1

    def to_dict(self, *, rows: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"list": self.list_name, "counts": dict(sorted(self.counts.items()))}
        problems = [r for r in self.rows if r.status == "rejected"]
        data["rejected"] = [{"row": r.row, "detail": r.detail, "text": r.text} for r in problems]
        if rows:
            data["rows"] = [{"row": r.row, "status": r.status, "e164": r.e164, "detail": r.detail} for r in self.rows]
        return data

    def write_csv(self, out: IO[str]) -> None:
        from campaigns.csv_safety import safe_csv_writer

        writer = safe_csv_writer(out)
        writer.writerow(["row", "status", "e164", "detail", "text"])
        for r in self.rows:
            writer.writerow([r.row, r.status, r.e164, r.detail, r.text])


def upload_csv(
    session: Session,
    source_file: str | os.PathLike[str] | IO[bytes],
    *,
    actor: str,
    reason: str = "",
    campaign_id: int | None = None,
    source: str = "bulk",
    region: str = "US",
    received_at: datetime | None = None,
    now: datetime | None = None,
) -> UploadReport:
    """Add the numbers of a CSV file to a list; every row gets an outcome, bad rows never stop the rest.

    The phone is the column headed phone, number, e164, telephone, mobile or
    cell (or the first column when the first row is already a number); a
    column headed reason (or note) gives a row its own reason.  Rows are
    numbered as a spreadsheet shows them.
    """
    _check_who(source, actor)
    report = UploadReport(list_name=_scope(campaign_id))
    text = _read_text(source_file)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return report
    phone_col, reason_col, first = _layout(rows[0], region)
    kept: dict[str, UploadRow] = {}
    reasons: dict[str, str] = {}
    for number, cells in enumerate(rows[first:], start=first + 1):
        if not any(cell.strip() for cell in cells):
            continue
        raw = cells[phone_col].strip() if phone_col < len(cells) else ""
        shown = ",".join(cells)[:80]
        if not raw:
            report.note(UploadRow(number, "rejected", detail="no phone number in the row", text=shown))
            continue
        try:
            e164 = normalize_phone(raw, region)
        except PhoneError as error:
            report.note(UploadRow(number, "rejected", detail=f"{error.code}: {error.message}", text=shown))
            continue
        if e164 in kept:
            report.note(UploadRow(number, "duplicate", e164, f"the same number as row {kept[e164].row}", shown))
            continue
        row = UploadRow(number, "added", e164, text=shown)
        kept[e164] = row
        row_reason = cells[reason_col].strip() if reason_col is not None and reason_col < len(cells) else ""
        reasons[e164] = row_reason or reason
        report.rows.append(row)
    numbers = list(kept)
    if numbers:
        logged = add_numbers(
            session,
            numbers,
            reasons=[reasons[e] for e in numbers],
            source=source,
            actor=actor,
            campaign_id=campaign_id,
            received_at=received_at,
            now=now,
        )
        for change in logged:
            if not change.changed:
                kept[change.e164].status = "already_listed"
                kept[change.e164].detail = f"on the {_scope(campaign_id)} list already"
    for row in kept.values():
        report.counts[row.status] = report.counts.get(row.status, 0) + 1
    report.rows.sort(key=lambda r: r.row)
    return report


def _read_text(source_file: str | os.PathLike[str] | IO[bytes]) -> str:
    data = source_file.read() if hasattr(source_file, "read") else Path(source_file).read_bytes()
    data = cast(bytes, data)
    try:
        return codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError as error:
        raise DncError(f"the file is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV") from error


def _layout(first_row: list[str], region: str) -> tuple[int, int | None, int]:
    """(phone column, reason column, index of the first data row) from the first row."""
    names = [cell.strip().lower().replace(" ", "_").replace("-", "_") for cell in first_row]
    phone = next((i for i, name in enumerate(names) if name in _PHONE_HEADERS), None)
    reason = next((i for i, name in enumerate(names) if name in _REASON_HEADERS), None)
    if phone is not None:
        return phone, reason, 1
    try:
        normalize_phone(first_row[0], region) if first_row else None
    except PhoneError:
        raise DncError("cannot find the phone column: head it phone, number, e164, telephone, mobile or cell") from None
    return 0, None, 0


# -- scrub --------------------------------------------------------------------------------


@dataclass(slots=True)
class ScrubReport:
    """How many of a campaign's phones are on each list (a phone on two lists counts in both)."""

    campaign_id: int
    phones: int = 0
    company: int = 0
    campaign: int = 0
    national: int | None = None  # None: no registry copy to scrub against
    on_any: int = 0
    registry_version: str | None = None
    registry_age_days: float | None = None
    registry_stale: bool = False
    not_covered: int = 0  # phones whose area code the registry copy does not cover
    hits: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)  # (e164, contact id, lists)

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "phones": self.phones,
            "on_list": {"company": self.company, "campaign": self.campaign, "national": self.national},
            "on_any_list": self.on_any,
            "registry": None
            if self.registry_version is None
            else {
                "version": self.registry_version,
                "age_days": round(self.registry_age_days or 0.0, 2),
                "stale": self.registry_stale,
                "area_codes_not_covered": self.not_covered,
            },
        }


def scrub_campaign(
    session: Session,
    campaign_id: int,
    *,
    registry: Registry | None = None,
    now: datetime | None = None,
    keep_hits: bool = False,
    list_id: int | None = None,
) -> ScrubReport:
    """Check every phone of a campaign against the company, campaign and national lists; count per list.

    ``list_id`` narrows the scrub to the phones of one contact list (an import's).

    Reports only: the dial gate checks again at every dial, and a number's
    national listing is not for ever.  ``keep_hits`` keeps each listed
    phone with its lists (for an export).
    """
    moment = _now(now)
    conn = session.connection()
    _check_campaign(conn, campaign_id)
    report = ScrubReport(campaign_id)
    if registry is not None:
        report.national = 0
        report.registry_version = registry.version
        report.registry_age_days = registry.registry_age_days(moment)
        report.registry_stale = report.registry_age_days > REGISTRY_MAX_AGE_DAYS
    company = aliased(DncEntry)
    own = aliased(DncEntry)
    query = (
        select(ContactPhone.e164, ContactPhone.contact_id, company.id.label("company"), own.id.label("own"))
        .outerjoin(company, and_(company.e164 == ContactPhone.e164, company.campaign_id.is_(None)))
        .outerjoin(own, and_(own.e164 == ContactPhone.e164, own.campaign_id == campaign_id))
        .where(ContactPhone.campaign_id == campaign_id)
        .order_by(ContactPhone.id)
    )
    if list_id is not None:
        query = query.join(Contact, Contact.id == ContactPhone.contact_id).where(Contact.list_id == list_id)
    result = conn.execution_options(yield_per=_BATCH * 5).execute(query)
    for batch in result.partitions():
        national = registry.listed_many([row.e164 for row in batch]) if registry is not None else None
        for i, row in enumerate(batch):
            lists = []
            report.phones += 1
            if row.company is not None:
                report.company += 1
                lists.append("company")
            if row.own is not None:
                report.campaign += 1
                lists.append("campaign")
            if national is not None and registry is not None:
                if national[i]:
                    report.national = (report.national or 0) + 1
                    lists.append("national")
                elif not registry.covers(row.e164):
                    report.not_covered += 1
            if lists:
                report.on_any += 1
                if keep_hits:
                    report.hits.append((row.e164, row.contact_id, tuple(lists)))
    return report


# -- the national registry ----------------------------------------------------------------


def record_registry_load(
    session: Session, info: RegistryInfo, report: LoadReport, *, loaded_by: str, now: datetime | None = None
) -> RegistryLoad:
    """Record a registry copy just written (and audit it): from now on it is the one processes open."""
    moment = _now(now)
    load = RegistryLoad(
        loaded_at=moment,
        downloaded_at=info.downloaded_at,
        path=str(Path(info.path).resolve()),
        digest=info.digest,
        numbers=info.numbers,
        area_codes=len(info.area_codes),
        lines=report.lines,
        duplicates=report.duplicates,
        malformed=report.malformed,
        sources=list(report.sources),
        malformed_by_reason=dict(report.malformed_by_reason),
        loaded_by=loaded_by,
    )
    session.add(load)
    session.flush()
    append_events(
        session.connection(),
        [
            NewEvent(
                "registry_loaded",
                {
                    "load_id": load.id,
                    "version": info.version,
                    "downloaded_at": info.downloaded_at,
                    "digest": info.digest,
                    "numbers": info.numbers,
                    "area_codes": len(info.area_codes),
                    "lines": report.lines,
                    "malformed": report.malformed,
                    "malformed_by_reason": report.malformed_by_reason,
                    "sources": report.sources,
                    "loaded_by": loaded_by,
                },
                at=moment,
            )
        ],
    )
    return load


def current_registry_load(session: Session) -> RegistryLoad | None:
    """The newest registry copy loaded, or None."""
    return session.scalars(select(RegistryLoad).order_by(RegistryLoad.id.desc()).limit(1)).first()


def open_current_registry(session: Session) -> tuple[Registry | None, str | None]:
    """The registry copy loaded last, opened (the caller closes it), or None with why not."""
    load = current_registry_load(session)
    if load is None:
        return None, "no registry copy has been loaded"
    try:
        registry = Registry(load.path)
    except (RegistryError, OSError) as error:
        return None, f"the registry copy {load.path} cannot be opened: {error}"
    if registry.info.digest != load.digest:
        registry.close()
        return None, f"{load.path} is not the copy recorded by load {load.id} (digest differs)"
    return registry, None


class SqlNationalRegistry:
    """The newest registry copy for the dial gate: ``listed(e164)`` and ``registry_age_days(now)``.

    Looks for a newer load at most every ``refresh_s`` seconds and then maps
    its file; lookups in between touch no database.  With no copy loaded (or
    its file gone) nothing is listed and the age is None: the gate must then
    block telemarketing (an unscrubbed call has no safe harbor).
    """

    def __init__(self, db: Engine, *, refresh_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.clock = clock
        self._lock = threading.Lock()
        self._checked: float | None = None
        self._load_id: int | None = None
        self._registry: Registry | None = None
        self.problem: str | None = None  # why no copy is open, when none is

    def registry(self) -> Registry | None:
        self._maybe_refresh()
        return self._registry

    def listed(self, e164: str) -> bool:
        registry = self.registry()
        return registry is not None and registry.listed(e164)

    def covers(self, e164: str) -> bool:
        registry = self.registry()
        return registry is not None and registry.covers(e164)

    def lookup(self, registry: str, e164: str) -> RegistryAnswer | None:
        """The gate's ``NationalRegistry``: the US answer; no copy loaded (or readable) is "no copy covers it"."""
        if registry != REGISTRY_NAME:
            return None
        current = self.registry()
        if current is None:
            return RegistryAnswer(False, None)
        return current.lookup(registry, e164)

    def registry_age_days(self, now: datetime) -> float | None:
        registry = self.registry()
        return None if registry is None else registry.registry_age_days(now)

    @property
    def version(self) -> str | None:
        registry = self.registry()
        return None if registry is None else registry.version

    def _maybe_refresh(self) -> None:
        now = self.clock()
        if self._checked is not None and now - self._checked < self.refresh_s:
            return
        with self._lock:
            if self._checked is not None and now - self._checked < self.refresh_s:
                return
            self._checked = now
            with Session(self.db) as session:
                load = current_registry_load(session)
            if load is None:
                self._swap(None, None, "no registry copy has been loaded")
                return
            if load.id == self._load_id and self._registry is not None:
                return
            try:
                registry = Registry(load.path)
            except RegistryError as error:
                self._swap(None, None, str(error))
                return
            if registry.info.digest != load.digest:
                registry.close()
                self._swap(None, None, f"{load.path} is not the copy recorded by load {load.id} (digest differs)")
                return
            self._swap(registry, load.id, None)

    def _swap(self, registry: Registry | None, load_id: int | None, problem: str | None) -> None:
        # The old map is left to the garbage collector: a lookup on another thread may still be using it.
        self._registry, self._load_id, self.problem = registry, load_id, problem

    def close(self) -> None:
        with self._lock:
            if self._registry is not None:
                self._registry.close()
            self._swap(None, None, "closed")


def _conforms(
    lists: SqlDncLookup, national: SqlNationalRegistry, copy: Registry
) -> tuple[DncLookup, NationalRegistry, NationalRegistry]:
    """Never called: mypy checks here that these classes are the dial gate's stores."""
    return lists, national, copy
