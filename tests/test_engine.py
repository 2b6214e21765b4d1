"""The engine's decisions, driven by hand: what the network does is scripted by each test."""

from __future__ import annotations

import pytest

from campaigns.store import attempt_row
from dialer.agents import AgentState, AgentStateError
from dialer.carrier import PENDING_SID, CarrierError, DialRequest
from dialer.engine import Engine, EngineConfig
from tests.engine_support import MemoryRecorder, ScriptedCarrier, make_floor


def test_no_call_is_placed_while_no_agent_is_working() -> None:
    floor = make_floor("ratio:3")
    assert floor.engine.tick() == 0
    floor.engine.login("a1", ready=False)  # logged in but paused
    assert floor.engine.tick() == 0
    assert floor.carrier.placed == []


def test_progressive_places_one_call_per_ready_agent() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.login("a2")
    assert floor.engine.tick() == 2
    assert floor.engine.tick() == 0  # both calls still in flight


def test_an_answered_call_goes_to_the_longest_idle_ready_agent() -> None:
    floor = make_floor("ratio:2")
    floor.engine.login("early")
    floor.advance(10)
    floor.engine.login("late")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    assert ("connect", "SID1", "early") in floor.carrier.actions
    assert floor.engine.board.get("early").state is AgentState.RESERVED
    floor.carrier.send("SID1", "bridged")
    assert floor.engine.board.get("early").state is AgentState.ON_CALL


def test_a_person_with_no_free_agent_hears_the_drop_message_inside_the_safe_harbour_and_is_counted() -> None:
    floor = make_floor("ratio:3")
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.advance(0.4)
    floor.carrier.send("SID1", "bridged")  # bridging took 0.4 s: the engine learns it
    latency = floor.engine.bridge_latency_s
    assert 0.4 <= latency <= 0.5
    floor.carrier.answer("SID2")  # nobody left
    floor.advance(2.0 - latency - 0.05)
    assert floor.engine.counters.abandoned == 0
    floor.advance(0.1)
    assert ("play_and_hangup", "SID2", "sorry") in floor.carrier.actions
    assert floor.engine.counters.abandoned == 1
    call = next(c for c in floor.engine.live_calls() if c.carrier_sid == "SID2")
    # The message starts early enough that the person hears it within 2 s of answering.
    assert call.at("abandoned") == pytest.approx(call.at("answered") + 2.0 - latency)
    assert call.has("message_played")


def test_an_agent_freed_inside_the_safe_harbour_takes_the_waiting_person() -> None:
    floor = make_floor("ratio:3")
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "bridged")
    floor.carrier.answer("SID2")
    floor.advance(1.0)
    floor.carrier.send("SID1", "completed", "completed")  # first customer hangs up
    floor.engine.wrap_done("a1", "NI")
    assert ("connect", "SID2", "a1") in floor.carrier.actions
    floor.advance(5)
    assert floor.engine.counters.abandoned == 0


def test_a_machine_verdict_frees_the_agent_at_once_without_wrap_up() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "bridged")
    floor.carrier.send("SID1", "amd", "machine")
    assert floor.engine.board.get("a1").state is AgentState.READY
    assert ("hangup", "SID1", "") in floor.carrier.actions
    floor.carrier.send("SID1", "completed", "completed")
    assert floor.recorder.finished[-1].disposition == "AM"


def test_a_machine_on_a_campaign_with_voicemail_gets_the_message() -> None:
    floor = make_floor(machine_action="voicemail", voicemail_message="Please call us back.")
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "amd", "machine")
    assert ("play_and_hangup", "SID1", "Please call us back.") in floor.carrier.actions


def test_a_person_who_hangs_up_while_waiting_counts_as_abandoned_without_a_message() -> None:
    floor = make_floor("ratio:3")
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "bridged")
    floor.carrier.answer("SID2")
    floor.advance(1.0)
    floor.carrier.send("SID2", "completed", "completed")
    assert floor.engine.counters.abandoned == 1
    floor.advance(5)
    assert not any(a[0] == "play_and_hangup" for a in floor.carrier.actions)
    assert floor.engine.counters.abandoned == 1


def test_duplicate_webhooks_change_nothing() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    before = list(floor.carrier.actions)
    floor.carrier.send("SID1", "answered", seq=3)
    floor.carrier.send("SID1", "answered", seq=3)
    assert floor.carrier.actions == before
    assert floor.engine.counters.answered == 1


def test_an_answer_arriving_after_the_end_does_not_reserve_an_agent() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.send("SID1", "completed", "no-answer", seq=5)
    floor.carrier.send("SID1", "answered", seq=3)
    assert floor.engine.board.get("a1").state is AgentState.READY
    assert floor.recorder.finished[-1].disposition == "NA"


def test_a_webhook_for_an_unknown_call_is_counted_not_fatal() -> None:
    floor = make_floor()
    floor.carrier.send("SID-unknown", "answered")
    assert floor.engine.counters.unknown_events == 1


