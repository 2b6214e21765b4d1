"""Random draws for the simulated carrier, one method per quantity in the scenario.

Keeping every distribution here, next to the formula that maps the README's parameters
to it, means the simulator and the fake carrier cannot disagree on what e.g.
"lognormal with median 8 s and p90 18 s" means.

Each method consumes the same number of underlying variates whatever the parameters
(a zero mean or a zero sigma still draws and discards), so changing one setting of a
scenario does not reshuffle every later draw of the same seed: two scenarios that
differ in one key then face the same callers, which makes their results comparable.
"""

from __future__ import annotations

import math
import random

from dialer.simulation.scenario import Range, Scenario

__all__ = ["OUTCOMES", "Z90", "Draws", "lognormal_params_from_mean_cv", "lognormal_params_from_median_p90"]

Z90 = 1.2815515655446004
"""The standard normal 90th percentile: p90 = median * exp(sigma * Z90) for a lognormal."""

OUTCOMES: tuple[str, ...] = ("human", "machine", "busy", "invalid", "no_answer")
"""What a dial can end in, as returned by :meth:`Draws.outcome`."""


def lognormal_params_from_median_p90(median: float, p90: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the lognormal with this median and 90th percentile.

    Ring times are specified by percentiles because that is how they are measured and
    quoted; the analytic bounds need the same mapping, hence a public function.
    """
    return math.log(median), math.log(p90 / median) / Z90


def lognormal_params_from_mean_cv(mean: float, cv: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the lognormal with this mean and coefficient of variation.

    Talk times are specified by mean because occupancy is a ratio of means; a mean of 0
    has no lognormal and gives ``mu = -inf`` (the callers return 0 for it).
    """
    sigma2 = math.log1p(cv * cv)
    mu = math.log(mean) - sigma2 / 2 if mean > 0 else -math.inf
    return mu, math.sqrt(sigma2)


class Draws:
    """The scenario's distributions bound to one random stream.

    The stream is passed in rather than created here so that the caller decides how a
    run is seeded (one stream for the world, another for the pacer, ...), which is what
    makes a run a pure function of (scenario, pacer, seed).
    """

    def __init__(self, scenario: Scenario, rng: random.Random) -> None:
        self.scenario = scenario
        self.rng = rng
        self._ring_mu, self._ring_sigma = lognormal_params_from_median_p90(
            scenario.ring_median_s, scenario.ring_p90_s
        )
        self._talk_mu, self._talk_sigma = lognormal_params_from_mean_cv(
            scenario.talk_mean_s, scenario.talk_cv
        )

    # -- generic helpers -----------------------------------------------------------------

    def uniform(self, lo_hi: Range) -> float:
        """A uniform draw from ``(lo, hi)``; ``lo == hi`` is a fixed value (one variate is still used)."""
        lo, hi = lo_hi
        return self.rng.uniform(lo, hi)

    def between(self, value: float | Range) -> float:
        """A login/logout time: a fixed hour stays as it is, a ``(lo, hi)`` range is drawn uniformly."""
        if isinstance(value, tuple):
            return self.uniform(value)
        return float(value)

    def _exponential(self, mean: float) -> float:
        # Draw Exp(1) and scale, rather than expovariate(1/mean), so a mean of 0 works.
        return self.rng.expovariate(1.0) * mean

    # -- call placement ------------------------------------------------------------------

    def setup(self) -> float:
        """Seconds from the carrier taking the call to the phone ringing."""
        return self.uniform(self.scenario.setup_s)

    def ring_answer(self) -> float:
        """Seconds of ringing until a person or machine would answer.

        The value may exceed ``ring_timeout_s``: the caller compares, and such a call
        ends as no-answer. Drawing untruncated keeps the README's median and p90 true.
        """
        z = self.rng.normalvariate(0.0, 1.0)
        if self._ring_sigma == 0:
            return self.scenario.ring_median_s  # exact, where exp(log(m)) may be off by an ulp
        return math.exp(self._ring_mu + self._ring_sigma * z)

    def busy(self) -> float:
        """Seconds until a busy signal is known."""
        return self.uniform(self.scenario.busy_s)

    def invalid(self) -> float:
        """Seconds until the number is known to be invalid."""
        return self.uniform(self.scenario.invalid_s)

    def amd(self) -> float:
        """Seconds from the answer to the answering-machine detector's verdict."""
        return self.uniform(self.scenario.amd_s)

    # -- people and agents ---------------------------------------------------------------

    def patience(self) -> float:
        """Seconds an answered person waits in silence before hanging up."""
        return self._exponential(self.scenario.patience_mean_s)

    def talk(self, agent_factor: float = 1.0) -> float:
        """Talk seconds of one call, scaled by the agent's own factor from :meth:`agent_factor`."""
        z = self.rng.normalvariate(0.0, 1.0)
        if self.scenario.talk_mean_s <= 0:
            return 0.0
        if self._talk_sigma == 0:
            return self.scenario.talk_mean_s * agent_factor
        return math.exp(self._talk_mu + self._talk_sigma * z) * agent_factor

    def agent_factor(self) -> float:
        """An agent's talk-time multiplier: lognormal with mean 1, so the team's mean stays put."""
        sigma = self.scenario.agent_talk_sigma
        z = self.rng.normalvariate(0.0, 1.0)
        if sigma == 0:
            return 1.0
        return math.exp(-sigma * sigma / 2 + sigma * z)

    def wrap(self) -> float:
        """Wrap-up seconds after a call: fixed plus exponential."""
        return self.scenario.wrap_fixed_s + self._exponential(self.scenario.wrap_exp_mean_s)

    # -- outcomes ------------------------------------------------------------------------

    def outcome(self, p_human: float) -> str:
        """How a dial ends, one of :data:`OUTCOMES`.

        ``p_human`` is passed in because it varies by hour and by day; the other
        probabilities are fixed by the scenario. The rest rings unanswered.
        """
        s = self.scenario
        if not 0.0 <= p_human <= 1.0:
            raise ValueError(f"p_human must be within [0, 1], got {p_human}")
        u = self.rng.random()
        for name, p in (
            ("human", p_human),
            ("machine", s.p_machine),
            ("busy", s.p_busy),
            ("invalid", s.p_invalid),
        ):
            if u < p:
                return name
            u -= p
        return "no_answer"

    def amd_verdict(self, truth: str) -> str:
        """What the answering-machine detector says about a ``truth`` of "human" or "machine"."""
        u = self.rng.random()
        if truth == "human":
            return "machine" if u < self.scenario.amd_human_as_machine else "human"
        if truth == "machine":
            return "human" if u < self.scenario.amd_machine_as_human else "machine"
        raise ValueError(
            f"the detector only judges answered calls: truth must be 'human' or 'machine', got {truth!r}"
        )
