"""The softphone token endpoint: an agent's browser trades its agent ticket for a Twilio Voice token.

There are no web logins yet; until the agent console has them, an agent proves
who they are with a ticket signed with the app's SECRET_KEY (``dialer agent
ticket AGENT`` issues one).  The console will hand the same ticket to an agent
who logged in, so this endpoint does not change when logins arrive.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from campaigns.agent_tickets import read_agent_ticket
from campaigns.settings import Settings
from dialer.carriers.twilio.softphone import DEFAULT_TTL_S, SoftphoneConfig, softphone_token
from web.auth import blueprint_roles

bp = Blueprint("softphone", __name__)
# The agent ticket in the Authorization header is the credential (no cookie, so no CSRF).
blueprint_roles(bp, "public", csrf_exempt=True)

def _error(status: int, message: str, field: str | None = None) -> ResponseReturnValue:
    return jsonify({"error": message, "field": field}), status


@bp.post("/agent/softphone-token")
def token() -> ResponseReturnValue:
    """A Voice token for the agent the ticket names (``Authorization: Bearer <ticket>``)."""
    header = request.headers.get("Authorization", "")
    ticket = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    agent = read_agent_ticket(current_app.config["SECRET_KEY"], ticket) if ticket else None
    if agent is None:
        current_app.logger.warning("softphone token refused to %s: bad or missing ticket", request.remote_addr)
        return _error(401, "a valid agent ticket is required (Authorization: Bearer <ticket>)", "Authorization")
    settings: Settings = current_app.config["DIALER_SETTINGS"]
    missing = [
        name
        for name, value in (
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("TWILIO_API_KEY", settings.twilio_api_key),
            ("TWILIO_API_SECRET", settings.twilio_api_secret),
            ("TWILIO_TWIML_APP_SID", settings.twilio_twiml_app_sid),
        )
        if not value
    ]
    if missing:
        return _error(503, f"the browser softphone needs {', '.join(missing)} to be set", missing[0])
    config = SoftphoneConfig(
        settings.twilio_account_sid or "",
        settings.twilio_api_key or "",
        settings.twilio_api_secret or "",
        settings.twilio_twiml_app_sid or "",
    )
    return jsonify({"identity": agent, "token": softphone_token(config, agent), "ttl_s": DEFAULT_TTL_S})
