"""Agent states: the table of allowed moves, the longest-idle choice, and the floor's counts."""

from __future__ import annotations

import itertools
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.agents import ALLOWED_MOVES, WORKING, AgentBoard, AgentMove, AgentState, AgentStateError

S = AgentState
ALL_STATES = list(AgentState)


def path_to(state: AgentState) -> list[AgentState]:
    """The shortest list of allowed moves that takes a new (offline) agent to ``state``."""
    paths: dict[AgentState, list[AgentState]] = {S.OFFLINE: []}
    queue = deque([S.OFFLINE])
    while queue:
        here = queue.popleft()
        for there in sorted(ALLOWED_MOVES[here]):
            if there not in paths:
                paths[there] = [*paths[here], there]
                queue.append(there)
    return paths[state]


def board_with(agent_id: str, state: AgentState, at: float = 0.0) -> AgentBoard:
    board = AgentBoard()
    for step in path_to(state):
        board.move(agent_id, step, at, call_id="C1" if step is S.RESERVED else None)
    assert board.get(agent_id).state is state
    return board


# --- the table itself ----------------------------------------------------------------------------


def test_the_table_of_moves_names_every_state_and_no_state_moves_to_itself() -> None:
    assert set(ALLOWED_MOVES) == set(AgentState)
    for state, targets in ALLOWED_MOVES.items():
        assert state not in targets
        assert targets <= set(AgentState)


def test_every_state_is_reachable_from_offline_and_every_agent_can_log_out() -> None:
    for state in AgentState:
        path_to(state)  # raises KeyError when unreachable
        if state is not S.OFFLINE:
            assert S.OFFLINE in ALLOWED_MOVES[state]


def test_only_a_ready_agent_can_be_reserved_and_only_a_reserved_agent_goes_on_a_call() -> None:
    assert {s for s in AgentState if S.RESERVED in ALLOWED_MOVES[s]} == {S.READY}
    assert {s for s in AgentState if S.ON_CALL in ALLOWED_MOVES[s]} == {S.RESERVED}


def test_wrap_up_follows_only_a_call() -> None:
    assert {s for s in AgentState if S.WRAP_UP in ALLOWED_MOVES[s]} == {S.ON_CALL}


def test_working_means_logged_in_and_not_paused() -> None:
    assert frozenset({S.READY, S.RESERVED, S.ON_CALL, S.WRAP_UP}) == WORKING


# --- every move, allowed or not ------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), list(itertools.product(ALL_STATES, ALL_STATES)), ids=lambda s: str(s))
def test_a_move_succeeds_exactly_when_the_table_allows_it(old: AgentState, new: AgentState) -> None:
    board = board_with("a1", old, at=10.0)
    before = board.get("a1")
    snapshot = (before.state, before.since, before.ready_since, before.call_id, before.pause_reason)
    if new in ALLOWED_MOVES[old]:
        move = board.move("a1", new, 20.0, reason="why", call_id="C2")
        assert isinstance(move, AgentMove)
        assert (move.agent_id, move.old, move.new, move.at, move.reason) == ("a1", old, new, 20.0, "why")
        assert board.get("a1").state is new
        assert board.get("a1").since == 20.0
    else:
        with pytest.raises(AgentStateError, match=f"a1: cannot go from {old} to {new}"):
            board.move("a1", new, 20.0, reason="why", call_id="C2")
        after = board.get("a1")
        assert (after.state, after.since, after.ready_since, after.call_id, after.pause_reason) == snapshot


def test_an_agent_state_error_is_a_value_error() -> None:
    assert issubclass(AgentStateError, ValueError)


def test_a_new_agent_is_offline_and_may_not_go_straight_onto_a_call() -> None:
    board = AgentBoard()
    assert board.get("new").state is S.OFFLINE
    for state in (S.RESERVED, S.ON_CALL, S.WRAP_UP):
        with pytest.raises(AgentStateError):
            board.move("new", state, 1.0)


# --- what a move records -------------------------------------------------------------------------


def test_ready_since_is_set_on_becoming_ready_and_reset_each_time() -> None:
    board = AgentBoard()
    board.move("a", S.READY, 5.0)
    assert board.get("a").ready_since == 5.0
    board.move("a", S.RESERVED, 6.0, call_id="C1")
    board.move("a", S.ON_CALL, 7.0)
    board.move("a", S.WRAP_UP, 50.0)
    board.move("a", S.READY, 60.0)
    assert board.get("a").ready_since == 60.0


@pytest.mark.parametrize("away", [S.PAUSED, S.OFFLINE])
def test_pausing_or_logging_out_forgets_when_the_agent_was_ready(away: AgentState) -> None:
    board = AgentBoard()
    board.move("a", S.READY, 5.0)
    board.move("a", away, 6.0)
    assert board.get("a").ready_since is None


