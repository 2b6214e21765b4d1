"""The predictive pacer: safe when it knows little, bolder than progressive when it knows enough."""

from __future__ import annotations

import pytest

from campaigns.simulate import run_simulation
from dialer.agents import AgentState
from dialer.pacing import AgentView, CallView, Observation, PacerEvent, Totals, make_pacer
from dialer.pacing.predictive import TAIL_PRIOR, PredictivePacer, SortedWindow, _Learning, _split_statistic
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
    # Of 30, 40, 50, 60 only 30 ends by 35: 1/4, shrunk towards the tail guess (10/25 x 0.5)
    # with TAIL_PRIOR pseudo-samples.
    guess = 0.5 * 10 / 25
    assert window.cond_done_by(25.0, 10.0) == pytest.approx((1 + guess * TAIL_PRIOR) / (4 + TAIL_PRIOR))
    assert window.quantile(0.5) == 40


def test_on_a_simulated_floor_it_beats_progressive_within_the_abandonment_limit() -> None:
    scenario = parse_scenario({"name": "floor", "agents": 12, "hours": 3})
    progressive = run_simulation(scenario, "progressive", 5)
    predictive = run_simulation(scenario, "predictive", 5)
    assert predictive["occupancy"] > progressive["occupancy"] + 0.05
    assert predictive["abandonment_rate"] <= 0.03
    assert predictive["dials_without_agents"] == 0


def test_when_the_answer_rate_falls_from_25_to_5_percent_it_recovers_within_3_minutes_without_drops(
    tmp_path,
) -> None:
    """A list switch mid-day: the pacer must dial five times faster, quickly, and drop nobody doing so."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from campaigns.models import CallAttempt

    switch_s = 1440.0
    scenario = parse_scenario(
        {"name": "shift", "agents": 15, "hours": 1.0, "cps": 20, "p_human": [[0, 0.25], [switch_s / 3600, 0.05]]}
    )
    url = f"sqlite:///{tmp_path / 'shift.db'}"
    figures = run_simulation(scenario, "predictive", 1, database_url=url)
    db = create_engine(url)
    with Session(db) as session:
        rows = session.execute(select(CallAttempt.placed_at, CallAttempt.abandoned_at)).all()
    db.dispose()
    start = min(placed for placed, _ in rows)

    def per_minute(lo: float, hi: float) -> tuple[float, int]:
        placed = [(p - start).total_seconds() - switch_s for p, _ in rows]
        inside = [i for i, t in enumerate(placed) if lo <= t < hi]
        return len(inside) / ((hi - lo) / 60.0), sum(1 for i in inside if rows[i][1] is not None)

    before, _ = per_minute(-600, 0)
    settled, _ = per_minute(1200, 2160)
    assert settled > 3 * before  # it learned the new rate at all
    caught_up = next(m for m in range(30) if per_minute(60 * m, 60 * (m + 1))[0] >= 0.8 * settled)
    assert caught_up + 1 <= 3  # ... and dialed at 80% of it within 3 minutes of the switch
    _, drops = per_minute(0, 600)
    assert drops <= 1  # no burst of drops while it catches up
    assert figures["abandonment_rate"] <= 0.03


def test_calls_still_running_make_early_estimates_of_busy_time_longer() -> None:
    """At the start of a day only short calls have ended; the running ones must count."""
    window = SortedWindow(300)
    for value in (30.0, 40.0, 50.0):  # the three short calls that ended first
        window.add(value)
    running = [60.0, 120.0, 180.0, 240.0]  # agents still talking
    naive = window.cond_done_by(20.0, 30.0)
    censored = window.cond_done_by(20.0, 30.0, running, 1.0)
    assert censored < naive


def test_the_shift_statistic_sees_a_fall_from_25_to_5_percent_in_80_dials_but_not_noise() -> None:
    assert _split_statistic(150, 600, 4, 80) > 15.1  # 25% before, 5% in the last 80 dials
    assert _split_statistic(150, 600, 18, 80) < 15.1  # 22.5% in the last 80: chance


def test_answers_count_towards_the_rate_in_the_order_their_dials_were_placed() -> None:
    """A burst's answers come back first and its no-answers later; the window must not see a run of zeros."""
    pacer = PredictivePacer()
    for i in range(4):
        pacer.observe(PacerEvent("placed", float(i), f"c{i}"))
    pacer.observe(PacerEvent("ended", 25.0, "c1", detail="no_answer"))
    pacer.observe(PacerEvent("ended", 26.0, "c2", detail="no_answer"))
    assert list(pacer.learn.outcomes) == []  # c0 is still ringing: nothing after it counts yet
    pacer.observe(PacerEvent("answered", 27.0, "c0"))
    assert list(pacer.learn.outcomes) == [1, 0, 0]


def test_answers_to_calls_placed_under_a_cap_do_not_wind_theta_up() -> None:
    """The engine placed fewer calls than asked (a dial-level cap): their clean answers say nothing about theta."""
    pacer = trained(PredictivePacer())
    asked = pacer.calls_to_place(observation(ready=5))
    assert asked >= 2
    pacer.observe(PacerEvent("placed", 10_000.0, "capped"))  # the engine placed one of them
    pacer.calls_to_place(observation(ready=4, on_call=1))
    theta = pacer.theta
    pacer.observe(PacerEvent("answered", 10_008.0, "capped"))
    pacer.observe(PacerEvent("ended", 10_100.0, "capped", detail="human"))
    assert pacer.theta == theta

    asked = pacer.calls_to_place(observation(ready=5))
    for i in range(asked):  # this time the engine placed every call asked for
        pacer.observe(PacerEvent("placed", 10_200.0, f"free{i}"))
    pacer.calls_to_place(observation(ready=5))
    pacer.observe(PacerEvent("answered", 10_208.0, "free0"))
    pacer.observe(PacerEvent("ended", 10_300.0, "free0", detail="human"))
    assert pacer.theta > theta
