"""Scheduled callbacks: an agent's own list (and a poll for the console), and a campaign's for supervisors.

Every read first brings the records up to date with what the dialer did
(``sync_callbacks``), so a page never shows a callback as due that a call
already served, nor hides that the calling window holds one back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from campaigns.callback_models import Callback
from campaigns.callbacks import (
    OWNER_GRACE,
    CallbackError,
    agent_logins,
    callbacks_for_agent,
    cancel,
    get_callback,
    list_callbacks,
    parse_filter,
    reassign,
    reschedule,
    sorted_statuses,
    status_counts,
    sync_callbacks,
)
from campaigns.models import Campaign
from campaigns.services import list_campaigns
from web import get_session
from web.auth import STAFF, blueprint_roles, error_response, roles, wants_json

bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")
blueprint_roles(bp, "agent", *STAFF)


def _now() -> datetime:
    return datetime.now(UTC)


def _login() -> str | None:
    login = getattr(current_user, "agent_login", None)
    return login or None


# ------------------------------------------------------------------------------------------ agents


@bp.get("/mine")
@roles("agent")
def mine() -> ResponseReturnValue:
    session, now, login = get_session(), _now(), _login()
    if login is None:
        found = None
    else:
        sync_callbacks(session, now, login=login)
        session.commit()
        found = callbacks_for_agent(session, login, now)
    return render_template("callbacks/mine.html", found=found, login=login,
                           grace_min=int(OWNER_GRACE.total_seconds() // 60))


@bp.get("/due.json")
@roles("agent")
def due() -> ResponseReturnValue:
    """What the console shows: the signed-in agent's callbacks that are due, and when the next one is."""
    session, now, login = get_session(), _now(), _login()
    if login is None:
        return jsonify({"agent": None, "due": [], "count": 0, "upcoming": 0, "next_due_at": None,
                        "page": url_for("callbacks.mine")})
    sync_callbacks(session, now, login=login)
    session.commit()
    found = callbacks_for_agent(session, login, now)
    return jsonify({
        "agent": login,
        "due": found.due,
        "count": len(found.due),
        "upcoming": len(found.upcoming),
        "next_due_at": found.upcoming[0]["due_at"] if found.upcoming else None,
        "page": url_for("callbacks.mine"),
    })


@bp.post("/<int:callback_id>/turn")
@roles("agent")
def turn(callback_id: int) -> ResponseReturnValue:
    """An agent keeps a callback they set for themselves, or hands one of theirs to anyone."""
    session, now, login = get_session(), _now(), _login()
    back = url_for("callbacks.mine")
    try:
        callback = get_callback(session, callback_id)
    except LookupError:
        return error_response(404, "no such callback")
    if login is None or (callback.owner != login and not (callback.owner is None and callback.created_by == login)):
        return error_response(404, "no such callback among yours")
    choice = request.form.get("owner", "")
    if choice not in ("me", "anyone"):
        return _refused(CallbackError("owner", "choose me or anyone"), back)
    try:
        reassign(session, callback_id, login if choice == "me" else None, now=now)
    except CallbackError as error:
        session.rollback()
        return _refused(error, back)
    session.commit()
    return _done("Kept for you." if choice == "me" else "Handed to anyone who is free.", back, callback)


# ------------------------------------------------------------------------------------------ supervisors


