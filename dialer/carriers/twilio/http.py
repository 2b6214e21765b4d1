"""The HTTP client for the official Twilio library, pointed at a stand-in when asked.

The library has no base-URL setting; its supported hook is ``Client(http_client=...)``.
``TWILIO_API_URL`` therefore swaps the scheme and host of every request and keeps
the path and query, so the library still builds exactly the requests it would
send to Twilio.  Environment proxies are ignored for a stand-in: a corporate
``HTTP_PROXY`` would otherwise swallow requests meant for a local port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

# Seconds an API request may take before the engine gives up on it (the engine's loop waits on it).
API_TIMEOUT_S = 10.0


class RedirectedTwilioHttpClient(TwilioHttpClient):
    """Sends every API request to ``base_url`` instead of Twilio's hosts."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the Twilio API URL must be http(s)://host[:port], not {base_url!r}")
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        if self.session is not None:
            self.session.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        target = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, ""))
        return super().request(method, target, *args, **kwargs)


def make_client(account_sid: str, auth_token: str, api_url: str | None = None) -> Client:
    """A Twilio REST client; with ``api_url`` it talks to that stand-in instead of Twilio."""
    http_client = (
        RedirectedTwilioHttpClient(api_url, timeout=API_TIMEOUT_S)
        if api_url
        else TwilioHttpClient(timeout=API_TIMEOUT_S)
    )
    return Client(account_sid, auth_token, http_client=http_client)
