"""Signed webhooks from a small pool of threads with keep-alive connections.

Each call (or conference) is always served by the same worker, so its own
webhooks leave in the order they were made while different calls proceed in
parallel: 50 new calls a second with a thousand in flight need a few hundred
requests a second, which a handful of kept-alive connections to a local app
carry easily. A webhook that fails or times out is recorded and logged; the
call goes on, as it does at Twilio.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from dialer.carriers.fake_twilio.signing import twilio_signature

log = logging.getLogger(__name__)

USER_AGENT = "TwilioProxy/1.1"
MAX_KEPT_BODY = 4000  # enough for any TwiML document we follow; status replies are not kept


@dataclass
class Delivery:
    """One webhook attempt, as the inspection endpoint shows it."""

    id: int
    purpose: str  # status-callback | amd | twiml | redirect | gather | dial-action | conference-status
    method: str
    url: str  # as signed: with the query string for GET
    params: dict[str, str]
    signature: str
    call_sid: str | None
    conference_sid: str | None
    queued_at: float  # simulated seconds since start
    sent_at: float | None = None
    finished_at: float | None = None
    status: int | None = None
    error: str | None = None
    body: str | None = None
    on_done: Callable[[Delivery], None] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "purpose": self.purpose,
            "method": self.method,
            "url": self.url,
            "params": self.params,
            "signature": self.signature,
            "call_sid": self.call_sid,
            "conference_sid": self.conference_sid,
            "queued_at": self.queued_at,
            "sent_at": self.sent_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "error": self.error,
        }


class WebhookSender:
    """Signs and sends webhooks; ``on_done`` runs on the worker thread once the attempt is over."""

    def __init__(self, auth_token: str, *, workers: int, timeout_s: float, clock: Callable[[], float]) -> None:
        self._token = auth_token
        self._timeout_s = timeout_s
        self._clock = clock
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self._queues: list[queue.Queue[Delivery | None]] = [queue.Queue() for _ in range(workers)]
        self._threads = [
            threading.Thread(target=self._work, args=(q,), name=f"fake-twilio-webhook-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for q in self._queues:
            q.put(None)
        for thread in self._threads:
            thread.join(timeout=self._timeout_s + 1)

    def send(
        self,
        purpose: str,
        url: str,
        method: str,
        params: dict[str, str],
        *,
        key: str,
        call_sid: str | None = None,
        conference_sid: str | None = None,
        on_done: Callable[[Delivery], None] | None = None,
    ) -> Delivery:
        """Queue a webhook on the worker that owns ``key`` (a call or conference sid)."""
        if method == "GET":
            joiner = "&" if urlsplit(url).query else "?"
            signed_url, body_params = url + joiner + urlencode(params), {}
        else:
            signed_url, body_params = url, params
        delivery = Delivery(
            id=next(self._ids),
            purpose=purpose,
            method=method,
            url=signed_url,
            params=dict(params),
            signature=twilio_signature(self._token, signed_url, body_params),
            call_sid=call_sid,
            conference_sid=conference_sid,
            queued_at=self._clock(),
            on_done=on_done,
        )
        with self._lock:
            self.deliveries.append(delivery)
        self._queues[zlib.crc32(key.encode()) % len(self._queues)].put(delivery)
        return delivery

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    # ------------------------------------------------------------------ the workers
    def _work(self, q: queue.Queue[Delivery | None]) -> None:
        connections: dict[tuple[str, str], http.client.HTTPConnection] = {}
        while (delivery := q.get()) is not None:
            delivery.sent_at = self._clock()
            try:
                self._deliver(delivery, connections)
            except Exception as error:  # any failure is the receiver's problem, never the call's
                delivery.error = f"{type(error).__name__}: {error}"
                log.warning("fake Twilio: %s webhook to %s failed: %s", delivery.purpose, delivery.url, error)
            delivery.finished_at = self._clock()
            if delivery.status is not None and not delivery.ok:
                log.warning(
                    "fake Twilio: %s webhook to %s answered %s", delivery.purpose, delivery.url, delivery.status
                )
            if delivery.on_done is not None:
                try:
                    delivery.on_done(delivery)
                except Exception:
                    log.exception("fake Twilio: handling the reply to a webhook failed")
        for connection in connections.values():
            connection.close()

    def _deliver(self, delivery: Delivery, connections: dict[tuple[str, str], http.client.HTTPConnection]) -> None:
        parts = urlsplit(delivery.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "X-Twilio-Signature": delivery.signature,
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "I-Twilio-Idempotency-Token": f"fake-{delivery.id}",
        }
        body: bytes | None = None
        if delivery.method == "POST":
            body = urlencode(delivery.params).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        key = (parts.scheme, parts.netloc)
        for attempt in range(2):
            connection = connections.get(key)
            reused = connection is not None
            if connection is None:
                connection = self._connect(parts.scheme, parts.netloc)
                connections[key] = connection
            try:
                started = time.monotonic()
                connection.request(delivery.method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                del connections[key]
                # A kept-alive connection the receiver closed meanwhile: one fresh try, as a browser would.
                if reused and attempt == 0 and time.monotonic() - started < self._timeout_s:
                    continue
                raise
            delivery.status = response.status
            delivery.body = data[:MAX_KEPT_BODY].decode("utf-8", errors="replace")
            if response.will_close:
                connection.close()
                del connections[key]
            return

    def _connect(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        # http.client ignores HTTP(S)_PROXY, which must never capture a local webhook.
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self._timeout_s)
        return http.client.HTTPConnection(netloc, timeout=self._timeout_s)
