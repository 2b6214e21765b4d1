"""Administration: user accounts and API tokens."""

from __future__ import annotations

from flask import Blueprint

from web.auth import blueprint_roles

bp = Blueprint("admin", __name__)
blueprint_roles(bp, "admin")
