"""Consent to be called, its revocation, and whether a number has changed hands since.

Consent records (``consent_records``) are append-only: a consent given is a
row (``kind`` "consent": where it came from, when, what it covers, the words
the person was shown, where the proof is), and a revocation is a row of its
own (``kind`` "revocation": when, by which channel, the words used).  The
state of a number at an instant is derived from the rows up to that instant:

* the newest consent given at or before ``now`` that covers the scope asked
  (its own scope, or "all");
* revoked when a revocation at or after that consent (and at or before
  ``now``) covers the scope: a revocation by any channel counts, and its
  default scope is "all" (47 CFR 64.1200(a)(10): revocation by any reasonable
  means).  A tie goes to the revocation;
* a consent recorded after a revocation gives consent again.

Because state is derived from times rather than from flags, a consent entered
late (with its real, earlier date) cannot undo a revocation made after it.
``SqlConsentLookup`` asks the database at every dial, so a revocation blocks
the next dial as soon as it is committed.

Reassigned numbers: a number permanently disconnected after the consent was
given now belongs to someone else, and the consent does not carry over
(47 CFR 64.1200(m); the FCC's Reassigned Numbers Database answers yes, no or
no data for a number and a date).  ``FileReassignedNumbers`` answers the same
question from a file of last disconnect dates; see its docstring for the format.
"""

from __future__ import annotations

import csv
import enum
import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from campaigns.audit_store import NewEvent, append_events
from campaigns.compliance_models import ConsentRecord
from campaigns.models import Campaign
from compliance.gate import ConsentLookup, ReassignedNumbers
from compliance.gate import ConsentRecord as GateConsent
from compliance.phones import PhoneError, normalize_phone

__all__ = [
    "CONSENT_SOURCES",
    "REVOCATION_CHANNELS",
    "ConsentError",
    "ConsentState",
    "FileReassignedNumbers",
    "ReassignedAnswer",
    "SqlConsentLookup",
    "consent_for",
    "record_consent",
    "revoke_consent",
    "to_gate_record",
]

CONSENT_SOURCES = ("web_form", "paper", "ivr", "sms", "email", "recorded_call", "api", "import")
REVOCATION_CHANNELS = ("keypress", "sms", "agent", "web", "email", "mail", "phone", "api")


class ConsentError(ValueError):
    """A consent record was refused; the message says why."""


class ConsentStatus(enum.StrEnum):
    GRANTED = "granted"
    NONE = "none"  # no consent on record for the scope
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class ConsentState:
    """A number's consent at one instant, with the rows it was derived from."""

    status: ConsentStatus
    consent_at: datetime | None = None  # when the consent in force (or the one revoked) was given
    revoked_at: datetime | None = None
    consent_id: int | None = None
    revocation_id: int | None = None
    scope: str | None = None
    source: str | None = None
    revoked_via: str | None = None

    @property
    def granted(self) -> bool:
        return self.status is ConsentStatus.GRANTED

    @property
    def revoked(self) -> bool:
        return self.status is ConsentStatus.REVOKED

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "consent_at": self.consent_at.isoformat() if self.consent_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "consent_id": self.consent_id,
            "revocation_id": self.revocation_id,
            "scope": self.scope,
            "source": self.source,
            "revoked_via": self.revoked_via,
        }


def _aware(value: datetime | None, what: str) -> datetime:
    moment = value or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ConsentError(f"{what} must be an aware datetime")
    return moment.astimezone(UTC)


def _e164(phone: str, region: str) -> str:
    try:
        return normalize_phone(phone, region)
    except PhoneError as error:
        raise ConsentError(f"{phone!r} is not a number: {error.message}") from error


def _check_campaign(session: Session, campaign_id: int | None) -> None:
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        raise ConsentError(f"no campaign has the id {campaign_id}")


