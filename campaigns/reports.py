"""The reports a calling team runs on: calls, contacts, handle time, agent time, list penetration, caller IDs.

Every report is aggregate SQL (``GROUP BY`` in the database): a campaign of a
million attempts costs a few grouped scans, never a million rows in Python.
Python only folds the grouped rows (one per UTC hour of the range at most,
per caller ID for the caller report) into local days and hours and totals,
and turns sums into rates.

Definitions (the page prints them; the compliance desk counts the same way,
see ``campaigns.compliance_reports``):

* A call belongs to the period, hour, day, campaign, list, agent and caller
  ID of the moment it was **placed** (``placed_at``); hours and days are the
  wall clock of the chosen time zone, daylight saving included.
* **placed**: ``placed_at`` set.  **answered**: ``answered_at`` set.
* **live answer**: answer class ``human`` or ``unknown`` (unknown is treated as
  a person, as the law asks).  Machine and fax answers are not live.
* **connected**: ``connected_at`` set (the customer was bridged to an agent).
* **abandoned**: ``abandoned_at`` set and the answer class is not machine or
  fax (an abandoned call without a class counts: the safe side).
  **Abandonment rate** = abandoned / live answers.
* **answer rate** = answered / placed.  **contact rate** = connected / placed.
* **conversion** = connected calls whose disposition is a sale code / connected.
  Sale codes are those with ``sale`` set, the campaign's own codes overriding
  the default set code by code, as the dialer resolves them.
* **average handle time** = mean of talk + wrap-up seconds over connected calls
  (a wrap-up still open counts 0).
* **service level** = share of live answers connected to an agent at most 2 s
  after the answer (47 CFR 64.1200(a)(7)'s two seconds), measured to the
  half millisecond.
* **answering-machine rate** = answers classed ``machine`` / answered.
* **agent time**: each state change of an agent in a campaign lasts until the
  agent's next change in that campaign (or now), cut to the range; the state
  an agent was in when the range starts counts from the start.  Talk is time
  reserved for or on a call; wrap is wrap-up; paused is split by reason.
* **wait time** = an agent's ready seconds / the calls the agent was put on
  (entries into ``on_call`` inside the range).
* **list penetration**: per list, contacts dialed at least once / contacts
  (the list as it stands now); within the range, attempts, reached (connected)
  and finished (the attempt's disposition is final or adds the number to
  do-not-call), per list and by attempt number (each contact is attempted
  once per attempt number, and finishes once).

Survey completion, quotas and CSAT are not computed here: a module that
records them adds its tables through ``register_extension`` (see
``ReportExtension``), and the page and CSV export show them like the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from time import perf_counter
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    and_,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from campaigns.models import (
    Agent,
    AgentStateChange,
    CallAttempt,
    Campaign,
    Contact,
    ContactList,
    ContactStatus,
    DispositionCode,
    UTCDateTime,
)

__all__ = [
    "LIVE",
    "NOT_LIVE",
    "SERVICE_LEVEL_S",
    "TABLES",
    "Column",
    "FullReport",
    "ReportError",
    "ReportExtension",
    "ReportFilter",
    "ReportTable",
    "agent_time",
    "build_table",
    "call_timeline",
    "caller_id_answer_rates",
    "calls_by",
    "list_penetration",
    "local_range",
    "register_extension",
    "run_all",
]

LIVE = ("human", "unknown")
NOT_LIVE = ("machine", "fax")
#: The law's budget from a person's answer to an agent (47 CFR 64.1200(a)(7)).
SERVICE_LEVEL_S = 2.0
# Timestamps are compared as seconds; SQLite's julianday carries ~50 microseconds of rounding.
_TOLERANCE_S = 0.0005
MAX_RANGE_DAYS = 400
TALK_STATES = ("reserved", "on_call")
CLOSED_STATUSES = (
    ContactStatus.DONE.value, ContactStatus.DNC.value, ContactStatus.BAD_NUMBER.value, ContactStatus.EXHAUSTED.value,
)
HOUR_S = 3600


class ReportError(ValueError):
    """A report was asked for with a filter it cannot use; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ReportFilter:
    """Which calls a report counts: placed in ``[start, end)`` (aware datetimes), optionally one campaign,
    list or agent; hours and days are read in ``zone``."""

    start: datetime
    end: datetime
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    campaign_id: int | None = None
    list_id: int | None = None
    agent_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ReportError(name, "must be a datetime with a time zone")
        if self.end <= self.start:
            raise ReportError("end", "must be after the start")
        if self.end - self.start > timedelta(days=MAX_RANGE_DAYS, hours=1):  # an hour of slack for summer time
            raise ReportError("end", f"a report covers at most {MAX_RANGE_DAYS} days")
        for name in ("campaign_id", "list_id", "agent_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ReportError(name, "must be a positive whole number")


def local_range(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants from local midnight of ``first`` to local midnight after ``last`` (both days included)."""
    if last < first:
        raise ReportError("to", "the last day is before the first")
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class Column:
    """One column of a report table; ``kind`` tells the page and the CSV how to write the value:
    text, count, rate (a fraction), delta (a difference of fractions), seconds, day (a ``date``) or
    hour (0-23)."""

    key: str
    label: str
    kind: str = "count"


@dataclass
class ReportTable:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    note: str = ""

    def csv_rows(self) -> list[list[Any]]:
        """The header and each row as plain cells: rates as fractions to 6 places, seconds to 0.1 s."""
        out: list[list[Any]] = [[column.label for column in self.columns]]
        for row in self.rows:
            out.append([_plain(row.get(column.key), column.kind) for column in self.columns])
        return out


def _plain(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind in ("rate", "delta"):
        return round(float(value), 6)
    if kind == "seconds":
        return round(float(value), 1)
    if kind == "day":
        return value.isoformat()
    if kind == "hour":
        return f"{int(value):02d}:00"
    return value


# ---------------------------------------------------------------------------------------------- SQL helpers


def _count(condition: ColumnElement[bool]) -> Any:
    """Rows of the group where ``condition`` holds (``FILTER``: no per-row CASE to sum)."""
    return func.count().filter(condition)


def _within(conn: Connection, earlier: Any, later: Any, seconds: float) -> ColumnElement[bool]:
    """``later`` is at most ``seconds`` after ``earlier`` (timestamp arithmetic on PostgreSQL, no per-row
    conversion to a number)."""
    if conn.dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0 <= seconds
    return later <= earlier + literal_column(f"interval '{float(seconds)} seconds'")


def _total_seconds(conn: Connection, earlier: Any, later: Any) -> ColumnElement[Any]:
    """The sum over a group of ``later - earlier`` in seconds (PostgreSQL adds intervals, then converts once)."""
    if conn.dialect.name == "sqlite":
        return func.sum((func.julianday(later) - func.julianday(earlier)) * 86400.0)
    return func.extract("epoch", func.sum(later - earlier))


def _bucket_size(f: ReportFilter) -> int:
    """Seconds of the UTC buckets calls are counted in: an hour when every offset the zone takes over the range
    is a whole number of hours, else a quarter of an hour (every zone's offset is a multiple of 15 minutes), so
    each bucket lies inside one local hour."""
    moment, step = f.start, timedelta(hours=6)
    while moment <= f.end:
        offset = moment.astimezone(f.zone).utcoffset()
        if offset is not None and int(offset.total_seconds()) % HOUR_S:
            return 900
        moment += step
    return HOUR_S


def _utc_bucket(conn: Connection, column: Any, size: int) -> ColumnElement[Any]:
    """The number of the UTC bucket of ``size`` seconds a timestamp falls in, counted from 1970.

    The database only truncates (cheap); the zone's clock, daylight saving
    included, is applied in Python to the few hundred buckets that come back.
    """
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer) // size
    if size == HOUR_S:
        return func.date_trunc("hour", column.op("AT TIME ZONE")(literal_column("'UTC'")))
    return cast(func.floor(func.extract("epoch", column) / size), BigInteger)


def _bucket_start(value: Any, size: int) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromtimestamp(int(value) * size, UTC)


def _flagged_codes(conn: Connection, flag: Callable[[Any], bool]) -> ColumnElement[bool]:
    """True for an attempt whose disposition has ``flag`` in its campaign's codes.

    A campaign's own code overrides the default code of the same name (as the
    dialer resolves them), so campaigns sharing the default flagged set are
    matched by one ``IN``, the others by their own.
    """
    defaults: dict[str, bool] = {}
    own: dict[int, dict[str, bool]] = defaultdict(dict)
    for row in conn.execute(select(DispositionCode)).mappings():
        target = defaults if row["campaign_id"] is None else own[row["campaign_id"]]
        target[row["code"]] = bool(flag(row))
    default_set = frozenset(code for code, on in defaults.items() if on)
    groups: dict[frozenset[str], list[int]] = defaultdict(list)
    for campaign_id, codes in own.items():
        merged = {**defaults, **codes}
        flagged = frozenset(code for code, on in merged.items() if on)
        if flagged != default_set:
            groups[flagged].append(campaign_id)
    special = [cid for ids in groups.values() for cid in ids]
    terms: list[ColumnElement[bool]] = []
    if default_set:
        term = CallAttempt.disposition.in_(sorted(default_set))
        terms.append(and_(CallAttempt.campaign_id.not_in(special), term) if special else term)
    for flagged_codes, ids in groups.items():
        if flagged_codes:
            terms.append(and_(CallAttempt.campaign_id.in_(sorted(ids)),
                              CallAttempt.disposition.in_(sorted(flagged_codes))))
    return or_(*terms) if terms else false()


def _is_sale(row: Any) -> bool:
    return bool(row["sale"])


def _is_finishing(row: Any) -> bool:
    return bool(row["final"] or row["adds_to_dnc"])


def _attempt_scope(f: ReportFilter) -> list[ColumnElement[bool]]:
    where = [CallAttempt.placed_at >= f.start, CallAttempt.placed_at < f.end]
    if f.campaign_id is not None:
        where.append(CallAttempt.campaign_id == f.campaign_id)
    if f.agent_id is not None:
        where.append(CallAttempt.agent_id == f.agent_id)
    if f.list_id is not None:
        where.append(CallAttempt.contact_id.in_(select(Contact.id).where(Contact.list_id == f.list_id)))
    return where


# ------------------------------------------------------------------------------------------ call measures

MEASURES = ("placed", "answered", "live", "machine", "connected", "abandoned", "within_sl", "sales",
            "handle_s", "talk_s", "wrap_s")

CALL_COLUMNS = (
    Column("placed", "Placed"),
    Column("answered", "Answered"),
    Column("answer_rate", "Answer rate", "rate"),
    Column("live", "Live answers"),
    Column("machine", "Machines"),
    Column("amd_rate", "Machine rate", "rate"),
    Column("connected", "Connected"),
    Column("contact_rate", "Contact rate", "rate"),
    Column("abandoned", "Abandoned"),
    Column("abandon_rate", "Abandonment", "rate"),
    Column("service_level", "Service level", "rate"),
    Column("sales", "Sales"),
    Column("conversion", "Conversion", "rate"),
    Column("aht_s", "Avg handle", "seconds"),
)


def _call_measures(conn: Connection) -> list[Any]:
    cls = CallAttempt.answer_class
    connected = CallAttempt.connected_at.is_not(None)
    live = cls.in_(LIVE)
    handle = func.coalesce(CallAttempt.talk_s, 0.0) + func.coalesce(CallAttempt.wrap_s, 0.0)
    answered_to_agent = _within(conn, CallAttempt.answered_at, CallAttempt.connected_at,
                                SERVICE_LEVEL_S + _TOLERANCE_S)
    within = and_(live, connected, answered_to_agent)
    return [
        func.count().label("placed"),
        func.count(CallAttempt.answered_at).label("answered"),
        _count(live).label("live"),
        _count(cls == "machine").label("machine"),
        func.count(CallAttempt.connected_at).label("connected"),
        _count(and_(CallAttempt.abandoned_at.is_not(None), func.coalesce(cls, "").not_in(NOT_LIVE))).label(
            "abandoned"),
        _count(within).label("within_sl"),
        _count(and_(connected, _flagged_codes(conn, _is_sale))).label("sales"),
        func.coalesce(func.sum(handle).filter(connected), 0.0).label("handle_s"),
        func.coalesce(func.sum(CallAttempt.talk_s).filter(connected), 0.0).label("talk_s"),
        func.coalesce(func.sum(CallAttempt.wrap_s).filter(connected), 0.0).label("wrap_s"),
    ]


def _sums(row: Any) -> dict[str, float]:
    mapping = row._mapping
    return {name: (float(mapping[name]) if name.endswith("_s") else int(mapping[name])) for name in MEASURES}


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def derive(sums: dict[str, float]) -> dict[str, Any]:
    """The rates and averages of a group from its sums (None where the denominator is 0)."""
    return {
        **sums,
        "answer_rate": _ratio(sums["answered"], sums["placed"]),
        "amd_rate": _ratio(sums["machine"], sums["answered"]),
        "contact_rate": _ratio(sums["connected"], sums["placed"]),
        "abandon_rate": _ratio(sums["abandoned"], sums["live"]),
        "service_level": _ratio(sums["within_sl"], sums["live"]),
        "conversion": _ratio(sums["sales"], sums["connected"]),
        "aht_s": _ratio(sums["handle_s"], sums["connected"]),
        "avg_talk_s": _ratio(sums["talk_s"], sums["connected"]),
        "avg_wrap_s": _ratio(sums["wrap_s"], sums["connected"]),
    }


def _add(into: dict[str, float], more: dict[str, float]) -> None:
    for name in MEASURES:
        into[name] = into.get(name, 0) + more[name]


def _zero() -> dict[str, float]:
    return {name: (0.0 if name.endswith("_s") else 0) for name in MEASURES}


# ------------------------------------------------------------------------------------------------ reports


@dataclass
class Timeline:
    """The range's totals, its local days and its hours of the day, from one scan grouped by UTC hour."""

    totals: dict[str, Any]
    by_day: ReportTable
    by_hour: ReportTable


def call_timeline(conn: Connection, f: ReportFilter) -> Timeline:
    """Totals, days and hours of the day: the database counts per UTC hour (quarter hour where the zone is
    half an hour off), and each bucket is then put in its local day and hour, summer time included."""
    size = _bucket_size(f)
    bucket = _utc_bucket(conn, CallAttempt.placed_at, size).label("bucket")
    rows = conn.execute(select(bucket, *_call_measures(conn)).where(*_attempt_scope(f)).group_by(bucket)).all()
    totals = _zero()
    days: dict[date, dict[str, float]] = {}
    hours: dict[int, dict[str, float]] = {}
    for row in rows:
        sums = _sums(row)
        local = _bucket_start(row.bucket, size).astimezone(f.zone)
        _add(totals, sums)
        _add(days.setdefault(local.date(), _zero()), sums)
        _add(hours.setdefault(local.hour, _zero()), sums)
    first = f.start.astimezone(f.zone).date()
    last = (f.end - timedelta(microseconds=1)).astimezone(f.zone).date()
    day_rows = []
    moment = first
    while moment <= last:  # every day of the range, quiet ones included, so charts keep their time axis
        day_rows.append({"day": moment, **derive(days.get(moment, _zero()))})
        moment += timedelta(days=1)
    hour_rows = [{"hour": h, **derive(hours.get(h, _zero()))} for h in range(24)]
    zone = f.zone.key
    return Timeline(
        totals=derive(totals),
        by_day=ReportTable("by_day", f"Calls by day ({zone})", (Column("day", "Day", "day"), *CALL_COLUMNS),
                           day_rows),
        by_hour=ReportTable("by_hour", f"Calls by hour of the day ({zone})",
                            (Column("hour", "Hour", "hour"), *CALL_COLUMNS), hour_rows,
                            note="Each hour sums that hour of every day of the range."),
    )


DIMENSIONS = ("campaign", "list", "agent")


def calls_by(conn: Connection, f: ReportFilter, dimension: str) -> ReportTable:
    """Calls grouped by campaign, list or agent (calls no agent took are one row of their own)."""
    if dimension == "campaign":
        key: Any = CallAttempt.campaign_id
        query = select(key.label("key"), *_call_measures(conn))
    elif dimension == "list":
        key = Contact.list_id
        query = select(key.label("key"), *_call_measures(conn)).join_from(
            CallAttempt, Contact, Contact.id == CallAttempt.contact_id)
    elif dimension == "agent":
        key = CallAttempt.agent_id
        query = select(key.label("key"), *_call_measures(conn))
    else:
        raise ReportError("dimension", f"must be one of {', '.join(DIMENSIONS)}")
    rows = conn.execute(query.where(*_attempt_scope(f)).group_by(key)).all()
    names = _names(conn, dimension, [row.key for row in rows if row.key is not None])
    out = []
    for row in rows:
        name = names.get(row.key, "") if row.key is not None else "No agent (not connected)"
        out.append({"id": row.key, "name": name or f"#{row.key}", **derive(_sums(row))})
    out.sort(key=lambda r: (-r["placed"], str(r["name"])))
    if dimension == "agent":
        columns: tuple[Column, ...] = (Column("name", "Agent", "text"), *CALL_COLUMNS,
                                       Column("avg_talk_s", "Avg talk", "seconds"),
                                       Column("avg_wrap_s", "Avg wrap", "seconds"))
        note = "Calls are the agent's once bridged to them; unconnected calls have no agent."
    else:
        columns = (Column("name", dimension.capitalize(), "text"), *CALL_COLUMNS)
        note = ""
    return ReportTable(f"by_{dimension}", f"Calls by {dimension}", columns, out, note)


def _names(conn: Connection, dimension: str, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    if dimension == "campaign":
        return dict(conn.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(ids))).all())
    if dimension == "list":
        return {row.id: f"{row.name} ({row.campaign})" for row in conn.execute(
            select(ContactList.id, ContactList.name, Campaign.name.label("campaign"))
            .join(Campaign, Campaign.id == ContactList.campaign_id).where(ContactList.id.in_(ids)))}
    return {row.id: (f"{row.name} ({row.login})" if row.name and row.name != row.login else row.login)
            for row in conn.execute(select(Agent.id, Agent.login, Agent.name).where(Agent.id.in_(ids)))}


@dataclass
class CallerIds:
    summary: ReportTable
    by_day: ReportTable


def caller_id_answer_rates(conn: Connection, f: ReportFilter) -> CallerIds:
    """Answers per caller ID and local day: a number that carriers start labelling as spam shows as a
    falling answer rate while the others hold."""
    size = _bucket_size(f)
    bucket = _utc_bucket(conn, CallAttempt.placed_at, size).label("bucket")
    cls = CallAttempt.answer_class
    rows = conn.execute(
        select(CallAttempt.caller_id, bucket, func.count().label("placed"),
               func.count(CallAttempt.answered_at).label("answered"), _count(cls.in_(LIVE)).label("live"))
        .where(*_attempt_scope(f)).group_by(CallAttempt.caller_id, bucket)
    ).all()
    daily: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        when = _bucket_start(row.bucket, size).astimezone(f.zone).date()
        counts = daily[(when, row.caller_id or "")]
        counts[0] += int(row.placed)
        counts[1] += int(row.answered)
        counts[2] += int(row.live)
    per_day = []
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    last_day: dict[str, tuple[date, int, int]] = {}
    for (when, caller), (placed, answered, live) in sorted(daily.items()):
        per_day.append({"day": when, "caller_id": caller or "(not recorded)", "placed": placed,
                        "answered": answered, "live": live, "answer_rate": _ratio(answered, placed)})
        bucket_totals = totals[caller]
        bucket_totals[0] += placed
        bucket_totals[1] += answered
        bucket_totals[2] += live
        last_day[caller] = (when, placed, answered)  # days come in order: the last one stays
    per_day.sort(key=lambda r: (r["day"], r["caller_id"]))
    summary: list[dict[str, Any]] = []
    for caller, (placed, answered, live) in totals.items():
        when, day_placed, day_answered = last_day[caller]
        rate = _ratio(answered, placed)
        latest = _ratio(day_answered, day_placed)
        summary.append({
            "caller_id": caller or "(not recorded)", "placed": placed, "answered": answered, "live": live,
            "answer_rate": rate, "last_day": when, "last_day_rate": latest,
            "change": (latest - rate) if latest is not None and rate is not None else None,
        })
    summary.sort(key=lambda r: (-r["placed"], r["caller_id"]))
    head = (Column("caller_id", "Caller ID", "text"), Column("placed", "Placed"), Column("answered", "Answered"),
            Column("live", "Live answers"), Column("answer_rate", "Answer rate", "rate"))
    return CallerIds(
        summary=ReportTable("caller_ids", "Answer rate by caller ID", (
            *head, Column("last_day", "Last day", "day"), Column("last_day_rate", "Last day's answer rate", "rate"),
            Column("change", "Change (points)", "delta")), summary,
            note="A caller ID whose last day answers far below its average may be labelled as spam."),
        by_day=ReportTable("caller_id_days", f"Answer rate by caller ID and day ({f.zone.key})",
                           (Column("day", "Day", "day"), *head), per_day),
    )


@dataclass
class Penetration:
    lists: ReportTable
    by_attempt: ReportTable


def list_penetration(conn: Connection, f: ReportFilter) -> Penetration:
    """How deep each list has been worked: contacts dialed now, and the range's attempts reached and finished,
    per list and by attempt number (one grouped pass over the range's attempts)."""
    finishing = _flagged_codes(conn, _is_finishing)
    connected = CallAttempt.connected_at.is_not(None)
    joined = CallAttempt.__table__.join(Contact.__table__, Contact.id == CallAttempt.contact_id)
    scope = _attempt_scope(f)
    by_number = conn.execute(
        select(Contact.list_id, CallAttempt.attempt_number, func.count().label("attempted"),
               _count(connected).label("reached"), _count(finishing).label("finished"))
        .select_from(joined).where(*scope).group_by(Contact.list_id, CallAttempt.attempt_number)
    ).all()
    in_range: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in by_number:
        sums = in_range[row.list_id]
        sums[0] += int(row.attempted)
        sums[1] += int(row.reached)
        sums[2] += int(row.finished)
    lists_query = select(ContactList.id, ContactList.name, Campaign.name.label("campaign")).join(
        Campaign, Campaign.id == ContactList.campaign_id)
    if f.campaign_id is not None:
        lists_query = lists_query.where(ContactList.campaign_id == f.campaign_id)
    if f.list_id is not None:
        lists_query = lists_query.where(ContactList.id == f.list_id)
    lists = {row.id: row for row in conn.execute(lists_query)}
    stock = {row.list_id: row for row in conn.execute(
        select(Contact.list_id, func.count().label("contacts"), _count(Contact.attempts > 0).label("dialed"),
               _count(Contact.status.in_(CLOSED_STATUSES)).label("closed"))
        .where(Contact.list_id.in_(list(lists) or [-1])).group_by(Contact.list_id)
    )}
    list_rows = []
    for list_id in sorted(set(lists) | set(in_range)):
        info, have = lists.get(list_id), stock.get(list_id)
        contacts = int(have.contacts) if have else 0
        dialed = int(have.dialed) if have else 0
        attempted, reached, finished = in_range.get(list_id, (0, 0, 0))
        list_rows.append({
            "list_id": list_id,
            "name": f"{info.name} ({info.campaign})" if info else f"#{list_id}",
            "contacts": contacts, "dialed": dialed, "penetration": _ratio(dialed, contacts),
            "closed": int(have.closed) if have else 0,
            "attempted": attempted, "reached": reached, "reach_rate": _ratio(reached, attempted),
            "finished": finished,
        })
    attempt_rows = []
    for row in sorted(by_number, key=lambda r: (r.list_id, r.attempt_number)):
        info = lists.get(row.list_id)
        contacts = int(stock[row.list_id].contacts) if row.list_id in stock else 0
        attempt_rows.append({
            "list_id": row.list_id, "name": f"{info.name} ({info.campaign})" if info else f"#{row.list_id}",
            "attempt_number": row.attempt_number, "attempted": row.attempted, "reached": int(row.reached),
            "finished": int(row.finished), "reach_rate": _ratio(int(row.reached), row.attempted),
            "share_of_list": _ratio(row.attempted, contacts),
        })
    return Penetration(
        lists=ReportTable("penetration", "List penetration", (
            Column("name", "List", "text"), Column("contacts", "Contacts now"), Column("dialed", "Dialed ever"),
            Column("penetration", "Penetration", "rate"), Column("closed", "Closed now"),
            Column("attempted", "Attempts"), Column("reached", "Reached"), Column("reach_rate", "Reach rate", "rate"),
            Column("finished", "Finished")), list_rows,
            note="Contacts, dialed and closed describe the list now. Attempts, reached (connected) and finished "
                 "(a final or do-not-call disposition) count the range's attempts; a contact finishes once."),
        by_attempt=ReportTable("penetration_attempts", "List penetration by attempt number", (
            Column("name", "List", "text"), Column("attempt_number", "Attempt"), Column("attempted", "Attempted"),
            Column("reached", "Reached"), Column("reach_rate", "Reach rate", "rate"), Column("finished", "Finished"),
            Column("share_of_list", "Share of list", "rate")), attempt_rows),
    )


@dataclass
class AgentTime:
    table: ReportTable
    ready_s: float
    on_calls: int

    @property
    def wait_s(self) -> float | None:
        """Ready seconds per call put through, over every agent of the report."""
        return _ratio(self.ready_s, self.on_calls)


def agent_time(conn: Connection, f: ReportFilter, *, now: datetime | None = None) -> AgentTime:
    """Seconds each agent spent ready, talking, wrapping up and paused (by reason), from the state changes."""
    upto = min(f.end, now or datetime.now(UTC))
    changes = AgentStateChange.__table__.c
    scope = [changes.at >= f.start, changes.at < upto]
    if f.campaign_id is not None:
        scope.append(changes.campaign_id == f.campaign_id)
    if f.agent_id is not None:
        scope.append(changes.agent_id == f.agent_id)
    stop = literal(upto, UTCDateTime())
    # Each change lasts until the agent's next one in the campaign: with the index on (campaign_id, agent_id,
    # at, id) the database reads the changes in that order and the window needs no sort.
    timed = select(
        changes.agent_id, changes.state, changes.reason, changes.at,
        func.lead(changes.at).over(partition_by=(changes.campaign_id, changes.agent_id),
                                   order_by=(changes.at, changes.id)).label("next_at"),
    ).where(*scope).subquery()
    finish = func.coalesce(timed.c.next_at, stop)
    rows = [
        (row.agent_id, row.state, row.reason, float(row.seconds or 0.0), int(row.entries))
        for row in conn.execute(
            select(timed.c.agent_id, timed.c.state, timed.c.reason,
                   _total_seconds(conn, timed.c.at, finish).label("seconds"),
                   func.count().label("entries"))
            .group_by(timed.c.agent_id, timed.c.state, timed.c.reason)
        )
    ]
    rows += _carried(conn, f, upto)
    spent: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    on_calls: dict[int, int] = defaultdict(int)
    reasons: set[str] = set()
    for agent_id, state, why, seconds, entries in rows:
        seconds = max(0.0, seconds)
        if state in TALK_STATES:
            spent[agent_id]["talk_s"] += seconds
        elif state == "ready":
            spent[agent_id]["ready_s"] += seconds
        elif state == "wrap_up":
            spent[agent_id]["wrap_s"] += seconds
        elif state == "paused":
            reason = why or "no reason given"
            reasons.add(reason)
            spent[agent_id]["paused_s"] += seconds
            spent[agent_id][f"paused:{reason}"] += seconds
        else:
            continue  # offline is not time on the floor
        if state == "on_call":
            on_calls[agent_id] += entries
    names = _names(conn, "agent", list(spent))
    table_rows: list[dict[str, Any]] = []
    for agent_id, time_by in spent.items():
        logged_in = sum(time_by[k] for k in ("ready_s", "talk_s", "wrap_s", "paused_s"))
        if logged_in <= 0:
            continue
        available = time_by["ready_s"] + time_by["talk_s"] + time_by["wrap_s"]
        line: dict[str, Any] = {
            "agent_id": agent_id, "name": names.get(agent_id, f"#{agent_id}"), "logged_in_s": logged_in,
            "ready_s": time_by["ready_s"], "talk_s": time_by["talk_s"], "wrap_s": time_by["wrap_s"],
            "paused_s": time_by["paused_s"], "calls": on_calls[agent_id],
            "wait_s": _ratio(time_by["ready_s"], on_calls[agent_id]),
            "occupancy": _ratio(time_by["talk_s"] + time_by["wrap_s"], available),
        }
        for reason in reasons:
            line[f"paused:{reason}"] = time_by.get(f"paused:{reason}", 0.0)
        table_rows.append(line)
    table_rows.sort(key=lambda r: (-r["logged_in_s"], r["name"]))
    columns = (
        Column("name", "Agent", "text"), Column("logged_in_s", "Logged in", "seconds"),
        Column("ready_s", "Ready", "seconds"), Column("talk_s", "Talk", "seconds"), Column("wrap_s", "Wrap", "seconds"),
        Column("paused_s", "Paused", "seconds"),
        *[Column(f"paused:{reason}", f"Paused: {reason}", "seconds") for reason in sorted(reasons)],
        Column("calls", "Calls taken"), Column("wait_s", "Wait per call", "seconds"),
        Column("occupancy", "Occupancy", "rate"),
    )
    return AgentTime(
        table=ReportTable("agent_time", "Agent time", columns, table_rows,
                          note="Talk includes the moment an agent is reserved for an answered call. Occupancy = "
                               "(talk + wrap) / (ready + talk + wrap)."
                               + (" An agent's time belongs to no list: the list filter does not apply here."
                                  if f.list_id is not None else "")),
        ready_s=sum(r["ready_s"] for r in table_rows),
        on_calls=sum(r["calls"] for r in table_rows),
    )


def _carried(conn: Connection, f: ReportFilter, upto: datetime) -> list[tuple[int, str, str | None, float, int]]:
    """The state each agent was in (per campaign) when the range starts, from the start to its first change
    in the range: one indexed look-up back and one forward per agent and campaign."""
    if upto <= f.start:
        return []
    pairs = select(Agent.id.label("agent_id"), Campaign.id.label("campaign_id")).select_from(Agent).join(
        Campaign, true())
    if f.campaign_id is not None:
        pairs = pairs.where(Campaign.id == f.campaign_id)
    if f.agent_id is not None:
        pairs = pairs.where(Agent.id == f.agent_id)
    pair = pairs.subquery()
    earlier = AgentStateChange.__table__.alias("earlier")
    latest = (
        select(earlier.c.id).where(earlier.c.campaign_id == pair.c.campaign_id, earlier.c.agent_id == pair.c.agent_id,
                                   earlier.c.at < f.start)
        .order_by(earlier.c.at.desc(), earlier.c.id.desc()).limit(1).scalar_subquery()
    )
    carried = AgentStateChange.__table__.alias("carried")
    later = AgentStateChange.__table__.alias("later")
    first_after = select(func.min(later.c.at)).where(
        later.c.campaign_id == carried.c.campaign_id, later.c.agent_id == carried.c.agent_id,
        later.c.at >= f.start, later.c.at < upto,
    ).scalar_subquery()
    found = conn.execute(
        select(carried.c.agent_id, carried.c.state, carried.c.reason, first_after.label("until"))
        .where(carried.c.id.in_(select(latest).select_from(pair)))
    ).all()
    out = []
    for row in found:
        until = row.until if row.until is not None else upto
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        out.append((row.agent_id, row.state, row.reason, (min(until, upto) - f.start).total_seconds(), 0))
    return out


# ------------------------------------------------------------------------------------------ extension point


class ReportExtension(Protocol):
    """Tables another part of the product adds to the reports (survey completion, quotas, CSAT...).

    ``tables`` names the keys it returns (unique across the reports); ``run``
    answers them for the filter, with the same aggregate-SQL discipline.
    """

    name: str
    tables: tuple[str, ...]

    def run(self, conn: Connection, f: ReportFilter) -> list[ReportTable]: ...


_EXTENSIONS: list[ReportExtension] = []


def register_extension(extension: ReportExtension) -> None:
    """Add an extension's tables to the page and to the CSV export."""
    taken = set(TABLES) | {key for other in _EXTENSIONS for key in other.tables}
    clash = taken & set(extension.tables)
    if clash:
        raise ReportError("tables", f"{', '.join(sorted(clash))} already exist")
    _EXTENSIONS.append(extension)


def extensions() -> tuple[ReportExtension, ...]:
    return tuple(_EXTENSIONS)


# ------------------------------------------------------------------------------------------------ run them


@dataclass
class FullReport:
    totals: dict[str, Any]
    wait_s: float | None
    tables: dict[str, ReportTable]
    seconds: dict[str, float]


def _timed(seconds: dict[str, float], name: str, run: Callable[[], Any]) -> Any:
    began = perf_counter()
    result = run()
    seconds[name] = perf_counter() - began
    return result


def run_all(conn: Connection, f: ReportFilter, *, now: datetime | None = None) -> FullReport:
    """Every report for the page, with how long each took."""
    seconds: dict[str, float] = {}
    timeline: Timeline = _timed(seconds, "timeline", lambda: call_timeline(conn, f))
    tables = {"by_day": timeline.by_day, "by_hour": timeline.by_hour}
    for dimension in DIMENSIONS:
        tables[f"by_{dimension}"] = _timed(seconds, f"by_{dimension}", partial(calls_by, conn, f, dimension))
    agents: AgentTime = _timed(seconds, "agent_time", lambda: agent_time(conn, f, now=now))
    tables["agent_time"] = agents.table
    penetration: Penetration = _timed(seconds, "penetration", lambda: list_penetration(conn, f))
    tables["penetration"], tables["penetration_attempts"] = penetration.lists, penetration.by_attempt
    callers: CallerIds = _timed(seconds, "caller_ids", lambda: caller_id_answer_rates(conn, f))
    tables["caller_ids"], tables["caller_id_days"] = callers.summary, callers.by_day
    for extension in _EXTENSIONS:
        for table in _timed(seconds, extension.name, partial(extension.run, conn, f)):
            tables[table.key] = table
    return FullReport(totals=timeline.totals, wait_s=agents.wait_s, tables=tables, seconds=seconds)


def _one(conn: Connection, f: ReportFilter, key: str, now: datetime | None) -> ReportTable:
    if key in ("by_day", "by_hour"):
        timeline = call_timeline(conn, f)
        return timeline.by_day if key == "by_day" else timeline.by_hour
    if key.startswith("by_") and key[3:] in DIMENSIONS:
        return calls_by(conn, f, key[3:])
    if key == "agent_time":
        return agent_time(conn, f, now=now).table
    if key in ("penetration", "penetration_attempts"):
        penetration = list_penetration(conn, f)
        return penetration.lists if key == "penetration" else penetration.by_attempt
    callers = caller_id_answer_rates(conn, f)
    return callers.summary if key == "caller_ids" else callers.by_day


#: Every table of the reports, in page order (extensions' tables come after).
TABLES: tuple[str, ...] = (
    "by_day", "by_hour", "by_campaign", "by_list", "by_agent", "agent_time", "penetration",
    "penetration_attempts", "caller_ids", "caller_id_days",
)


def build_table(conn: Connection, f: ReportFilter, key: str, *, now: datetime | None = None) -> ReportTable:
    """One table by its key (what a CSV export runs), computing only the report that holds it."""
    if key in TABLES:
        return _one(conn, f, key, now)
    for extension in _EXTENSIONS:
        if key in extension.tables:
            for table in extension.run(conn, f):
                if table.key == key:
                    return table
    known = [*TABLES, *(k for e in _EXTENSIONS for k in e.tables)]
    raise ReportError("table", f"unknown table {key!r}; one of {', '.join(known)}")


def table_keys() -> Iterable[str]:
    yield from TABLES
    for extension in _EXTENSIONS:
        yield from extension.tables
