"""The compliance desk: call log, one call's compliance record, abandonment report, DNC, audit, exports.

Thin: the queries live in ``campaigns.call_log``, ``campaigns.compliance_reports``,
``campaigns.dnc_store`` and ``campaigns.audit_store``, the same code the
command line uses, so a figure on a page and in a CLI report cannot differ.
Each table's CSV link carries the page's own query arguments and runs the
same query without paging, so an export is what the officer saw, whole.
Times are read and shown in one zone per page (``tz``, UTC unless chosen),
and the page says which.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO, cast
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from campaigns import call_log, compliance_reports, dnc_store
from campaigns.audit_store import EXPORT_COLUMNS, export_csv, read_records, verify_trail
from campaigns.call_log import FilterError, parse_number, parse_period, parse_zone
from campaigns.compliance_models import AuditEvent, DncChange
from campaigns.csv_safety import safe_csv_writer
from campaigns.models import Agent, Campaign, DispositionCode, DncEntry
from campaigns.services import spoken_number
from compliance.audit import chain_for, format_time
from web import get_session, resources
from web.auth import COMPLIANCE, blueprint_roles, error_response
from web.charts import Series, bar_chart, line_chart, nice_ceiling, percent

bp = Blueprint("desk", __name__, url_prefix="/compliance")
blueprint_roles(bp, *COMPLIANCE)

PAGE_SIZE = call_log.PAGE_SIZE
#: In-request DNC uploads stop here; larger lists go through ``dialer dnc upload`` (no size limit, same log).
UPLOAD_MAX_BYTES = 2 * 1024 * 1024
UPLOAD_MAX_ROWS = 20_000
UPLOAD_REPORT_TTL_S = 3600
COMMON_ZONES = ("UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
                "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Toronto", "Europe/London",
                "Australia/Sydney")


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"outcomes": call_log.OUTCOMES, "zones": COMMON_ZONES, "page_size": PAGE_SIZE, "phone": _phone}


def _phone(e164: str | None) -> str:
    """A number as people here write it; the stored text when it is not one."""
    if not e164:
        return ""
    try:
        return spoken_number(e164)
    except Exception:  # a stored value that does not parse is shown as stored
        return e164


def _page_number(args: Mapping[str, str]) -> int:
    text = (args.get("page") or "1").strip()
    if not text.isdigit() or int(text) < 1:
        raise FilterError("page", f"{text!r} is not a page number (1, 2, ...)")
    return int(text)


def _when(zone: ZoneInfo) -> Callable[[datetime | None], str]:
    """How times read on a page of ``zone``: to the second, with the zone's abbreviation."""

    def show(value: datetime | None) -> str:
        if value is None:
            return ""
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    return show


def _csv_response(rows: Iterable[Iterable[Any]], filename: str) -> Response:
    """Stream rows as a formula-safe CSV download, written as they are read.

    Row generators open their own database session (the request's is closed
    when the view returns, before the body is sent), so they need no request
    context and a download that is never read holds nothing open.
    """

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = safe_csv_writer(buffer)
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(generate(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.name)))


# -- the call log ------------------------------------------------------------------------------