@bp.get("/")
@roles(*STAFF)
def index() -> ResponseReturnValue:
    session, now = get_session(), _now()
    campaigns = list_campaigns(session)
    if not campaigns:
        return render_template("callbacks/index.html", campaigns=[], campaign=None, rows=[], counts={},
                               errors={}, args=request.args, agents=[], statuses=sorted_statuses(), zone="UTC")
    campaign = _chosen_campaign(campaigns, request.args.get("campaign"))
    if campaign is None:
        return error_response(404, "no such campaign", "campaign")
    zone_name = campaign.schedule_tz or "UTC"
    errors: dict[str, str] = {}
    try:
        wanted = parse_filter(request.args, campaign.id, ZoneInfo(zone_name))
    except CallbackError as error:
        errors[error.field] = error.message
        wanted = parse_filter(MultiDict(), campaign.id, ZoneInfo(zone_name))
    sync_callbacks(session, now, campaign_id=campaign.id)
    session.commit()
    rows = [] if errors else list_callbacks(session, wanted, now)
    if errors and wants_json():
        field, message = next(iter(errors.items()))
        return error_response(400, message, field)
    if wants_json():
        return jsonify({"campaign_id": campaign.id, "callbacks": rows})
    return render_template("callbacks/index.html", campaigns=campaigns, campaign=campaign, rows=rows,
                           counts=status_counts(session, campaign.id), errors=errors, args=request.args,
                           agents=agent_logins(session), statuses=sorted_statuses(), zone=zone_name,
                           grace_min=int(OWNER_GRACE.total_seconds() // 60))


def _chosen_campaign(campaigns: list[Campaign], raw: str | None) -> Campaign | None:
    if not raw:
        active = [c for c in campaigns if c.status == "active"]
        return (active or campaigns)[0]
    try:
        wanted = int(raw)
    except ValueError:
        return None
    return next((c for c in campaigns if c.id == wanted), None)


def _supervised(callback_id: int) -> Callback | None:
    try:
        return get_callback(get_session(), callback_id)
    except LookupError:
        return None


def _list_url(callback: Callback) -> str:
    return url_for("callbacks.index", campaign=callback.campaign_id) + f"#callback-{callback.id}"


@bp.post("/<int:callback_id>/reassign")
@roles(*STAFF)
def reassign_view(callback_id: int) -> ResponseReturnValue:
    session = get_session()
    callback = _supervised(callback_id)
    if callback is None:
        return error_response(404, "no such callback")
    if "owner" not in request.form:
        return _refused(CallbackError("owner", "choose an agent or anyone"), _list_url(callback))
    owner = request.form.get("owner", "").strip() or None
    try:
        reassign(session, callback_id, owner, now=_now(), known=[login for login, _ in agent_logins(session)])
    except CallbackError as error:
        session.rollback()
        return _refused(error, _list_url(callback))
    session.commit()
    return _done(f"Callback {callback_id} is now {owner + '’s' if owner else 'for anyone'}.", _list_url(callback),
                 callback)


@bp.post("/<int:callback_id>/cancel")
@roles(*STAFF)
def cancel_view(callback_id: int) -> ResponseReturnValue:
    session = get_session()
    callback = _supervised(callback_id)
    if callback is None:
        return error_response(404, "no such callback")
    try:
        cancel(session, callback_id, actor=current_user.username, now=_now())
    except CallbackError as error:
        session.rollback()
        return _refused(error, _list_url(callback))
    session.commit()
    return _done(f"Callback {callback_id} cancelled; the contact is back on the campaign's ordinary retries.",
                 _list_url(callback), callback)


@bp.post("/<int:callback_id>/reschedule")
@roles(*STAFF)
def reschedule_view(callback_id: int) -> ResponseReturnValue:
    session = get_session()
    callback = _supervised(callback_id)
    if callback is None:
        return error_response(404, "no such callback")
    try:
        moved = reschedule(session, callback_id, request.form.get("due_at"), actor=current_user.username,
                           now=_now())
    except CallbackError as error:
        session.rollback()
        return _refused(error, _list_url(callback))
    session.commit()
    message = f"Callback {callback_id} moved."
    if moved.warning:
        flash(f"Callback {callback_id} moved, but {moved.warning}.", "info")
        if wants_json():
            return jsonify({"ok": True, "id": callback_id, "warning": moved.warning})
        return redirect(_list_url(callback))
    return _done(message, _list_url(callback), callback)


# ------------------------------------------------------------------------------------------ answers


def _refused(error: CallbackError, back: str) -> ResponseReturnValue:
    if wants_json():
        return error_response(400, error.message, error.field)
    flash(f"{error.field.replace('_', ' ')}: {error.message}", "error")
    return redirect(back)


def _done(message: str, back: str, callback: Callback) -> ResponseReturnValue:
    if wants_json():
        body: dict[str, Any] = {"ok": True, "id": callback.id, "status": callback.status, "owner": callback.owner}
        return jsonify(body)
    flash(message, "ok")
    return redirect(back)
