"""The agent console: the screen an agent works in all day.

The engine lives in the dialer process, so the console never changes agent
state itself: it publishes commands on the campaign's command stream and
learns the outcome from the live agents hash the dialer republishes every
second.  The browser is pushed that state over Server-Sent Events, and the
full call picture (contact, history, script, codes) the moment a call connects.

A campaign that asks a questionnaire read by its agents gets it beside the
script: the interview is started (or resumed where an earlier call left it)
when the call is pushed, and each answer is stored with the call it was given
on through ``campaigns.surveys``, which decides what is asked next.

Asking a supervisor for help and transferring a call go through
``campaigns.supervision`` like the floor's own commands; the stream tells the
agent when their request is still open, when a supervisor speaks on their call
(a silent listener is never announced) and how a warm transfer is going.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from campaigns import surveys
from campaigns.account_models import User
from campaigns.agent_tickets import agent_ticket
from campaigns.agent_view import (
    DEFAULT_WRAP_LIMIT_S,
    PAUSE_REASONS,
    ConsoleInputError,
    call_view,
    contact_zone_for_call,
    disposition_codes,
    find_attempt,
    read_disposition,
)
from campaigns.live_dialer import agents_key, live_key
from campaigns.live_events import Command, publish_command
from campaigns.models import Agent, CallAttempt, Campaign, CampaignStatus
from campaigns.settings import Settings
from campaigns.supervision import (
    BARGE,
    WHISPER,
    SupervisionError,
    help_done,
    monitors,
    open_help_requests,
    phone_arg,
    request_help,
    transfer,
    transfer_target,
)
from web import get_session, resources
from web.auth import blueprint_roles, error_response

bp = Blueprint("agent", __name__)
blueprint_roles(bp, "agent")

SESSION_CAMPAIGN = "agent_campaign_id"
EVENTS_POLL_S = 0.3
EVENTS_HEARTBEAT_S = 15.0
EVENTS_LIFETIME_S = 600.0  # then the stream ends and the browser's EventSource reconnects by itself
ON_A_CALL = ("on_call", "wrap_up")
# The call picture is pushed from the moment an agent is held for a call: a colleague brought into a
# warm transfer sees the customer before the hand-over, as an agent being connected does a moment early.
SHOWS_A_CALL = ("reserved", *ON_A_CALL)
SOFTPHONE_SDK = "vendor/twilio.min.js"  # the Twilio Voice JavaScript SDK, if the operator installed it
EVENTS_ASSIST_S = 2.0  # how often the stream looks at help requests, supervisors on the call and transfers
# Supervisors an agent is told about: a listening supervisor is silent, and stays unseen on the console too.
ANNOUNCED_MONITORS = (WHISPER, BARGE)
WARM_TTL_S = 4 * 3600


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


# ------------------------------------------------------------------------------------------ the questionnaire


def survey_view(db: Any, campaign_id: int, attempt: CallAttempt) -> dict[str, Any] | None:
    """The campaign's questionnaire on this call, started or resumed for the call's contact and committed.

    None when the campaign asks no questionnaire or plays it on the phone (an
    agent never reads that one).  A questionnaire that cannot start (no
    published version) comes back as ``{"error", "field"}`` so the console can
    say so instead of showing nothing.
    """
    link = surveys.campaign_survey(db, campaign_id)
    if link is None or link.mode != "agent":
        return None
    try:
        state = surveys.start_interview(db, campaign_id, attempt.contact_id, attempt_id=attempt.id)
    except surveys.SurveyError as error:
        db.rollback()
        return {"error": error.message, "field": error.field, "attempt_id": attempt.id}
    db.commit()
    return {**surveys.step_to_dict(state), "attempt_id": attempt.id}


def _call_attempt(campaign_id: int) -> CallAttempt:
    """The record of the call this agent is on or wrapping up; ConsoleInputError when there is none yet."""
    entry = agent_entry(resources().redis, campaign_id, _agent_id())
    state = _state_of(entry)
    call_id = entry.get("call_id") if entry else None
    if state not in ON_A_CALL or not call_id:
        raise ConsoleInputError("action", f"you are not on a call (you are {state.replace('_', ' ')})")
    attempt = find_attempt(get_session(), campaign_id, str(call_id))
    if attempt is None:
        raise ConsoleInputError("action", "the call's record is not written yet; try again in a second")
    return attempt


@bp.get("/agent/survey")
def survey() -> ResponseReturnValue:
    """The questionnaire of the call the agent is on: where the interview stands, started or resumed now."""
    try:
        campaign = _active_campaign(_campaign_id())
        attempt = _call_attempt(campaign.id)
    except ConsoleInputError as error:
        return _problem(error, 409 if error.field == "action" else 400)
    view = survey_view(get_session(), campaign.id, attempt)
    if view is None:
        return error_response(404, f"campaign {campaign.name!r} asks no questionnaire in the console",
                              "campaign_id")
    if "error" in view:
        return error_response(409, view["error"], view["field"])
    return jsonify({"campaign_id": campaign.id, "survey": view})


@bp.post("/agent/survey/answer")
def survey_answer() -> ResponseReturnValue:
    """Keep one answer of the call's interview (the current question, or a correction of one already
    answered) and return the step that follows.  A refused answer names its question."""
    body = _body()
    try:
        campaign = _active_campaign(_campaign_id(body))
        attempt = _call_attempt(campaign.id)
    except ConsoleInputError as error:
        return _problem(error, 409 if error.field == "action" else 400)
    question_id = body.get("question_id")
    if not isinstance(question_id, str) or not question_id.strip():
        return error_response(400, "say which question this answers", "question_id")
    question_id = question_id.strip()
    value = _form_value() if body is request.form else body.get("value")
    db = get_session()
    link = surveys.campaign_survey(db, campaign.id)
    if link is None or link.mode != "agent":
        return error_response(404, f"campaign {campaign.name!r} asks no questionnaire in the console",
                              "campaign_id")
    try:
        state = surveys.start_interview(db, campaign.id, attempt.contact_id, attempt_id=attempt.id)
        state = surveys.record_answer(db, state.response.id, question_id, value, attempt_id=attempt.id)
    except surveys.SurveyError as error:
        db.rollback()
        if error.field == question_id:
            return error_response(400, f"{question_id}: {error.message}", question_id)
        return error_response(409, error.message, error.field)
    db.commit()
    return jsonify({"campaign_id": campaign.id, "question_id": question_id,
                    "survey": {**surveys.step_to_dict(state), "attempt_id": attempt.id}})


def _form_value() -> Any:
    """A plain form's answer: every ticked box of a multiple choice, else the one value (None: skipped)."""
    values = request.form.getlist("value")
    if len(values) > 1:
        return values
    return values[0] if values else None


