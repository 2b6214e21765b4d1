"""The carrier's requests off the dialer's loop: order per call, answers only on the loop, connects never queued.

The live dialer's engine runs on one thread and is not thread-safe; these
check that ``ThreadedCarrier`` sends from its threads and reports back only
inside ``drain``, on the thread that calls it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from campaigns.carrier_pool import NotPlaced, ThreadedCarrier
from dialer.carrier import PENDING_SID, CarrierError, DialRequest


@dataclass
class SlowCarrier:
    """A carrier whose requests take a little random time, as over a network; it remembers what arrived when."""

    cps_limit: float | None = 5.0
    arrived: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: set[str] = field(default_factory=set)
    hold_placements: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.hold_placements.set()

    def _arrive(self, what: str, sid: str) -> None:
        time.sleep(random.uniform(0.0, 0.004))
        with self.lock:
            self.arrived.append((what, sid))
        if sid in self.refuse:
            raise CarrierError(f"{what} refused on {sid}")

    def place_call(self, request: DialRequest) -> str:
        self.hold_placements.wait(5)
        self._arrive("place", request.call_id)
        return f"CA-{request.call_id}"

    def connect(self, call_sid: str, agent_id: str) -> None:
        self._arrive("connect", call_sid)

    def play_and_hangup(self, call_sid: str, message: str) -> None:
        self._arrive("play_and_hangup", call_sid)

    def hangup(self, call_sid: str) -> None:
        self._arrive("hangup", call_sid)


def dial(call_id: str) -> DialRequest:
    return DialRequest(call_id, "+12125550123", "+12125550100", 25.0)


@pytest.fixture
def inner() -> SlowCarrier:
    return SlowCarrier()


@pytest.fixture
def pool(inner: SlowCarrier) -> Iterator[ThreadedCarrier]:
    threaded = ThreadedCarrier(inner, place_threads=4, control_threads=4)
    yield threaded
    threaded.close(wait_s=2)


def drain_all(pool: ThreadedCarrier, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while pool.pending and time.monotonic() < end:
        pool.drain(wait_s=0.05)
    assert pool.pending == 0


def test_requests_for_one_call_reach_the_carrier_in_the_order_the_engine_asked(
    pool: ThreadedCarrier, inner: SlowCarrier
) -> None:
    asked: dict[str, list[str]] = {}
    for n in range(40):
        sid = f"CA{n}"
        steps = random.choice([["connect", "hangup"], ["play_and_hangup", "hangup"], ["connect", "connect", "hangup"]])
        asked[sid] = steps
        for step in steps:
            if step == "connect":
                pool.connect(sid, "a1")
            elif step == "hangup":
                pool.hangup(sid)
            else:
                pool.play_and_hangup(sid, "sorry")

    drain_all(pool)

    for sid, steps in asked.items():
        assert [what for what, s in inner.arrived if s == sid] == steps


def test_a_placement_returns_at_once_and_its_call_sid_reaches_the_loop_only_through_drain(
    pool: ThreadedCarrier, inner: SlowCarrier
) -> None:
    heard: list[tuple[str, str, int]] = []
    pool.on_placed = lambda call_id, sid: heard.append((call_id, sid, threading.get_ident()))

    assert pool.place_call(dial("c1-1-1")) == PENDING_SID
    assert pool.pending_placements == 1
    time.sleep(0.1)  # the request is done by now, but nobody on the loop heard of it yet
    assert heard == []

    drain_all(pool)

    assert heard == [("c1-1-1", "CA-c1-1-1", threading.get_ident())]
    assert pool.pending_placements == 0


def test_refusals_come_back_to_the_loop_a_placement_as_a_failed_dial_an_action_as_a_failure(
    pool: ThreadedCarrier, inner: SlowCarrier
) -> None:
    inner.refuse = {"c1-2-1", "CA9"}
    failed: list[tuple[str, str]] = []
    actions: list[tuple[str, str, str]] = []
    pool.on_place_failed = lambda call_id, error: failed.append((call_id, str(error)))
    pool.on_action_failed = lambda sid, what, error: actions.append((sid, what, str(error)))

    pool.place_call(dial("c1-2-1"))
    pool.connect("CA9", "a1")
    pool.hangup("CA10")
    drain_all(pool)

    assert failed == [("c1-2-1", "place refused on c1-2-1")]
    assert actions == [("CA9", "connect", "connect refused on CA9")]


def test_a_connect_never_waits_behind_placements(pool: ThreadedCarrier, inner: SlowCarrier) -> None:
    inner.hold_placements.clear()  # the carrier is slow to create calls: every placement thread is stuck
    for n in range(10):
        pool.place_call(dial(f"c1-{n}-1"))

    pool.connect("CA-answered", "a1")
    end = time.monotonic() + 2
    while ("connect", "CA-answered") not in inner.arrived and time.monotonic() < end:
        time.sleep(0.01)

    assert ("connect", "CA-answered") in inner.arrived
    assert not any(what == "place" for what, _ in inner.arrived)
    inner.hold_placements.set()
    drain_all(pool)


def test_placements_not_sent_when_the_dialer_lets_go_are_withdrawn_and_never_reach_the_carrier(
    pool: ThreadedCarrier, inner: SlowCarrier
) -> None:
    inner.hold_placements.clear()
    for n in range(12):
        pool.place_call(dial(f"c1-{n}-1"))
    time.sleep(0.05)  # four threads hold one placement each; eight wait in the queue
    refused: list[CarrierError] = []
    pool.on_place_failed = lambda call_id, error: refused.append(error)

    withdrawn = pool.cancel_placements()
    inner.hold_placements.set()
    drain_all(pool)

    assert withdrawn == 8
    assert len(refused) == 8 and all(isinstance(error, NotPlaced) for error in refused)
    assert len([1 for what, _ in inner.arrived if what == "place"]) == 4
