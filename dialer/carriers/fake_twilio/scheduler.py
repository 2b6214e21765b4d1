"""A wall-clock timer heap on one thread, in simulated seconds.

The stand-in plays calls out in real time so that a real web app can answer its
webhooks, but tests cannot wait two minutes for a conversation to end: every
delay is given in simulated seconds and divided by ``speed``. Timestamps sent
to clients come from the same simulated clock, so a call's reported duration
matches the scenario's talk time whatever the speed.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Timer:
    """A pending action; cancelling it is cheap and safe from any thread."""

    __slots__ = ("action", "cancelled", "when")

    def __init__(self, when: float, action: Callable[[], None]) -> None:
        self.when = when
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """Runs actions at simulated times, one at a time, on its own thread.

    Actions run one after another so that they never race each other; they must
    be quick (anything that waits on the network belongs in the webhook pool).
    """

    def __init__(self, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = speed
        self._mono0 = time.monotonic()
        self._epoch0 = time.time()
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="fake-twilio-clock", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def now(self) -> float:
        """Simulated seconds since the stand-in started."""
        return (time.monotonic() - self._mono0) * self.speed

    def epoch(self, at: float | None = None) -> float:
        """The Unix time that simulated instant ``at`` (default: now) stands for."""
        return self._epoch0 + (self.now() if at is None else at)

    def call_at(self, when: float, action: Callable[[], None]) -> Timer:
        timer = Timer(when, action)
        with self._wake:
            heapq.heappush(self._heap, (when, next(self._order), timer))
            self._wake.notify()
        return timer

    def call_later(self, delay: float, action: Callable[[], None]) -> Timer:
        return self.call_at(self.now() + max(0.0, delay), action)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped:
                    if self._heap:
                        wait = (self._heap[0][0] - self.now()) / self.speed
                        if wait <= 0:
                            break
                        self._wake.wait(timeout=wait)
                    else:
                        self._wake.wait()
                if self._stopped:
                    return
                _, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            try:
                timer.action()
            except Exception:  # one broken call must not stop every other call's clock
                log.exception("fake Twilio: a scheduled action failed")