# ------------------------------------------------------------------------------------------ help and transfers


def warm_key(campaign_id: int) -> str:
    """Per campaign: agent id -> JSON {to, call_id, at}: the warm transfer an agent has started and not completed.

    The dialer keeps no note of it (a warm transfer is only a colleague brought into
    the room), so the console keeps one to offer "Complete transfer" to the same colleague.
    """
    return f"dialer:console:warm:{campaign_id}"


def _on_a_call(campaign_id: int) -> tuple[dict[str, Any], str]:
    """This agent's live entry and call id, or a ConsoleInputError when they are not talking to a customer."""
    entry = agent_entry(resources().redis, campaign_id, _agent_id())
    state = _state_of(entry)
    call_id = entry.get("call_id") if entry else None
    if state != "on_call" or not entry or not call_id:
        raise ConsoleInputError("action", f"you are not on a call (you are {state.replace('_', ' ')})")
    return entry, str(call_id)


def _colleague_can_take(campaign_id: int, colleague: str, call_id: str) -> None:
    """A colleague takes a transfer when ready, or when already holding this very call (a warm transfer)."""
    entry = agent_entry(resources().redis, campaign_id, colleague)
    if entry is None or _state_of(entry) == "offline":
        raise ConsoleInputError("to", f"{colleague} is not logged in to this campaign")
    state = _state_of(entry)
    if state == "ready" or (state == "reserved" and str(entry.get("call_id")) == call_id):
        return
    raise ConsoleInputError("to", f"{colleague} is {state.replace('_', ' ')}, not ready to take the call")


