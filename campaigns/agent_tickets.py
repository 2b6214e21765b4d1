"""Agent tickets: a signed, expiring statement "this is agent X", for doors that have no login yet.

The browser softphone's token endpoint accepts one; the agent console will
issue them to agents who logged in.  Signed with the deployment's SECRET_KEY,
so a ticket is worthless against another deployment or after the key changes.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

TICKET_SALT = "agent-softphone"
TICKET_MAX_AGE_S = 12 * 3600  # a shift


def agent_ticket(secret_key: str, agent_id: str) -> str:
    """A ticket naming ``agent_id``, valid for TICKET_MAX_AGE_S."""
    if not agent_id:
        raise ValueError("agent_id must not be empty")
    return URLSafeTimedSerializer(secret_key, salt=TICKET_SALT).dumps(agent_id)


def read_agent_ticket(secret_key: str, ticket: str, *, max_age_s: int = TICKET_MAX_AGE_S) -> str | None:
    """The agent a ticket names, or None when it is forged, from another key or too old."""
    try:
        agent = URLSafeTimedSerializer(secret_key, salt=TICKET_SALT).loads(ticket, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
    return agent if isinstance(agent, str) and agent else None
