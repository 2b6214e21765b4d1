"""The floor's charts from the call records: calls and connects per hour, abandonment per day, occupancy.

The live hash says what is happening this second; these say how the day went.
Counting happens in SQL (hour and day buckets), so a campaign that placed a
million calls costs one grouped query per chart, not a million rows in Python.
Buckets are UTC hours and days; labels are shown in the campaign's own zone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Integer, and_, case, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from campaigns.models import Agent, AgentStateChange, CallAttempt, Campaign

HOUR = 3600
DAY = 86400
_LIVE = or_(CallAttempt.answer_class.is_(None), CallAttempt.answer_class.not_in(("machine", "fax")))
BUSY_STATES = ("reserved", "on_call")


@dataclass(frozen=True)
class HourRow:
    start: datetime
    label: str
    calls: int
    answers: int
    live_answers: int
    connects: int
    abandoned: int


@dataclass(frozen=True)
class DayRow:
    day: datetime
    label: str
    live_answers: int
    abandoned: int
    rate: float | None  # that day's drops over live answers (None: no live answer)
    rolling_rate: float | None  # the 30 days ending that day


@dataclass(frozen=True)
class Occupancy:
    agent: str  # the engine's agent id (login)
    name: str
    talk_s: float
    wrap_s: float
    ready_s: float
    paused_s: float

    @property
    def occupancy(self) -> float:
        """Share of the agent's available time spent on calls and wrap-up (pauses are not available time)."""
        handled = self.talk_s + self.wrap_s
        available = handled + self.ready_s
        return handled / available if available > 0 else 0.0


