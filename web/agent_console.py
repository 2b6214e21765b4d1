"""The agent console: the screen an agent works in all day."""

from __future__ import annotations

from flask import Blueprint

from web.auth import blueprint_roles

bp = Blueprint("agent", __name__)
blueprint_roles(bp, "agent")
