"""The HTTP face of the stand-in: Twilio's REST paths, auth and errors, plus inspection pages.

Built on the standard library's threading HTTP server (HTTP/1.1 with
keep-alive), so the stand-in adds no dependency and can run inside a test
process on port 0.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dialer.carriers.fake_twilio import errors
from dialer.carriers.fake_twilio.conferences import Conference, Participant
from dialer.carriers.fake_twilio.config import FakeTwilioConfig
from dialer.carriers.fake_twilio.resources import (
    API_VERSION,
    account_path,
    call_json,
    conference_json,
    page_json,
    participant_json,
)
from dialer.carriers.fake_twilio.switchboard import Switchboard
from dialer.carriers.fake_twilio.validation import (
    Form,
    first,
    parse_create_call,
    parse_create_participant,
    parse_update_call,
    parse_update_participant,
)

log = logging.getLogger(__name__)

MAX_BODY = 1_000_000
_ACCOUNT = rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)"
Route = tuple[str, re.Pattern[str], str]
ROUTES: tuple[Route, ...] = tuple(
    (method, re.compile(pattern), name)
    for method, pattern, name in (
        ("POST", _ACCOUNT + r"/Calls\.json$", "create_call"),
        ("GET", _ACCOUNT + r"/Calls\.json$", "list_calls"),
        ("GET", _ACCOUNT + r"/Calls/(?P<sid>[^/]+)\.json$", "fetch_call"),
        ("POST", _ACCOUNT + r"/Calls/(?P<sid>[^/]+)\.json$", "update_call"),
        ("GET", _ACCOUNT + r"/Conferences\.json$", "list_conferences"),
        ("GET", _ACCOUNT + r"/Conferences/(?P<sid>[^/]+)\.json$", "fetch_conference"),
        ("POST", _ACCOUNT + r"/Conferences/(?P<sid>[^/]+)/Participants\.json$", "create_participant"),
        ("GET", _ACCOUNT + r"/Conferences/(?P<sid>[^/]+)/Participants\.json$", "list_participants"),
        ("GET", _ACCOUNT + r"/Conferences/(?P<sid>[^/]+)/Participants/(?P<call>[^/]+)\.json$", "fetch_participant"),
        ("POST", _ACCOUNT + r"/Conferences/(?P<sid>[^/]+)/Participants/(?P<call>[^/]+)\.json$", "update_participant"),
        ("DELETE", _ACCOUNT + r"/Conferences/(?P<sid>[^/]+)/Participants/(?P<call>[^/]+)\.json$", "kick"),
    )
)


class FakeTwilioServer(ThreadingHTTPServer):
    """A running stand-in: ``base_url`` to point clients at, ``board`` holding its calls."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, config: FakeTwilioConfig) -> None:
        self.config = config
        self.board = Switchboard(config)
        super().__init__((config.host, config.port), _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        """Stop serving, stop the clock and the webhook pool, release the port."""
        self.shutdown()
        self.board.stop()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeTwilioServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the twilio library's session expects
    server_version = "FakeTwilio/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake Twilio: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        try:
            body = self._body()
            if parts.path.startswith("/_fake/"):
                self._inspect(parts.path)
                return
            for route_method, pattern, name in ROUTES:
                match = pattern.match(parts.path)
                if match is None:
                    continue
                if route_method != method:
                    continue
                self._authenticate(match.group("account"))
                form = parse_qs(body, keep_blank_values=True) if method == "POST" else {}
                query = parse_qs(parts.query, keep_blank_values=True)
                handler: Callable[..., tuple[int, dict[str, Any]]] = getattr(self, f"_{name}")
                with self.server.board.lock:
                    status, payload = handler(parts.path, form, query, **match.groupdict())
                self._json(status, payload)
                return
            if any(pattern.match(parts.path) for _, pattern, _ in ROUTES):
                raise errors.ApiError(405, 20004, "Method not allowed")
            raise errors.not_found(parts.path)
        except errors.ApiError as error:
            self._json(error.status, error.body())
        except Exception:
            log.exception("fake Twilio: %s %s failed", method, self.path)
            self._json(500, errors.ApiError(500, 20500, "Internal Server Error").body())

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise errors.ApiError(413, 20001, "Request body too large")
        return self.rfile.read(length).decode("utf-8") if length else ""

    def _authenticate(self, account: str) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise errors.authenticate() from None
        config = self.server.config
        if scheme.lower() != "basic" or user != config.account_sid or password != config.auth_token:
            raise errors.authenticate()
        if account != config.account_sid:
            raise errors.authenticate()

    def _json(self, status: int, payload: Any) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _epoch(self, at: float) -> float:
        return self.server.board.epoch(at)

    # ------------------------------------------------------------------ calls
    def _create_call(self, path: str, form: Form, query: Form, account: str) -> tuple[int, dict[str, Any]]:
        config = self.server.config
        request = parse_create_call(form, config.caller_ids, config.agent_numbers)
        call = self.server.board.create_call(account, request)
        return 201, call_json(call, self._epoch)

    def _list_calls(self, path: str, form: Form, query: Form, account: str) -> tuple[int, dict[str, Any]]:
        wanted = {name: first(query, name) for name in ("To", "From", "Status")}
        calls = [
            call_json(call, self._epoch)
            for call in reversed(self.server.board.calls.values())
            if (wanted["To"] is None or call.to == wanted["To"])
            and (wanted["From"] is None or call.from_ == wanted["From"])
            and (wanted["Status"] is None or call.status == wanted["Status"])
        ]
        return 200, page_json("calls", calls, f"{account_path(account)}/Calls.json")

    def _fetch_call(self, path: str, form: Form, query: Form, account: str, sid: str) -> tuple[int, dict[str, Any]]:
        return 200, call_json(self.server.board.get_call(sid, path), self._epoch)

    def _update_call(self, path: str, form: Form, query: Form, account: str, sid: str) -> tuple[int, dict[str, Any]]:
        board = self.server.board
        call = board.get_call(sid, path)
        board.update_call(call, parse_update_call(form))
        return 200, call_json(call, self._epoch)

    # ------------------------------------------------------------------ conferences
    def _conference(self, path: str, sid: str) -> Conference:
        conference = self.server.board.hall.find(sid)
        if conference is None:
            raise errors.not_found(path)
        return conference

    def _participant(self, path: str, conference: Conference, call_sid: str) -> Participant:
        participant = conference.participants.get(call_sid)
        if participant is None:
            raise errors.not_found(path)
        return participant

    def _list_conferences(self, path: str, form: Form, query: Form, account: str) -> tuple[int, dict[str, Any]]:
        rooms = self.server.board.hall.listing(first(query, "FriendlyName"), first(query, "Status"))
        items = [conference_json(c, self._epoch) for c in reversed(rooms)]
        return 200, page_json("conferences", items, f"{account_path(account)}/Conferences.json")

    def _fetch_conference(self, path: str, form: Form, query: Form, account: str, sid: str) -> tuple[
        int, dict[str, Any]
    ]:
        return 200, conference_json(self._conference(path, sid), self._epoch)

    def _create_participant(self, path: str, form: Form, query: Form, account: str, sid: str) -> tuple[
        int, dict[str, Any]
    ]:
        config = self.server.config
        request = parse_create_participant(form, config.caller_ids, config.agent_numbers)
        conference, participant = self.server.board.create_participant(account, sid, request)
        return 201, participant_json(conference, participant, self._epoch)

    def _list_participants(self, path: str, form: Form, query: Form, account: str, sid: str) -> tuple[
        int, dict[str, Any]
    ]:
        conference = self._conference(path, sid)
        items = [participant_json(conference, p, self._epoch) for p in conference.present()]
        path = f"{account_path(account)}/Conferences/{conference.sid}/Participants.json"
        return 200, page_json("participants", items, path)

    def _fetch_participant(self, path: str, form: Form, query: Form, account: str, sid: str, call: str) -> tuple[
        int, dict[str, Any]
    ]:
        conference = self._conference(path, sid)
        return 200, participant_json(conference, self._participant(path, conference, call), self._epoch)

    def _update_participant(self, path: str, form: Form, query: Form, account: str, sid: str, call: str) -> tuple[
        int, dict[str, Any]
    ]:
        conference = self._conference(path, sid)
        participant = self._participant(path, conference, call)
        self.server.board.update_participant(conference, participant, parse_update_participant(form))
        return 200, participant_json(conference, participant, self._epoch)

    def _kick(self, path: str, form: Form, query: Form, account: str, sid: str, call: str) -> tuple[
        int, dict[str, Any]
    ]:
        conference = self._conference(path, sid)
        self.server.board.remove_participant(conference, self._participant(path, conference, call))
        return 204, {}

    # ------------------------------------------------------------------ inspection
    def _inspect(self, path: str) -> None:
        if self.client_address[0] not in ("127.0.0.1", "::1"):
            raise errors.ApiError(403, 20403, "Inspection is for this machine only")
        board = self.server.board
        deliveries = {d.id: d for d in board.webhooks.snapshot()}
        with board.lock:
            if path == "/_fake/calls":
                payload: Any = {"calls": [board.call_report(c, deliveries) for c in board.calls.values()]}
            elif path.startswith("/_fake/calls/"):
                call = board.get_call(path.rsplit("/", 1)[-1], path)
                payload = board.call_report(call, deliveries)
            elif path == "/_fake/webhooks":
                payload = {"webhooks": [d.to_json() for d in deliveries.values()]}
            elif path == "/_fake/conferences":
                payload = {"conferences": [_conference_report(c) for c in board.hall.conferences.values()]}
            else:
                raise errors.not_found(path)
        self._json(200, payload)


def _conference_report(conference: Conference) -> dict[str, Any]:
    return {
        "sid": conference.sid,
        "friendly_name": conference.friendly_name,
        "status": conference.status,
        "reason_ended": conference.reason_ended,
        "participants": [
            {
                "call_sid": p.call_sid,
                "kind": p.kind,
                "status": p.status,
                "muted": p.muted,
                "hold": p.hold,
                "coaching": p.coaching,
                "call_sid_to_coach": p.call_sid_to_coach,
            }
            for p in conference.participants.values()
        ],
        "timeline": list(conference.timeline),
    }


def serve(config: FakeTwilioConfig) -> tuple[FakeTwilioServer, threading.Thread]:
    """Start a stand-in on ``config.host:config.port`` (0 picks a free port); stop it with ``server.close()``."""
    server = FakeTwilioServer(config)
    server.board.start()
    thread = threading.Thread(target=server.serve_forever, name="fake-twilio-http", daemon=True)
    thread.start()
    return server, thread


@contextmanager
def running(config: FakeTwilioConfig) -> Iterator[FakeTwilioServer]:
    """A stand-in for the length of a ``with`` block."""
    server, thread = serve(config)
    try:
        yield server
    finally:
        server.close()
        thread.join(timeout=5)
