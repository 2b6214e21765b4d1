"""Carrier requests off the dialer's loop: a few threads send them, the loop hears back.

The live dialer runs the engine on one thread, and the engine is not
thread-safe.  Every request to a carrier like Twilio is an HTTP round trip
(tens of milliseconds, more on a loaded machine or across the internet);
made on that thread, a tick's fifty placements and every hangup queue up in
front of the next answered person's connect, and the two-second safe harbour
is spent waiting.  ``ThreadedCarrier`` is the engine's ``Carrier`` with the
requests sent by worker threads instead:

* ``place_call`` returns ``PENDING_SID`` at once; the CallSid (or the
  refusal) comes back as a completion, which the loop takes with ``drain``
  and hands to the engine (``Engine.placed`` / ``Engine.place_failed``).  The
  attempt was claimed and committed before ``place_call`` was asked, so a
  crash still cannot dial it twice.
* ``connect``, ``play_and_hangup`` and ``hangup`` are sent and forgotten;
  a failure comes back through ``drain`` to ``on_action_failed``.
* Two lanes of threads: placements, and call control.  An answered person's
  connect never waits behind a tick's placements, and every control request
  for one call goes to the same thread in the order asked, so a hangup never
  overtakes the connect before it.

Nothing here touches the engine: completions run only inside ``drain``, on
the loop's thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dialer.carrier import PENDING_SID, Carrier, CarrierError, DialRequest
from dialer.events import CarrierEvent

log = logging.getLogger(__name__)

Then = Callable[[Any, BaseException | None], None]
"""A completion, run on the loop's thread: (the request's result, or None; its error, or None)."""


@dataclass(eq=False)
class Job:
    """One request for a worker thread, and what the loop does with its outcome."""

    action: Callable[[], Any]
    then: Then
    placement: bool = False
    started: bool = False
    cancelled: bool = False
    result: Any = None
    error: BaseException | None = None


class NotPlaced(CarrierError):
    """A placement withdrawn before it was sent (the dialer is stopping or lost its lease)."""


class _Lane:
    """Worker threads behind queues: one shared queue, or one queue per thread when order per key matters."""

    def __init__(self, name: str, threads: int, *, ordered: bool, pool: ThreadedCarrier) -> None:
        self.pool = pool
        self.ordered = ordered
        count = max(1, threads)
        self.queues: list[queue.SimpleQueue[Job | None]] = [queue.SimpleQueue() for _ in range(count if ordered else 1)]
        self.threads = [
            threading.Thread(target=self._work, args=(self.queues[i % len(self.queues)],),
                             name=f"carrier-{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def put(self, key: str, job: Job) -> None:
        index = zlib.crc32(key.encode()) % len(self.queues) if self.ordered else 0
        self.queues[index].put(job)

    def stop(self) -> None:
        for i in range(len(self.threads)):
            self.queues[i % len(self.queues)].put(None)

    def join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, end - time.monotonic()))

    def _work(self, jobs: queue.SimpleQueue[Job | None]) -> None:
        while (job := jobs.get()) is not None:
            with self.pool.lock:
                job.started = not job.cancelled
            if job.started:
                try:
                    job.result = job.action()
                except BaseException as error:  # reported to the loop, whatever it was
                    job.error = error
            self.pool.results.put(job)


class ThreadedCarrier:
    """The engine's ``Carrier`` whose requests are sent by worker threads (see the module's docstring)."""

    def __init__(self, inner: Carrier, *, place_threads: int = 8, control_threads: int = 8) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.results: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self.on_placed: Callable[[str, str], None] = lambda call_id, sid: None
        self.on_place_failed: Callable[[str, CarrierError], None] = lambda call_id, error: None
        self.on_action_failed: Callable[[str, str, BaseException], None] = self._log_failure
        self._outstanding: set[Job] = set()  # submitted and not yet drained; the loop's thread only
        self._placing = 0  # of which placements
        self._closed = False
        self._placements = _Lane("place", place_threads, ordered=False, pool=self)
        self._control = _Lane("control", control_threads, ordered=True, pool=self)

    # ------------------------------------------------------------------ Carrier protocol
    @property
    def cps_limit(self) -> float | None:
        return self.inner.cps_limit

    def place_call(self, request: DialRequest) -> str:
        def then(sid: Any, error: BaseException | None) -> None:
            if error is None:
                self.on_placed(request.call_id, str(sid))
            elif isinstance(error, CarrierError):
                self.on_place_failed(request.call_id, error)
            else:
                log.error("placing %s failed unexpectedly", request.call_id, exc_info=error)
                self.on_place_failed(request.call_id, CarrierError(f"placing {request.call_id}: {error!r}"))

        self._submit(self._placements, request.call_id, lambda: self.inner.place_call(request), then,
                     placement=True)
        return PENDING_SID

    def connect(self, call_sid: str, agent_id: str) -> None:
        self._control_request(call_sid, "connect", lambda: self.inner.connect(call_sid, agent_id))

    def play_and_hangup(self, call_sid: str, message: str) -> None:
        self._control_request(call_sid, "play_and_hangup", lambda: self.inner.play_and_hangup(call_sid, message))

    def hangup(self, call_sid: str) -> None:
        self._control_request(call_sid, "hangup", lambda: self.inner.hangup(call_sid))

    def observe(self, event: CarrierEvent) -> None:
        """Passed on to a carrier that learns from events (Twilio's hangup: cancel or complete)."""
        observe = getattr(self.inner, "observe", None)
        if observe is not None:
            observe(event)

    # ------------------------------------------------------------------ other requests off the loop
    def run_off_loop(self, action: Callable[[], Any], then: Then) -> None:
        """Any other slow request (a bot agent's leg), beside the placements, never ahead of a connect."""
        self._submit(self._placements, "", action, then)

    # ------------------------------------------------------------------ the loop's side
    @property
    def pending_placements(self) -> int:
        """Placements not yet drained: events for a CallSid not known yet may belong to one of them."""
        return self._placing

    @property
    def pending(self) -> int:
        return len(self._outstanding)

    def drain(self, wait_s: float = 0.0) -> int:
        """Run the completions that arrived (waiting up to ``wait_s`` for all to arrive); returns how many."""
        end = time.monotonic() + wait_s
        ran = 0
        while self._outstanding:
            left = end - time.monotonic()
            try:
                job = self.results.get(timeout=left) if left > 0 else self.results.get_nowait()
            except queue.Empty:
                break
            self._outstanding.discard(job)
            self._placing -= job.placement
            ran += 1
            try:
                job.then(job.result, job.error)
            except Exception:
                log.exception("a carrier completion failed")
        return ran

    def cancel_placements(self) -> int:
        """Withdraw the placements not sent yet; each completes with ``NotPlaced`` at the next ``drain``."""
        withdrawn = 0
        with self.lock:
            for job in self._outstanding:
                if job.placement and not job.started and not job.cancelled:
                    job.cancelled = True
                    job.error = NotPlaced("not placed: the dialer let the campaign go first")
                    withdrawn += 1
        return withdrawn

    def close(self, wait_s: float = 0.0) -> None:
        """Stop the threads once their queues are empty; requests already queued are still sent."""
        if self._closed:
            return
        self._closed = True
        self._placements.stop()
        self._control.stop()
        if wait_s > 0:
            self._placements.join(wait_s)
            self._control.join(wait_s)

    # ------------------------------------------------------------------ plumbing
    def _submit(self, lane: _Lane, key: str, action: Callable[[], Any], then: Then, *,
                placement: bool = False) -> None:
        job = Job(action, then, placement=placement)
        self._placing += placement
        if self._closed:
            job.error = NotPlaced("the carrier's threads are stopped")
            job.cancelled = True
            self._outstanding.add(job)
            self.results.put(job)
            return
        self._outstanding.add(job)
        lane.put(key, job)

    def _control_request(self, call_sid: str, what: str, action: Callable[[], None]) -> None:
        def then(_: Any, error: BaseException | None) -> None:
            if error is not None:
                self.on_action_failed(call_sid, what, error)

        self._submit(self._control, call_sid, action, then)

    @staticmethod
    def _log_failure(call_sid: str, what: str, error: BaseException) -> None:
        log.info("carrier %s on %s failed: %s", what, call_sid, error)


__all__ = ["Job", "NotPlaced", "ThreadedCarrier"]
