"""The campaign manager: creating and editing campaigns, uploading lists, list health."""

from __future__ import annotations

from flask import Blueprint

from web.auth import STAFF, blueprint_roles

bp = Blueprint("manager", __name__)
blueprint_roles(bp, *STAFF)