def record_consent(
    session: Session,
    phone: str,
    *,
    source: str,
    obtained_at: datetime,
    text_shown: str,
    recorded_by: str,
    scope: str = "all",
    campaign_id: int | None = None,
    evidence: str = "",
    region: str = "US",
    now: datetime | None = None,
) -> ConsentRecord:
    """Record a consent given; audited in the same transaction.

    The words shown to the person are required: written consent is only as
    good as the disclosure it answered (16 CFR 310.5(a)(8)).
    """
    if source not in CONSENT_SOURCES:
        raise ConsentError(f"unknown consent source {source!r}; one of: {', '.join(CONSENT_SOURCES)}")
    if not text_shown.strip():
        raise ConsentError("record the text the person was shown when consenting")
    if not recorded_by.strip():
        raise ConsentError("say who records the consent (recorded_by)")
    moment = _aware(now, "now")
    given = _aware(obtained_at, "obtained_at")
    if given > moment:
        raise ConsentError("a consent cannot be given in the future")
    _check_campaign(session, campaign_id)
    record = ConsentRecord(
        e164=_e164(phone, region),
        kind="consent",
        scope=scope,
        campaign_id=campaign_id,
        source=source,
        at=given,
        text_shown=text_shown,
        evidence=evidence,
        recorded_at=moment,
        recorded_by=recorded_by,
    )
    return _save(session, record, "consent_recorded")


def revoke_consent(
    session: Session,
    phone: str,
    *,
    via: str,
    recorded_by: str,
    at: datetime | None = None,
    scope: str = "all",
    campaign_id: int | None = None,
    words: str = "",
    evidence: str = "",
    region: str = "US",
    now: datetime | None = None,
) -> ConsentRecord:
    """Record a revocation (by any channel); recorded even when no consent is on file.

    A revocation on file before any consent blocks that consent too, whatever
    date it is later entered with.
    """
    if via not in REVOCATION_CHANNELS:
        raise ConsentError(f"unknown revocation channel {via!r}; one of: {', '.join(REVOCATION_CHANNELS)}")
    if not recorded_by.strip():
        raise ConsentError("say who records the revocation (recorded_by)")
    moment = _aware(now, "now")
    when = _aware(at, "at") if at is not None else moment
    if when > moment:
        raise ConsentError("a revocation cannot happen in the future")
    _check_campaign(session, campaign_id)
    record = ConsentRecord(
        e164=_e164(phone, region),
        kind="revocation",
        scope=scope,
        campaign_id=campaign_id,
        source=via,
        at=when,
        text_shown=words,
        evidence=evidence,
        recorded_at=moment,
        recorded_by=recorded_by,
    )
    return _save(session, record, "consent_revoked")


def _save(session: Session, record: ConsentRecord, kind: str) -> ConsentRecord:
    session.add(record)
    session.flush()
    payload = {
        "record_id": record.id,
        "kind": record.kind,
        "scope": record.scope,
        "source": record.source,
        "at": record.at,
        "text_shown": record.text_shown,
        "evidence": record.evidence,
        "recorded_by": record.recorded_by,
    }
    append_events(
        session.connection(),
        [NewEvent(kind, payload, campaign_id=record.campaign_id, e164=record.e164, at=record.recorded_at)],
    )
    return record


def _covers(record_scope: str, record_campaign: int | None, scope: str | None, campaign_id: int | None) -> bool:
    if record_campaign is not None and record_campaign != campaign_id:
        return False
    return scope is None or record_scope in ("all", scope)


def consent_for(
    session: Session,
    e164: str,
    now: datetime,
    *,
    scope: str | None = None,
    campaign_id: int | None = None,
) -> ConsentState:
    """The number's consent at ``now`` for ``scope`` (None: any) and ``campaign_id`` (None: company-wide only)."""
    moment = _aware(now, "now")
    query = (
        select(ConsentRecord)
        .where(
            ConsentRecord.e164 == e164,
            ConsentRecord.at <= moment,
            or_(ConsentRecord.campaign_id.is_(None), ConsentRecord.campaign_id == campaign_id),
        )
        .order_by(ConsentRecord.at, ConsentRecord.id)
    )
    return derive_state(list(session.scalars(query)), moment, scope=scope, campaign_id=campaign_id)