def test_the_conversation_ends_in_wrap_up_and_the_disposition_closes_the_call() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "bridged")
    floor.advance(60)
    floor.engine.hangup("a1")
    assert floor.engine.board.get("a1").state is AgentState.WRAP_UP
    floor.carrier.send("SID1", "completed", "completed")
    assert floor.recorder.finished == []  # waits for the disposition
    floor.advance(10)
    floor.engine.wrap_done("a1", "SALE", notes="two units")
    call = floor.recorder.finished[-1]
    assert call.disposition == "SALE"
    assert call.seconds("connected", "ended") == pytest.approx(60.0)
    assert floor.engine.board.get("a1").state is AgentState.READY


def test_wrap_up_can_end_in_a_pause() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "bridged")
    floor.carrier.send("SID1", "completed", "completed")
    floor.engine.wrap_done("a1", "NI", then_pause="lunch")
    status = floor.engine.board.get("a1")
    assert status.state is AgentState.PAUSED
    assert status.pause_reason == "lunch"


def test_wrap_done_outside_wrap_up_is_refused() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    with pytest.raises(AgentStateError):
        floor.engine.wrap_done("a1", "NI")
    with pytest.raises(AgentStateError):
        floor.engine.hangup("a1")


def test_a_reserved_agent_who_logs_out_hands_the_person_to_another_agent() -> None:
    floor = make_floor("ratio:2")
    floor.engine.login("a1")
    floor.advance(1)
    floor.engine.login("a2")
    floor.engine.tick()
    floor.carrier.answer("SID1")  # reserves a1
    floor.engine.pause("a2")
    floor.engine.logout("a1")
    assert floor.engine.waiting_calls()  # back in the queue, the clock still running
    floor.engine.set_ready("a2")
    assert ("connect", "SID1", "a2") in floor.carrier.actions


def test_preview_binds_each_call_to_its_agent_and_never_drops() -> None:
    floor = make_floor("preview")
    floor.engine.login("a1")
    assert floor.engine.tick() == 1
    assert floor.engine.board.get("a1").state is AgentState.RESERVED
    assert floor.engine.tick() == 0
    floor.carrier.send("SID1", "completed", "busy")
    assert floor.engine.board.get("a1").state is AgentState.READY
    floor.engine.tick()
    floor.carrier.answer("SID2")
    assert ("connect", "SID2", "a1") in floor.carrier.actions


def test_a_refused_number_is_closed_as_bad_and_the_floor_goes_on() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.carrier.refuse_next = CarrierError("invalid 'To' number", permanent=True)
    assert floor.engine.tick() == 1
    assert floor.recorder.finished[-1].disposition == "BAD"
    assert floor.engine.tick() == 1  # the agent is still free: the next lead is dialed


def test_a_call_whose_final_webhook_never_comes_is_written_off() -> None:
    floor = make_floor(ring_timeout_s=20, lost_call_grace_s=30)
    floor.engine.login("a1")
    floor.engine.tick()
    floor.carrier.send("SID1", "initiated")
    floor.advance(49)
    floor.engine.tick()
    assert floor.engine.counters.lost_calls == 0
    floor.advance(2)
    floor.engine.tick()
    assert floor.engine.counters.lost_calls == 1
    assert ("hangup", "SID1", "") in floor.carrier.actions


def test_the_observation_counts_the_floor() -> None:
    floor = make_floor("ratio:3")
    floor.engine.login("a1")
    floor.engine.login("a2", ready=False)
    floor.engine.tick()
    floor.carrier.send("SID1", "initiated")
    obs = floor.engine.observation()
    assert (obs.ready, obs.paused, obs.working) == (1, 1, 1)
    assert (obs.queued, obs.dialing, obs.waiting) == (2, 1, 0)
    assert obs.totals.dials == 3


def test_engine_config_refuses_a_ring_timeout_below_the_legal_minimum() -> None:
    with pytest.raises(ValueError, match="15"):
        EngineConfig(campaign_id=1, caller_id="+12125550100", ring_timeout_s=14)


def test_every_agent_move_is_recorded() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.pause("a1", "coffee")
    floor.engine.set_ready("a1")
    floor.engine.logout("a1")
    assert [m.new for m in floor.recorder.moves] == [
        AgentState.READY, AgentState.PAUSED, AgentState.READY, AgentState.OFFLINE,
    ]
    assert floor.recorder.moves[1].reason == "coffee"


def test_the_engine_runs_on_its_own_ticks_once_started() -> None:
    floor = make_floor()
    floor.engine.login("a1")
    floor.engine.start()
    floor.advance(0.5)
    assert len(floor.carrier.placed) == 1
    floor.carrier.send("SID1", "completed", "no-answer")
    floor.advance(1.0)
    assert len(floor.carrier.placed) == 2
    floor.engine.stop()
    floor.carrier.send("SID2", "completed", "no-answer")
    floor.advance(5.0)
    assert len(floor.carrier.placed) == 2


