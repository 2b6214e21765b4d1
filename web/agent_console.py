"""The agent console: the screen an agent works in all day.

The engine lives in the dialer process, so the console never changes agent
state itself: it publishes commands on the campaign's command stream and
learns the outcome from the live agents hash the dialer republishes every
second.  The browser is pushed that state over Server-Sent Events, and the
full call picture (contact, history, script, codes) the moment a call connects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from campaigns.agent_tickets import agent_ticket
from campaigns.agent_view import (
    DEFAULT_WRAP_LIMIT_S,
    PAUSE_REASONS,
    ConsoleInputError,
    call_view,
    contact_zone_for_call,
    disposition_codes,
    read_disposition,
)
from campaigns.live_dialer import agents_key, live_key
from campaigns.live_events import Command, publish_command
from campaigns.models import Campaign, CampaignStatus
from campaigns.settings import Settings
from web import get_session, resources
from web.auth import blueprint_roles, error_response

bp = Blueprint("agent", __name__)
blueprint_roles(bp, "agent")

SESSION_CAMPAIGN = "agent_campaign_id"
EVENTS_POLL_S = 0.3
EVENTS_HEARTBEAT_S = 15.0
EVENTS_LIFETIME_S = 600.0  # then the stream ends and the browser's EventSource reconnects by itself
ON_A_CALL = ("on_call", "wrap_up")
SOFTPHONE_SDK = "vendor/twilio.min.js"  # the Twilio Voice JavaScript SDK, if the operator installed it


# ------------------------------------------------------------------------------------------ helpers


def _body() -> Mapping[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form


def _agent_id() -> str:
    return str(current_user.agent_login or current_user.username)


def _campaign_id(body: Mapping[str, Any] | None = None) -> int | None:
    """The campaign named in the request, else the one this agent picked last (kept in the session)."""
    raw = (body or {}).get("campaign_id") or request.args.get("campaign_id") or session.get(SESSION_CAMPAIGN)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ConsoleInputError("campaign_id", f"{raw!r} is not a campaign id") from None


def _active_campaign(campaign_id: int | None) -> Campaign:
    if campaign_id is None:
        raise ConsoleInputError("campaign_id", "choose a campaign first")
    campaign = get_session().get(Campaign, campaign_id)
    if campaign is None:
        raise ConsoleInputError("campaign_id", f"there is no campaign {campaign_id}")
    if campaign.status != CampaignStatus.ACTIVE.value:
        raise ConsoleInputError("campaign_id", f"campaign {campaign.name!r} is {campaign.status}, not active")
    return campaign


def agent_entry(client: Any, campaign_id: int, agent_id: str) -> dict[str, Any] | None:
    """This agent's line of the live agents hash, or None when the dialer does not know them."""
    raw = client.hget(agents_key(campaign_id), agent_id)
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _state_of(entry: Mapping[str, Any] | None) -> str:
    return str(entry.get("state") or "offline") if entry else "offline"


def _publish(campaign_id: int, name: str, **args: Any) -> None:
    publish_command(resources().redis, campaign_id, Command(name, _agent_id(), args))


def _problem(error: ConsoleInputError, status: int = 400) -> ResponseReturnValue:
    return error_response(status, error.message, error.field)


# ------------------------------------------------------------------------------------------ the page


@bp.get("/agent")
def console() -> ResponseReturnValue:
    db = get_session()
    campaigns = list(db.scalars(select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE.value)
                                .order_by(Campaign.name)))
    chosen = session.get(SESSION_CAMPAIGN)
    if chosen not in {c.id for c in campaigns}:
        chosen = campaigns[0].id if len(campaigns) == 1 else None
    settings: Settings = current_app.config["DIALER_SETTINGS"]
    on_twilio = settings.carrier == "twilio"
    static = Path(current_app.static_folder or "")
    return render_template(
        "agent/console.html",
        campaigns=campaigns,
        chosen=chosen,
        agent_id=_agent_id(),
        pause_reasons=PAUSE_REASONS,
        codes=disposition_codes(db, chosen) if chosen else [],
        wrap_limit_s=DEFAULT_WRAP_LIMIT_S,
        on_twilio=on_twilio,
        ticket=agent_ticket(current_app.config["SECRET_KEY"], _agent_id()) if on_twilio else "",
        softphone_sdk=SOFTPHONE_SDK if on_twilio and (static / SOFTPHONE_SDK).is_file() else None,
    )


# ------------------------------------------------------------------------------------------ agent state


@bp.post("/agent/state")
def change_state() -> ResponseReturnValue:
    """Go ready, pause with a reason, or log out of the chosen campaign."""
    body = _body()
    try:
        campaign = _active_campaign(_campaign_id(body))
    except ConsoleInputError as error:
        return _problem(error)
    action = body.get("action")
    if action not in ("ready", "pause", "logout"):
        return error_response(400, "action must be ready, pause or logout", "action")
    reason = body.get("reason") or "break"
    if action == "pause" and reason not in PAUSE_REASONS:
        return error_response(400, f"reason must be one of {', '.join(PAUSE_REASONS)}", "reason")
    client = resources().redis
    previous = session.get(SESSION_CAMPAIGN)
    if action != "logout" and previous not in (None, campaign.id):
        # One campaign at a time: leaving the last one first, so the agent is never counted twice.
        _publish(int(previous), "logout")
    state = _state_of(agent_entry(client, campaign.id, _agent_id()))
    if action == "pause" and state in ("reserved", "on_call", "wrap_up"):
        return error_response(409, "finish the call first: choose a disposition with 'pause after this call'",
                              "action")
    published: list[str] = []
    if action == "ready":
        if state == "offline":
            _publish(campaign.id, "login", ready=True)
            published.append("login")
        elif state != "ready":
            _publish(campaign.id, "set_ready")
            published.append("set_ready")
    elif action == "pause":
        if state == "offline":
            _publish(campaign.id, "login", ready=False)
            published.append("login")
        elif state != "paused":
            _publish(campaign.id, "pause", reason=reason)
            published.append("pause")
    else:
        _publish(campaign.id, "logout")
        published.append("logout")
    session[SESSION_CAMPAIGN] = campaign.id
    return jsonify({"campaign_id": campaign.id, "action": action, "was": state, "published": published})


