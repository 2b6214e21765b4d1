"""The baseline pacers the predictive one must beat: VICIdial's adaptive modes and an Impact-style replay.

A baseline that is weaker than the real thing flatters our pacer, so these
tests pin the clones' arithmetic to the formulas of
``shared/reference/pacing.md`` sections 1 and 2 on hand-built floors, and
run each once through the real simulator.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

from campaigns.simulate import run_simulation
from dialer.pacing import Observation, PacerError, PacerEvent, Totals, make_pacer
from dialer.pacing.impact import ImpactPacer, SimAttempt, best_ratio, candidate_dials, simulate
from dialer.pacing.vicidial import HARD_LIMIT, TAPERED, DropStats, VicidialPacer
from dialer.simulation.scenario import load_scenario, parse_scenario

REPO = Path(__file__).resolve().parent.parent
NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=NY).timestamp()


def floor(
    now: float,
    *,
    ready: int = 0,
    reserved: int = 0,
    on_call: int = 0,
    wrap_up: int = 0,
    paused: int = 0,
    queued: int = 0,
    dialing: int = 0,
    waiting: int = 0,
    totals: Totals | None = None,
) -> Observation:
    return Observation(
        now=now,
        agents=(),
        calls=(),
        ready=ready,
        reserved=reserved,
        on_call=on_call,
        wrap_up=wrap_up,
        paused=paused,
        working=ready + reserved + on_call + wrap_up,
        queued=queued,
        dialing=dialing,
        waiting=waiting,
        cps_limit=None,
        target_abandon=0.03,
        tick_s=1.0,
        totals=totals or Totals(),
    )


def tick_for(pacer: VicidialPacer, start: float, seconds: int, **counts: int) -> list[int]:
    """Ask the pacer once a second, as the engine does, on an unchanging floor."""
    return [pacer.calls_to_place(floor(start + s, **counts)) for s in range(seconds)]


def dials(
    pacer: VicidialPacer | ImpactPacer, at: float, n: int, *, humans: int = 0, drops: int = 0, prefix: str = "c"
) -> None:
    """``n`` calls placed at ``at``; the first ``humans`` answered by people, the first ``drops`` of those dropped."""
    for i in range(n):
        call = f"{prefix}{at}-{i}"
        pacer.observe(PacerEvent("placed", at, call))
        if i < humans:
            pacer.observe(PacerEvent("answered", at + 5, call))
            pacer.observe(PacerEvent("amd", at + 8, call, detail="human"))
        if i < drops:
            pacer.observe(PacerEvent("abandoned", at + 7, call))


# --- VICIdial: the dial level ----------------------------------------------------------------------


def test_the_dial_level_starts_at_one_and_rises_while_agents_sit_idle() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    assert pacer.dial_level == 1.0
    tick_for(pacer, T0, 15, ready=10)
    assert pacer.dial_level == 1.0  # the first step comes after 15 s
    pacer.calls_to_place(floor(T0 + 15, ready=10))
    assert pacer.dial_level == 2.0  # r = (10 - 0) / 10: DL x (1 + 1)
    tick_for(pacer, T0 + 16, 15, ready=10)
    assert pacer.dial_level == 3.0  # 4.0 clamped to adaptive_maximum_level


def test_the_step_is_idle_minus_waiting_over_all_agents_paused_included() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    tick_for(pacer, T0, 16, ready=2, on_call=4, paused=4)
    assert pacer.dial_level == pytest.approx(1.2)  # (2 - 0) / 10, the paused four damp the step


def test_the_dial_level_falls_when_people_wait_and_never_below_one() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.dial_level = 2.5
    tick_for(pacer, T0, 16, on_call=10, waiting=2)
    assert pacer.dial_level == pytest.approx(2.0)  # r = -2/10: 2.5 x 0.8
    tick_for(pacer, T0 + 16, 15, on_call=10, waiting=10)
    assert pacer.dial_level == 1.0  # 2.0 x 0 -> raised to 1.0


def test_the_moving_average_covers_the_last_fifteen_seconds() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    tick_for(pacer, T0, 6, on_call=10)
    tick_for(pacer, T0 + 6, 10, ready=3, on_call=7)
    # the samples at 1..15 s: five with no one ready, ten with three: avg 2.0, r = 0.2
    assert pacer.averages() == pytest.approx((2.0, 10.0, 0.0))
    assert pacer.dial_level == pytest.approx(1.2)


def test_intensity_scales_rises_and_falls_as_in_the_perl() -> None:
    up = VicidialPacer(HARD_LIMIT, intensity=20)
    tick_for(up, T0, 16, ready=1, on_call=9)
    assert up.dial_level == pytest.approx(1.12)  # r = 0.1 x (1 + 0.2)
    down = VicidialPacer(HARD_LIMIT, intensity=20)
    down.dial_level = 2.0
    tick_for(down, T0, 16, on_call=10, waiting=1)
    assert down.dial_level == pytest.approx(1.84)  # r = -0.1 x |0.2 - 1|


def test_hard_limit_pins_one_once_the_days_drops_pass_three_percent_of_human_answers() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.calls_to_place(floor(T0, ready=10))
    dials(pacer, T0 + 1, 60, humans=40, drops=2)  # 2 / 40 = 5 % of answers, 3.3 % of dials
    tick_for(pacer, T0 + 1, 59, ready=10)
    assert pacer.dial_level == 3.0  # the clamps read figures counted every 60 s: not yet
    pacer.calls_to_place(floor(T0 + 60, ready=10))
    assert pacer.drop_stats == DropStats(calls_today=60, drops_today=2, answers_today=40, calls_one=60, drops_one=2)
    assert pacer.dial_level == 1.0
    tick_for(pacer, T0 + 61, 60, ready=10)
    assert pacer.dial_level == 1.0  # pinned while today's drops stay over the limit


def test_hard_limit_waits_for_more_than_fifty_dials_today() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.calls_to_place(floor(T0, ready=10))
    dials(pacer, T0 + 1, 50, humans=10, drops=5)
    tick_for(pacer, T0 + 1, 60, ready=10)
    assert pacer.drop_stats.calls_today == 50
    assert pacer.dial_level == 3.0


def test_machine_verdicts_are_not_human_answers() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.calls_to_place(floor(T0, ready=10))
    dials(pacer, T0 + 1, 60, humans=40, drops=1)  # 1 / 40 = 2.5 %: under the limit
    for i in range(10):
        pacer.observe(PacerEvent("amd", T0 + 9, f"c{T0 + 1}-{i + 1}", detail="machine"))  # 10 were machines
    tick_for(pacer, T0 + 1, 60, ready=10)
    assert pacer.drop_stats.answers_today == 30  # 1 / 30 = 3.33 % > 3 %
    assert pacer.dial_level == 1.0


def test_over_half_the_last_minutes_dials_dropped_halves_the_level() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.dial_level = 3.0
    pacer.calls_to_place(floor(T0, on_call=10))
    dials(pacer, T0 + 1, 30, humans=20, drops=16)  # 16 / 30 dials = 53 %; only 30 dials today: no day clamp
    tick_for(pacer, T0 + 1, 60, on_call=10)
    assert pacer.drop_stats.drops_one_pct == pytest.approx(53.33)
    assert pacer.dial_level == 1.5


def test_the_day_clamp_forgets_yesterday() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.calls_to_place(floor(T0, ready=10))
    dials(pacer, T0 + 1, 60, humans=40, drops=4)
    tick_for(pacer, T0 + 1, 60, ready=10)
    assert pacer.dial_level == 1.0
    tomorrow = T0 + 86400.0
    tick_for(pacer, tomorrow, 31, ready=10)
    assert pacer.drop_stats.calls_today == 0
    assert pacer.dial_level == 3.0  # nothing dropped today: the controller is free again


def test_a_long_gap_between_ticks_starts_a_new_day() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.calls_to_place(floor(T0, ready=10))
    dials(pacer, T0 + 1, 60, humans=40, drops=4)
    tick_for(pacer, T0 + 1, 60, ready=10)
    assert pacer.drop_stats.drops_today == 4
    tick_for(pacer, T0 + 3600.0, 16, ready=10)  # same date, an hour later: the engine was stopped
    assert pacer.drop_stats.calls_today == 0
    assert pacer.dial_level == 2.0


def test_tapered_scales_by_the_hhmm_time_left_before_the_end() -> None:
    pacer = VicidialPacer(TAPERED, end_hhmm=2100)
    over = DropStats(calls_today=100, drops_today=5, answers_today=50)
    pacer.drop_stats = over
    at = datetime(2026, 3, 2, 15, 30, tzinfo=NY).timestamp()
    assert pacer.tapered_rate(at) == (570, 0.57)  # 2100 - 1530, HHMM arithmetic
    pacer.dial_level = 2.0
    assert pacer.next_dial_level(at, 0.03) == pytest.approx(1.14)
    early = datetime(2026, 3, 2, 10, 30, tzinfo=NY).timestamp()
    assert pacer.tapered_rate(early) == (1070, 1.0)
    assert pacer.next_dial_level(early, 0.03) == 2.0
    late = datetime(2026, 3, 2, 21, 5, tzinfo=NY).timestamp()
    assert pacer.next_dial_level(late, 0.03) == 1.0  # past the end
    pacer.drop_stats = DropStats(calls_today=100, drops_today=1, answers_today=50)  # 2 %: under
    assert pacer.next_dial_level(at, 0.03) == 2.0


def test_the_campaign_target_is_the_drop_limit_unless_one_is_given() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.dial_level = 2.0
    pacer.drop_stats = DropStats(calls_today=100, drops_today=1, answers_today=50)  # 2 %
    assert pacer.next_dial_level(T0, 0.03) == 2.0
    assert pacer.next_dial_level(T0, 0.015) == 1.0
    strict = VicidialPacer(HARD_LIMIT, drop_pct=1.0)
    strict.dial_level, strict.drop_stats = 2.0, pacer.drop_stats
    assert strict.next_dial_level(T0, 0.03) == 1.0


# --- VICIdial: placing calls -------------------------------------------------------------------------


def test_a_round_tops_the_lines_up_to_the_level_per_working_agent() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    pacer.dial_level = 2.0
    obs = floor(T0, ready=2, on_call=6, wrap_up=2, paused=3, queued=1, dialing=5, waiting=1)
    assert pacer.make_calls(obs) == 20 - (1 + 5 + 1 + 6)
    pacer.dial_level = 1.25
    assert pacer.make_calls(floor(T0, ready=2)) == 2  # round(2.5) = 2, half to even as Perl's sprintf
    assert pacer.make_calls(floor(T0, paused=4)) == 0


def test_calls_are_placed_every_two_and_a_half_seconds_only() -> None:
    pacer = VicidialPacer(HARD_LIMIT)
    placed = tick_for(pacer, T0, 11, ready=4)
    assert [t for t, n in enumerate(placed) if n] == [0, 3, 5, 8, 10]  # the first tick at or after each 2.5-s mark
    assert set(placed) == {0, 4}


def test_vicidial_pacers_are_built_by_name_with_options() -> None:
    hard = make_pacer("vicidial-hard")
    assert isinstance(hard, VicidialPacer)
    assert (hard.name, hard.mode, hard.max_level, hard.dial_level) == ("vicidial-hard", HARD_LIMIT, 3.0, 1.0)
    assert isinstance(capped := make_pacer("vicidial-hard:2.5"), VicidialPacer) and capped.max_level == 2.5
    tapered = make_pacer("vicidial-tapered:max=2,end=16:00,intensity=-10,tz=America/Chicago")
    assert isinstance(tapered, VicidialPacer)
    assert (tapered.name, tapered.end_hhmm, tapered.max_level, tapered.intensity) == (
        "vicidial-tapered",
        1600,
        2.0,
        -10,
    )
    for bad in (
        "vicidial-hard:0.5",
        "vicidial-hard:speed=2",
        "vicidial-tapered:end=25:00",
        "vicidial-hard:tz=Mars/Base",
    ):
        with pytest.raises(PacerError):
            make_pacer(bad)


# --- Impact ------------------------------------------------------------------------------------------


def feed_attempts(pacer: ImpactPacer, start: float, n: int, *, every: int = 5) -> None:
    """``n`` attempts one second apart; every ``every``-th answered by a person who talks 60 s and wraps 10 s."""
    for i in range(n):
        at, call = start + i, f"a{i}"
        pacer.observe(PacerEvent("placed", at, call))
        if i % every == 0:
            pacer.observe(PacerEvent("answered", at + 8, call))
            pacer.observe(PacerEvent("agent", at + 8, call, "ag", "reserved", "ready", 3.0))
            pacer.observe(PacerEvent("agent", at + 8.5, call, "ag", "on_call", "reserved", 0.5))
            pacer.observe(PacerEvent("agent", at + 68.5, call, "ag", "wrap_up", "on_call", 60.0))
            pacer.observe(PacerEvent("ended", at + 68.5, call, "ag", "human"))
            pacer.observe(PacerEvent("agent", at + 78.5, None, "ag", "ready", "wrap_up", 10.0))
        elif i % every == 1:
            pacer.observe(PacerEvent("answered", at + 6, call))
            pacer.observe(PacerEvent("amd", at + 9, call, detail="machine"))
            pacer.observe(PacerEvent("ended", at + 9, call, detail="machine"))
        else:
            pacer.observe(PacerEvent("ended", at + 20, call, detail="no_answer"))


def test_impact_replays_each_attempt_as_it_happened() -> None:
    pacer = ImpactPacer()
    feed_attempts(pacer, T0, 10)
    attempts = pacer.recent_attempts(T0 + 200, random.Random(1))
    assert attempts[0] == SimAttempt(ring_s=8, answered=True, hold_s=60, wrap_s=10)
    assert attempts[1] == SimAttempt(ring_s=6, answered=True, hold_s=3, wrap_s=0)  # a machine holds until the verdict
    assert attempts[2] == SimAttempt(ring_s=20, answered=False)
    assert pacer.recent_attempts(T0 + 2000, random.Random(1)) == []  # older than 30 minutes


def test_impact_falls_back_to_one_to_one_below_five_agents_or_fifty_attempts() -> None:
    pacer = ImpactPacer()
    feed_attempts(pacer, T0, 100)
    assert pacer.calls_to_place(floor(T0 + 200, ready=4)) == 4
    assert (pacer.best_ratio, pacer.last_results) == (1.0, [])
    few = ImpactPacer()
    feed_attempts(few, T0, 49)
    few.calls_to_place(floor(T0 + 200, ready=10))
    assert (few.best_ratio, few.last_results) == (1.0, [])
    enough = ImpactPacer()
    feed_attempts(enough, T0, 50)
    enough.calls_to_place(floor(T0 + 200, ready=10))
    assert len(enough.last_results) == 6


def test_impact_keeps_the_busiest_candidate_under_the_abandonment_target() -> None:
    # 100 attempts: one in five answers after 8 s and needs its agent for 60 s + 10 s of wrap-up.
    attempts = [SimAttempt(8, True, 60, 10) if i % 5 == 0 else SimAttempt(20, False) for i in range(100)]
    assert candidate_dials(attempts) == pytest.approx([1.0, 5 * 2 / 6, 2.5, 5 * 4 / 6, 5 * 5 / 6, 5.0])
    ratio, results = best_ratio(attempts, 10, 0.03, random.Random(7))
    assert [r.dials for r in results] == candidate_dials(attempts)
    feasible = [r for r in results if r.abandon_rate < 0.03]
    assert ratio == max(feasible, key=lambda r: r.utilization).dials
    assert ratio > 1.0  # idle agents at 1:1 and room to dial more
    assert any(r.abandon_rate >= 0.03 and r.utilization > max(f.utilization for f in feasible) for r in results)


def test_impact_simulation_is_a_pure_function_of_its_seed() -> None:
    attempts = [SimAttempt(8, True, 60, 10) if i % 4 == 0 else SimAttempt(20, False) for i in range(80)]
    first = simulate(attempts, 8, 2.0, random.Random(3))
    assert first == simulate(attempts, 8, 2.0, random.Random(3))
    assert first.answered > 0 and 0 < first.utilization < 1
    nobody = simulate([SimAttempt(5, False)] * 60, 8, 2.0, random.Random(3))
    assert math.isnan(nobody.abandon_rate)  # never kept: NaN < target is false, as in Ruby


def test_impact_pacer_uses_its_replay_live_with_back_off_and_cap() -> None:
    pacer = ImpactPacer()
    pacer.replay = lambda obs: 2.0  # type: ignore[method-assign]
    assert pacer.calls_to_place(floor(T0, ready=10, queued=1, dialing=3, waiting=1)) == 20 - 5
    over = Totals(dials=500, answered=200, live_answers=100, abandoned=4)  # 4 % > 3 %
    assert pacer.calls_to_place(floor(T0 + 1, ready=10, totals=over)) == 15  # 0.75 x 2.0
    assert pacer.dial_level == 1.5
    pacer.replay = lambda obs: 6.0  # type: ignore[method-assign]
    assert pacer.calls_to_place(floor(T0 + 61, ready=10)) == 40  # capped at 4
    assert pacer.best_ratio == 6.0 and pacer.dial_level == 4.0


def test_impact_replays_once_a_minute_with_a_fixed_seed() -> None:
    one, two = ImpactPacer(), ImpactPacer()
    for pacer in (one, two):
        feed_attempts(pacer, T0, 100, every=4)
        for s in range(0, 125):
            pacer.calls_to_place(floor(T0 + 200 + s, ready=2, on_call=8))
    assert one.replays == two.replays == 3  # at 0, 60 and 120 s
    assert one.last_results == two.last_results and one.best_ratio == two.best_ratio
    with pytest.raises(PacerError):
        make_pacer("impact:2")


# --- end to end --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["vicidial-hard", "vicidial-tapered:end=0900", "impact"])
def test_each_baseline_runs_in_the_simulator_reproducibly_and_never_dials_without_agents(spec: str) -> None:
    scenario = parse_scenario({"name": "small", "agents": 6, "hours": 1})
    first = run_simulation(scenario, spec, 5)
    again = run_simulation(scenario, spec, 5)
    assert first["dials_without_agents"] == 0
    assert first["dials"] > 100 and first["connects"] > 0
    first.pop("wall_s"), again.pop("wall_s")
    assert first == again


# --- the benchmark's own arithmetic ------------------------------------------------------------------


def bench() -> ModuleType:
    """``bench/pacing.py``, a script rather than a package, imported by path."""
    if "bench_pacing" in sys.modules:
        return sys.modules["bench_pacing"]
    spec = importlib.util.spec_from_file_location("bench_pacing", REPO / "bench" / "pacing.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_pacing"] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_bench_t_quantiles_and_shortened_days() -> None:
    b = bench()
    assert b.t975(2) == 4.303 and b.t975(60) == pytest.approx(2.0003, abs=1e-3)
    curve = load_scenario(REPO.parent / "shared" / "scenarios" / "daily-curve.json")
    short = b.shorten(curve, 4.4)
    assert short.hours == 4.4 and [h for h, _ in short.p_human] == pytest.approx([0, 1.2, 2.0, 3.2])
    assert b.effective_spec("vicidial-tapered", short) == "vicidial-tapered:end=1224"
    assert b.effective_spec("vicidial-tapered:2", curve) == "vicidial-tapered:max=2,end=1900"
    assert b.effective_spec("vicidial-hard", curve) == "vicidial-hard"


def test_bench_ratio_bisection_finds_the_highest_ratio_that_meets_the_bar() -> None:
    b = bench()
    search = b.RatioSearch(0, 0.03, grid=False)
    asked = []
    while wanted := search.wanted():
        for index in wanted:
            asked.append(index)
            ratio = b.RATIOS[index]
            abandonment = 0.02 if ratio <= 1.7 else 0.05
            search.tried[index] = [
                {"occupancy": ratio / 4, "abandonment_rate": abandonment, "worst_hour_abandonment_rate": abandonment}
            ]
    assert b.RATIOS[search.best()] == 1.7
    assert len(asked) <= 7


def test_the_benchmark_reuses_a_finished_run_and_redoes_it_when_the_code_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = bench()
    scenario = parse_scenario({"name": "cached", "agents": 2, "hours": 0.1})
    first = b.run_one(scenario, "progressive", 1, tmp_path)
    assert list(tmp_path.glob("cached-*-progressive-s1-*.json"))

    def no_simulation(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached run was simulated again")

    monkeypatch.setattr(b, "run_simulation", no_simulation)
    assert b.run_one(scenario, "progressive", 1, tmp_path) == json.loads(json.dumps(first, default=str))

    monkeypatch.setattr(b, "code_fingerprint", lambda spec: "changed")
    with pytest.raises(AssertionError, match="simulated again"):
        b.run_one(scenario, "progressive", 1, tmp_path)
