"""The supervisor floor: the live view of agents, calls and pacing.

The dialer publishes each campaign's live numbers to Redis every second; the
floor reads them, adds what only the database knows (answer rate, the 30-day
abandonment budget, why the campaign is not dialing, the day's charts) and
pushes the result to the page over server-sent events.  Supervisors act from
here: pause or resume, change the target abandonment, pacer or dial-level
cap (audited), and listen to, whisper to or barge into an agent's call.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns import floor_stats
from campaigns.account_models import User
from campaigns.dial_blockers import DialReport, why_not_dialing
from campaigns.live_dialer import agents_key, live_key
from campaigns.models import Agent, Campaign, CampaignStatus
from campaigns.services import (
    MAX_ABANDON_RATE,
    CampaignError,
    list_campaigns,
    pause_campaign,
    start_campaign,
    update_pacing,
)
from campaigns.supervision import (
    MONITOR_MODES,
    SupervisionError,
    help_done,
    monitor,
    monitors,
    open_help_requests,
    transfer,
)
from web import get_session, resources
from web.auth import STAFF, blueprint_roles, error_response, wants_json
from web.charts import Series, bar_chart, hbar_chart, line_chart, percent

bp = Blueprint("floor", __name__)
blueprint_roles(bp, *STAFF)

PUSH_EVERY_S = 1.0
DB_REFRESH_S = 10.0  # the database's part (answer rate, budget, blockers) is re-read this often on a stream
STREAM_FOR_S = 15 * 60.0  # a stream ends after this; the browser's EventSource reconnects by itself
OVERVIEW_SAMPLE = 2_000  # contacts looked at per campaign on the all-campaigns page
PACERS = ("progressive", "predictive", "preview", "ratio:1.5", "ratio:2", "ratio:2.5", "ratio:3")


# ---------------------------------------------------------------------------------- reading the floor


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_live(client: Any, campaign_id: int) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in client.hgetall(live_key(campaign_id)).items()}


def read_agents(client: Any, campaign_id: int, now: float) -> list[dict[str, Any]]:
    """The dialer's agents hash, with time in state, each one's help request and who monitors their call."""
    helps = {h.agent_id: h.to_dict(now) for h in open_help_requests(client, campaign_id)}
    watching = monitors(client, campaign_id)
    out = []
    for key, raw in client.hgetall(agents_key(campaign_id)).items():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        agent_id = _text(key)
        since = float(data.get("since") or now)
        watch = watching.get(agent_id)
        if watch is not None and (data.get("state") != "on_call" or watch.get("call_id") != data.get("call_id")):
            watch = None  # the call they joined is over
        out.append({
            "agent_id": agent_id, "name": agent_id, "state": str(data.get("state") or "offline"), "since": since,
            "time_in_state_s": round(max(0.0, now - since), 1), "call_id": data.get("call_id"),
            "pause_reason": data.get("pause_reason"), "bot": bool(data.get("bot")),
            "help": helps.get(agent_id), "monitor": watch,
        })
    order = {"on_call": 0, "reserved": 1, "wrap_up": 2, "ready": 3, "paused": 4, "offline": 5}
    out.sort(key=lambda a: (order.get(a["state"], 9), -a["time_in_state_s"], a["agent_id"]))
    return out


def _names(session: Session, logins: list[str]) -> dict[str, str]:
    if not logins:
        return {}
    names = {r.login: r.name for r in session.execute(select(Agent.login, Agent.name).where(Agent.login.in_(logins)))
             if r.name}
    for r in session.execute(select(User.agent_login, User.display_name).where(User.agent_login.in_(logins))):
        if r.display_name:
            names[str(r.agent_login)] = r.display_name
    return names


def db_part(session: Session, campaign: Campaign, live: Mapping[str, str], now: datetime, *,
            sample: int | None = None) -> dict[str, Any]:
    """What the database adds to the live hash: today's answer rate, the 30-day budget, why not dialing."""
    conn = session.connection()
    hours = floor_stats.hourly(conn, campaign, now)
    calls = sum(h.calls for h in hours)
    live_answers = sum(h.live_answers for h in hours)
    answers = sum(h.answers for h in hours)
    report: DialReport = (why_not_dialing(conn, campaign, live, now) if sample is None
                          else why_not_dialing(conn, campaign, live, now, sample_limit=sample))
    budget = report.budget
    return {
        "calls_today": calls,
        "answers_today": answers,
        "live_answers_today_db": live_answers,
        "answer_rate_today": round(live_answers / calls, 4) if calls else None,
        "abandonment": {
            "rolling_30d_rate": budget.rate, "rolling_30d_live_answers": budget.live_answers,
            "rolling_30d_abandoned": budget.abandoned, "target": budget.target, "budget_left": budget.left,
            "budget_spent": budget.spent,
        },
        "not_dialing": report.to_dict(),
    }


