"""The official twilio library, pointed at a Twilio-compatible server of our choosing.

twilio-python has no base-URL setting; its supported hook is
``Client(http_client=...)``. This client keeps each request's path and query
and swaps the scheme and host, so ``api.twilio.com`` (or an edge/region host)
becomes e.g. ``http://127.0.0.1:8765``. It lives beside the Twilio carrier
(the only module allowed to import twilio) so that the carrier's
``TWILIO_API_URL`` and the stand-in's tests use the same code.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response


class LocalTwilioHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends every request to ``base_url`` instead of Twilio."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        base = urlsplit(base_url)
        if base.scheme not in ("http", "https") or not base.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self._scheme, self._netloc = base.scheme, base.netloc
        if self.session is not None:
            # HTTP(S)_PROXY would otherwise capture requests meant for a local server.
            self.session.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        local = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, ""))
        return super().request(method, local, *args, **kwargs)


def local_http_client(base_url: str, **kwargs: Any) -> LocalTwilioHttpClient:
    """For ``twilio.rest.Client(sid, token, http_client=local_http_client("http://127.0.0.1:8765"))``."""
    return LocalTwilioHttpClient(base_url, **kwargs)
