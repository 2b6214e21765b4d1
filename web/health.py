"""``/healthz``: can this web process reach its database and Redis?

Load balancers and deploy checks call it; it answers 503 when either is down so
a broken instance is taken out of rotation instead of failing calls.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from web import resources
from web.auth import blueprint_roles

bp = Blueprint("health", __name__)
blueprint_roles(bp, "public")  # load balancers ask without credentials


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    checks = {"database": _check_database(), "redis": _check_redis()}
    ok = all(check["ok"] for check in checks.values())
    return jsonify({"ok": ok, **checks}), 200 if ok else 503


def _check_database() -> dict[str, Any]:
    try:
        with resources().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not reachable"; the reason is reported
        return _failed(error)
    return {"ok": True}


def _check_redis() -> dict[str, Any]:
    try:
        resources().redis.ping()
    except Exception as error:  # any failure means "not reachable"; the reason is reported
        return _failed(error)
    return {"ok": True}


def _failed(error: Exception) -> dict[str, Any]:
    lines = str(error).strip().splitlines()
    return {"ok": False, "error": f"{type(error).__name__}: {lines[0] if lines else ''}".strip()}
