"""Administration: user accounts and API tokens, for administrators only.

Everything here goes through campaigns.accounts, the same functions the
``dialer user`` command uses, so the rules (password length, known roles,
unique usernames) hold whichever door is used.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from campaigns import accounts
from campaigns.account_models import ROLES, ApiToken, User
from web import get_session
from web.auth import blueprint_roles, error_response

bp = Blueprint("admin", __name__, url_prefix="/admin")
blueprint_roles(bp, "admin")


def _tokens_by_user() -> dict[int, list[ApiToken]]:
    found: dict[int, list[ApiToken]] = {}
    for token in get_session().scalars(select(ApiToken).order_by(ApiToken.created_at.desc())):
        found.setdefault(token.user_id, []).append(token)
    return found


def _page(status: int = 200, errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
          new_token: str | None = None) -> ResponseReturnValue:
    users = accounts.list_users(get_session())
    return render_template("admin/users.html", users=users, roles=ROLES, tokens=_tokens_by_user(),
                           errors=errors or {}, form=form or {}, new_token=new_token), status


@bp.get("/users")
def users() -> ResponseReturnValue:
    return _page()


@bp.post("/users")
def add_user() -> ResponseReturnValue:
    form = {key: (request.form.get(key) or "").strip() for key in ("username", "display_name", "role", "agent_login")}
    session = get_session()
    try:
        user = accounts.create_user(session, form["username"], request.form.get("password") or "", form["role"],
                                    display_name=form["display_name"], agent_login=form["agent_login"] or None)
    except accounts.AccountError as error:
        session.rollback()
        return _page(400, {error.field or "username": str(error)}, form)
    session.commit()
    flash(f"User {user.username} ({user.role}) created.", "ok")
    return redirect(url_for("admin.users"))


def _user(user_id: int) -> User | None:
    return get_session().get(User, user_id)


@bp.post("/users/<int:user_id>")
def change_user(user_id: int) -> ResponseReturnValue:
    """One action per post: role, password, enable/disable."""
    session = get_session()
    user = _user(user_id)
    if user is None:
        return error_response(404, f"no user {user_id}")
    action = request.form.get("action") or ""
    try:
        if action == "role":
            accounts.set_role(session, user, request.form.get("role") or "")
            message = f"{user.username} is now {user.role}."
        elif action == "password":
            accounts.set_password(session, user, request.form.get("password") or "")
            message = f"Password of {user.username} changed."
        elif action in ("disable", "enable"):
            if user.id == current_user.id and action == "disable":
                return error_response(400, "you cannot disable your own account", "action")
            user.active = action == "enable"
            message = f"{user.username} {action}d."
        else:
            return error_response(400, "action must be role, password, disable or enable", "action")
    except accounts.AccountError as error:
        session.rollback()
        return _page(400, {f"{user.id}-{error.field}": str(error)})
    session.commit()
    flash(message, "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/tokens")
def issue_token(user_id: int) -> ResponseReturnValue:
    session = get_session()
    user = _user(user_id)
    if user is None:
        return error_response(404, f"no user {user_id}")
    issued = accounts.issue_token(session, user, request.form.get("name") or "")
    session.commit()
    return _page(new_token=f"{user.username}: {issued.token}")


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> ResponseReturnValue:
    session = get_session()
    if not accounts.revoke_token(session, token_id):
        return error_response(404, f"no live token {token_id}")
    session.commit()
    flash(f"Token {token_id} revoked.", "ok")
    return redirect(url_for("admin.users"))
