"""A campaign's report: attempts, answers, connects and abandonment for a day, by hour, and the legal 30-day view.

Abandonment is counted as the compliance reports count it (47 CFR 64.1200(a)(7)):
abandoned calls over live answers (answer class ``human`` or ``unknown``),
machine and fax answers left out of both.  The day is a calendar day in the
campaign's schedule time zone (or ``tz``), so "today" is the floor's today,
and its hours follow that zone's clock through daylight-saving changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from campaigns import compliance_reports, services
from campaigns.models import CallAttempt, Campaign
from web import get_session
from web.api import errors
from web.api.inputs import query_date, timezone_name
from web.api.lookups import campaign_by_ref
from web.api.shapes import plain
from web.auth import OFFICE, blueprint_roles

bp = Blueprint("reports_api", __name__)
blueprint_roles(bp, *OFFICE)
errors.install(bp)

LIVE = ("human", "unknown")
NOT_LIVE = ("machine", "fax")
ANSWERED = (*LIVE, *NOT_LIVE)


def _hours(day: date, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The day's hours as UTC intervals: 23 or 25 of them on the days the clocks change."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    hours = []
    moment = start
    while moment < end:
        hours.append((moment, min(moment + timedelta(hours=1), end)))
        moment += timedelta(hours=1)
    return hours


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _measures(within: ColumnElement[bool]) -> list[Any]:
    cls = CallAttempt.answer_class
    return [
        _sum(and_(within, CallAttempt.placed_at.is_not(None))),
        _sum(and_(within, cls.in_(ANSWERED))),
        _sum(and_(within, cls.in_(LIVE))),
        _sum(and_(within, CallAttempt.connected_at.is_not(None))),
        _sum(and_(within, CallAttempt.abandoned_at.is_not(None), func.coalesce(cls, "").not_in(NOT_LIVE))),
    ]


def _counts(values: list[Any]) -> dict[str, Any]:
    placed, answered, live, connected, abandoned = (int(value) for value in values)
    return {
        "attempts": placed,
        "answers": answered,
        "live_answers": live,
        "connects": connected,
        "abandoned": abandoned,
        "abandonment_rate": round(abandoned / live, 6) if live else 0.0,
    }


def day_report(session: Session, campaign: Campaign, day: date, zone: ZoneInfo) -> dict[str, Any]:
    """The day's totals and its hours, from one pass over the day's calls."""
    hours = _hours(day, zone)
    placed = CallAttempt.placed_at
    columns = _measures(placed.is_not(None))
    for start, end in hours:
        columns += _measures(and_(placed >= start, placed < end))
    row = session.execute(
        select(*columns).where(
            CallAttempt.campaign_id == campaign.id, placed >= hours[0][0], placed < hours[-1][1]
        )
    ).one()
    values = list(row)
    by_hour = []
    for index, (start, end) in enumerate(hours, start=1):
        by_hour.append({
            "hour": start.astimezone(zone).isoformat(),
            "start": start.isoformat(),
            "end": end.isoformat(),
            **_counts(values[index * 5 : index * 5 + 5]),
        })
    return {"totals": _counts(values[:5]), "by_hour": by_hour}


@bp.get("/api/campaigns/<campaign_ref>/report")
def campaign_report(campaign_ref: str) -> ResponseReturnValue:
    """One day (``day``, default today in the campaign's zone) with its hours, plus the 30-day abandonment."""
    session = get_session()
    campaign = campaign_by_ref(session, campaign_ref)
    tz_name = request.args.get("tz") or campaign.schedule_tz or "UTC"
    zone = ZoneInfo(timezone_name("tz", tz_name))
    now = datetime.now(UTC)
    day = query_date("day") or now.astimezone(zone).date()
    report = day_report(session, campaign, day, zone)
    periods = compliance_reports.abandonment_periods(session.connection(), campaign.id, now)
    rolling = periods[-1]
    return jsonify({
        "campaign_id": campaign.id,
        "campaign": campaign.name,
        "day": day.isoformat(),
        "timezone": zone.key,
        "target_abandon": campaign.target_abandon,
        "legal_limit": compliance_reports.ABANDON_LIMIT,
        **report,
        "rolling_30_days": plain(rolling),
        "periods": plain(periods[:-1]),
        "all_time": services.campaign_summary(session, campaign),
    })