def _pending_warm(client: Any, campaign_id: int, agent_id: str, call_id: str | None) -> dict[str, Any] | None:
    raw = client.hget(warm_key(campaign_id), agent_id)
    try:
        pending = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(pending, dict) or call_id is None or pending.get("call_id") != call_id:
        return None  # another call's transfer: that call is over
    return pending


@bp.post("/agent/help")
def ask_for_help() -> ResponseReturnValue:
    """Raise a hand: the request waits on the supervisors' floor until one of them marks it done."""
    body = _body()
    try:
        campaign = _active_campaign(_campaign_id(body))
        note = body.get("note") or ""
        asked = request_help(resources().redis, campaign.id, _agent_id(), note)
    except ConsoleInputError as error:
        return _problem(error)
    except SupervisionError as error:
        return error_response(400, error.message, error.field)
    session[SESSION_CAMPAIGN] = campaign.id
    return jsonify({"campaign_id": campaign.id, "help": asked.to_dict(time.time()), "published": ["help_request"]})


@bp.post("/agent/help/cancel")
def cancel_help() -> ResponseReturnValue:
    """The agent sorted it out alone: the request leaves the floor."""
    try:
        campaign = _active_campaign(_campaign_id(_body()))
    except ConsoleInputError as error:
        return _problem(error)
    closed = help_done(resources().redis, campaign.id, _agent_id(), by=str(current_user.username))
    return jsonify({"campaign_id": campaign.id, "closed": closed, "published": ["help_done"] if closed else []})


@bp.post("/agent/transfer")
def transfer_call() -> ResponseReturnValue:
    """Hand the customer to a ready colleague or an outside number (cold), or bring a colleague in first (warm)."""
    body = _body()
    try:
        campaign = _active_campaign(_campaign_id(body))
        _, call_id = _on_a_call(campaign.id)
    except ConsoleInputError as error:
        return _problem(error, 409 if error.field == "action" else 400)
    mode = body.get("mode")
    if mode not in ("cold", "warm"):
        return error_response(400, f"mode must be cold or warm, not {mode!r}", "mode")
    raw_to = body.get("to")
    if not isinstance(raw_to, str) or not raw_to.strip():
        return error_response(400, "choose a colleague or type a phone number", "to")
    try:
        target, outside = transfer_target(_as_number(raw_to))
    except SupervisionError as error:
        return error_response(400, error.message, error.field)
    if outside and mode == "warm":
        return error_response(400, "a warm transfer brings in a colleague of this campaign; "
                                   "an outside number takes a cold transfer", "mode")
    if not outside:
        if target == _agent_id():
            return error_response(400, "choose a colleague, not yourself", "to")
        try:
            _colleague_can_take(campaign.id, target, call_id)
        except ConsoleInputError as error:
            return _problem(error, 409)
    return _send_transfer(campaign.id, call_id, target, outside, str(mode))


def _as_number(text: str) -> str:
    """A number typed as people write it, "(212) 555-0177", is read as a phone number, not an agent id."""
    if re.search(r"[A-Za-z]", text) or len(re.sub(r"\D", "", text)) < 7:
        return text
    return phone_arg(text, "to")