@bp.get("/calls")
def calls() -> ResponseReturnValue:
    session = get_session()
    args = request.args
    error: FilterError | None = None
    rows: list[call_log.CallRow] = []
    total = 0
    page = 1
    filters, zone = call_log.CallFilters(), ZoneInfo("UTC")
    try:
        filters, zone = call_log.parse_filters(session, args)
        page = _page_number(args)
        total = call_log.count(session, filters)
        rows = call_log.search(session, filters, page=page)
    except FilterError as problem:
        error = problem
    query = filters.to_args(zone)
    status = 400 if error else 200
    here: dict[str, Any] = {**query, **({"page": page} if page > 1 else {})}
    back = url_for("desk.calls", **here)
    return render_template(
        "desk/calls.html", rows=rows, total=total, page=page, back=back, pages=max(1, -(-total // PAGE_SIZE)),
        error=error, form=args, query=query, zone=zone, when=_when(zone), campaigns=_campaigns(session),
        agents=list(session.scalars(select(Agent).order_by(Agent.login))),
        dispositions=sorted(set(session.scalars(select(DispositionCode.code)))),
    ), status


@bp.get("/calls/export.csv")
def calls_csv() -> ResponseReturnValue:
    session = get_session()
    try:
        filters, zone = call_log.parse_filters(session, request.args)
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)

    sessions = resources().sessions

    def rows() -> Iterator[list[Any]]:
        yield list(call_log.CSV_COLUMNS)
        with sessions() as own:
            for row in call_log.iter_rows(own, filters):
                yield call_log.csv_cells(row, zone)

    return _csv_response(rows(), f"call-log-{_stamp()}.csv")


def _record(attempt_id: int) -> call_log.CallRecord | ResponseReturnValue:
    try:
        found = call_log.call_record(get_session(), attempt_id)
    except LookupError as problem:
        return error_response(404, str(problem))
    if found is None:
        return error_response(404, f"no call has the id {attempt_id}", "attempt_id")
    return found


@bp.get("/calls/<int:attempt_id>")
def call(attempt_id: int) -> ResponseReturnValue:
    try:
        zone = parse_zone(request.args.get("tz"))
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)
    found = _record(attempt_id)
    if not isinstance(found, call_log.CallRecord):
        return found
    reasons = call_log.decision_reasons(found.decision.reasons) if found.decision is not None else []
    payloads = {event.id: call_log.payload_of(event.payload) for event in found.audit_events}
    back = request.args.get("back") or ""
    if not back.startswith(url_for("desk.calls")):  # only a search of this log: never a link to elsewhere
        back = ""
    return render_template("desk/call.html", record=found, a=found.attempt, zone=zone, when=_when(zone),
                           reasons=reasons, payloads=payloads, back=back)


@bp.get("/calls/<int:attempt_id>/record.csv")
def call_csv(attempt_id: int) -> ResponseReturnValue:
    try:
        zone = parse_zone(request.args.get("tz"))
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)
    found = _record(attempt_id)
    if not isinstance(found, call_log.CallRecord):
        return found
    return _csv_response(found.csv_rows(zone), f"call-{attempt_id}-record.csv")


