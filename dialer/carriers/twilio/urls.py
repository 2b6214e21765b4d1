"""The webhook addresses the carrier hands to Twilio, and that the web blueprint answers.

One module builds them for both sides, so the carrier and the routes cannot
drift apart.  Every address carries ``campaign`` (and ``call`` for customer
legs): a webhook lands in whichever web worker the load balancer picks, and
the query string is the only thing that tells it whose call this is.
Twilio signs the whole URL including the query, so these values cannot be forged.
"""

from __future__ import annotations

from urllib.parse import urlencode

PREFIX = "/twilio"
STATUS = f"{PREFIX}/status"
AMD = f"{PREFIX}/amd"
CONFERENCE = f"{PREFIX}/conference"
VOICE_CUSTOMER = f"{PREFIX}/voice/customer"
VOICE_AGENT = f"{PREFIX}/voice/agent"
OPTOUT = f"{PREFIX}/optout"
INBOUND = f"{PREFIX}/inbound"


class WebhookUrls:
    """Absolute webhook URLs under one public base (scheme, host and optional path prefix)."""

    def __init__(self, public_base_url: str, campaign_id: int) -> None:
        self.base = public_base_url.rstrip("/")
        self.campaign_id = campaign_id

    def _url(self, path: str, **query: str | int | None) -> str:
        params = {"campaign": str(self.campaign_id)}
        params.update({k: str(v) for k, v in query.items() if v is not None})
        return f"{self.base}{path}?{urlencode(params)}"

    def status(self, call_id: str) -> str:
        return self._url(STATUS, call=call_id)

    def amd(self, call_id: str) -> str:
        return self._url(AMD, call=call_id)

    def conference(self, *, call_id: str | None = None, agent_id: str | None = None) -> str:
        return self._url(CONFERENCE, call=call_id, agent=agent_id)

    def voice_customer(self, call_id: str, hold: int | None = None) -> str:
        return self._url(VOICE_CUSTOMER, call=call_id, hold=hold)

    def voice_agent(self, agent_id: str) -> str:
        return self._url(VOICE_AGENT, agent=agent_id)

    def optout(self, call_id: str | None = None) -> str:
        return self._url(OPTOUT, call=call_id)

    def inbound(self) -> str:
        return self._url(INBOUND)


def conference_name(agent_id: str) -> str:
    """Each agent waits in a conference room of their own, named after them."""
    return f"agent-{agent_id}"


def agent_from_conference(name: str) -> str | None:
    """The agent whose room this is, or None for a conference that is not one of ours."""
    prefix = "agent-"
    if name.startswith(prefix) and len(name) > len(prefix):
        return name[len(prefix) :]
    return None
