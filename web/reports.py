"""Reports page: calls, contact and conversion, handle time, agent time, list penetration, caller IDs.

Thin: every figure comes from ``campaigns.reports`` (grouped SQL).  The page
and its CSV exports read the same filter from the query string, and a CSV
runs only the report that holds the table asked for, so an export is the
table on the page, whole.  Days and hours are read in one time zone per page:
the chosen campaign's schedule zone unless ``tz`` says otherwise, UTC when no
campaign is chosen; the page says which.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

import campaigns.survey_reports  # noqa: F401  (registers the survey tables with the reports)
from campaigns import reports
from campaigns.csv_safety import safe_csv_writer
from campaigns.models import Agent, Campaign, ContactList
from campaigns.reports import FullReport, ReportError, ReportFilter, ReportTable
from web import get_session
from web.auth import OFFICE, blueprint_roles, error_response
from web.charts import Series, bar_chart, hbar_chart, line_chart, percent

bp = Blueprint("reports", __name__)
blueprint_roles(bp, *OFFICE)

DEFAULT_DAYS = 7
COMMON_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
                "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto", "Europe/London",
                "Australia/Sydney")


class Chosen:
    """The filter as the page understood it, with the names to show beside it."""

    def __init__(self, report_filter: ReportFilter, first: date, last: date, campaign: Campaign | None,
                 form: dict[str, str]) -> None:
        self.filter = report_filter
        self.first = first
        self.last = last
        self.campaign = campaign
        self.form = form


def _whole_number(args: Mapping[str, str], name: str) -> int | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ReportError(name, f"{text!r} is not one of the choices")
    return int(text)


def _day(args: Mapping[str, str], name: str) -> date | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(name, f"{text!r} is not a date (YYYY-MM-DD)") from None


def read_filter(session: Session, args: Mapping[str, str], now: datetime) -> Chosen:
    """The report filter from the query string; a ``ReportError`` names the field that is wrong."""
    form = {key: (args.get(key) or "").strip() for key in ("campaign", "list", "agent", "from", "to", "tz")}
    campaign_id = _whole_number(args, "campaign")
    campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign_id is not None and campaign is None:
        raise ReportError("campaign", f"there is no campaign #{campaign_id}")
    list_id = _whole_number(args, "list")
    if list_id is not None:
        found = session.get(ContactList, list_id)
        if found is None:
            raise ReportError("list", f"there is no list #{list_id}")
        if campaign is not None and found.campaign_id != campaign.id:
            raise ReportError("list", f"list {found.name!r} belongs to another campaign")
    agent_id = _whole_number(args, "agent")
    if agent_id is not None and session.get(Agent, agent_id) is None:
        raise ReportError("agent", f"there is no agent #{agent_id}")
    zone_name = form["tz"] or (campaign.schedule_tz if campaign is not None else "") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError("tz", f"{zone_name!r} is not a time zone (e.g. America/New_York)") from None
    today = now.astimezone(zone).date()
    last = _day(args, "to") or today
    first = _day(args, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ReportError("to", "the last day is before the first")
    if (last - first).days >= reports.MAX_RANGE_DAYS:
        raise ReportError("from", f"a report covers at most {reports.MAX_RANGE_DAYS} days")
    start, end = reports.local_range(first, last, zone)
    form.update({"from": first.isoformat(), "to": last.isoformat(), "tz": zone.key})
    chosen_filter = ReportFilter(start=start, end=end, zone=zone, campaign_id=campaign_id, list_id=list_id,
                                 agent_id=agent_id)
    return Chosen(chosen_filter, first, last, campaign, form)


# ------------------------------------------------------------------------------------------------ formatting


def duration(seconds: float | None) -> str:
    """Seconds as people read a call-centre duration: 45 s, 2:05, 3 h 20 m."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60}:{whole % 60:02d}"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} m"


def cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "rate":
        return f"{float(value) * 100:.1f}%"
    if kind == "delta":
        return f"{float(value) * 100:+.1f} pts"
    if kind == "seconds":
        return duration(float(value))
    if kind == "day":
        return f"{value:%a %d %b %Y}"
    if kind == "hour":
        return f"{int(value):02d}:00"
    return str(value)


@bp.app_template_filter("report_cell")
def _report_cell(value: Any, kind: str) -> str:
    return cell(value, kind)