@bp.post("/agent/hangup")
def hangup() -> ResponseReturnValue:
    """End the conversation; wrap-up follows, and the disposition closes the call."""
    try:
        campaign = _active_campaign(_campaign_id(_body()))
    except ConsoleInputError as error:
        return _problem(error)
    state = _state_of(agent_entry(resources().redis, campaign.id, _agent_id()))
    if state != "on_call":
        return error_response(409, f"you are not on a call (you are {state.replace('_', ' ')})", "action")
    _publish(campaign.id, "hangup", wrap=True)
    return jsonify({"campaign_id": campaign.id, "published": ["hangup"]})


@bp.post("/agent/disposition")
def disposition() -> ResponseReturnValue:
    """Close the call with a code, notes, maybe a callback at the contact's local time or a DNC request."""
    body = _body()
    try:
        campaign = _active_campaign(_campaign_id(body))
    except ConsoleInputError as error:
        return _problem(error)
    entry = agent_entry(resources().redis, campaign.id, _agent_id())
    state = _state_of(entry)
    call_id = entry.get("call_id") if entry else None
    if state not in ON_A_CALL or not call_id:
        return error_response(409, f"there is no call to disposition (you are {state.replace('_', ' ')})", "code")
    db = get_session()
    try:
        attempt, zone = contact_zone_for_call(db, campaign.id, str(call_id))
    except LookupError:
        return error_response(409, "the call's record is not written yet; try again in a second", "code")
    try:
        chosen = read_disposition(body, disposition_codes(db, campaign.id), zone, datetime.now(UTC))
    except ConsoleInputError as error:
        return _problem(error)
    published = []
    if state == "on_call":
        _publish(campaign.id, "hangup", wrap=True)
        published.append("hangup")
    _publish(campaign.id, "wrap_done", disposition=chosen.code, notes=chosen.notes,
             callback_at=chosen.callback_at.timestamp() if chosen.callback_at else None,
             dnc=chosen.dnc, then_pause=chosen.then_pause)
    published.append("wrap_done")
    return jsonify({
        "campaign_id": campaign.id, "attempt_id": attempt.id, "code": chosen.code,
        "callback_at": chosen.callback_at.isoformat() if chosen.callback_at else None,
        "callback_zone": zone if chosen.callback_at else None,
        "dnc": chosen.dnc, "then_pause": chosen.then_pause, "published": published,
    })


# ------------------------------------------------------------------------------------------ the push


def _sse(event: str, data: Mapping[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@bp.get("/agent/events")
def events() -> ResponseReturnValue:
    """Server-Sent Events: the agent's state when it changes, and the call picture when a call connects."""
    try:
        chosen = _campaign_id()
        if chosen is None:
            return error_response(409, "choose a campaign first", "campaign_id")
        campaign = _active_campaign(chosen)
    except ConsoleInputError as error:
        return _problem(error)
    config = current_app.config
    poll_s = float(config.get("AGENT_EVENTS_POLL_S", EVENTS_POLL_S))
    lifetime_s = float(config.get("AGENT_EVENTS_LIFETIME_S", EVENTS_LIFETIME_S))
    beat_s = float(config.get("AGENT_EVENTS_HEARTBEAT_S", EVENTS_HEARTBEAT_S))
    client, sessions = resources().redis, resources().sessions
    agent_id, agent_name, campaign_id = _agent_id(), str(current_user.display_name), campaign.id

    def stream() -> Iterator[str]:
        yield "retry: 2000\n\n"
        started = last_beat = time.monotonic()
        last_state: tuple[Any, ...] | None = None
        shown_call: str | None = None
        while time.monotonic() - started < lifetime_s:
            entry = agent_entry(client, campaign_id, agent_id)
            running = bool(client.exists(live_key(campaign_id)))
            state = _state_of(entry)
            call_id = entry.get("call_id") if entry else None
            key = (state, entry.get("since") if entry else None, call_id,
                   entry.get("pause_reason") if entry else None, running)
            if key != last_state:
                last_state = key
                yield _sse("state", {"campaign_id": campaign_id, "state": state, "since": key[1],
                                     "call_id": call_id, "pause_reason": key[3], "dialer_running": running,
                                     "server_now": time.time()})
            if call_id and state in ON_A_CALL and call_id != shown_call:
                with sessions() as db:
                    view = call_view(db, campaign_id, str(call_id), agent_name=agent_name, now=datetime.now(UTC))
                if view is not None:  # else its record is not written yet: the next turn finds it
                    shown_call = str(call_id)
                    yield _sse("call", view)
            elif not call_id and shown_call is not None:
                shown_call = None
                yield _sse("call_closed", {"campaign_id": campaign_id})
            if time.monotonic() - last_beat >= beat_s:
                last_beat = time.monotonic()
                yield ": still here\n\n"
            time.sleep(poll_s)

    # The generator needs neither the request nor its database session: both end now, so an
    # open console holds no pooled connection between its reads.
    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