def zone_of(campaign: Campaign) -> ZoneInfo:
    try:
        return ZoneInfo(campaign.schedule_tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight(campaign: Campaign, now: datetime) -> datetime:
    """The start of the campaign's local day containing ``now``, in UTC: "today" on the wallboard."""
    zone = zone_of(campaign)
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _epoch(conn: Connection, column: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of a UTC timestamp column, on SQLite and PostgreSQL."""
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return func.extract("epoch", column)


def _bucket(conn: Connection, column: Any, size: int) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        return _epoch(conn, column) // size
    return func.floor(_epoch(conn, column) / size)


def hourly(conn: Connection, campaign: Campaign, now: datetime, *, start: datetime | None = None) -> list[HourRow]:
    """Per hour from ``start`` (default: the campaign's local midnight) to ``now``: calls placed, answers,
    live answers, connects and abandoned calls, by the hour the call was placed."""
    now = _aware(now)
    start = _aware(start) if start is not None else local_midnight(campaign, now)
    bucket = _bucket(conn, CallAttempt.placed_at, HOUR).label("bucket")
    rows = conn.execute(
        select(
            bucket,
            func.count(),
            func.count(CallAttempt.answered_at),
            func.sum(case((and_(CallAttempt.answered_at.is_not(None), _LIVE), 1), else_=0)),
            func.count(CallAttempt.connected_at),
            func.sum(case((and_(CallAttempt.abandoned_at.is_not(None), _LIVE), 1), else_=0)),
        )
        .where(CallAttempt.campaign_id == campaign.id, CallAttempt.placed_at >= start,
               CallAttempt.placed_at <= now)
        .group_by(bucket)
    ).all()
    found = {int(r[0]): r for r in rows}
    zone = zone_of(campaign)
    first, last = int(start.timestamp()) // HOUR, int(now.timestamp()) // HOUR
    out = []
    for hour in range(first, last + 1):
        at = datetime.fromtimestamp(hour * HOUR, UTC)
        r = found.get(hour)
        out.append(HourRow(
            start=at, label=at.astimezone(zone).strftime("%H:%M"),
            calls=int(r[1]) if r else 0, answers=int(r[2]) if r else 0, live_answers=int(r[3] or 0) if r else 0,
            connects=int(r[4]) if r else 0, abandoned=int(r[5] or 0) if r else 0,
        ))
    return out


def daily_abandonment(conn: Connection, campaign: Campaign, now: datetime, *, days: int = 30) -> list[DayRow]:
    """Per UTC day of the last ``days``: live answers, drops, that day's rate and the rolling 30-day rate.

    The rolling rate is the one the law measures (47 CFR 64.1200(a)(7)); the
    daily rate shows where it comes from.  Same counting as
    ``compliance_reports.abandonment_periods``: by the day the call was placed.
    """
    now = _aware(now)
    today = int(now.timestamp()) // DAY
    first = today - days + 1
    since = datetime.fromtimestamp((first - 29) * DAY, UTC)
    bucket = _bucket(conn, CallAttempt.placed_at, DAY).label("bucket")
    live = and_(CallAttempt.answer_class.in_(("human", "unknown")))
    dropped = and_(CallAttempt.abandoned_at.is_not(None), _LIVE)
    rows = conn.execute(
        select(bucket, func.sum(case((live, 1), else_=0)), func.sum(case((dropped, 1), else_=0)))
        .where(CallAttempt.campaign_id == campaign.id, CallAttempt.placed_at >= since, CallAttempt.placed_at <= now)
        .group_by(bucket)
    ).all()
    per_day: dict[int, tuple[int, int]] = {int(r[0]): (int(r[1] or 0), int(r[2] or 0)) for r in rows}
    out = []
    for day in range(first, today + 1):
        answers, drops = per_day.get(day, (0, 0))
        window = [per_day.get(d, (0, 0)) for d in range(day - 29, day + 1)]
        roll_answers, roll_drops = sum(a for a, _ in window), sum(d for _, d in window)
        at = datetime.fromtimestamp(day * DAY, UTC)
        out.append(DayRow(
            day=at, label=at.strftime("%d %b"), live_answers=answers, abandoned=drops,
            rate=drops / answers if answers else None,
            rolling_rate=roll_drops / roll_answers if roll_answers else None,
        ))
    return out


def occupancy(conn: Connection, campaign: Campaign, now: datetime, *, start: datetime | None = None
              ) -> list[Occupancy]:
    """Seconds each agent spent talking, wrapping up, ready and paused in this campaign since ``start``.

    Built from the agents' state changes (each lasts until the next one, or
    ``now``); the state an agent was in at ``start`` counts from ``start``.
    Agents who were offline all along are left out.
    """
    now = _aware(now)
    start = _aware(start) if start is not None else local_midnight(campaign, now)
    before = (
        select(AgentStateChange.agent_id, func.max(AgentStateChange.at).label("at"))
        .where(AgentStateChange.campaign_id == campaign.id, AgentStateChange.at < start)
        .group_by(AgentStateChange.agent_id)
        .subquery()
    )
    carried = conn.execute(
        select(AgentStateChange.agent_id, AgentStateChange.state)
        .join(before, and_(before.c.agent_id == AgentStateChange.agent_id, before.c.at == AgentStateChange.at))
        .where(AgentStateChange.campaign_id == campaign.id)
    ).all()
    current: dict[int, tuple[str, float]] = {r.agent_id: (r.state, start.timestamp()) for r in carried}
    totals: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def close(agent_id: int, until: float) -> None:
        state, since = current[agent_id]
        totals[agent_id][state] += max(0.0, until - since)

    changes = conn.execute(
        select(AgentStateChange.agent_id, AgentStateChange.state, AgentStateChange.at)
        .where(AgentStateChange.campaign_id == campaign.id, AgentStateChange.at >= start, AgentStateChange.at <= now)
        .order_by(AgentStateChange.at, AgentStateChange.id)
    )
    for change in changes:
        at = _aware(change.at).timestamp()
        if change.agent_id in current:
            close(change.agent_id, at)
        current[change.agent_id] = (change.state, at)
    for agent_id in current:
        close(agent_id, now.timestamp())
    names = {r.id: (r.login, r.name) for r in conn.execute(
        select(Agent.id, Agent.login, Agent.name).where(Agent.id.in_(list(totals) or [-1])))}
    out = []
    for agent_id, spent in totals.items():
        talk = sum(spent.get(s, 0.0) for s in BUSY_STATES)
        wrap, ready, paused = spent.get("wrap_up", 0.0), spent.get("ready", 0.0), spent.get("paused", 0.0)
        if talk + wrap + ready + paused <= 0:
            continue
        login, name = names.get(agent_id, (str(agent_id), ""))
        out.append(Occupancy(login, name or login, talk, wrap, ready, paused))
    out.sort(key=lambda o: (-o.occupancy, o.agent))
    return out


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


__all__ = ["DayRow", "HourRow", "Occupancy", "daily_abandonment", "hourly", "local_midnight", "occupancy"]
