"""The HTTP client for the official Twilio library, pointed at a stand-in when asked.

The library has no base-URL setting; its supported hook is ``Client(http_client=...)``.
With ``TWILIO_API_URL`` every request goes through ``dialer.carriers.twilio_local``'s
client, which swaps the scheme and host and keeps the path and query (and ignores
environment proxies), so the library still builds exactly the requests it would
send to Twilio.
"""

from __future__ import annotations

from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dialer.carriers.twilio_local import LocalTwilioHttpClient, local_http_client

# Seconds an API request may take before it is given up.
API_TIMEOUT_S = 10.0
# Kept-alive connections to the API: the dialer sends requests from this many threads at most.
POOL_SIZE = 32

__all__ = ["API_TIMEOUT_S", "LocalTwilioHttpClient", "make_client"]


def make_client(account_sid: str, auth_token: str, api_url: str | None = None) -> Client:
    """A Twilio REST client; with ``api_url`` it talks to that stand-in instead of Twilio."""
    http_client = (
        local_http_client(api_url, timeout=API_TIMEOUT_S) if api_url else TwilioHttpClient(timeout=API_TIMEOUT_S)
    )
    if http_client.session is not None:
        # requests keeps 10 connections a host by default; the dialer's threads would open and drop more.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        http_client.session.mount("https://", adapter)
        http_client.session.mount("http://", adapter)
    return Client(account_sid, auth_token, http_client=http_client)
