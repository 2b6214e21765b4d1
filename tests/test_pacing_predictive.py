"""The predictive pacer: safe when it knows little, bolder than progressive when it knows enough."""

from __future__ import annotations

from campaigns.simulate import run_simulation
from dialer.agents import AgentState
from dialer.pacing import AgentView, CallView, Observation, PacerEvent, Totals, make_pacer
from dialer.pacing.predictive import PredictivePacer, SortedWindow, _Learning
from dialer.simulation.scenario import parse_scenario


def observation(ready: int, on_call: int = 0, *, totals: Totals | None = None, in_call_s: float = 100.0,
                calls: tuple[CallView, ...] = ()) -> Observation:
    agents = tuple(AgentView(f"r{i}", AgentState.READY, 5.0, None) for i in range(ready)) + tuple(
        AgentView(f"b{i}", AgentState.ON_CALL, in_call_s, f"c{i}") for i in range(on_call)
    )
    return Observation(
        now=10_000.0, agents=agents, calls=calls, ready=ready, reserved=0, on_call=on_call, wrap_up=0, paused=0,
        working=ready + on_call, queued=0, dialing=len(calls), waiting=0, cps_limit=10.0, target_abandon=0.03,
        tick_s=1.0, totals=totals or Totals(),
    )


def trained(pacer: PredictivePacer, *, dials: int = 300, answer_every: int = 3) -> PredictivePacer:
    """Feed the pacer a plausible history: answers after 10 s, busy periods of 140 s."""
    t = 0.0
    for i in range(dials):
        call = f"h{i}"
        pacer.observe(PacerEvent("placed", t, call))
        if i % answer_every == 0:
            pacer.observe(PacerEvent("answered", t + 10, call))
            pacer.observe(PacerEvent("ended", t + 60, call, detail="human"))
        else:
            pacer.observe(PacerEvent("ended", t + 25, call, detail="no_answer"))
        t += 1.0
    ready, reserved = AgentState.READY.value, AgentState.RESERVED.value
    on_call, wrap = AgentState.ON_CALL.value, AgentState.WRAP_UP.value
    for i in range(40):
        agent = f"x{i}"
        pacer.observe(PacerEvent("agent", t, None, agent, on_call, reserved, 0.5))
        pacer.observe(PacerEvent("agent", t + 120, None, agent, wrap, on_call, 120))
        pacer.observe(PacerEvent("agent", t + 140, None, agent, ready, wrap, 20))
    return pacer


def test_with_no_history_it_dials_exactly_like_progressive() -> None:
    pacer = make_pacer("predictive")
    assert pacer.calls_to_place(observation(ready=4, on_call=6)) == 4


def test_with_history_it_dials_ahead_for_agents_about_to_free_up() -> None:
    pacer = trained(PredictivePacer())
    pacer.theta = 0.05
    assert pacer.calls_to_place(observation(ready=4, on_call=6, in_call_s=130.0)) > 4


def test_it_never_places_fewer_calls_than_progressive() -> None:
    pacer = trained(PredictivePacer())
    pacer.theta = 0.0005
    assert pacer.calls_to_place(observation(ready=5)) >= 5


def test_over_the_abandonment_target_it_falls_back_to_progressive() -> None:
    pacer = trained(PredictivePacer())
    pacer.theta = 0.5
    over = Totals(dials=1000, answered=400, live_answers=300, abandoned=12, connected=288)
    assert pacer.calls_to_place(observation(ready=3, on_call=7, in_call_s=130.0, totals=over)) == 3


def test_a_drop_makes_it_more_careful_and_clean_answers_make_it_bolder() -> None:
    pacer = PredictivePacer()
    start = pacer.theta
    pacer._update_rate(1.0)
    assert pacer.theta < start
    after_drop = pacer.theta
    for _ in range(50):
        pacer._update_rate(0.0)
    assert pacer.theta > after_drop


def test_a_sudden_fall_in_the_answer_rate_restarts_the_learning_window() -> None:
    learn = _Learning()
    learn.outcomes.extend([1, 0, 0, 0] * 100)  # 25% answered
    learn.outcomes.extend([0] * 60)  # then nothing answers
    learn.detect_shift()
    assert learn.answer_rate() == 0.0


def test_a_sorted_window_answers_conditional_questions() -> None:
    window = SortedWindow(5)
    for value in (10, 20, 30, 40, 50, 60):  # 10 falls out
        window.add(value)
    assert len(window) == 5
    assert window.cond_done_by(25.0, 10.0) == 1 / 4  # of 30, 40, 50, 60 only 30 ends by 35
    assert window.quantile(0.5) == 40


def test_on_a_simulated_floor_it_beats_progressive_within_the_abandonment_limit() -> None:
    scenario = parse_scenario({"name": "floor", "agents": 12, "hours": 3})
    progressive = run_simulation(scenario, "progressive", 5)
    predictive = run_simulation(scenario, "predictive", 5)
    assert predictive["occupancy"] > progressive["occupancy"] + 0.05
    assert predictive["abandonment_rate"] <= 0.03
    assert predictive["dials_without_agents"] == 0