def derive_state(
    records: list[ConsentRecord], now: datetime, *, scope: str | None = None, campaign_id: int | None = None
) -> ConsentState:
    """The state from a number's records (any order); the rules are in the module's docstring."""
    consent: ConsentRecord | None = None
    revocation: ConsentRecord | None = None
    for record in sorted(records, key=lambda r: (r.at, r.kind == "revocation", r.id or 0)):
        if record.at > now or not _covers(record.scope, record.campaign_id, scope, campaign_id):
            continue
        if record.kind == "consent":
            consent = record
        else:
            revocation = record
    if revocation is not None and (consent is None or revocation.at >= consent.at):
        return ConsentState(
            ConsentStatus.REVOKED,
            consent_at=consent.at if consent else None,
            revoked_at=revocation.at,
            consent_id=consent.id if consent else None,
            revocation_id=revocation.id,
            scope=consent.scope if consent else revocation.scope,
            source=consent.source if consent else None,
            revoked_via=revocation.source,
        )
    if consent is None:
        return ConsentState(ConsentStatus.NONE)
    return ConsentState(
        ConsentStatus.GRANTED,
        consent_at=consent.at,
        consent_id=consent.id,
        scope=consent.scope,
        source=consent.source,
        revoked_at=revocation.at if revocation else None,
        revocation_id=revocation.id if revocation else None,
    )


class SqlConsentLookup:
    """Consent for the dial gate (``compliance.gate.ConsentLookup``), asked at every dial: revocations count at once.

    ``consent(e164, campaign_id)`` derives the number's state from every
    record on file, for the campaign's purpose (records scoped "all" or to
    that purpose, company-wide or for that campaign); the gate compares the
    times it returns with its own clock.
    """

    def __init__(self, db: Engine) -> None:
        self.db = db
        self._purposes: dict[int, str] = {}

    def consent(self, e164: str, campaign_id: int) -> GateConsent:
        with Session(self.db) as session:
            purpose = self._purposes.get(campaign_id)
            if purpose is None:
                purpose = session.scalar(select(Campaign.purpose).where(Campaign.id == campaign_id))
                if purpose is not None:
                    self._purposes[campaign_id] = purpose
            found = consent_for(session, e164, _END_OF_TIME, scope=purpose, campaign_id=campaign_id)
        return to_gate_record(found)

    def consent_for(
        self, e164: str, now: datetime, *, scope: str | None = None, campaign_id: int | None = None
    ) -> ConsentState:
        """The state at ``now`` (any instant, e.g. to explain a past decision)."""
        with Session(self.db) as session:
            return consent_for(session, e164, now, scope=scope, campaign_id=campaign_id)


_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def to_gate_record(found: ConsentState) -> GateConsent:
    """The consent state as the dial gate's ``ConsentRecord``: given, revoked or none, with the row's reference."""
    if found.status is ConsentStatus.GRANTED:
        return GateConsent("given", given_at=found.consent_at, ref=f"consent_records:{found.consent_id}")
    if found.status is ConsentStatus.REVOKED:
        return GateConsent(
            "revoked",
            given_at=found.consent_at,
            revoked_at=found.revoked_at,
            ref=f"consent_records:{found.revocation_id}",
        )
    return GateConsent("none")


# -- reassigned numbers ----------------------------------------------------------------------


class ReassignedAnswer(enum.StrEnum):
    """The Reassigned Numbers Database's three answers."""

    YES = "yes"  # permanently disconnected on or after the date asked: the consent is for someone else
    NO = "no"  # disconnected only before the date asked
    NO_DATA = "no_data"  # nothing known about the number


@dataclass(frozen=True, slots=True)
class ReassignedProblem:
    line: int
    reason: str
    text: str


@dataclass(slots=True)
class ReassignedLoad:
    lines: int = 0
    numbers: int = 0
    problems: list[ReassignedProblem] = field(default_factory=list)
    malformed: int = 0