@bp.post("/agent/transfer/complete")
def complete_transfer() -> ResponseReturnValue:
    """End a warm transfer: the customer moves to the colleague who joined, and this agent is free."""
    try:
        campaign = _active_campaign(_campaign_id(_body()))
        _, call_id = _on_a_call(campaign.id)
    except ConsoleInputError as error:
        return _problem(error, 409 if error.field == "action" else 400)
    pending = _pending_warm(resources().redis, campaign.id, _agent_id(), call_id)
    if pending is None:
        return error_response(409, "there is no warm transfer on this call to complete", "to")
    target = str(pending.get("to") or "")
    colleague = agent_entry(resources().redis, campaign.id, target)
    if _state_of(colleague) != "reserved" or str((colleague or {}).get("call_id")) != call_id:
        return error_response(409, f"{target} has not joined this call (they are "
                                   f"{_state_of(colleague).replace('_', ' ')})", "to")
    return _send_transfer(campaign.id, call_id, target, False, "cold")


def _send_transfer(campaign_id: int, call_id: str, target: str, outside: bool, mode: str) -> ResponseReturnValue:
    client = resources().redis
    try:
        transfer(client, campaign_id, _agent_id(), target, mode, by=str(current_user.username))
    except SupervisionError as error:
        return error_response(400, error.message, error.field)
    if mode == "warm":
        client.hset(warm_key(campaign_id), _agent_id(), json.dumps({"to": target, "call_id": call_id,
                                                                     "at": time.time()}))
        client.expire(warm_key(campaign_id), WARM_TTL_S)
    else:
        client.hdel(warm_key(campaign_id), _agent_id())
    session[SESSION_CAMPAIGN] = campaign_id
    return jsonify({"campaign_id": campaign_id, "to": target, "outside": outside, "mode": mode,
                    "published": ["transfer"]})


def _display_names(db: Any, logins: set[str], usernames: set[str]) -> dict[str, str]:
    """Names people know each other by: agents' logins and supervisors' usernames (keyed "u:<username>")."""
    names: dict[str, str] = {}
    if logins:
        for login, name in db.execute(select(Agent.login, Agent.name).where(Agent.login.in_(logins))):
            if name:
                names[str(login)] = str(name)
        for login, name in db.execute(select(User.agent_login, User.display_name)
                                      .where(User.agent_login.in_(logins))):
            if name:
                names[str(login)] = str(name)
    if usernames:
        for username, name in db.execute(select(User.username, User.display_name)
                                         .where(User.username.in_(usernames))):
            names[f"u:{username}"] = str(name or username)
    return names