def test_past_its_abandonment_target_a_campaign_only_dials_for_free_agents_whatever_the_pacer() -> None:
    floor = make_floor("ratio:3")
    for i in range(3):
        floor.engine.login(f"a{i}")
    floor.engine.counters.answered = 40
    floor.engine.counters.abandoned = 3  # 7.5% of live answers
    assert floor.engine.tick() == 3  # not 9
    floor.engine.counters.abandoned = 1
    assert floor.engine.tick() == 6  # back under: the ratio again (9 lines for 3 agents, 3 in flight)


def test_a_benchmark_can_turn_the_budget_hold_off_to_measure_a_pacer_as_it_is() -> None:
    floor = make_floor("ratio:3", hold_over_budget=False)
    for i in range(3):
        floor.engine.login(f"a{i}")
    floor.engine.counters.answered = 40
    floor.engine.counters.abandoned = 3
    assert floor.engine.tick() == 9


def test_the_budget_remembers_the_thirty_days_before_the_engine_started() -> None:
    floor = make_floor("ratio:3")
    for i in range(3):
        floor.engine.login(f"a{i}")
    floor.engine.budget_history = (100, 8)  # 8% over the last 30 days
    assert floor.engine.tick() == 3  # held to progressive from the first tick


def test_no_pacer_passes_the_campaigns_maximum_dial_level() -> None:
    floor = make_floor("ratio:5", max_dial_level=2.0)
    for i in range(3):
        floor.engine.login(f"a{i}")
    assert floor.engine.tick() == 6  # 2 lines for each of 3 working agents, not 15
    floor.carrier.answer("SID1")  # one line now has an agent; still 6 lines in all
    assert floor.engine.tick() == 0


def test_a_maximum_dial_level_below_progressive_is_refused() -> None:
    with pytest.raises(ValueError, match="max_dial_level"):
        EngineConfig(campaign_id=1, caller_id="+12125550100", max_dial_level=0.5)


# ---------------------------------------------------------------------------------- placements in the background


class _PendingCarrier(ScriptedCarrier):
    """Places in the background, like the live dialer's threaded carrier: the CallSid comes later."""

    def place_call(self, request: DialRequest) -> str:
        self.placed.append(request)
        return PENDING_SID


def _pending_floor() -> tuple[Engine, _PendingCarrier, MemoryRecorder]:
    floor = make_floor()
    carrier = _PendingCarrier(floor.loop)
    carrier.engine = floor.engine
    floor.engine.carrier = carrier
    return floor.engine, carrier, floor.recorder


def test_a_call_placed_in_the_background_finds_its_events_only_once_its_carrier_id_is_known() -> None:
    engine, carrier, recorder = _pending_floor()
    engine.login("a1")
    engine.tick()
    [request] = carrier.placed
    assert not engine.holds("CA1")

    engine.placed(request.call_id, "CA1")
    carrier.answer("CA1")

    assert engine.holds("CA1")
    assert ("connect", "CA1", "a1") in carrier.actions
    assert engine.counters.unknown_events == 0
    assert (request.call_id, "queued") in recorder.changes


def test_a_background_placement_the_carrier_refused_closes_the_attempt_as_not_dialed() -> None:
    engine, carrier, recorder = _pending_floor()
    engine.login("a1")
    engine.tick()
    [request] = carrier.placed

    engine.place_failed(request.call_id, CarrierError("no token", retry_after_s=0.5))

    [finished] = recorder.finished
    assert finished.call_id == request.call_id and finished.disposition == "NA"
    assert engine.counters.carrier_errors == 1
    assert engine.live_calls() == []


def test_a_carrier_id_arriving_for_a_call_already_given_up_hangs_that_call_up() -> None:
    engine, carrier, _ = _pending_floor()

    engine.placed("c7-404-1", "CA404")

    assert carrier.actions == [("hangup", "CA404", "")]



def test_calls_present_the_campaigns_caller_ids_in_turn_and_each_call_keeps_the_one_it_showed() -> None:
    floor = make_floor("ratio:3", caller_ids=("+12125550101", "+12125550100", "+12125550102"))
    floor.engine.login("a1")
    floor.engine.login("a2")

    floor.engine.tick()

    shown = [request.caller_id for request in floor.carrier.placed]
    assert shown == ["+12125550100", "+12125550101", "+12125550102", "+12125550100", "+12125550101",
                     "+12125550102"]
    kept = {live.call.call_id: attempt_row(live.call)["caller_id"] for live in floor.engine._live.values()}
    assert kept == {request.call_id: request.caller_id for request in floor.carrier.placed}


def test_a_colleague_held_for_a_warm_transfer_goes_ready_when_the_call_ends() -> None:
    floor = make_floor()
    floor.engine.login("alice")
    floor.engine.tick()
    floor.carrier.answer("SID1")
    floor.carrier.send("SID1", "bridged")
    floor.engine.login("dora")
    call_id = floor.engine.board.get("alice").call_id
    floor.engine.board.move("dora", AgentState.RESERVED, floor.loop.now(), call_id=call_id)  # consulted

    floor.carrier.send("SID1", "completed")

    assert floor.engine.board.get("dora").state is AgentState.READY
    assert floor.engine.board.get("alice").state is AgentState.WRAP_UP