class FileReassignedNumbers:
    """Last disconnect dates from a CSV file: ``number,disconnected_on`` a line.

    * ``number``: E.164 (``+12015550123``) or ten North American digits;
    * ``disconnected_on``: the date the number was last permanently
      disconnected, ``YYYY-MM-DD``;
    * a first line ``number,disconnected_on`` (a header), blank lines and lines
      starting with ``#`` are skipped; when a number appears twice, the later
      date counts.

    A malformed line is counted and reported (``load.problems``: line number
    and reason), never fatal and never read as another number.  The answer for
    a consent given on day D is YES when the number was disconnected on D or
    later (the RND's rule: the date is compared as a UTC date), NO when it was
    disconnected only before D, NO_DATA when the file does not hold it.  The
    file is read again when it changes (checked at most every ``recheck_s``).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, recheck_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = Path(path)
        self.recheck_s = recheck_s
        self.clock = clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked: float | None = None
        self._dates: dict[str, date] = {}
        self.load = ReassignedLoad()
        self._reload()

    def last_disconnect(self, e164: str) -> date | None:
        self._maybe_reload()
        return self._dates.get(e164)

    def reassigned_since(self, e164: str, consent_at: datetime | date) -> ReassignedAnswer:
        disconnected = self.last_disconnect(e164)
        if disconnected is None:
            return ReassignedAnswer.NO_DATA
        if isinstance(consent_at, datetime):
            if consent_at.tzinfo is None:
                raise ValueError("consent_at must be an aware datetime")
            consent_at = consent_at.astimezone(UTC).date()
        return ReassignedAnswer.YES if disconnected >= consent_at else ReassignedAnswer.NO

    def disconnected_since(self, e164: str, since: date) -> bool | None:
        """The gate's ``ReassignedNumbers``: disconnected on or after ``since``; None: no data."""
        answer = self.reassigned_since(e164, since)
        return None if answer is ReassignedAnswer.NO_DATA else answer is ReassignedAnswer.YES

    def _maybe_reload(self) -> None:
        now = self.clock()
        if self._checked is not None and now - self._checked < self.recheck_s:
            return
        with self._lock:
            self._checked = now
            try:
                stat = self.path.stat()
            except OSError:
                return  # keep what we have; the next check tries again
            if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                self._reload()

    def _reload(self) -> None:
        stat = self.path.stat()
        text = self.path.read_text("utf-8-sig")
        self._dates, self.load = parse_reassigned(text)
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        self._checked = self.clock()


_PROBLEMS_KEPT = 100


def parse_reassigned(text: str) -> tuple[dict[str, date], ReassignedLoad]:
    """The dates of a reassigned-numbers file and the report of its lines."""
    dates: dict[str, date] = {}
    load = ReassignedLoad()

    def problem(line: int, reason: str, shown: str) -> None:
        load.malformed += 1
        if len(load.problems) < _PROBLEMS_KEPT:
            load.problems.append(ReassignedProblem(line, reason, shown[:60]))

    for number, cells in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        load.lines += 1
        shown = ",".join(cells)
        if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
            continue
        if number == 1 and cells[0].strip().lower() in ("number", "phone", "e164"):
            continue
        if len(cells) != 2:
            problem(number, "wrong_columns", shown)
            continue
        raw, day = cells[0].strip(), cells[1].strip()
        if len(raw) == 10 and raw.isascii() and raw.isdigit():
            e164 = "+1" + raw
        elif raw.startswith("+") and 8 <= len(raw) <= 16 and raw[1:].isascii() and raw[1:].isdigit():
            e164 = raw
        else:
            problem(number, "bad_number", shown)
            continue
        try:
            disconnected = date.fromisoformat(day)
        except ValueError:
            problem(number, "bad_date", shown)
            continue
        if len(day) != 10:
            problem(number, "bad_date", shown)
            continue
        if disconnected > dates.get(e164, date.min):
            dates[e164] = disconnected
    load.numbers = len(dates)
    return dates, load


def _conforms(consent: SqlConsentLookup, reassigned: FileReassignedNumbers) -> tuple[ConsentLookup, ReassignedNumbers]:
    """Never called: mypy checks here that these classes are the dial gate's stores."""
    return consent, reassigned
