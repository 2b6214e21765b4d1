"""Injected time: the virtual loop that runs simulations and tests, and the realtime loop of a live dialer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.clock import RealtimeLoop, Timer, VirtualLoop


def recorder(loop: VirtualLoop, ran: list[tuple[str, float]]) -> Callable[[str], Callable[[], None]]:
    def make(label: str) -> Callable[[], None]:
        return lambda: ran.append((label, loop.now()))

    return make


# --- VirtualLoop ---------------------------------------------------------------------------------


def test_a_virtual_loop_starts_where_it_is_told_and_stands_still_until_run() -> None:
    assert VirtualLoop().now() == 0.0
    loop = VirtualLoop(1000.0)
    loop.call_later(5.0, lambda: None)
    assert loop.now() == 1000.0
    assert loop.pending() == 1
    assert loop.next_time() == 1005.0


def test_callbacks_run_in_time_order_each_at_its_own_time() -> None:
    loop = VirtualLoop(100.0)
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)
    loop.call_at(130.0, at("c"))
    loop.call_later(10.0, at("a"))
    loop.call_at(120.0, at("b"))
    loop.run_until(200.0)
    assert ran == [("a", 110.0), ("b", 120.0), ("c", 130.0)]
    assert loop.pending() == 0


def test_callbacks_due_at_the_same_time_run_in_the_order_they_were_scheduled() -> None:
    loop = VirtualLoop()
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)
    for label in ("first", "second", "third", "fourth"):
        loop.call_at(5.0, at(label))
    loop.run_until(5.0)
    assert [label for label, _ in ran] == ["first", "second", "third", "fourth"]


def test_a_callback_scheduled_for_now_by_a_callback_runs_after_those_already_due() -> None:
    loop = VirtualLoop()
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)

    def spawn() -> None:
        ran.append(("spawn", loop.now()))
        loop.call_later(0.0, at("child"))
        loop.call_later(3.0, at("later child"))

    loop.call_at(1.0, spawn)
    loop.call_at(1.0, at("sibling"))
    loop.run_until(10.0)
    assert ran == [("spawn", 1.0), ("sibling", 1.0), ("child", 1.0), ("later child", 4.0)]


@given(st.lists(st.integers(0, 20), max_size=40))
def test_any_schedule_runs_sorted_by_time_then_by_scheduling_order(times: list[int]) -> None:
    loop = VirtualLoop()
    ran: list[tuple[int, float]] = []
    for index, when in enumerate(times):
        loop.call_at(float(when), lambda index=index: ran.append((index, loop.now())))  # type: ignore[misc]
    loop.run_until(20.0)
    expected = sorted(range(len(times)), key=lambda i: (times[i], i))
    assert [index for index, _ in ran] == expected
    assert all(now == times[index] for index, now in ran)


def test_a_cancelled_timer_never_runs_and_is_not_pending() -> None:
    loop = VirtualLoop()
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)
    first = loop.call_at(1.0, at("cancelled"))
    loop.call_at(2.0, at("kept"))
    assert isinstance(first, Timer)
    first.cancel()
    assert loop.pending() == 1
    assert loop.next_time() == 2.0
    loop.run_until(5.0)
    assert ran == [("kept", 2.0)]


def test_a_callback_can_cancel_a_later_timer() -> None:
    loop = VirtualLoop()
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)
    doomed = loop.call_at(3.0, at("doomed"))
    loop.call_at(1.0, doomed.cancel)
    loop.run_until(5.0)
    assert ran == []


def test_with_nothing_pending_there_is_no_next_time() -> None:
    loop = VirtualLoop()
    assert loop.next_time() is None
    loop.call_at(1.0, lambda: None).cancel()
    assert loop.next_time() is None
    assert loop.pending() == 0


def test_run_until_runs_what_is_due_at_the_end_and_stands_the_clock_at_the_end() -> None:
    loop = VirtualLoop()
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)
    loop.call_at(10.0, at("at end"))
    loop.call_at(10.000001, at("after end"))
    loop.run_until(10.0)
    assert ran == [("at end", 10.0)]
    assert loop.now() == 10.0
    loop.run_until(25.0)
    assert ran[-1] == ("after end", 10.000001)
    assert loop.now() == 25.0


def test_run_until_with_nothing_due_still_moves_the_clock_but_never_back() -> None:
    loop = VirtualLoop(50.0)
    loop.run_until(70.0)
    assert loop.now() == 70.0
    loop.run_until(60.0)
    assert loop.now() == 70.0


@pytest.mark.parametrize("schedule", ["call_at", "call_later"])
def test_a_callback_scheduled_in_the_past_runs_at_now(schedule: str) -> None:
    loop = VirtualLoop()
    loop.run_until(100.0)
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)
    timer = loop.call_at(40.0, at("late")) if schedule == "call_at" else loop.call_later(-5.0, at("late"))
    assert timer.when == 100.0
    assert loop.next_time() == 100.0
    loop.run_until(100.0)
    assert ran == [("late", 100.0)]
    assert loop.now() == 100.0


# --- RealtimeLoop --------------------------------------------------------------------------------


def close(expected: float) -> object:
    """Equal to a microsecond: wall-clock instants are large, so a relative tolerance would hide seconds."""
    return pytest.approx(expected, rel=0, abs=1e-6)


class FakeWall:
    """A wall clock that moves only when someone sleeps on it (or the test moves it)."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.t += seconds


