"""Sign-in, roles and CSRF for every route of the app.

Every view declares who may use it (``roles(...)``, ``public``, or a default
for its whole blueprint with ``blueprint_roles``); a view that declares
nothing is refused to everyone, so a new route cannot ship open by mistake.
People sign in with a password (a Flask-Login session cookie); programs use
``Authorization: Bearer <API token>``.  Forms and in-page requests made with
the cookie must carry the CSRF token; token-authenticated requests cannot be
forged by another site and need none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from campaigns import accounts
from campaigns.account_models import ROLES, User

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC: frozenset[str] = frozenset({"public"})
STAFF = ("supervisor", "admin")
COMPLIANCE = ("compliance", "admin")
OFFICE = ("supervisor", "compliance", "admin")
LOGIN_FAILURES_ALLOWED = 10
LOGIN_FAILURE_WINDOW_S = 15 * 60

_blueprint_roles: dict[str, frozenset[str]] = {}
_csrf_exempt_blueprints: set[str] = set()
csrf = CSRFProtect()
login_manager = LoginManager()

bp = Blueprint("auth", __name__)


def roles(*names: str) -> Callable[[F], F]:
    """Only users with one of these roles may use the view."""
    unknown = set(names) - set(ROLES)
    if unknown or not names:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {ROLES}")

    def mark(view: F) -> F:
        view.allowed_roles = frozenset(names)  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Anyone may use the view (it checks its own credentials, e.g. a carrier signature)."""
    view.allowed_roles = PUBLIC  # type: ignore[attr-defined]
    return view


def blueprint_roles(blueprint: Blueprint, *names: str, csrf_exempt: bool = False) -> None:
    """The roles of every view of ``blueprint`` that declares none itself."""
    if names == ("public",):
        _blueprint_roles[blueprint.name] = PUBLIC
    else:
        unknown = set(names) - set(ROLES)
        if unknown or not names:
            raise ValueError(f"unknown roles {sorted(unknown)}; roles are {ROLES}")
        _blueprint_roles[blueprint.name] = frozenset(names)
    if csrf_exempt:
        _csrf_exempt_blueprints.add(blueprint.name)


def allowed_roles(app: Flask, endpoint: str) -> frozenset[str] | None:
    """Who may use ``endpoint``; None when the route declares nothing (then nobody may)."""
    if endpoint == "static":
        return PUBLIC
    view = app.view_functions.get(endpoint)
    declared = getattr(view, "allowed_roles", None)
    if declared is not None:
        return frozenset(declared)
    blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else None
    return _blueprint_roles.get(blueprint or "")


class WebUser:
    """The signed-in user as Flask-Login wants it: a snapshot, detached from the database session."""

    is_active = True
    is_anonymous = False
    is_authenticated = True

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.role = user.role
        self.agent_login = user.agent_login

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *names: str) -> bool:
        return self.role in names


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in _guard, after we know how the caller signed in
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session, not one hour: consoles stay open
    # Flask's defaults exist (HttpOnly on, SameSite unset): fill only what is unset.
    for name in ("SESSION_COOKIE_SAMESITE", "REMEMBER_COOKIE_SAMESITE"):
        if app.config.get(name) is None:
            app.config[name] = "Lax"
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(_load_user)
    app.before_request(_guard)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_blueprint(bp)
    app.jinja_env.globals["nav_items"] = nav_items


def _load_user(user_id: str) -> WebUser | None:
    from web import get_session

    try:
        user = get_session().get(User, int(user_id))
    except ValueError:
        return None
    return WebUser(user) if user is not None and user.active else None


