"""The supervisor floor: the live view of agents, calls and pacing."""

from __future__ import annotations

from flask import Blueprint

from web.auth import STAFF, blueprint_roles

bp = Blueprint("floor", __name__)
blueprint_roles(bp, *STAFF)