def payload(client: Any, campaign: Campaign, db: Mapping[str, Any], now: float,
            names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The live JSON of one campaign: the dialer's numbers, the agents and the database's part."""
    live = read_live(client, campaign.id)
    agents = read_agents(client, campaign.id, now)
    for agent in agents:
        agent["name"] = (names or {}).get(agent["agent_id"], agent["agent_id"])
    numbers: dict[str, Any] = {}
    for key, value in live.items():
        try:
            numbers[key] = float(value) if "." in value else int(value)
        except ValueError:
            numbers[key] = value
    updated = numbers.get("updated_at")
    age = None
    if isinstance(updated, str):
        try:
            age = round(now - datetime.fromisoformat(updated).timestamp(), 1)
        except ValueError:
            age = None
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "status": campaign.status,
                     "dial_mode": campaign.dial_mode, "pacer": campaign.pacer,
                     "target_abandon": campaign.target_abandon, "max_dial_level": campaign.max_dial_level},
        "now": now,
        "live": numbers,
        "dialer_running": bool(live),
        "live_age_s": age,
        "agents": agents,
        "help": [h.to_dict(now) | {"name": (names or {}).get(h.agent_id, h.agent_id)}
                 for h in open_help_requests(client, campaign.id)],
        **db,
    }


def _campaign_or_404(session: Session, campaign_id: int) -> Campaign | None:
    return session.get(Campaign, campaign_id)


def _not_found(campaign_id: int) -> ResponseReturnValue:
    return error_response(404, f"no campaign has the id {campaign_id}", "campaign_id")


# ---------------------------------------------------------------------------------- pages


@bp.get("/floor")
def floor() -> ResponseReturnValue:
    """Every campaign at a glance: status, agents, calls, dial level, abandonment and why it is not dialing."""
    session = get_session()
    client = resources().redis
    now = datetime.now(UTC)
    cards = []
    for campaign in list_campaigns(session):
        if campaign.status == CampaignStatus.FINISHED.value:
            continue
        live = read_live(client, campaign.id)
        report = why_not_dialing(session.connection(), campaign, live, now, sample_limit=OVERVIEW_SAMPLE)
        cards.append({"campaign": campaign, "live": live, "report": report})
    finished = list_campaigns(session, "finished")
    return render_template("floor/index.html", cards=cards, finished=finished)


@bp.get("/floor/<int:campaign_id>")
def campaign_floor(campaign_id: int) -> ResponseReturnValue:
    session = get_session()
    campaign = _campaign_or_404(session, campaign_id)
    if campaign is None:
        return _not_found(campaign_id)
    client = resources().redis
    now_dt = datetime.now(UTC)
    now = now_dt.timestamp()
    live = read_live(client, campaign_id)
    data = payload(client, campaign, db_part(session, campaign, live, now_dt), now,
                   _names(session, [a["agent_id"] for a in read_agents(client, campaign_id, now)]))
    charts = _charts(session, campaign, now_dt)
    errors = _pop_form_errors()
    return render_template("floor/campaign.html", campaign=campaign, data=data, charts=charts, pacers=PACERS,
                           modes=MONITOR_MODES, errors=errors, max_abandon_pct=MAX_ABANDON_RATE * 100,
                           initial=json.dumps(data).replace("<", "\\u003c"))


def _charts(session: Session, campaign: Campaign, now: datetime) -> dict[str, Any]:
    conn = session.connection()
    hours = floor_stats.hourly(conn, campaign, now)
    days = floor_stats.daily_abandonment(conn, campaign, now)
    people = floor_stats.occupancy(conn, campaign, now)
    target = campaign.target_abandon
    return {
        "hourly": bar_chart(
            [h.label for h in hours],
            [Series("Calls", [h.calls for h in hours]), Series("Live answers", [h.live_answers for h in hours]),
             Series("Connects", [h.connects for h in hours])],
            title="Calls, live answers and connects per hour today", y_label="calls", width=560),
        "abandonment": line_chart(
            [d.label for d in days],
            [Series("Day", [d.rate for d in days], color="#b86e00"),
             Series("Rolling 30 days", [d.rolling_rate for d in days], color="#c3262f"),
             Series(f"Target {percent(target)}", [target] * len(days), color="#5f6b7a", dashed=True),
             Series("Legal 3%", [MAX_ABANDON_RATE] * len(days), color="#1d2430", dashed=True)],
            title="Abandonment rate per day and over the rolling 30 days", y_label="abandoned / live answers",
            y_format=percent, width=560,
            y_max=max(0.05, *(d.rate or 0.0 for d in days), *(d.rolling_rate or 0 for d in days))),
        "occupancy": hbar_chart([(o.name, o.occupancy) for o in people], title="Occupancy per agent today",
                                value_format=lambda v: f"{v:.0%}", max_value=1.0, color="#1f5eff", width=560),
        "occupancy_rows": people,
    }


# ---------------------------------------------------------------------------------- live numbers


@bp.get("/floor/<int:campaign_id>/live.json")
def live_json(campaign_id: int) -> ResponseReturnValue:
    session = get_session()
    campaign = _campaign_or_404(session, campaign_id)
    if campaign is None:
        return error_response(404, f"no campaign has the id {campaign_id}", "campaign_id")
    client = resources().redis
    now_dt = datetime.now(UTC)
    live = read_live(client, campaign_id)
    agents = read_agents(client, campaign_id, now_dt.timestamp())
    data = payload(client, campaign, db_part(session, campaign, live, now_dt), now_dt.timestamp(),
                   _names(session, [a["agent_id"] for a in agents]))
    return Response(json.dumps(data), mimetype="application/json")


@bp.get("/floor/<int:campaign_id>/events")
def events(campaign_id: int) -> ResponseReturnValue:
    """Server-sent events: the live JSON pushed every second (the database's part every ten)."""
    if _campaign_or_404(get_session(), campaign_id) is None:
        return _not_found(campaign_id)
    res = resources()
    stream_for = float(request.args.get("for_s", STREAM_FOR_S)) if request.args.get("for_s", "").replace(
        ".", "", 1).isdigit() else STREAM_FOR_S
    stream_for = min(stream_for, STREAM_FOR_S)

    def stream() -> Iterator[str]:
        yield "retry: 2000\n\n"
        end = time.monotonic() + stream_for
        cached: dict[str, Any] | None = None
        cached_at = 0.0
        names: dict[str, str] = {}
        while True:
            now = time.time()
            with res.sessions() as session:
                campaign = session.get(Campaign, campaign_id)
                if campaign is None:
                    yield "event: gone\ndata: {}\n\n"
                    return
                if cached is None or now - cached_at >= DB_REFRESH_S:
                    now_dt = datetime.fromtimestamp(now, UTC)
                    cached = db_part(session, campaign, read_live(res.redis, campaign_id), now_dt)
                    cached_at = now
                    names = _names(session, [a["agent_id"] for a in read_agents(res.redis, campaign_id, now)])
                data = payload(res.redis, campaign, cached, now, names)
            yield f"event: live\ndata: {json.dumps(data)}\n\n"
            if time.monotonic() >= end:
                return
            time.sleep(PUSH_EVERY_S)

    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ---------------------------------------------------------------------------------- controls


def _body() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


def _done(campaign_id: int, message: str, data: dict[str, Any] | None = None) -> ResponseReturnValue:
    if wants_json() or request.is_json:
        return {"ok": True, "message": message, **(data or {})}
    flash(message, "ok")
    return redirect(url_for("floor.campaign_floor", campaign_id=campaign_id))


def _refused(campaign_id: int, status: int, message: str, field: str | None) -> ResponseReturnValue:
    if wants_json() or request.is_json:
        return jsonify({"error": message, "field": field}), status
    from flask import session as cookie

    cookie["floor_errors"] = {field or "form": message}
    return redirect(url_for("floor.campaign_floor", campaign_id=campaign_id) + "#controls")


def _pop_form_errors() -> dict[str, str]:
    from flask import session as cookie

    found = cookie.pop("floor_errors", None)
    return found if isinstance(found, dict) else {}


@bp.post("/floor/<int:campaign_id>/pause")
def pause(campaign_id: int) -> ResponseReturnValue:
    return _status(campaign_id, resume=False)


@bp.post("/floor/<int:campaign_id>/resume")
def resume(campaign_id: int) -> ResponseReturnValue:
    return _status(campaign_id, resume=True)


def _status(campaign_id: int, *, resume: bool) -> ResponseReturnValue:
    session = get_session()
    campaign = _campaign_or_404(session, campaign_id)
    if campaign is None:
        return _not_found(campaign_id)
    try:
        (start_campaign if resume else pause_campaign)(session, campaign)
    except CampaignError as error:
        session.rollback()
        return _refused(campaign_id, 400, error.message, error.field)
    session.commit()
    word = "resumed: dialing again" if resume else "paused: calls in progress finish, no new dials"
    return _done(campaign_id, f"Campaign {campaign.name} {word}.", {"status": campaign.status})


@bp.post("/floor/<int:campaign_id>/pacing")
def pacing(campaign_id: int) -> ResponseReturnValue:
    """New target abandonment (percent, at most 3), pacer or maximum dial level, audited; the dialer picks
    them up within seconds."""
    session = get_session()
    campaign = _campaign_or_404(session, campaign_id)
    if campaign is None:
        return _not_found(campaign_id)
    body = _body()
    try:
        target = _number(body, "target_abandon_pct")
        level = _number(body, "max_dial_level")
        pacer = str(body.get("pacer") or "").strip() or None
        if target is not None and not 0 < target <= MAX_ABANDON_RATE * 100:
            raise CampaignError("target_abandon_pct", f"must be above 0 and at most {MAX_ABANDON_RATE * 100:g} "
                                                      f"(percent of live answers), not {target:g}")
        if target is None and level is None and pacer is None:
            raise CampaignError("form", "change the target, the pacer or the maximum dial level")
        changes = update_pacing(session, campaign, actor=current_user.username,
                                target_abandon=None if target is None else round(target / 100, 6),
                                max_dial_level=level, pacer=pacer)
    except CampaignError as error:
        session.rollback()
        field = "target_abandon_pct" if error.field == "target_abandon" else error.field
        return _refused(campaign_id, 400, error.message, field)
    session.commit()
    if not changes:
        return _done(campaign_id, "Nothing changed: those are the current settings.", {"changes": {}})
    said = ", ".join(f"{key.replace('_', ' ')} {_show(before)} → {_show(after)}"
                     for key, (before, after) in changes.items())
    return _done(campaign_id, f"Pacing changed ({said}); the dialer applies it within 5 seconds.",
                 {"changes": {k: {"from": a, "to": b} for k, (a, b) in changes.items()}})


def _number(body: Mapping[str, Any], field: str) -> float | None:
    raw = body.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise CampaignError(field, f"must be a number, not {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise CampaignError(field, f"must be a number, not {raw!r}") from None
    if not math.isfinite(value):
        raise CampaignError(field, f"must be a number, not {raw!r}")
    return value


def _show(value: Any) -> str:
    if isinstance(value, float) and value < 0.05:
        return percent(value)
    return str(value)


def _live_agent(campaign_id: int, agent_id: str) -> dict[str, Any] | None:
    raw = resources().redis.hget(agents_key(campaign_id), agent_id)
    if raw is None:
        return None
    try:
        data: dict[str, Any] = json.loads(raw)
    except ValueError:
        return None
    return data


@bp.post("/floor/<int:campaign_id>/agents/<agent_id>/monitor")
def monitor_call(campaign_id: int, agent_id: str) -> ResponseReturnValue:
    """Listen, whisper or barge: the supervisor's line (their softphone or a phone) joins the agent's call."""
    if _campaign_or_404(get_session(), campaign_id) is None:
        return _not_found(campaign_id)
    body = _body()
    mode = str(body.get("mode") or "")
    if mode not in MONITOR_MODES:
        return _refused(campaign_id, 400, f"must be one of {', '.join(MONITOR_MODES)}", "mode")
    agent = _live_agent(campaign_id, agent_id)
    if agent is None:
        return _refused(campaign_id, 404, f"agent {agent_id} is not logged in to this campaign", "agent_id")
    if agent.get("state") != "on_call":
        return _refused(campaign_id, 409, f"agent {agent_id} is {agent.get('state')}, not on a call", "agent_id")
    line = str(body.get("line") or "").strip() or f"client:{current_user.username}"
    try:
        monitor(resources().redis, campaign_id, agent_id, mode, line, by=current_user.username)
    except SupervisionError as error:
        field = "line" if error.field == "supervisor" else error.field
        return _refused(campaign_id, 400, error.message, field)
    verbs = {"listen": "listening to", "whisper": "whispering to", "barge": "joining"}
    return _done(campaign_id, f"Your line ({line}) is {verbs[mode]} {agent_id}'s call.", {"mode": mode})


@bp.post("/floor/<int:campaign_id>/agents/<agent_id>/transfer")
def transfer_call(campaign_id: int, agent_id: str) -> ResponseReturnValue:
    """Cold (hand over) or warm (bring the colleague in first) transfer of an agent's call, to an agent or number."""
    if _campaign_or_404(get_session(), campaign_id) is None:
        return _not_found(campaign_id)
    body = _body()
    agent = _live_agent(campaign_id, agent_id)
    if agent is None or agent.get("state") != "on_call":
        return _refused(campaign_id, 409, f"agent {agent_id} is not on a call", "agent_id")
    mode, to = str(body.get("mode") or "cold"), str(body.get("to") or "")
    try:
        transfer(resources().redis, campaign_id, agent_id, to, mode, by=current_user.username)
    except SupervisionError as error:
        return _refused(campaign_id, 400, error.message, error.field)
    what = "brought into the call first" if mode == "warm" else "handed the call"
    return _done(campaign_id, f"{agent_id}'s customer: {to.strip()} is being {what}.", {"mode": mode})


@bp.post("/floor/<int:campaign_id>/help/<agent_id>/done")
def help_request_done(campaign_id: int, agent_id: str) -> ResponseReturnValue:
    if _campaign_or_404(get_session(), campaign_id) is None:
        return _not_found(campaign_id)
    try:
        closed = help_done(resources().redis, campaign_id, agent_id, by=current_user.username)
    except SupervisionError as error:
        return _refused(campaign_id, 400, error.message, error.field)
    if not closed:
        return _refused(campaign_id, 404, f"{agent_id} has no open help request", "agent_id")
    return _done(campaign_id, f"{agent_id}'s help request is done.")


__all__ = ["bp", "db_part", "payload", "read_agents", "read_live"]