def assist_view(client: Any, campaign_id: int, agent_id: str, entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the console shows beside the call: the open help request, supervisors who speak on the call,
    the warm transfer under way, colleagues ready to take a transfer, and a colleague who brought this agent in.

    Names are left as ids here (``_name`` keys are filled by the stream, which caches them).
    """
    state = _state_of(entry)
    call_id = str(entry["call_id"]) if entry and entry.get("call_id") else None
    mine = next((h for h in open_help_requests(client, campaign_id) if h.agent_id == agent_id), None)
    joined: list[dict[str, Any]] = []
    if call_id and state == "on_call":
        watch = monitors(client, campaign_id).get(agent_id)
        if watch and watch.get("mode") in ANNOUNCED_MONITORS and str(watch.get("call_id")) == call_id:
            joined.append({"mode": watch["mode"], "by": str(watch.get("by") or "")})
    view: dict[str, Any] = {
        "help": {"note": mine.note, "at": mine.at} if mine else None,
        "joined": joined, "transfer": None, "colleagues": [], "consulting": None,
    }
    if state not in ("on_call", "reserved") or not call_id:
        return view
    floor: dict[str, dict[str, Any]] = {}
    for key, raw in client.hgetall(agents_key(campaign_id)).items():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict):
            floor[key.decode() if isinstance(key, bytes) else str(key)] = data
    if state == "on_call":
        pending = _pending_warm(client, campaign_id, agent_id, call_id)
        if pending is not None:
            colleague = floor.get(str(pending.get("to")), {})
            view["transfer"] = {"to": str(pending.get("to")), "at": pending.get("at"),
                                "joined": colleague.get("state") == "reserved"
                                and str(colleague.get("call_id")) == call_id}
        view["colleagues"] = sorted(
            ({"agent_id": other, "bot": bool(data.get("bot"))} for other, data in floor.items()
             if other != agent_id and data.get("state") == "ready"),
            key=lambda c: (c["bot"], c["agent_id"]))
    else:
        holder = next((other for other, data in floor.items()
                       if other != agent_id and str(data.get("call_id")) == call_id), None)
        if holder is not None:
            view["consulting"] = {"agent_id": holder, "state": _state_of(floor[holder])}
    return view


def _named(view: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    for joined in view["joined"]:
        joined["name"] = names.get(f"u:{joined['by']}", joined["by"])
    for person in [view["transfer"], view["consulting"], *view["colleagues"]]:
        if person is not None:
            who = person.get("to") or person.get("agent_id")
            person["name"] = names.get(str(who), str(who))
    return view


def _ids_in(view: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    logins = {str(c["agent_id"]) for c in view["colleagues"]}
    if view["transfer"]:
        logins.add(str(view["transfer"]["to"]))
    if view["consulting"]:
        logins.add(str(view["consulting"]["agent_id"]))
    return logins, {str(j["by"]) for j in view["joined"]}


# ------------------------------------------------------------------------------------------ the push


def _sse(event: str, data: Mapping[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@bp.get("/agent/events")
def events() -> ResponseReturnValue:
    """Server-Sent Events: the agent's state when it changes, the call picture when a call connects, and
    (checked every couple of seconds) help requests, supervisors who joined the call and transfers."""
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
    assist_s = float(config.get("AGENT_EVENTS_ASSIST_S", EVENTS_ASSIST_S))
    client, sessions = resources().redis, resources().sessions
    agent_id, agent_name, campaign_id = _agent_id(), str(current_user.display_name), campaign.id

    def stream() -> Iterator[str]:
        yield "retry: 2000\n\n"
        started = last_beat = time.monotonic()
        last_state: tuple[Any, ...] | None = None
        shown_call: str | None = None
        last_assist: dict[str, Any] | None = None
        last_seen: tuple[Any, ...] | None = None
        assisted_at = float("-inf")
        names: dict[str, str] = {}
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
            if call_id and state in SHOWS_A_CALL and call_id != shown_call:
                with sessions() as db:
                    view = call_view(db, campaign_id, str(call_id), agent_name=agent_name, now=datetime.now(UTC))
                    attempt = db.get(CallAttempt, view["attempt_id"]) if view is not None else None
                    if view is not None and attempt is not None and state in ON_A_CALL:
                        # A colleague held for a warm transfer sees the call, but the one talking asks.
                        view["survey"] = survey_view(db, campaign_id, attempt)
                if view is not None:  # else its record is not written yet: the next turn finds it
                    shown_call = str(call_id)
                    yield _sse("call", view)
            elif not call_id and shown_call is not None:
                shown_call = None
                yield _sse("call_closed", {"campaign_id": campaign_id})
            if time.monotonic() - assisted_at >= assist_s or key != last_seen:
                # Every couple of seconds (and at once when the agent's state moves): help, joins, transfers.
                assisted_at, last_seen = time.monotonic(), key
                view = assist_view(client, campaign_id, agent_id, entry)
                logins, usernames = _ids_in(view)
                unknown_logins = {x for x in logins if x not in names}
                unknown_users = {x for x in usernames if f"u:{x}" not in names}
                if unknown_logins or unknown_users:
                    with sessions() as db:
                        names.update(_display_names(db, unknown_logins, unknown_users))
                    names.update({x: x for x in unknown_logins if x not in names})
                    names.update({f"u:{x}": x for x in unknown_users if f"u:{x}" not in names})
                view = _named(view, names)
                if view != last_assist:
                    last_assist = view
                    yield _sse("assist", {"campaign_id": campaign_id, **view, "server_now": time.time()})
            if time.monotonic() - last_beat >= beat_s:
                last_beat = time.monotonic()
                yield ": still here\n\n"
            time.sleep(poll_s)

    # The generator needs neither the request nor its database session: both end now, so an
    # open console holds no pooled connection between its reads.
    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
