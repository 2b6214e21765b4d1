"""Progressive and oracle occupancy bounds (pacing.md section 4)."""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest

from dialer.simulation.analytic import (
    constant_p_human,
    oracle_occupancy,
    progressive_occupancy,
    progressive_terms,
    ring_answer_stats,
)
from dialer.simulation.draws import Draws
from dialer.simulation.scenario import Scenario, parse_scenario

# pacing.md section 4's worked example, as closely as the scenario format allows:
# p=0.2; 50% no-answer at a 25 s timeout; 20% machine at 8 s ring + 3 s AMD; 5% busy at
# 4 s; 5% invalid at 2 s; R_h = 8 s; T = 120 s; W = 20 s. The example has no setup
# delay, a fixed 8 s ring (p90 = median makes the lognormal a point), a detector that
# never misses a machine, and fixed busy/invalid/AMD times: all expressible here.
WORKED_EXAMPLE: dict[str, Any] = {
    "p_human": 0.2,
    "p_machine": 0.2,
    "p_busy": 0.05,
    "p_invalid": 0.05,
    "ring_timeout_s": 25,
    "ring_median_s": 8,
    "ring_p90_s": 8,
    "setup_s": [0, 0],
    "amd_s": [3, 3],
    "amd_machine_as_human": 0,
    "busy_s": [4, 4],
    "invalid_s": [2, 2],
    "talk_mean_s": 120,
    "wrap_fixed_s": 5,
    "wrap_exp_mean_s": 15,
}


def test_the_worked_example_of_pacing_md_is_reproduced() -> None:
    s = parse_scenario(WORKED_EXAMPLE)
    terms = progressive_terms(s)
    # The intermediate figures are stated exactly in pacing.md, so they must match exactly.
    assert terms.d_f == pytest.approx(18.75)
    assert terms.s == pytest.approx(83.0)
    assert terms.r_h == pytest.approx(8.0)
    # The headline figures are rounded to whole percents (54%, 86%): half a point of
    # tolerance is exactly that rounding, and the exact values are 120/223 and 120/140.
    assert progressive_occupancy(s) == pytest.approx(0.54, abs=0.005)
    assert oracle_occupancy(s) == pytest.approx(0.86, abs=0.005)
    assert progressive_occupancy(s) == pytest.approx(120 / 223)
    # 32 and 51 talk-minutes per hour, also rounded.
    assert 60 * progressive_occupancy(s) == pytest.approx(32, abs=0.5)
    assert 60 * oracle_occupancy(s) == pytest.approx(51, abs=0.5)


def test_the_default_world_is_a_little_worse_than_the_worked_example() -> None:
    """Setup delay, a longer mean ring and missed machines all lengthen the idle time S."""
    occupancy = progressive_occupancy(Scenario())
    assert 0.48 < occupancy < progressive_occupancy(parse_scenario(WORKED_EXAMPLE))
    assert oracle_occupancy(Scenario()) == pytest.approx(120 / 140)


def test_progressive_occupancy_rises_with_the_answer_rate() -> None:
    values = [progressive_occupancy(parse_scenario({"p_human": p})) for p in (0.05, 0.1, 0.2, 0.4, 0.7)]
    assert values == sorted(values)
    assert all(v < 120 / 140 for v in values)


def test_nobody_answering_gives_zero_occupancy() -> None:
    assert progressive_occupancy(parse_scenario({"p_human": 0})) == 0.0
    # A fixed ring longer than the timeout: every call rings out.
    never = parse_scenario({"ring_median_s": 30, "ring_p90_s": 30, "ring_timeout_s": 25})
    assert ring_answer_stats(never)[0] == 0.0
    assert progressive_occupancy(never) == 0.0


def test_a_zero_talk_time_gives_zero_occupancy_without_dividing_by_zero() -> None:
    s = parse_scenario({"talk_mean_s": 0, "wrap_fixed_s": 0, "wrap_exp_mean_s": 0})
    assert oracle_occupancy(s) == 0.0
    assert progressive_occupancy(s) == 0.0


def test_a_changing_answer_rate_has_no_single_progressive_bound() -> None:
    with pytest.raises(ValueError, match="step function"):
        progressive_occupancy(parse_scenario({"p_human": [[0, 0.1], [3, 0.25]]}))
    with pytest.raises(ValueError, match="p_daily_range"):
        progressive_occupancy(parse_scenario({"p_daily_range": [0.12, 0.24]}))
    # Steps that repeat one value are still a constant.
    assert constant_p_human(parse_scenario({"p_human": [[0, 0.2], [3, 0.2]]})) == 0.2


@pytest.mark.parametrize(
    ("median", "p90", "timeout"),
    [(8, 18, 25), (20, 40, 15), (8, 30, 60)],
)
def test_the_truncated_ring_time_matches_sampled_ring_times(
    median: float, p90: float, timeout: float
) -> None:
    s = parse_scenario({"ring_median_s": median, "ring_p90_s": p90, "ring_timeout_s": timeout})
    answered, mean_ring = ring_answer_stats(s)
    draws = Draws(s, random.Random(2024))
    rings = [draws.ring_answer() for _ in range(20_000)]
    below = [r for r in rings if r < timeout]
    # 4 standard errors of a share and of a mean of at least ~6,000 values.
    assert len(below) / len(rings) == pytest.approx(answered, abs=4 * math.sqrt(0.25 / len(rings)))
    assert statistics.fmean(below) == pytest.approx(
        mean_ring, abs=4 * statistics.stdev(below) / math.sqrt(len(below))
    )
    assert mean_ring < timeout


def _simulate_progressive(s: Scenario, seed: int, humans: int) -> float:
    """One agent dialing 1:1 with the scenario's own draws, until ``humans`` people talked."""
    draws = Draws(s, random.Random(seed))
    p = constant_p_human(s)
    clock = talk_total = 0.0
    talked = 0
    while talked < humans:
        clock += draws.setup()
        outcome = draws.outcome(p)
        if outcome in ("human", "machine"):
            ring = draws.ring_answer()
            if ring >= s.ring_timeout_s:
                clock += s.ring_timeout_s
            elif outcome == "human":
                talk = draws.talk(1.0)
                clock += ring + talk + draws.wrap()
                talk_total += talk
                talked += 1
            elif draws.amd_verdict("machine") == "machine":
                clock += ring + draws.amd()
            else:
                clock += ring + s.machine_heard_s
        elif outcome == "busy":
            clock += draws.busy()
        elif outcome == "invalid":
            clock += draws.invalid()
        else:
            clock += s.ring_timeout_s
    return talk_total / clock


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"p_human": 0.1, "ring_median_s": 15, "ring_p90_s": 40, "ring_timeout_s": 20},
        {"p_human": 0.3, "talk_mean_s": 45, "talk_cv": 0.5, "wrap_fixed_s": 5, "wrap_exp_mean_s": 5},
    ],
)
def test_the_progressive_bound_matches_a_simulated_progressive_agent(settings: dict[str, Any]) -> None:
    # The bound ignores people the detector mistakes for machines, so the check does too.
    s = parse_scenario({**settings, "amd_human_as_machine": 0})
    simulated = _simulate_progressive(s, seed=99, humans=10_000)
    # With 10,000 talks of CV <= 1 the mean talk has a ~1% standard error, which moves the
    # occupancy by about (1 - occ) * 1% < 0.6 points; 2 points is over 3 standard errors.
    assert simulated == pytest.approx(progressive_occupancy(s), abs=0.02)