@bp.get("/calls/<int:attempt_id>/record.json")
def call_json(attempt_id: int) -> ResponseReturnValue:
    found = _record(attempt_id)
    if not isinstance(found, call_log.CallRecord):
        return found
    response = Response(json.dumps(found.to_dict(), indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="call-{attempt_id}-record.json"'
    return response


# -- abandonment -------------------------------------------------------------------------------


def _abandonment(session: Session, args: Mapping[str, str]) -> dict[str, Any]:
    """Every campaign's rolling 30 days, and the chosen one's periods and days."""
    zone = parse_zone(args.get("tz"))
    now = datetime.now(UTC)
    conn = session.connection()
    campaigns = _campaigns(session)
    overview = []
    for campaign in campaigns:
        rolling = compliance_reports.abandonment_periods(conn, campaign.id, now)[-1]
        overview.append({**rolling, "campaign": campaign.name, "status": campaign.status})
    text = (args.get("campaign") or "").strip()
    chosen: Campaign | None = None
    if text:
        chosen = session.get(Campaign, int(text)) if text.isdigit() else None
        if chosen is None:
            raise FilterError("campaign", f"no campaign has the id {text!r}")
    elif overview:
        busiest = max(overview, key=lambda row: (row["live_answers"], row["placed"]))
        chosen = session.get(Campaign, busiest["campaign_id"])
    periods = compliance_reports.abandonment_periods(conn, chosen.id, now) if chosen else []
    days = call_log.daily_abandonment(session, chosen.id, now, zone) if chosen else []
    return {"zone": zone, "now": now, "overview": overview, "chosen": chosen, "periods": periods, "days": days}


_OVERVIEW_COLUMNS = ("campaign_id", "campaign", "status", "start", "end", "placed", "live_answers", "abandoned",
                     "rate", "over_limit")
_PERIOD_COLUMNS = ("campaign_id", "period", "start", "end", "placed", "live_answers", "live_human", "live_unknown",
                   "abandoned", "abandoned_human", "abandoned_unknown", "abandoned_unclassified", "machine_answers",
                   "fax_answers", "machine_fax_dropped", "rate", "over_limit")
_DAY_COLUMNS = ("day", "start", "end", "partial", "live_answers", "abandoned", "rate")


def _cell(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@bp.get("/abandonment")
def abandonment() -> ResponseReturnValue:
    session = get_session()
    try:
        report = _abandonment(session, request.args)
    except FilterError as problem:
        flash(f"{problem.field}: {problem.message}", "error")
        return render_template("desk/abandonment.html", error=problem, overview=[], periods=[], days=[],
                               chosen=None, zone=ZoneInfo("UTC"), when=_when(ZoneInfo("UTC")), chart=None, volume=None,
                               limit=compliance_reports.ABANDON_LIMIT, query={}), 400
    days = report["days"]
    chart = volume = None
    if days:
        labels = [row["day"].strftime("%d %b") for row in days]
        rates = [row["rate"] if row["live_answers"] else None for row in days]
        top = nice_ceiling(max([0.04, *(rate for rate in rates if rate is not None)]))
        chart = line_chart(
            labels,
            [Series("Abandoned / live answers", rates),
             Series("3% limit", [compliance_reports.ABANDON_LIMIT] * len(days), color="#c3262f", dashed=True)],
            title=f"Daily abandonment rate of {report['chosen'].name}", y_format=percent, y_max=top,
            y_label="abandoned", width=960, height=260,
        )
        volume = bar_chart(
            labels,
            [Series("Live answers", [row["live_answers"] for row in days], color="#1f5eff"),
             Series("Abandoned", [row["abandoned"] for row in days], color="#c3262f")],
            title=f"Live answers and abandoned calls per day of {report['chosen'].name}", width=960, height=200,
        )
    zone = report["zone"]
    query = {"campaign": str(report["chosen"].id) if report["chosen"] else "", "tz": zone.key}
    return render_template("desk/abandonment.html", error=None, chart=chart, volume=volume, when=_when(zone),
                           limit=compliance_reports.ABANDON_LIMIT, query={k: v for k, v in query.items() if v},
                           **report)


@bp.get("/abandonment/export.csv")
def abandonment_csv() -> ResponseReturnValue:
    table = (request.args.get("table") or "").strip()
    if table not in ("overview", "periods", "days"):
        return error_response(400, "say which table: overview, periods or days", "table")
    try:
        report = _abandonment(get_session(), request.args)
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)
    zone = report["zone"]
    columns = {"overview": _OVERVIEW_COLUMNS, "periods": _PERIOD_COLUMNS, "days": _DAY_COLUMNS}[table]
    data = report[table]
    rows = [list(columns)] + [[_cell(row[key], zone) for key in columns] for row in data]
    name = f"abandonment-{table}" + (f"-campaign-{report['chosen'].id}" if table != "overview" and report["chosen"]
                                     else "")
    return _csv_response(rows, f"{name}-{_stamp()}.csv")


# -- do not call -------------------------------------------------------------------------------


def _list_scope(session: Session, value: str | None, *, field: str = "list") -> tuple[bool, int | None]:
    """(every list?, campaign id) from "", "company" or a campaign id."""
    text = (value or "").strip()
    if text in ("", "all"):
        return True, None
    if text == "company":
        return False, None
    if text.isdigit() and session.get(Campaign, int(text)) is not None:
        return False, int(text)
    raise FilterError(field, f"{text!r} is not a list: choose the company list or a campaign")


def _changes_query(session: Session, args: Mapping[str, str]) -> tuple[Select[Any], ZoneInfo]:
    zone = parse_zone(args.get("tz"))
    number = parse_number(args.get("number"))
    every, campaign_id = _list_scope(session, args.get("list"))
    start, end = parse_period(args.get("from"), args.get("to"), zone)
    query = select(DncChange)
    if number is not None:
        query = query.where(DncChange.e164 == number)
    if not every:
        query = query.where(DncChange.campaign_id.is_(None) if campaign_id is None
                            else DncChange.campaign_id == campaign_id)
    action = (args.get("action") or "").strip()
    if action:
        if action not in ("add", "remove"):
            raise FilterError("action", f"{action!r} is not an action; add or remove")
        query = query.where(DncChange.action == action)
    source = (args.get("source") or "").strip()
    if source:
        if source not in dnc_store.DNC_SOURCES:
            raise FilterError("source", f"{source!r} is not a source; one of: {', '.join(dnc_store.DNC_SOURCES)}")
        query = query.where(DncChange.source == source)
    actor = (args.get("actor") or "").strip()
    if actor:
        query = query.where(DncChange.actor == actor)
    if start is not None:
        query = query.where(DncChange.effective_at >= start)
    if end is not None:
        query = query.where(DncChange.effective_at < end)
    return query, zone


_CHANGE_COLUMNS = ("change_id", "number", "list", "action", "changed", "reason", "source", "actor", "evidence",
                   "received_at", "effective_at")


def _change_cells(change: DncChange, zone: ZoneInfo) -> list[Any]:
    return [change.id, change.e164, _list_name(change.campaign_id), change.action, _cell(change.changed, zone),
            change.reason, change.source, change.actor, change.evidence, _cell(change.received_at, zone),
            _cell(change.effective_at, zone)]


def _list_name(campaign_id: int | None) -> str:
    return "company" if campaign_id is None else f"campaign {campaign_id}"


def _list_label(session: Session) -> Callable[[int | None], str]:
    """How a page names a list: the company's, or the campaign's by its name."""
    names: dict[int, str] = {row.id: row.name for row in session.execute(select(Campaign.id, Campaign.name))}

    def label(campaign_id: int | None) -> str:
        return "company" if campaign_id is None else f"campaign: {names.get(campaign_id, campaign_id)}"

    return label


def _dnc_page(status: int = 200, *, errors: dict[str, str] | None = None, form: Mapping[str, str] | None = None,
              upload: dict[str, Any] | None = None) -> ResponseReturnValue:
    session = get_session()
    args = request.args
    errors = dict(errors or {})
    changes: list[DncChange] = []
    entries: list[dnc_store.ListedEntry] = []
    total, page, zone = 0, 1, ZoneInfo("UTC")
    searched: str | None = None
    try:
        query, zone = _changes_query(session, args)
        searched = parse_number(args.get("number"))
        page = _page_number(args)
        total = int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())
        changes = list(session.scalars(
            query.order_by(DncChange.effective_at.desc(), DncChange.id.desc())
            .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        ))
        if searched is not None:
            entries = dnc_store.list_entries(session, every_list=True, phone=searched)
    except FilterError as problem:
        errors[problem.field] = problem.message
        status = max(status, 400)
    listed = int(session.execute(select(func.count()).select_from(DncEntry)).scalar_one())
    company = int(session.execute(
        select(func.count()).select_from(DncEntry).where(DncEntry.campaign_id.is_(None))).scalar_one())
    query_args = {key: value for key, value in args.items() if key != "page" and value}
    return render_template(
        "desk/dnc.html", changes=changes, entries=entries, searched=searched, total=total, page=page,
        pages=max(1, -(-total // PAGE_SIZE)), zone=zone, when=_when(zone), errors=errors, args=args,
        form=form or {}, campaigns=_campaigns(session), sources=dnc_store.DNC_SOURCES, upload=upload,
        listed=listed, company=company, query=query_args, list_name=_list_label(session),
        max_rows=UPLOAD_MAX_ROWS, max_mb=UPLOAD_MAX_BYTES // (1024 * 1024),
    ), status


@bp.get("/dnc")
def dnc() -> ResponseReturnValue:
    return _dnc_page()


@bp.get("/dnc/changes.csv")
def dnc_csv() -> ResponseReturnValue:
    session = get_session()
    try:
        query, zone = _changes_query(session, request.args)
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)

    sessions = resources().sessions

    def rows() -> Iterator[list[Any]]:
        yield list(_CHANGE_COLUMNS)
        ordered = query.order_by(DncChange.effective_at.desc(), DncChange.id.desc()).execution_options(yield_per=2000)
        with sessions() as own:
            for change in own.scalars(ordered):
                yield _change_cells(change, zone)

    return _csv_response(rows(), f"dnc-changes-{_stamp()}.csv")


@bp.get("/dnc/entries.csv")
def dnc_entries_csv() -> ResponseReturnValue:
    try:
        zone = parse_zone(request.args.get("tz"))
        number = parse_number(request.args.get("number"))
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)
    if number is None:
        return error_response(400, "give the number whose listings to export", "number")
    entries = dnc_store.list_entries(get_session(), every_list=True, phone=number)
    rows = [["number", "list", "added_at", "reason", "source", "actor"]] + [
        [e.e164, _list_name(e.campaign_id), _cell(e.added_at, zone), e.reason, e.source, e.actor] for e in entries
    ]
    return _csv_response(rows, f"dnc-listings-{number.lstrip('+')}-{_stamp()}.csv")


def _form_scope(session: Session, form: Mapping[str, str]) -> int | None:
    every, campaign_id = _list_scope(session, form.get("list") or "company", field="list")
    if every:
        raise FilterError("list", "choose the company list or one campaign's list")
    return campaign_id


@bp.post("/dnc/add")
def dnc_add() -> ResponseReturnValue:
    session = get_session()
    form = request.form
    try:
        campaign_id = _form_scope(session, form)
        number = parse_number(form.get("number"))
        if number is None:
            raise FilterError("number", "give the number to list")
        reason = (form.get("reason") or "").strip()
        if not reason:
            raise FilterError("reason", "say why the number is listed (e.g. the person asked by phone)")
        source = (form.get("source") or "web").strip()
        if source not in dnc_store.DNC_SOURCES:
            raise FilterError("source", f"{source!r} is not a source; one of: {', '.join(dnc_store.DNC_SOURCES)}")
        change = dnc_store.add_number(session, number, reason=reason, source=source, actor=current_user.username,
                                      campaign_id=campaign_id, evidence=(form.get("evidence") or "").strip())
    except FilterError as problem:
        session.rollback()
        return _dnc_page(400, errors={f"add_{problem.field}": problem.message}, form=form)
    except dnc_store.DncError as problem:
        session.rollback()
        return _dnc_page(400, errors={"add_number": str(problem)}, form=form)
    session.commit()
    where = _list_name(change.campaign_id)
    if change.changed:
        flash(f"{change.e164} is on the {where} do-not-call list from now on (change {change.id}).", "ok")
    else:
        flash(f"{change.e164} was on the {where} list already; the request is logged (change {change.id}).", "info")
    return redirect(url_for("desk.dnc", number=change.e164))


@bp.post("/dnc/remove")
def dnc_remove() -> ResponseReturnValue:
    session = get_session()
    form = request.form
    try:
        campaign_id = _form_scope(session, form)
        number = parse_number(form.get("number"))
        if number is None:
            raise FilterError("number", "give the number to take off the list")
        reason = (form.get("reason") or "").strip()
        if not reason:
            raise FilterError("reason", "a removal needs a reason (e.g. listed in error, consent given on ...)")
        change = dnc_store.remove_number(session, number, reason=reason, actor=current_user.username, source="web",
                                         campaign_id=campaign_id, evidence=(form.get("evidence") or "").strip())
    except FilterError as problem:
        session.rollback()
        return _dnc_page(400, errors={f"remove_{problem.field}": problem.message}, form=form)
    except dnc_store.DncError as problem:
        session.rollback()
        return _dnc_page(400, errors={"remove_number": str(problem)}, form=form)
    session.commit()
    flash(f"{change.e164} is off the {_list_name(change.campaign_id)} do-not-call list (change {change.id}).", "ok")
    return redirect(url_for("desk.dnc", number=change.e164))


def _report_key(token: str) -> str:
    return f"desk:dnc-upload:{token}"


@bp.post("/dnc/upload")
def dnc_upload() -> ResponseReturnValue:
    session = get_session()
    form = request.form
    upload = request.files.get("file")
    try:
        campaign_id = _form_scope(session, form)
        if upload is None or not upload.filename:
            raise FilterError("file", "choose a CSV file of numbers")
        data = upload.stream.read(UPLOAD_MAX_BYTES + 1)
        if len(data) > UPLOAD_MAX_BYTES:
            raise FilterError("file", f"the file is over {UPLOAD_MAX_BYTES // (1024 * 1024)} MB: split it, or load "
                                      "it with the command dialer dnc upload")
        lines = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
        if lines > UPLOAD_MAX_ROWS + 1:
            raise FilterError("file", f"the file has {lines} rows; the desk takes up to {UPLOAD_MAX_ROWS:,} at a time")
        reason = (form.get("reason") or "").strip()
        if not reason:
            raise FilterError("reason", "say where the list comes from (rows with a reason column keep their own)")
        report = dnc_store.upload_csv(session, io.BytesIO(data), actor=current_user.username, reason=reason,
                                      campaign_id=campaign_id, source="bulk")
    except FilterError as problem:
        session.rollback()
        return _dnc_page(400, errors={f"upload_{problem.field}": problem.message}, form=form)
    except dnc_store.DncError as problem:
        session.rollback()
        return _dnc_page(400, errors={"upload_file": str(problem)}, form=form)
    session.commit()
    token = secrets.token_urlsafe(12)
    out = io.StringIO()
    report.write_csv(out)
    try:
        resources().redis.set(_report_key(token), out.getvalue().encode("utf-8"), ex=UPLOAD_REPORT_TTL_S)
    except Exception:  # Redis down: the upload is done and shown; only the downloadable copy is lost
        token = ""
    summary = {"counts": report.counts, "list": report.list_name, "name": upload.filename if upload else "",
               "problems": [r for r in report.rows if r.status != "added"][:200], "token": token}
    return _dnc_page(200, upload=summary)


@bp.get("/dnc/uploads/<token>.csv")
def dnc_upload_report(token: str) -> ResponseReturnValue:
    try:
        data = resources().redis.get(_report_key(token))
    except Exception:
        data = None
    if not isinstance(data, bytes):
        return error_response(404, "this upload report has expired (they are kept for an hour) or never existed")
    response = Response(data, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="dnc-upload-report.csv"'
    return response


# -- audit trail -------------------------------------------------------------------------------


def _audit_filters(session: Session, args: Mapping[str, str]) -> dict[str, Any]:
    zone = parse_zone(args.get("tz"))
    start, end = parse_period(args.get("from"), args.get("to"), zone)
    text = (args.get("campaign") or "").strip()
    company = text == "company"
    campaign_id = None
    if text and not company:
        if not text.isdigit() or session.get(Campaign, int(text)) is None:
            raise FilterError("campaign", f"no campaign has the id {text!r}")
        campaign_id = int(text)
    kind = (args.get("kind") or "").strip() or None
    if kind is not None and (len(kind) > 40 or not kind.replace("_", "").isalnum()):
        raise FilterError("kind", f"{kind!r} is not an event kind (letters, digits, _)")
    attempt = (args.get("attempt") or "").strip()
    if attempt and not attempt.isdigit():
        raise FilterError("attempt", f"{attempt!r} is not a call id (a whole number)")
    return {"zone": zone, "start": start, "end": end, "campaign_id": campaign_id, "company": company, "kind": kind,
            "number": parse_number(args.get("number")), "attempt_id": int(attempt) if attempt else None}


def _audit_query(f: Mapping[str, Any]) -> Select[Any]:
    query = select(AuditEvent)
    if f["company"]:
        query = query.where(AuditEvent.chain == chain_for(None))
    elif f["campaign_id"] is not None:
        query = query.where(AuditEvent.campaign_id == f["campaign_id"])
    if f["kind"]:
        query = query.where(AuditEvent.kind == f["kind"])
    if f["number"]:
        query = query.where(AuditEvent.e164 == f["number"])
    if f["attempt_id"] is not None:
        query = query.where(AuditEvent.attempt_id == f["attempt_id"])
    if f["start"] is not None:
        query = query.where(AuditEvent.at >= f["start"])
    if f["end"] is not None:
        query = query.where(AuditEvent.at < f["end"])
    return query


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    session = get_session()
    args = request.args
    error: FilterError | None = None
    events: list[AuditEvent] = []
    total, page = 0, 1
    f: dict[str, Any] = {"zone": ZoneInfo("UTC")}
    try:
        f = _audit_filters(session, args)
        page = _page_number(args)
        query = _audit_query(f)
        total = int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())
        events = list(session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                                      .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    except FilterError as problem:
        error = problem
    verification = None
    scope = None
    if args.get("verify") and error is None:
        scope = f.get("campaign_id")
        verification = verify_trail(session.connection(), campaign_id=scope)
    # Suggestions from the newest events only: a distinct over the whole trail would read every row.
    recent = select(AuditEvent.kind).order_by(AuditEvent.id.desc()).limit(5000).subquery()
    kinds = list(session.scalars(select(recent.c.kind).distinct().order_by(recent.c.kind)))
    query_args = {key: value for key, value in args.items() if key not in ("page", "verify") and value}
    zone = f["zone"]
    return render_template(
        "desk/audit.html", events=events, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
        error=error, args=args, query=query_args, zone=zone, when=_when(zone), kinds=kinds,
        campaigns=_campaigns(session), verification=verification, verified_scope=scope,
        stamp=_when(zone)(datetime.now(UTC)),
    ), 400 if error else 200


@bp.get("/audit/verification.json")
def audit_verification() -> ResponseReturnValue:
    """The verification as a file to keep: when, what was checked, and the result with each chain's head."""
    session = get_session()
    try:
        f = _audit_filters(session, request.args)
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)
    result = verify_trail(session.connection(), campaign_id=f["campaign_id"])
    body = {"checked_at": format_time(datetime.now(UTC)), "checked_by": current_user.username,
            "scope": "every chain" if f["campaign_id"] is None else chain_for(f["campaign_id"]), **result.to_dict()}
    response = Response(json.dumps(body, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-verification-{_stamp()}.json"'
    return response


@bp.get("/audit/export.csv")
def audit_csv() -> ResponseReturnValue:
    session = get_session()
    try:
        f = _audit_filters(session, request.args)
    except FilterError as problem:
        return error_response(400, problem.message, problem.field)
    name = f"audit-{_stamp()}.csv"
    engine = resources().engine
    if not (f["company"] or f["kind"] or f["attempt_id"] is not None):
        # The trail's own export: every column as stored, in time order, so the file can be re-hashed.
        def chunks() -> Iterator[str]:
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+", newline="",
                                               encoding="utf-8") as spool:
                with engine.connect() as conn:
                    export_csv(conn, cast(TextIO, spool), start=f["start"], end=f["end"],
                               campaign_id=f["campaign_id"], e164=f["number"])
                spool.seek(0)
                while block := spool.read(64 * 1024):
                    yield block

        response = Response(chunks(), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def rows() -> Iterator[list[Any]]:
        # The same columns and order as the trail's export, narrowed by what that export cannot filter on.
        yield list(EXPORT_COLUMNS)
        chains = [chain_for(None)] if f["company"] else None
        with engine.connect() as conn:
            for record in read_records(conn, chains=chains, campaign_id=f["campaign_id"], start=f["start"],
                                       end=f["end"], e164=f["number"], by_time=True):
                if f["kind"] and record.kind != f["kind"]:
                    continue
                if f["attempt_id"] is not None and record.attempt_id != f["attempt_id"]:
                    continue
                at = record.at
                yield [record.id, record.chain, record.seq, format_time(at) if isinstance(at, datetime) else at,
                       record.kind, record.campaign_id, record.e164, record.attempt_id, record.call_id,
                       record.payload, record.prev_hash, record.hash]

    return _csv_response(rows(), name)
