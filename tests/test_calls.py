"""The call record is the same whatever order, and however often, the carrier's events arrive."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.calls import AnswerClass, Call, CallState
from dialer.events import CallEnd, CarrierEvent, CarrierEventKind

K = CarrierEventKind


@st.composite
def call_lives(draw: st.DrawFn) -> list[CarrierEvent]:
    """One plausible life of a call, as the carrier would report it in order."""
    t = draw(st.floats(0, 1000))
    kinds: list[tuple[CarrierEventKind, str]] = [(K.INITIATED, "")]
    ending = draw(st.sampled_from(["no-answer", "busy", "failed", "human", "machine", "unknown"]))
    if ending in ("busy", "failed"):
        kinds.append((K.COMPLETED, ending))
    else:
        kinds.append((K.RINGING, ""))
        if ending == "no-answer":
            kinds.append((K.COMPLETED, CallEnd.NO_ANSWER.value))
        else:
            kinds.append((K.ANSWERED, ""))
            if ending != "unknown":
                kinds.append((K.AMD, ending))
            if draw(st.booleans()):
                kinds.append((K.BRIDGED, "agent"))
            kinds.append((K.COMPLETED, CallEnd.COMPLETED.value))
    events = []
    for seq, (kind, detail) in enumerate(kinds, start=1):
        t += draw(st.floats(0.01, 30))
        events.append(CarrierEvent("SID", kind, t, seq, detail))
    return events


def replay(events: list[CarrierEvent]) -> Call:
    call = Call("c1", 1, 1, "+12125550100")
    for event in events:
        call.apply(event)
    return call


@settings(max_examples=300, deadline=None)
@given(life=call_lives(), data=st.data())
def test_any_order_with_duplicates_gives_the_same_record(life: list[CarrierEvent], data: st.DataObject) -> None:
    in_order = replay(life)
    duplicated = life + data.draw(st.lists(st.sampled_from(life), max_size=6))
    shuffled = data.draw(st.permutations(duplicated))
    again = replay(list(shuffled))
    assert again.milestones == in_order.milestones
    assert again.state == in_order.state
    assert again.answer_class == in_order.answer_class


@settings(max_examples=200, deadline=None)
@given(life=call_lives())
def test_every_complete_life_ends_in_the_ended_state_with_an_answer_class(life: list[CarrierEvent]) -> None:
    call = replay(life)
    assert call.state is CallState.ENDED
    assert call.answer_class is not None


def test_a_duplicate_event_reports_no_change() -> None:
    call = Call("c1", 1, 1, "+12125550100")
    event = CarrierEvent("SID", K.ANSWERED, 10.0, 3)
    assert call.apply(event) == "answered"
    assert call.apply(event) is None


def test_an_earlier_event_arriving_late_wins_its_milestone() -> None:
    call = Call("c1", 1, 1, "+12125550100")
    call.apply(CarrierEvent("SID", K.RINGING, 12.0, 4))
    call.apply(CarrierEvent("SID", K.RINGING, 10.0, 2))
    assert call.at("ringing") == 10.0


def test_states_follow_the_milestones() -> None:
    call = Call("c1", 1, 1, "+12125550100")
    assert call.state is CallState.QUEUED
    call.apply(CarrierEvent("SID", K.INITIATED, 1.0, 1))
    assert call.state is CallState.DIALING
    call.apply(CarrierEvent("SID", K.RINGING, 2.0, 2))
    assert call.state is CallState.RINGING
    call.apply(CarrierEvent("SID", K.ANSWERED, 9.0, 3))
    assert call.state is CallState.ANSWERED
    assert call.is_live_person
    call.mark("abandoned", 11.0)
    assert call.state is CallState.ABANDONED
    call.apply(CarrierEvent("SID", K.COMPLETED, 20.0, 4, "completed"))
    assert call.state is CallState.ENDED


def test_the_answer_class_comes_from_the_verdict_or_the_end() -> None:
    machine = replay([CarrierEvent("S", K.ANSWERED, 1, 1), CarrierEvent("S", K.AMD, 4, 2, "machine")])
    assert machine.answer_class is AnswerClass.MACHINE
    assert not machine.is_live_person
    busy = replay([CarrierEvent("S", K.COMPLETED, 3, 1, "busy")])
    assert busy.answer_class is AnswerClass.BUSY
    unknown = replay([CarrierEvent("S", K.ANSWERED, 1, 1)])
    assert unknown.answer_class is AnswerClass.UNKNOWN
