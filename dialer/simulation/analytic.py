"""Closed-form occupancy bounds for a scenario (pacing.md section 4).

A pacer is judged against two yardsticks: progressive 1:1 dialing, which any pacer must
beat, and the oracle, which none can. Computing both from the scenario itself (rather
than from a simulation) gives the benchmark fixed reference points that do not move
with the seed, and lets the simulator be checked against arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dialer.simulation.draws import lognormal_params_from_median_p90
from dialer.simulation.scenario import Range, Scenario

__all__ = [
    "ProgressiveTerms",
    "constant_p_human",
    "oracle_occupancy",
    "progressive_occupancy",
    "progressive_terms",
    "ring_answer_stats",
]


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _mid(lo_hi: Range) -> float:
    return (lo_hi[0] + lo_hi[1]) / 2


def ring_answer_stats(s: Scenario) -> tuple[float, float]:
    """``(P(ring < timeout), E[ring | ring < timeout])`` for the scenario's ring-time lognormal.

    The truncated mean is used, not the lognormal's own mean, because a call still
    ringing at ``ring_timeout_s`` is abandoned by the dialer and never answered: the
    answers that do happen are the quicker ones. With ln X ~ N(mu, sigma^2) and
    c = ln(timeout), the partial expectation gives the exact value

        E[X | X < t] = exp(mu + sigma^2/2) * Phi((c - mu - sigma^2)/sigma) / Phi((c - mu)/sigma)

    with Phi evaluated through ``math.erf``; no integration grid is needed and the
    result is exact to floating point. A sigma of 0 (p90 == median) is a fixed ring time.
    """
    mu, sigma = lognormal_params_from_median_p90(s.ring_median_s, s.ring_p90_s)
    c = math.log(s.ring_timeout_s)
    if sigma == 0:
        answered = 1.0 if s.ring_median_s < s.ring_timeout_s else 0.0
        return answered, s.ring_median_s
    answered = _normal_cdf((c - mu) / sigma)
    if answered <= 0.0:
        return 0.0, s.ring_timeout_s
    partial = math.exp(mu + sigma * sigma / 2) * _normal_cdf((c - mu - sigma * sigma) / sigma)
    return answered, partial / answered


def constant_p_human(s: Scenario) -> float:
    """The scenario's single answer probability, or ValueError if it changes over time.

    The bounds below describe a steady state; for a curve or a daily draw there is no
    one answer, and averaging the occupancies of the pieces would be a different
    (time-weighted) quantity the caller should compute knowingly.
    """
    if s.p_daily_range is not None:
        raise ValueError(
            "the analytic bounds need a constant p_human; this scenario draws it daily (p_daily_range)"
        )
    values = {p for _, p in s.p_human}
    if len(values) != 1:
        raise ValueError("the analytic bounds need a constant p_human; this scenario has a step function")
    return values.pop()


@dataclass(frozen=True)
class ProgressiveTerms:
    """The pieces of ``occ = T/(T+W+S)`` with ``S = ((1-p)/p)*D_f + R_h``, kept for reports.

    ``p`` is the effective share of dials that reach a person (after calls outrun by the
    ring timeout); ``d_f`` the mean length of a dial that does not; ``r_h`` the mean
    setup-plus-ring before a person answers; ``s`` the agent's mean idle time per talk.
    """

    p: float
    d_f: float
    r_h: float
    s: float
    talk: float
    wrap: float
    occupancy: float


def progressive_terms(s: Scenario) -> ProgressiveTerms:
    """Progressive 1:1 dialing: each agent, once free, dials until a person answers.

    Every dial costs the setup time. A human or machine answers only if its ring time
    is below ``ring_timeout_s``; the rest ring out and join the no-answer share, so the
    effective p is ``p_human * P(ring < timeout)``. A machine costs its ring time plus the
    detector's verdict, except the ``amd_machine_as_human`` share that the agent hears for
    ``machine_heard_s`` instead. Busy and invalid numbers cost their mean signal time.

    Not modelled (as in pacing.md): people the detector mistakes for machines
    (``amd_human_as_machine``) are counted as normal connects, ``connect_latency_s`` is
    ignored, and the CPS limit is assumed not to bind (at most N calls ring at once).
    """
    p_human = constant_p_human(s)
    answered, ring = ring_answer_stats(s)
    setup = _mid(s.setup_s)

    p = p_human * answered
    p_machine = s.p_machine * answered
    p_busy = s.p_busy
    p_invalid = s.p_invalid
    p_no_answer = max(0.0, 1.0 - p - p_machine - p_busy - p_invalid)

    missed = s.amd_machine_as_human
    machine_s = setup + ring + (1 - missed) * _mid(s.amd_s) + missed * s.machine_heard_s
    failed_time = (
        p_no_answer * (setup + s.ring_timeout_s)
        + p_machine * machine_s
        + p_busy * (setup + _mid(s.busy_s))
        + p_invalid * (setup + _mid(s.invalid_s))
    )
    talk = s.talk_mean_s
    wrap = s.wrap_fixed_s + s.wrap_exp_mean_s
    r_h = setup + ring
    d_f = failed_time / (1 - p) if p < 1 else 0.0
    if p <= 0:
        # Nobody ever answers: the agent waits forever between talks.
        return ProgressiveTerms(p=0.0, d_f=d_f, r_h=r_h, s=math.inf, talk=talk, wrap=wrap, occupancy=0.0)
    idle = (1 - p) / p * d_f + r_h
    busy_time = talk + wrap + idle
    occupancy = talk / busy_time if busy_time > 0 else 0.0
    return ProgressiveTerms(p=p, d_f=d_f, r_h=r_h, s=idle, talk=talk, wrap=wrap, occupancy=occupancy)


def progressive_occupancy(s: Scenario) -> float:
    """Talk occupancy of progressive 1:1 dialing: the floor every pacer must beat."""
    return progressive_terms(s).occupancy


def oracle_occupancy(s: Scenario) -> float:
    """Talk occupancy of a pacer that knows every outcome in advance: the ceiling ``T/(T+W)``.

    Unlike the progressive bound this needs no answer probability, so it holds for
    scenarios whose p_human changes over the day too.
    """
    talk = s.talk_mean_s
    busy_time = talk + s.wrap_fixed_s + s.wrap_exp_mean_s
    return talk / busy_time if busy_time > 0 else 0.0