def test_a_call_id_is_kept_from_reservation_through_the_call_and_cleared_when_ready() -> None:
    board = AgentBoard()
    board.move("a", S.READY, 1.0)
    reserved = board.move("a", S.RESERVED, 2.0, call_id="C9")
    assert reserved.call_id == "C9"
    on_call = board.move("a", S.ON_CALL, 3.0)  # no call id given: the reserved call goes on
    assert on_call.call_id == "C9"
    assert board.get("a").call_id == "C9"
    board.move("a", S.WRAP_UP, 4.0)
    assert board.get("a").call_id == "C9"
    board.move("a", S.READY, 5.0)
    assert board.get("a").call_id is None


def test_a_pause_reason_is_kept_only_while_paused() -> None:
    board = AgentBoard()
    move = board.move("a", S.PAUSED, 1.0, reason="lunch")
    assert move.reason == "lunch"
    assert board.get("a").pause_reason == "lunch"
    board.move("a", S.READY, 2.0, reason="back")
    assert board.get("a").pause_reason is None


# --- longest idle --------------------------------------------------------------------------------


def test_no_one_is_longest_idle_on_an_empty_floor_or_when_no_one_is_ready() -> None:
    board = AgentBoard()
    assert board.longest_idle_ready() is None
    board.move("a", S.PAUSED, 1.0)
    board.move("b", S.READY, 1.0)
    board.move("b", S.RESERVED, 2.0, call_id="C1")
    assert board.longest_idle_ready() is None


def test_the_longest_idle_ready_agent_is_the_one_ready_the_longest() -> None:
    board = AgentBoard()
    board.move("late", S.READY, 30.0)
    board.move("early", S.READY, 10.0)
    board.move("middle", S.READY, 20.0)
    chosen = board.longest_idle_ready()
    assert chosen is not None and chosen.agent_id == "early"


def test_an_agent_ready_at_time_zero_is_still_the_longest_idle() -> None:
    board = AgentBoard()
    board.move("later", S.READY, 5.0)
    board.move("zero", S.READY, 0.0)
    chosen = board.longest_idle_ready()
    assert chosen is not None and chosen.agent_id == "zero"


def test_an_agent_back_from_a_call_or_a_pause_goes_to_the_back_of_the_line() -> None:
    board = AgentBoard()
    board.move("a", S.READY, 1.0)
    board.move("b", S.READY, 2.0)
    board.move("c", S.READY, 3.0)
    board.move("a", S.RESERVED, 4.0, call_id="C1")
    board.move("a", S.READY, 5.0)  # the call went to a machine: a is free again, but now the newest
    board.move("b", S.PAUSED, 6.0)
    board.move("b", S.READY, 7.0)
    order = []
    while (chosen := board.longest_idle_ready()) is not None:
        order.append(chosen.agent_id)
        board.move(chosen.agent_id, S.RESERVED, 8.0, call_id=f"C-{chosen.agent_id}")
    assert order == ["c", "a", "b"]


def test_among_agents_ready_at_the_same_instant_the_first_on_the_board_goes_first() -> None:
    board = AgentBoard()
    for agent in ("x", "y", "z"):
        board.get(agent)
    for agent in ("z", "y", "x"):
        board.move(agent, S.READY, 1.0)
    chosen = board.longest_idle_ready()
    assert chosen is not None and chosen.agent_id == "x"


@given(st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.floats(0, 1e9), min_size=1, max_size=12))
def test_the_longest_idle_is_the_ready_agent_with_the_earliest_ready_time(ready_at: dict[str, float]) -> None:
    board = AgentBoard()
    for agent, at in ready_at.items():
        board.move(agent, S.READY, at)
    chosen = board.longest_idle_ready()
    assert chosen is not None
    assert chosen.ready_since == min(ready_at.values())


# --- counts --------------------------------------------------------------------------------------


def test_counts_by_state_and_working_agents() -> None:
    board = AgentBoard()
    for agent, state in [
        ("r1", S.READY),
        ("r2", S.READY),
        ("res", S.RESERVED),
        ("on", S.ON_CALL),
        ("wrap", S.WRAP_UP),
        ("p1", S.PAUSED),
        ("p2", S.PAUSED),
    ]:
        for step in path_to(state):
            board.move(agent, step, 1.0)
    board.get("off")
    assert board.count(S.READY) == 2
    assert board.count(S.PAUSED) == 2
    assert board.count(S.OFFLINE) == 1
    assert board.count(S.READY, S.RESERVED, S.PAUSED) == 5
    assert board.count() == 0
    assert board.working() == 5
    assert sorted(status.agent_id for status in board) == ["off", "on", "p1", "p2", "r1", "r2", "res", "wrap"]


def test_counts_follow_moves() -> None:
    board = AgentBoard()
    board.move("a", S.READY, 1.0)
    assert (board.count(S.READY), board.working()) == (1, 1)
    board.move("a", S.PAUSED, 2.0)
    assert (board.count(S.READY), board.count(S.PAUSED), board.working()) == (0, 1, 0)
    board.move("a", S.OFFLINE, 3.0)
    assert (board.count(S.PAUSED), board.count(S.OFFLINE), board.working()) == (0, 1, 0)