def realtime(start: float = 1_700_000_000.0) -> tuple[RealtimeLoop, FakeWall]:
    wall = FakeWall(start)
    return RealtimeLoop(clock=wall.time, sleep=wall.sleep), wall


def test_a_realtime_loop_reads_the_injected_wall_clock() -> None:
    loop, wall = realtime()
    assert loop.now() == wall.t
    wall.t += 12.5
    assert loop.now() == wall.t


def test_a_realtime_loop_never_goes_back_when_the_wall_clock_does() -> None:
    loop, wall = realtime()
    wall.t += 10.0
    assert loop.now() == wall.t
    wall.t -= 3.0  # the wall clock was stepped back
    assert loop.now() == wall.t + 3.0


def test_run_for_sleeps_until_each_callback_is_due_and_runs_it_on_time() -> None:
    loop, wall = realtime()
    start = wall.t
    ran: list[tuple[str, float]] = []
    at = recorder(loop, ran)
    loop.call_later(0.3, at("a"))
    loop.call_later(0.7, at("b"))
    loop.call_later(5.0, at("too late"))
    loop.run_for(1.0)
    assert [label for label, _ in ran] == ["a", "b"]
    assert ran[0][1] == close(start + 0.3)
    assert ran[1][1] == close(start + 0.7)
    assert wall.t == close(start + 1.0)
    assert loop.pending() == 1


def test_run_for_never_sleeps_longer_than_the_largest_step() -> None:
    loop, wall = realtime()
    loop.run_for(1.0, max_step=0.1)
    assert wall.sleeps
    assert max(wall.sleeps) <= 0.1 + 1e-12
    assert sum(wall.sleeps) == close(1.0)


def test_run_for_does_not_sleep_past_its_end_while_a_later_timer_waits() -> None:
    loop, wall = realtime()
    start = wall.t
    loop.call_later(10.0, lambda: None)
    loop.run_for(0.01, max_step=0.05)
    assert wall.t == close(start + 0.01)


def test_run_for_runs_callbacks_already_due_without_sleeping_first() -> None:
    loop, wall = realtime()
    ran: list[tuple[str, float]] = []
    loop.call_at(wall.t - 1.0, recorder(loop, ran)("overdue"))
    loop.run_for(0.05)
    assert ran and ran[0][0] == "overdue"
    assert wall.sleeps[0] == close(0.05)  # the overdue callback ran before the first sleep


def test_call_later_on_a_realtime_loop_counts_from_the_wall_clock() -> None:
    loop, wall = realtime()
    start = wall.t
    wall.t += 100.0  # the process did other work; no one asked the loop the time
    timer = loop.call_later(5.0, lambda: None)
    assert timer.when == close(start + 105.0)
