"""Access tokens for the agents' browser softphone (the Twilio Voice JavaScript SDK).

An agent's browser registers with Twilio under the agent's id and takes the
calls the dialer places to ``client:<agent id>``: that leg joins the agent's own
room, where customers are bridged in.  The token is short-lived and names one
agent, so a leaked token rings one seat for an hour at most.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

DEFAULT_TTL_S = 3600


@dataclass(frozen=True)
class SoftphoneConfig:
    account_sid: str
    api_key: str
    api_secret: str
    twiml_app_sid: str


def softphone_token(config: SoftphoneConfig, agent_id: str, *, ttl_s: int = DEFAULT_TTL_S) -> str:
    """A Voice access token for ``agent_id``: incoming calls allowed, outgoing through our TwiML app."""
    if not agent_id:
        raise ValueError("agent_id must not be empty")
    token = AccessToken(config.account_sid, config.api_key, config.api_secret, identity=agent_id, ttl=ttl_s)
    token.add_grant(VoiceGrant(outgoing_application_sid=config.twiml_app_sid, incoming_allow=True))
    jwt: str = token.to_jwt()
    return jwt