# ---------------------------------------------------------------------------------------------------- charts


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def charts(report: FullReport) -> dict[str, Markup]:
    days = report.tables["by_day"].rows
    labels = [f"{row['day']:%d %b}" for row in days]
    out = {
        "volume": bar_chart(labels, [
            Series("Placed", [row["placed"] for row in days]),
            Series("Answered", [row["answered"] for row in days]),
            Series("Connected", [row["connected"] for row in days]),
        ], title="Calls by day", y_label="calls"),
        "rates": line_chart(labels, [
            Series("Answer rate", [row["answer_rate"] for row in days]),
            Series("Contact rate", [row["contact_rate"] for row in days]),
            Series("Conversion", [row["conversion"] for row in days]),
        ], title="Answer, contact and conversion rates by day", y_format=percent, y_max=1.0),
        "abandonment": line_chart(labels, [
            Series("Abandonment", [row["abandon_rate"] for row in days], color="#c3262f"),
            Series("Legal limit 3%", [0.03 for _ in days], color="#5f6b7a", dashed=True),
        ], title="Abandonment by day", y_format=percent,
            y_max=max([0.05, *(row["abandon_rate"] or 0.0 for row in days)])),
    }
    hours = report.tables["by_hour"].rows
    out["hours"] = bar_chart([f"{row['hour']:02d}" for row in hours], [
        Series("Placed", [row["placed"] for row in hours]),
        Series("Connected", [row["connected"] for row in hours]),
    ], title="Calls by hour of the day", y_label="calls")
    callers = sorted({row["caller_id"] for row in report.tables["caller_id_days"].rows})
    if callers:
        rate_of = {(row["day"], row["caller_id"]): row["answer_rate"] for row in report.tables["caller_id_days"].rows}
        out["caller_ids"] = line_chart(labels, [
            Series(caller, [rate_of.get((row["day"], caller)) for row in days]) for caller in callers[:6]
        ], title="Answer rate by caller ID", y_format=percent, y_max=1.0)
    agents = [row for row in report.tables["agent_time"].rows if row["occupancy"] is not None][:25]
    if agents:
        out["occupancy"] = hbar_chart([(row["name"], row["occupancy"]) for row in agents],
                                      title="Occupancy by agent", value_format=percent, max_value=1.0)
    by_number: dict[int, list[int]] = {}
    for row in report.tables["penetration_attempts"].rows:
        totals = by_number.setdefault(row["attempt_number"], [0, 0, 0])
        totals[0] += row["attempted"]
        totals[1] += row["reached"]
        totals[2] += row["finished"]
    if by_number:
        numbers = sorted(by_number)
        out["attempts"] = bar_chart([f"#{n}" for n in numbers], [
            Series("Attempted", [by_number[n][0] for n in numbers]),
            Series("Reached", [by_number[n][1] for n in numbers]),
            Series("Finished", [by_number[n][2] for n in numbers]),
        ], title="Contacts by attempt number", y_label="contacts")
    return out


# ------------------------------------------------------------------------------------------------------ views


def _choices(session: Session) -> dict[str, Any]:
    return {
        "campaigns": session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.name)).all(),
        "lists": session.execute(
            select(ContactList.id, ContactList.name, ContactList.campaign_id, Campaign.name.label("campaign"))
            .join(Campaign, Campaign.id == ContactList.campaign_id).order_by(Campaign.name, ContactList.name)
        ).all(),
        "agents": session.execute(select(Agent.id, Agent.login, Agent.name).order_by(Agent.login)).all(),
        "zones": COMMON_ZONES,
    }


def csv_response(table: ReportTable, chosen: Chosen) -> Response:
    buffer = io.StringIO()
    writer = safe_csv_writer(buffer)
    writer.writerows(table.csv_rows())
    scope = f"campaign-{chosen.campaign.id}" if chosen.campaign is not None else "all-campaigns"
    name = f"{table.key}_{scope}_{chosen.first.isoformat()}_{chosen.last.isoformat()}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/reports", endpoint="reports")
def reports_page() -> ResponseReturnValue:
    """The page (``format`` absent or ``html``) or one table as CSV (``format=csv&table=...``)."""
    session = get_session()
    now = datetime.now(UTC)
    wanted = (request.args.get("format") or "html").strip().lower()
    if wanted not in ("html", "csv"):
        return error_response(400, f"format {wanted!r} is not html or csv", "format")
    try:
        chosen = read_filter(session, request.args, now)
    except ReportError as error:
        if wanted == "csv":
            return error_response(400, error.message, error.field)
        form = {key: (request.args.get(key) or "").strip() for key in ("campaign", "list", "agent", "from", "to", "tz")}
        return render_template("reports/index.html", error=error, form=form, report=None, **_choices(session)), 400
    conn = session.connection()
    if wanted == "csv":
        key = (request.args.get("table") or "").strip()
        if not key:
            return error_response(400, "say which table to export (table=by_day, by_hour, ...)", "table")
        try:
            table = reports.build_table(conn, chosen.filter, key, now=now)
        except ReportError as error:
            return error_response(400, error.message, error.field)
        return csv_response(table, chosen)
    report = reports.run_all(conn, chosen.filter, now=now)
    query = {key: value for key, value in chosen.form.items() if value}
    return render_template(
        "reports/index.html", error=None, form=chosen.form, chosen=chosen, report=report, query=query,
        charts=charts(report), order=list(reports.table_keys()), ran_s=sum(report.seconds.values()),
        **_choices(session),
    )
