"""Whatever order webhooks arrive in, the floor stays consistent and every call closes once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.agents import AgentState
from dialer.events import CarrierEventKind
from tests.engine_support import make_floor
from tests.test_calls import call_lives


@settings(max_examples=120, deadline=None)
@given(
    lives=st.lists(call_lives(), min_size=1, max_size=5),
    agents=st.integers(1, 3),
    data=st.data(),
)
def test_reordered_and_duplicated_webhooks_leave_a_consistent_floor(lives, agents, data) -> None:  # type: ignore[no-untyped-def]
    floor = make_floor("ratio:3", leads=len(lives))
    for i in range(agents):
        floor.engine.login(f"a{i}")
    placed = 0
    while placed < len(lives):
        n = floor.engine.tick()
        if n == 0:
            break
        placed += n
    sids = [f"SID{i + 1}" for i in range(placed)]
    deliveries = []
    for sid, life in zip(sids, lives, strict=False):
        for event in life:
            deliveries.append((sid, event))
    deliveries += data.draw(st.lists(st.sampled_from(deliveries), max_size=8)) if deliveries else []
    order = data.draw(st.permutations(deliveries))
    for sid, event in order:
        floor.advance(data.draw(st.floats(0, 3)))
        floor.carrier.send(sid, event.kind.value, event.detail, at=event.at, seq=event.sequence)
        for status in list(floor.engine.board):
            if status.state is AgentState.WRAP_UP:
                floor.engine.wrap_done(status.agent_id, "NI")
            # An agent on a call whose customer is still there hangs up at some point.
            if status.state is AgentState.ON_CALL and data.draw(st.booleans()):
                floor.engine.hangup(status.agent_id)
                floor.engine.wrap_done(status.agent_id, "NI")
    floor.advance(10)
    for status in list(floor.engine.board):
        if status.state is AgentState.ON_CALL:
            floor.engine.hangup(status.agent_id)
        if status.state is AgentState.WRAP_UP:
            floor.engine.wrap_done(status.agent_id, "NI")

    finished = [call.call_id for call in floor.recorder.finished]
    assert len(finished) == len(set(finished)), "a call was closed twice"
    assert len(finished) == placed, "every call whose final webhook came is closed"
    assert floor.engine.live_calls() == []
    assert floor.engine.waiting_calls() == []
    for status in floor.engine.board:
        assert status.state is AgentState.READY, f"{status.agent_id} left in {status.state}"
    counters = floor.engine.counters
    assert counters.abandoned <= counters.answered
    assert {e.kind for _, e in deliveries} <= set(CarrierEventKind)