def wants_json() -> bool:
    """API paths and callers that asked for JSON get JSON errors; people get pages."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, message: str, field: str | None = None) -> ResponseReturnValue:
    if wants_json():
        return jsonify({"error": message, "field": field}), status
    return render_template("error.html", status=status, message=message), status


def _bearer_user() -> WebUser | None:
    from web import get_session

    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = accounts.user_for_token(get_session(), header.removeprefix("Bearer ").strip())
    if user is None:
        return None
    get_session().commit()  # last_used_at
    return WebUser(user)


def _guard() -> ResponseReturnValue | None:
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404 or 405: Flask answers
    allowed = allowed_roles(current_app, endpoint)
    if allowed is None:
        current_app.logger.error("route %s declares no roles: refused", endpoint)
        return error_response(403, "this route is closed: it declares no roles")
    g.via_token = False
    if allowed == PUBLIC:
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.blueprint not in _csrf_exempt_blueprints:
            _check_csrf()
        return None
    user: Any = current_user
    if request.headers.get("Authorization", "").startswith("Bearer "):
        token_user = _bearer_user()
        if token_user is None:
            return error_response(401, "the API token is unknown, revoked or malformed", "Authorization")
        login_user(token_user, remember=False)
        g.via_token = True
        user = token_user
    if not user.is_authenticated:
        if wants_json():
            return error_response(401, "sign in, or send Authorization: Bearer <API token>", "Authorization")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if user.role not in allowed:
        who = ", ".join(sorted(allowed))
        return error_response(403, f"your role ({user.role}) may not use this page; it is for {who}")
    if not g.via_token and request.method not in ("GET", "HEAD", "OPTIONS") \
            and request.blueprint not in _csrf_exempt_blueprints:
        _check_csrf()
    return None


def _check_csrf() -> None:
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    return error_response(400, f"the form's security token is missing or stale ({error.description}); reload the page",
                          "csrf_token")


def home_for(user: Any) -> str:
    if user.role == "agent":
        wanted = ["agent.console"]
    elif user.role == "supervisor":
        wanted = ["floor.floor", "manager.campaigns"]
    elif user.role == "compliance":
        wanted = ["desk.calls"]
    else:
        wanted = ["floor.floor", "admin.users"]
    for endpoint in wanted:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("auth.account")


# (endpoint, label, roles): the menu; entries whose page is not installed are left out.
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("agent.console", "Console", ("agent",)),
    ("floor.floor", "Floor", STAFF),
    ("manager.campaigns", "Campaigns", STAFF),
    ("reports.reports", "Reports", OFFICE),
    ("jobs.jobs_page", "Jobs", OFFICE),
    ("callbacks.mine", "My callbacks", ("agent",)),
    ("callbacks.index", "Callbacks", STAFF),
    ("desk.calls", "Call log", COMPLIANCE),
    ("desk.dnc", "Do not call", COMPLIANCE),
    ("desk.abandonment", "Abandonment", COMPLIANCE),
    ("desk.audit", "Audit", COMPLIANCE),
    ("admin.users", "Users", ("admin",)),
    ("api_docs.docs", "API", OFFICE),
)


def nav_items() -> list[tuple[str, str, bool]]:
    """(url, label, active) of the menu entries the signed-in user may open."""
    if not current_user.is_authenticated:
        return []
    items = []
    for endpoint, label, who in NAV:
        if current_user.role in who and endpoint in current_app.view_functions:
            url = url_for(endpoint)
            items.append((url, label, request.path == url or request.path.startswith(url + "/")))
    return items


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: a login link must not bounce people to another one."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    from web import get_session, resources

    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(home_for(current_user))
        return render_template("login.html", next=_safe_next(request.args.get("next")))
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    failures_key = f"dialer:login-failures:{username.lower()}"
    client = resources().redis
    try:
        failures = int(client.get(failures_key) or 0)
    except Exception:  # Redis down: sign-in still works, without the lockout
        failures = 0
    if failures >= LOGIN_FAILURES_ALLOWED:
        flash("Too many failed sign-ins for this user: wait 15 minutes or ask an administrator.", "error")
        return render_template("login.html", next=_safe_next(request.form.get("next")), username=username), 429
    session = get_session()
    user = accounts.authenticate(session, username, password)
    if user is None:
        with contextlib.suppress(Exception):  # Redis down: no lockout, sign-in still judged
            pipe = client.pipeline()
            pipe.incr(failures_key)
            pipe.expire(failures_key, LOGIN_FAILURE_WINDOW_S)
            pipe.execute()
        current_app.logger.info("failed sign-in for %r from %s", username, request.remote_addr)
        flash("Wrong username or password.", "error")
        return render_template("login.html", next=_safe_next(request.form.get("next")), username=username), 401
    session.commit()
    web_user = WebUser(user)
    login_user(web_user, remember=False)
    with contextlib.suppress(Exception):
        client.delete(failures_key)
    return redirect(_safe_next(request.form.get("next")) or home_for(web_user))


@bp.post("/logout")
@roles(*ROLES)
def logout() -> ResponseReturnValue:
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/")
@public
def index() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(home_for(current_user))


@bp.get("/account")
@roles(*ROLES)
def account() -> ResponseReturnValue:
    return render_template("account.html")

