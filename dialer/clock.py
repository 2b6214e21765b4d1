"""Time for the engine, injected so one core runs live, in tests and in simulation.

The engine never reads the wall clock and never sleeps: it asks a ``Timers``
object for the time and for callbacks at a future time.  ``VirtualLoop`` runs
those callbacks in virtual time as fast as the CPU allows; ``RealtimeLoop``
waits for the wall clock between them.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class Timer:
    """A scheduled callback; cancelling is O(1), the loop skips it later."""

    __slots__ = ("action", "cancelled", "when")

    def __init__(self, when: float, action: Callable[[], None]) -> None:
        self.when = when
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Timers(Clock, Protocol):
    def call_at(self, when: float, action: Callable[[], None]) -> Timer: ...

    def call_later(self, delay: float, action: Callable[[], None]) -> Timer: ...


class VirtualLoop:
    """A discrete-event loop: callbacks run in time order, ties in scheduling order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, action: Callable[[], None]) -> Timer:
        timer = Timer(max(when, self._now), action)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def call_later(self, delay: float, action: Callable[[], None]) -> Timer:
        return self.call_at(self.now() + max(0.0, delay), action)

    def next_time(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def run_until(self, end: float) -> None:
        """Run every callback due at or before ``end``, then stand the clock at ``end``."""
        heap = self._heap
        while heap and heap[0][0] <= end:
            when, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self._now = when
            timer.action()
        self._now = max(self._now, end)

    def pending(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)


class RealtimeLoop(VirtualLoop):
    """The same loop against the wall clock, for a live dialer process."""

    def __init__(self, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        super().__init__(clock())
        self._clock = clock
        self._sleep = sleep

    def now(self) -> float:
        self._now = max(self._now, self._clock())
        return self._now

    def run_for(self, seconds: float, max_step: float = 0.05) -> None:
        end = self._clock() + seconds
        while (current := self._clock()) < end:
            self.run_until(current)
            nxt = self.next_time()
            wait = min(max_step, end - current, float("inf") if nxt is None else max(0.0, nxt - current))
            if wait > 0:
                self._sleep(wait)
        self.run_until(self._clock())
