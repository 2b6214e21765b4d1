"""The simulated carrier's random draws match the distributions the README names.

Statistical checks use N = 20,000 draws with a fixed seed, so they are deterministic;
each tolerance is about 4 standard errors of the checked statistic, so a correct
implementation would pass for almost any seed and a wrong formula (e.g. using the
median where the mean is meant) fails by a wide margin.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Callable

import pytest

from dialer.simulation.draws import OUTCOMES, Draws
from dialer.simulation.scenario import Scenario, parse_scenario

N = 20_000


def _draws(seed: int = 12345, **settings: object) -> Draws:
    return Draws(parse_scenario(settings), random.Random(seed))


def _sample(draw: Callable[[], float]) -> list[float]:
    return [draw() for _ in range(N)]


def _quantile(values: list[float], q: float) -> float:
    return sorted(values)[int(q * len(values))]


def _within_se(values: list[float], expected: float, sd: float, k: float = 4.0) -> None:
    """The sample mean is within k standard errors of ``expected``."""
    assert abs(statistics.fmean(values) - expected) <= k * sd / math.sqrt(len(values))


def test_ring_time_has_the_scenarios_median_and_ninetieth_percentile() -> None:
    values = _sample(_draws().ring_answer)
    # Quantiles of 20,000 draws: the median's SE here is about 0.07 s, the p90's about 0.2 s.
    assert _quantile(values, 0.5) == pytest.approx(8.0, abs=0.3)
    assert _quantile(values, 0.9) == pytest.approx(18.0, abs=0.8)
    sigma = math.log(18 / 8) / 1.2815515655446004
    mean = 8 * math.exp(sigma**2 / 2)
    _within_se(values, mean, mean * math.sqrt(math.exp(sigma**2) - 1))


def test_ring_time_with_p90_equal_to_median_is_fixed() -> None:
    draws = _draws(ring_median_s=10, ring_p90_s=10)
    assert {draws.ring_answer() for _ in range(100)} == {10.0}


def test_talk_time_has_the_scenarios_mean_and_coefficient_of_variation() -> None:
    values = _sample(_draws(talk_mean_s=120, talk_cv=1.0).talk)
    _within_se(values, 120, 120)
    # The sample SD of a lognormal with CV 1 converges slowly (heavy tail): allow 10%.
    assert statistics.stdev(values) / statistics.fmean(values) == pytest.approx(1.0, rel=0.10)


def test_talk_time_is_scaled_by_the_agents_factor() -> None:
    draws = _draws(talk_mean_s=120, talk_cv=0.5)
    values = _sample(lambda: draws.talk(1.5))
    _within_se(values, 180, 90)


def test_talk_time_with_zero_cv_is_the_mean_exactly() -> None:
    draws = _draws(talk_cv=0, talk_mean_s=45)
    assert {draws.talk(1.0) for _ in range(100)} == {45.0}
    assert draws.talk(2.0) == pytest.approx(90.0)


def test_talk_time_with_zero_mean_is_zero() -> None:
    draws = _draws(talk_mean_s=0)
    assert {draws.talk(1.3) for _ in range(100)} == {0.0}


def test_the_agent_factor_has_mean_one_and_the_scenarios_sigma() -> None:
    values = _sample(_draws(agent_talk_sigma=0.3).agent_factor)
    sd = math.sqrt(math.exp(0.09) - 1)
    _within_se(values, 1.0, sd)
    logs = [math.log(v) for v in values]
    assert statistics.stdev(logs) == pytest.approx(0.3, rel=0.03)


def test_the_agent_factor_with_zero_sigma_is_one() -> None:
    draws = _draws(agent_talk_sigma=0)
    assert {draws.agent_factor() for _ in range(100)} == {1.0}


def test_patience_is_exponential_with_the_scenarios_mean() -> None:
    values = _sample(_draws(patience_mean_s=6).patience)
    _within_se(values, 6, 6)
    # Exponential: P(X > mean) = e^-1.
    share = sum(v > 6 for v in values) / N
    assert share == pytest.approx(math.exp(-1), abs=4 * math.sqrt(0.37 * 0.63 / N))


def test_zero_patience_hangs_up_at_once() -> None:
    draws = _draws(patience_mean_s=0)
    assert {draws.patience() for _ in range(100)} == {0.0}


def test_wrap_up_is_fixed_plus_exponential() -> None:
    values = _sample(_draws(wrap_fixed_s=5, wrap_exp_mean_s=15).wrap)
    assert min(values) >= 5
    _within_se(values, 20, 15)
    draws = _draws(wrap_fixed_s=7, wrap_exp_mean_s=0)
    assert {draws.wrap() for _ in range(100)} == {7.0}


@pytest.mark.parametrize(
    ("method", "lo", "hi"),
    [("setup", 0.5, 2.0), ("busy", 2.0, 6.0), ("invalid", 1.0, 3.0), ("amd", 2.5, 4.0)],
)
def test_uniform_delays_stay_within_their_range_and_average_its_middle(
    method: str, lo: float, hi: float
) -> None:
    values = _sample(getattr(_draws(), method))
    assert lo <= min(values) and max(values) <= hi
    _within_se(values, (lo + hi) / 2, (hi - lo) / math.sqrt(12))


def test_between_keeps_a_fixed_time_and_draws_a_range() -> None:
    draws = _draws()
    assert draws.between(2.5) == 2.5
    values = _sample(lambda: draws.between((1.0, 3.0)))
    assert min(values) >= 1 and max(values) <= 3
    _within_se(values, 2.0, 2 / math.sqrt(12))
    assert draws.uniform((4.0, 4.0)) == 4.0


def test_outcomes_follow_the_scenarios_probabilities() -> None:
    draws = _draws(p_machine=0.2, p_busy=0.05, p_invalid=0.05)
    counts = Counter(draws.outcome(0.25) for _ in range(N))
    assert set(counts) == set(OUTCOMES)
    expected = {"human": 0.25, "machine": 0.2, "busy": 0.05, "invalid": 0.05, "no_answer": 0.45}
    for outcome, p in expected.items():
        assert counts[outcome] / N == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / N)), outcome


def test_a_certain_outcome_always_happens() -> None:
    draws = _draws(p_machine=0, p_busy=0, p_invalid=0)
    assert {draws.outcome(1.0) for _ in range(1000)} == {"human"}
    assert {draws.outcome(0.0) for _ in range(1000)} == {"no_answer"}


def test_an_impossible_answer_probability_is_refused() -> None:
    with pytest.raises(ValueError, match="p_human"):
        _draws().outcome(1.5)


def test_the_detector_misreads_at_the_scenarios_rates() -> None:
    draws = _draws(amd_human_as_machine=0.05, amd_machine_as_human=0.15)
    humans = Counter(draws.amd_verdict("human") for _ in range(N))
    machines = Counter(draws.amd_verdict("machine") for _ in range(N))
    assert humans["machine"] / N == pytest.approx(0.05, abs=4 * math.sqrt(0.05 * 0.95 / N))
    assert machines["human"] / N == pytest.approx(0.15, abs=4 * math.sqrt(0.15 * 0.85 / N))
    assert set(humans) | set(machines) == {"human", "machine"}


def test_the_detector_only_judges_answered_calls() -> None:
    with pytest.raises(ValueError, match="busy"):
        _draws().amd_verdict("busy")


def test_the_same_seed_gives_the_same_draws() -> None:
    def run(seed: int) -> list[float]:
        d = Draws(Scenario(), random.Random(seed))
        return [d.setup(), d.ring_answer(), d.talk(d.agent_factor()), d.wrap(), d.patience(), d.amd()]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_degenerate_setting_does_not_shift_later_draws() -> None:
    """Zero means and sigmas still consume their variates, so scenarios stay comparable."""
    normal, degenerate = _draws(seed=3), _draws(seed=3, talk_mean_s=0, agent_talk_sigma=0, patience_mean_s=0)
    for d in (normal, degenerate):
        d.talk(d.agent_factor())
        d.patience()
    assert normal.ring_answer() == degenerate.ring_answer()
