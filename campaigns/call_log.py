"""The call log a compliance officer searches, and everything on record about one call.

Read-only queries over ``call_attempts`` and the compliance tables, with no
web framework in sight, so the desk pages, their CSV exports and any future
command answer from the same code:

* ``parse_filters`` turns what a person typed (a number in any format, dates
  read in a chosen zone, an outcome, an agent login, a disposition code) into
  ``CallFilters``, or a ``FilterError`` naming the field that is wrong;
* ``search``/``count``/``iter_rows`` run the same query, so an export holds
  exactly the rows a page shows, page after page;
* ``call_record`` gathers one call's compliance record: its moments, the
  answer-to-agent delay held against the 2-second rule, the dial gate's
  decision that let it out, consent and DNC state of the number when it was
  dialed, the audit events that name it;
* ``daily_abandonment`` splits the rolling 30 days of the abandonment report
  into days of a zone, counting as ``compliance_reports`` does, so the days
  add up to the report's totals.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from campaigns.compliance_models import AuditEvent, ConsentRecord, DncChange
from campaigns.compliance_reports import PERIOD
from campaigns.consent_store import ConsentState, derive_state
from campaigns.models import (
    Agent,
    CallAttempt,
    Campaign,
    Contact,
    DialDecisionRecord,
    DispositionCode,
    DncEntry,
)
from compliance.audit import format_time
from compliance.phones import PhoneError, normalize_phone

__all__ = [
    "CSV_COLUMNS",
    "OUTCOMES",
    "PAGE_SIZE",
    "SAFE_HARBOUR_S",
    "CallFilters",
    "CallRecord",
    "CallRow",
    "FilterError",
    "call_record",
    "count",
    "csv_cells",
    "daily_abandonment",
    "decision_reasons",
    "iter_rows",
    "parse_filters",
    "parse_number",
    "parse_period",
    "parse_zone",
    "payload_of",
    "search",
]

PAGE_SIZE = 50
#: 47 CFR 64.1200(a)(7)(i): a person must reach an agent within 2 seconds of the end of their greeting.
SAFE_HARBOUR_S = 2.0

OUTCOMES: dict[str, str] = {
    "human": "Answered by a person (or unclassified)",
    "machine": "Answering machine or fax",
    "no_answer": "No answer",
    "busy": "Busy",
    "failed": "Failed",
    "abandoned": "Abandoned (no agent in time)",
    "connected": "Connected to an agent",
    "interrupted": "Interrupted (dialer stopped mid-call)",
}

_LIVE = ("human", "unknown")  # an answer with no verdict is treated as a person, as the abandonment rule does
_NOT_LIVE = ("machine", "fax")
_ORDERS = ("newest", "oldest")


class FilterError(ValueError):
    """A search value that cannot be used, with the form field it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- reading what people type -----------------------------------------------------------------


def parse_zone(value: str | None) -> ZoneInfo:
    """The zone dates are read and shown in; UTC when none is given."""
    name = (value or "").strip() or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FilterError("tz", f"{name!r} is not a time zone name such as UTC or America/New_York") from None


