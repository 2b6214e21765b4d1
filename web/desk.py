"""The compliance desk: call log, one call's compliance record, abandonment report, DNC, audit, exports."""

from __future__ import annotations

from flask import Blueprint

from web.auth import COMPLIANCE, blueprint_roles

bp = Blueprint("desk", __name__)
blueprint_roles(bp, *COMPLIANCE)