def _moment(field_name: str, value: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date or date-time read in ``zone``, as UTC; a bare date as an end means the whole of that day."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            local = datetime.combine(day + timedelta(days=1) if end else day, time(0), tzinfo=zone)
        else:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
            local = parsed.replace(tzinfo=zone)
    except ValueError:
        raise FilterError(field_name, f"{value!r} is not a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM)") \
            from None
    return local.astimezone(UTC)


def parse_period(start: str | None, end: str | None, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` in UTC from the "from" and "to" fields; a "to" date includes that whole day."""
    begin = _moment("from", start, zone, end=False) if start and start.strip() else None
    finish = _moment("to", end, zone, end=True) if end and end.strip() else None
    if begin is not None and finish is not None and finish <= begin:
        raise FilterError("to", "must be after from")
    return begin, finish


def parse_number(value: str | None, region: str = "US") -> str | None:
    """A number typed in any format, as E.164; None when nothing was typed."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return normalize_phone(text, region)
    except PhoneError as error:
        raise FilterError("number", f"{text!r} is not a phone number: {error.message}") from None


def _campaign_id(session: Session, value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or session.get(Campaign, int(text)) is None:
        raise FilterError("campaign", f"no campaign has the id {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class CallFilters:
    """What the call log is narrowed to; every field optional."""

    number: str | None = None
    campaign_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    outcome: str | None = None
    agent_id: int | None = None
    agent_login: str | None = None
    disposition: str | None = None
    order: str = "newest"

    def to_args(self, zone: ZoneInfo) -> dict[str, str]:
        """The filters as query arguments that ``parse_filters`` reads back to the same filters."""
        args = {
            "number": self.number or "",
            "campaign": "" if self.campaign_id is None else str(self.campaign_id),
            "from": self.start.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S") if self.start else "",
            "to": self.end.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S") if self.end else "",
            "outcome": self.outcome or "",
            "agent": self.agent_login or "",
            "disposition": self.disposition or "",
            "order": self.order if self.order != "newest" else "",
            "tz": zone.key if zone.key != "UTC" else "",
        }
        return {key: value for key, value in args.items() if value}


def parse_filters(session: Session, args: Mapping[str, str], *, region: str = "US") -> tuple[CallFilters, ZoneInfo]:
    """The search form's values as filters and the zone to read and show times in; FilterError names a bad field."""
    zone = parse_zone(args.get("tz"))
    number = parse_number(args.get("number"), region)
    campaign_id = _campaign_id(session, args.get("campaign"))
    start, end = parse_period(args.get("from"), args.get("to"), zone)
    outcome = (args.get("outcome") or "").strip() or None
    if outcome is not None and outcome not in OUTCOMES:
        raise FilterError("outcome", f"{outcome!r} is not an outcome; one of: {', '.join(OUTCOMES)}")
    login = (args.get("agent") or "").strip() or None
    agent_id = None
    if login is not None:
        agent_id = session.scalar(select(Agent.id).where(Agent.login == login))
        if agent_id is None:
            raise FilterError("agent", f"no agent has the login {login!r}")
    disposition = (args.get("disposition") or "").strip().upper() or None
    if disposition is not None and (len(disposition) > 32 or not disposition.replace("_", "").isalnum()):
        raise FilterError("disposition", f"{disposition!r} is not a disposition code (letters, digits, _)")
    order = (args.get("order") or "").strip() or "newest"
    if order not in _ORDERS:
        raise FilterError("order", f"{order!r} is not a sort order; one of: {', '.join(_ORDERS)}")
    return CallFilters(number, campaign_id, start, end, outcome, agent_id, login, disposition, order), zone


# -- the call log ------------------------------------------------------------------------------


def _when() -> Any:
    """When a call happened: placed, or queued for one the carrier never took."""
    return func.coalesce(CallAttempt.placed_at, CallAttempt.queued_at)


def _outcome_condition(outcome: str) -> ColumnElement[bool]:
    cls = CallAttempt.answer_class
    conditions: dict[str, ColumnElement[bool]] = {
        "human": cls.in_(_LIVE),
        "machine": cls.in_(_NOT_LIVE),
        "no_answer": cls == "no_answer",
        "busy": cls == "busy",
        "failed": cls == "failed",
        "abandoned": CallAttempt.abandoned_at.is_not(None),
        "connected": CallAttempt.connected_at.is_not(None),
        "interrupted": CallAttempt.end_reason == "interrupted",
    }
    return conditions[outcome]


def _where(query: Select[Any], filters: CallFilters) -> Select[Any]:
    if filters.number is not None:
        query = query.where(CallAttempt.e164 == filters.number)
    if filters.campaign_id is not None:
        query = query.where(CallAttempt.campaign_id == filters.campaign_id)
    if filters.start is not None:
        query = query.where(_when() >= filters.start)
    if filters.end is not None:
        query = query.where(_when() < filters.end)
    if filters.outcome is not None:
        query = query.where(_outcome_condition(filters.outcome))
    if filters.agent_id is not None:
        query = query.where(CallAttempt.agent_id == filters.agent_id)
    if filters.disposition is not None:  # codes are matched whatever their case: "sale" finds SALE
        query = query.where(func.upper(CallAttempt.disposition) == filters.disposition)
    return query


@dataclass(frozen=True, slots=True)
class CallRow:
    """One line of the call log."""

    id: int
    campaign_id: int
    campaign: str
    e164: str
    caller_id: str
    attempt_number: int
    at: datetime | None
    answered_at: datetime | None
    connected_at: datetime | None
    abandoned_at: datetime | None
    ended_at: datetime | None
    state: str
    answer_class: str | None
    amd_verdict: str | None
    end_reason: str | None
    agent: str | None
    disposition: str | None
    talk_s: float | None

    @property
    def answer_to_agent_s(self) -> float | None:
        if self.answered_at is None or self.connected_at is None:
            return None
        return round((self.connected_at - self.answered_at).total_seconds(), 3)

    @property
    def outcome(self) -> str:
        """The one word a person scans for: what became of the call."""
        if self.abandoned_at is not None:
            return "abandoned"
        if self.connected_at is not None:
            return "connected"
        if self.end_reason == "interrupted":
            return "interrupted"
        if self.answer_class in _LIVE:
            return "human"
        if self.answer_class in _NOT_LIVE:
            return "machine"
        if self.answer_class:
            return self.answer_class
        return self.state


def _rows_query(filters: CallFilters) -> Select[Any]:
    query = (
        select(
            CallAttempt.id,
            CallAttempt.campaign_id,
            Campaign.name,
            CallAttempt.e164,
            CallAttempt.caller_id,
            CallAttempt.attempt_number,
            _when().label("at"),
            CallAttempt.answered_at,
            CallAttempt.connected_at,
            CallAttempt.abandoned_at,
            CallAttempt.ended_at,
            CallAttempt.state,
            CallAttempt.answer_class,
            CallAttempt.amd_verdict,
            CallAttempt.end_reason,
            Agent.login,
            CallAttempt.disposition,
            CallAttempt.talk_s,
        )
        .join(Campaign, Campaign.id == CallAttempt.campaign_id)
        .outerjoin(Agent, Agent.id == CallAttempt.agent_id)
    )
    query = _where(query, filters)
    if filters.order == "oldest":
        return query.order_by(_when().asc(), CallAttempt.id.asc())
    return query.order_by(_when().desc(), CallAttempt.id.desc())


def _aware(value: Any) -> datetime | None:
    """A time read back through ``coalesce`` (which loses the column type on SQLite) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _row(values: Sequence[Any]) -> CallRow:
    (id_, campaign_id, campaign, e164, caller_id, attempt_number, at, answered, connected, abandoned, ended,
     state, answer_class, amd, end_reason, agent, disposition, talk) = values
    return CallRow(id_, campaign_id, campaign, e164, caller_id or "", attempt_number, _aware(at), answered,
                   connected, abandoned, ended, state, answer_class, amd, end_reason, agent, disposition, talk)


def search(session: Session, filters: CallFilters, *, page: int = 1, page_size: int = PAGE_SIZE) -> list[CallRow]:
    """One page of the call log (pages count from 1), ordered by time."""
    if page < 1:
        raise FilterError("page", "pages count from 1")
    query = _rows_query(filters).limit(page_size).offset((page - 1) * page_size)
    return [_row(values) for values in session.execute(query)]


def count(session: Session, filters: CallFilters) -> int:
    """How many calls match, over every page."""
    query = _where(select(func.count()).select_from(CallAttempt), filters)
    return int(session.execute(query).scalar_one())


def iter_rows(session: Session, filters: CallFilters, *, batch: int = 2000) -> Iterator[CallRow]:
    """Every matching call in page order, read in batches (for an export of any size)."""
    result = session.execute(_rows_query(filters).execution_options(yield_per=batch))
    for values in result:
        yield _row(values)


CSV_COLUMNS = (
    "attempt_id", "campaign_id", "campaign", "number", "caller_id", "attempt", "time", "answered_at",
    "connected_at", "answer_to_agent_s", "abandoned_at", "ended_at", "outcome", "answer_class", "amd_verdict",
    "end_reason", "agent", "disposition", "talk_s",
)  # fmt: skip


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="milliseconds") if value is not None else ""


def csv_cells(row: CallRow, zone: ZoneInfo) -> list[Any]:
    """A call log line as CSV cells (times in ``zone`` with their offset), in ``CSV_COLUMNS`` order."""
    return [
        row.id, row.campaign_id, row.campaign, row.e164, row.caller_id, row.attempt_number, _local(row.at, zone),
        _local(row.answered_at, zone), _local(row.connected_at, zone), row.answer_to_agent_s,
        _local(row.abandoned_at, zone), _local(row.ended_at, zone), row.outcome, row.answer_class or "",
        row.amd_verdict or "", row.end_reason or "", row.agent or "", row.disposition or "",
        row.talk_s if row.talk_s is not None else "",
    ]


# -- one call's compliance record ---------------------------------------------------------------

_MOMENTS = (
    ("queued_at", "Queued (claimed by the dialer)"),
    ("placed_at", "Placed with the carrier"),
    ("ringing_at", "Ringing"),
    ("answered_at", "Answered"),
    ("agent_reserved_at", "Agent reserved"),
    ("amd_at", "Answering-machine verdict"),
    ("connected_at", "Connected to the agent"),
    ("abandoned_at", "Abandoned (no agent in time)"),
    ("message_played_at", "Drop message played"),
    ("ended_at", "Ended"),
    ("wrap_ended_at", "Agent finished wrap-up"),
)


@dataclass(frozen=True, slots=True)
class Moment:
    key: str
    label: str
    at: datetime | None
    after_placed_s: float | None  # seconds since the call was placed (or queued)


@dataclass(frozen=True, slots=True)
class TwoSecondCheck:
    """The answer-to-agent delay against the 2-second rule, measured from the carrier's answer.

    ``status``: ``met`` (an agent within 2 s), ``missed`` (later, or a drop),
    ``hung_up`` (the person hung up within 2 s, before any agent or message),
    ``not_applicable`` (no answer, or a machine), ``unknown`` (the record does
    not say).  The answer time is when the carrier reported the pick-up, before
    the greeting ended, so the delay shown is never shorter than the law's.
    """

    status: str
    limit_s: float
    delay_s: float | None
    message_after_s: float | None
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "limit_s": self.limit_s, "delay_s": self.delay_s,
                "message_after_s": self.message_after_s, "explanation": self.explanation}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def two_second_check(attempt: CallAttempt, limit_s: float = SAFE_HARBOUR_S) -> TwoSecondCheck:
    answered = attempt.answered_at
    message = _seconds(answered, attempt.message_played_at)
    if answered is None:
        return TwoSecondCheck("not_applicable", limit_s, None, None, "Nobody answered, so no agent was owed.")
    if attempt.answer_class in _NOT_LIVE and attempt.abandoned_at is None:
        delay = _seconds(answered, attempt.connected_at)
        return TwoSecondCheck(
            "not_applicable", limit_s, delay, message,
            f"Answered by a {attempt.answer_class}: not a live answer, so not counted by the abandonment rule.",
        )
    if attempt.abandoned_at is not None:
        waited = _seconds(answered, attempt.abandoned_at)
        said = f" The drop message started {message:.3f} s after the answer." if message is not None else \
            " No drop message was recorded as played."
        return TwoSecondCheck(
            "missed", limit_s, None, message,
            f"Abandoned after {waited:.3f} s without an agent; it counts against the 3% limit.{said}",
        )
    if attempt.connected_at is not None:
        delay = _seconds(answered, attempt.connected_at) or 0.0
        if delay <= limit_s:
            return TwoSecondCheck("met", limit_s, delay, message,
                                  f"An agent was on the line {delay:.3f} s after the answer (limit {limit_s:g} s).")
        return TwoSecondCheck("missed", limit_s, delay, message,
                              f"The agent came {delay:.3f} s after the answer, over the {limit_s:g} s limit.")
    lasted = _seconds(answered, attempt.ended_at)
    if lasted is not None and lasted <= limit_s:
        return TwoSecondCheck("hung_up", limit_s, None, message,
                              f"The person hung up {lasted:.3f} s after answering, before the limit ran out.")
    if lasted is not None:
        return TwoSecondCheck("missed", limit_s, None, message,
                              f"Answered, never connected and not marked abandoned; the call lasted {lasted:.3f} s.")
    return TwoSecondCheck("unknown", limit_s, None, message, "Answered; the call has not ended on record yet.")


@dataclass(frozen=True, slots=True)
class DncListState:
    """Whether the number was on one list when it was dialed, and the change that made it so."""

    list_name: str
    listed: bool
    change_id: int | None
    since: datetime | None
    note: str


@dataclass(slots=True)
class CallRecord:
    """Everything on record about one call, for the officer's page and its exports."""

    attempt: CallAttempt
    campaign: Campaign
    contact: Contact | None
    agent: Agent | None
    disposition_label: str | None
    dialed_at: datetime | None
    moments: list[Moment]
    two_seconds: TwoSecondCheck
    caller_id: str
    caller_id_source: str  # "attempt": sent on the call; "campaign": the campaign's, the attempt kept none
    drop_message: str | None
    decision: DialDecisionRecord | None
    decision_detail: dict[str, Any]
    consents: list[ConsentRecord]
    consent_state: ConsentState
    dnc_changes: list[DncChange]
    dnc_at_dial: list[DncListState]
    dnc_now: list[DncEntry]
    audit_events: list[AuditEvent]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        a = self.attempt
        return {
            "attempt_id": a.id,
            "campaign": {"id": self.campaign.id, "name": self.campaign.name, "purpose": self.campaign.purpose},
            "contact_id": a.contact_id,
            "number": a.e164,
            "attempt_number": a.attempt_number,
            "carrier_call_id": a.carrier_call_id,
            "caller_id": self.caller_id,
            "caller_id_source": self.caller_id_source,
            "state": a.state,
            "answer_class": a.answer_class,
            "amd_verdict": a.amd_verdict,
            "end_reason": a.end_reason,
            "agent": None if self.agent is None else {"id": self.agent.id, "login": self.agent.login,
                                                      "name": self.agent.name},
            "disposition": a.disposition,
            "disposition_label": self.disposition_label,
            "notes": a.notes,
            "moments": [{"key": m.key, "at": _iso(m.at), "after_placed_s": m.after_placed_s} for m in self.moments],
            "two_second_rule": self.two_seconds.to_dict(),
            "drop_message": self.drop_message,
            "dial_decision": None if self.decision is None else {
                "id": self.decision.id, "at": _iso(self.decision.at), "path": self.decision.path,
                "allowed": self.decision.allowed, "reasons": decision_reasons(self.decision.reasons),
                **self.decision_detail,
            },
            "consent_at_dial": self.consent_state.to_dict(),
            "consent_records": [{
                "id": c.id, "kind": c.kind, "scope": c.scope, "campaign_id": c.campaign_id, "source": c.source,
                "at": _iso(c.at), "text_shown": c.text_shown, "evidence": c.evidence,
                "recorded_at": _iso(c.recorded_at), "recorded_by": c.recorded_by,
            } for c in self.consents],
            "dnc_at_dial": [{"list": s.list_name, "listed": s.listed, "change_id": s.change_id,
                             "since": _iso(s.since), "note": s.note} for s in self.dnc_at_dial],
            "dnc_changes": [{
                "id": c.id, "list": _list_name(c.campaign_id), "action": c.action, "changed": c.changed,
                "reason": c.reason, "source": c.source, "actor": c.actor, "received_at": _iso(c.received_at),
                "effective_at": _iso(c.effective_at),
            } for c in self.dnc_changes],
            "dnc_now": [{"list": _list_name(e.campaign_id), "added_at": _iso(e.added_at), "reason": e.reason,
                         "source": e.source} for e in self.dnc_now],
            "audit_events": [{
                "id": e.id, "chain": e.chain, "seq": e.seq, "at": _iso(e.at), "kind": e.kind,
                "payload": payload_of(e.payload), "hash": e.hash,
            } for e in self.audit_events],
            "record_notes": list(self.notes),
        }

    def csv_rows(self, zone: ZoneInfo) -> list[list[Any]]:
        """The record as (section, item, value, detail) rows, times in ``zone``."""
        a = self.attempt
        rows: list[list[Any]] = [["section", "item", "value", "detail"]]
        call = [
            ("attempt_id", a.id, ""), ("campaign", self.campaign.name, f"id {self.campaign.id}"),
            ("number", a.e164, f"contact {a.contact_id}, attempt {a.attempt_number}"),
            ("caller_id", self.caller_id, self.caller_id_source),
            ("carrier_call_id", a.carrier_call_id or "", ""), ("state", a.state, a.end_reason or ""),
            ("answer_class", a.answer_class or "", a.amd_verdict or ""),
            ("agent", self.agent.login if self.agent else "", self.agent.name if self.agent else ""),
            ("disposition", a.disposition or "", self.disposition_label or ""), ("notes", a.notes, ""),
        ]
        rows += [["call", item, value, detail] for item, value, detail in call]
        rows += [["moment", m.label, _local(m.at, zone),
                  "" if m.after_placed_s is None else f"{m.after_placed_s:+.3f} s"] for m in self.moments]
        check = self.two_seconds
        rows.append(["two_second_rule", check.status, "" if check.delay_s is None else check.delay_s,
                     check.explanation])
        if self.drop_message is not None:
            rows.append(["drop_message", "played", _local(a.message_played_at, zone), self.drop_message])
        if self.decision is not None:
            d = self.decision
            rows.append(["dial_decision", "allowed" if d.allowed else "blocked", _local(d.at, zone),
                         f"decision {d.id}, path {d.path}"])
            rows += [["dial_rule", r["rule"], "passed" if r["passed"] else "failed", f"{r['code']}: {r['detail']}"]
                     for r in decision_reasons(d.reasons)]
        state = self.consent_state
        rows.append(["consent_at_dial", state.status.value, _local(state.consent_at, zone),
                     f"revoked {_local(state.revoked_at, zone)}" if state.revoked_at else ""])
        rows += [["consent_record", f"{c.id} {c.kind}", _local(c.at, zone),
                  f"scope {c.scope}, source {c.source}, campaign {c.campaign_id or 'any'}: {c.text_shown}"]
                 for c in self.consents]
        rows += [["dnc_at_dial", s.list_name, "listed" if s.listed else "not listed", s.note]
                 for s in self.dnc_at_dial]
        rows += [["dnc_change", f"{c.id} {c.action}", _local(c.effective_at, zone),
                  f"{_list_name(c.campaign_id)}; by {c.actor} via {c.source}; {c.reason}"
                  + ("" if c.changed else " (already so)")] for c in self.dnc_changes]
        rows += [["audit_event", f"{e.id} {e.kind}", _local(e.at, zone), f"{e.chain} #{e.seq} {e.hash}"]
                 for e in self.audit_events]
        rows += [["note", "", "", note] for note in self.notes]
        return rows


def _iso(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def payload_of(text: str) -> Any:
    """An audit payload as the object it holds; the raw text when it was edited into something else."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _list_name(campaign_id: int | None) -> str:
    return "company" if campaign_id is None else f"campaign {campaign_id}"


def decision_reasons(value: Any) -> list[dict[str, Any]]:
    """A decision's stored reasons as rule/code/passed/detail dicts, whatever shape the driver handed back."""
    if isinstance(value, str):
        value = payload_of(value)
    found = value if isinstance(value, list) else []
    return [
        {"rule": str(r.get("rule", "")), "code": str(r.get("code", "")), "passed": bool(r.get("passed", False)),
         "detail": str(r.get("detail", ""))}
        for r in found if isinstance(r, dict)
    ]


def _decision_for(session: Session, attempt: CallAttempt, dialed_at: datetime | None) -> DialDecisionRecord | None:
    """The gate's last word on this contact before the call left: after the contact's previous attempt, not after it.

    Decisions are recorded when the hopper takes a contact, a moment before the
    claim; an allowed one is preferred, a refusal shown when it is all there is.
    """
    if dialed_at is None:
        return None
    previous = session.scalar(
        select(func.max(CallAttempt.queued_at)).where(
            CallAttempt.contact_id == attempt.contact_id, CallAttempt.attempt_number < attempt.attempt_number
        )
    )
    query = select(DialDecisionRecord).where(
        DialDecisionRecord.campaign_id == attempt.campaign_id,
        or_(DialDecisionRecord.contact_id == attempt.contact_id,
            and_(DialDecisionRecord.contact_id.is_(None), DialDecisionRecord.e164 == attempt.e164)),
        DialDecisionRecord.at <= dialed_at,
    )
    if previous is not None:
        query = query.where(DialDecisionRecord.at > previous)
    latest = query.order_by(DialDecisionRecord.at.desc(), DialDecisionRecord.id.desc()).limit(1)
    found = session.scalars(latest.where(DialDecisionRecord.allowed.is_(True))).first()
    return found or session.scalars(latest).first()


def _dnc_at(changes: list[DncChange], entries: list[DncEntry], campaign_id: int,
            dialed_at: datetime | None) -> list[DncListState]:
    states = []
    for scope in (None, campaign_id):
        name = _list_name(scope)
        if dialed_at is None:
            states.append(DncListState(name, False, None, None, "never dialed"))
            continue
        mine = [c for c in changes if c.campaign_id == scope and c.changed and c.effective_at <= dialed_at]
        if mine:
            last = mine[-1]
            listed = last.action == "add"
            verb = "added" if listed else "removed"
            states.append(DncListState(name, listed, last.id, last.effective_at,
                                       f"{verb} by {last.actor} via {last.source} ({last.reason or 'no reason'})"))
            continue
        older = [e for e in entries if e.campaign_id == scope and e.added_at <= dialed_at]
        logged = any(c.campaign_id == scope for c in changes)
        if older and not logged:
            states.append(DncListState(name, True, None, older[0].added_at,
                                       "on the list since before the change log began"))
        else:
            states.append(DncListState(name, False, None, None, "no addition in force when dialed"))
    return states


def call_record(session: Session, attempt_id: int) -> CallRecord | None:
    """One call's full compliance record, or None when there is no such call."""
    attempt = session.get(CallAttempt, attempt_id)
    if attempt is None:
        return None
    campaign = session.get(Campaign, attempt.campaign_id)
    if campaign is None:  # held by a foreign key; a broken database still gets an answer, not a crash
        raise LookupError(f"call {attempt_id} names campaign {attempt.campaign_id}, which does not exist")
    contact = session.get(Contact, attempt.contact_id)
    agent = session.get(Agent, attempt.agent_id) if attempt.agent_id is not None else None
    dialed_at = attempt.placed_at or attempt.queued_at
    moments = [
        Moment(key, label, getattr(attempt, key), _seconds(dialed_at, getattr(attempt, key)))
        for key, label in _MOMENTS
    ]
    # In the order they happened (a verdict may come after the connect); moments never reached go last.
    moments.sort(key=lambda m: (m.at is None, m.at or dialed_at or datetime.min.replace(tzinfo=UTC)))
    notes: list[str] = []
    label = None
    if attempt.disposition:
        label = session.scalars(
            select(DispositionCode.label)
            .where(DispositionCode.code == attempt.disposition,
                   or_(DispositionCode.campaign_id == campaign.id, DispositionCode.campaign_id.is_(None)))
            .order_by(DispositionCode.campaign_id.is_(None))
        ).first()
    caller_id, source = attempt.caller_id, "attempt"
    if not caller_id:
        caller_id, source = campaign.caller_id, "campaign"
        notes.append("The attempt kept no caller ID of its own; shown is the campaign's caller ID setting.")
    drop_message = campaign.drop_message if attempt.message_played_at is not None else None
    if drop_message is not None:
        notes.append("The drop message shown is the campaign's current text.")

    decision = _decision_for(session, attempt, dialed_at)
    detail: dict[str, Any] = {}
    if decision is not None:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "dial_decision", AuditEvent.e164 == attempt.e164,
                                     AuditEvent.campaign_id == attempt.campaign_id, AuditEvent.at == decision.at)
            .order_by(AuditEvent.id).limit(1)
        ).first()
        payload = payload_of(event.payload) if event is not None else None
        if isinstance(payload, dict) and isinstance(payload.get("decision"), dict):
            made = payload["decision"]
            detail = {key: made[key] for key in ("ruleset_version", "zones", "jurisdictions", "notes") if key in made}
            detail["audit_event_id"] = event.id if event is not None else None
    elif dialed_at is not None:
        notes.append("No dial gate decision for this contact was recorded between its previous attempt and this one.")

    consents = list(session.scalars(
        select(ConsentRecord).where(ConsentRecord.e164 == attempt.e164).order_by(ConsentRecord.at, ConsentRecord.id)
    ))
    consent_state = derive_state(
        [c for c in consents if c.campaign_id in (None, campaign.id)],
        dialed_at or datetime.now(UTC), scope=campaign.purpose, campaign_id=campaign.id,
    )
    dnc_changes = list(session.scalars(
        select(DncChange)
        .where(DncChange.e164 == attempt.e164,
               or_(DncChange.campaign_id.is_(None), DncChange.campaign_id == campaign.id))
        .order_by(DncChange.effective_at, DncChange.id)
    ))
    dnc_now = list(session.scalars(
        select(DncEntry).where(DncEntry.e164 == attempt.e164,
                               or_(DncEntry.campaign_id.is_(None), DncEntry.campaign_id == campaign.id))
    ))
    mentions = [AuditEvent.attempt_id == attempt.id]
    if attempt.carrier_call_id:
        mentions.append(AuditEvent.call_id == attempt.carrier_call_id)
    engine_call_id = f"c{attempt.campaign_id}-{attempt.contact_id}-{attempt.attempt_number}"
    mentions.append(and_(AuditEvent.call_id == engine_call_id, AuditEvent.campaign_id == attempt.campaign_id))
    if detail.get("audit_event_id") is not None:
        mentions.append(AuditEvent.id == detail["audit_event_id"])
    events = list(session.scalars(select(AuditEvent).where(or_(*mentions)).order_by(AuditEvent.at, AuditEvent.id)))
    return CallRecord(
        attempt=attempt, campaign=campaign, contact=contact, agent=agent, disposition_label=label,
        dialed_at=dialed_at, moments=moments, two_seconds=two_second_check(attempt), caller_id=caller_id,
        caller_id_source=source, drop_message=drop_message, decision=decision, decision_detail=detail,
        consents=consents, consent_state=consent_state, dnc_changes=dnc_changes,
        dnc_at_dial=_dnc_at(dnc_changes, dnc_now, campaign.id, dialed_at), dnc_now=dnc_now,
        audit_events=events, notes=notes,
    )


# -- the abandonment report, day by day ----------------------------------------------------------


def daily_abandonment(session: Session, campaign_id: int, now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """The rolling 30 days ending ``now`` split into the days of ``zone`` (the first and last partial).

    Counted as ``compliance_reports.abandonment_periods`` counts: live answers
    are ``human`` or ``unknown``; abandoned calls are those with
    ``abandoned_at`` whose class is not ``machine`` or ``fax``; a call belongs
    to the day it was placed.  So the days add up to the report's rolling row.
    One query, one pass over the campaign's index.
    """
    end = now.astimezone(UTC)
    start = end - PERIOD
    bounds: list[tuple[date, datetime, datetime, bool]] = []
    day = start.astimezone(zone).date()
    while True:
        midnight = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        day_start, day_end = max(midnight, start), min(next_midnight, end)
        if day_start >= end:
            break
        bounds.append((day, day_start, day_end, (day_start, day_end) != (midnight, next_midnight)))
        day += timedelta(days=1)
    cls = CallAttempt.answer_class
    live = cls.in_(_LIVE)
    dropped = and_(CallAttempt.abandoned_at.is_not(None), or_(cls.is_(None), cls.not_in(_NOT_LIVE)))
    columns = []
    for i, (_, low, high, _) in enumerate(bounds):
        inside = and_(CallAttempt.placed_at >= low, CallAttempt.placed_at < high)
        columns.append(func.coalesce(func.sum(case((and_(inside, live), 1), else_=0)), 0).label(f"live_{i}"))
        columns.append(func.coalesce(func.sum(case((and_(inside, dropped), 1), else_=0)), 0).label(f"drop_{i}"))
    counts = session.execute(
        select(*columns).where(CallAttempt.campaign_id == campaign_id, CallAttempt.placed_at >= start,
                               CallAttempt.placed_at < end)
    ).one()._mapping
    rows = []
    for i, (local_day, low, high, partial) in enumerate(bounds):
        answers, abandoned = int(counts[f"live_{i}"]), int(counts[f"drop_{i}"])
        rate = abandoned / answers if answers else 0.0
        rows.append({"day": local_day, "start": low, "end": high, "partial": partial, "live_answers": answers,
                     "abandoned": abandoned, "rate": round(rate, 6)})
    return rows
