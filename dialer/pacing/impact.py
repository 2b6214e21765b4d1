"""An Impact-Dialing-style pacer: replay recent calls in a short simulation of candidate ratios.

Impact Dialing (Rails + Twilio, open-sourced in 2017) is the strongest
open-source pacer we know of (``shared/reference/pacing.md`` section 2), so
it is a baseline the predictive pacer must beat. Its ``SimulatedValues``
job, once a minute:

1. takes the last <= 100 call attempts of the past 30 minutes;
2. for ``k = 1..6`` sets ``dials = max(1, (attempts / answered) * k / 6)`` and
   simulates 4 minutes at 1-s resolution: the campaign's callers (agents)
   start on hold, each second ``on_hold * dials - ringing`` idle attempts
   are dialed again, each replays its own ring time and, when it answers,
   takes a random on-hold caller for its conversation and wrap-up, or is
   abandoned when no caller is on hold;
3. keeps the ratio with the highest ``on_call / (on_call + on_hold)`` whose
   simulated abandonment stays strictly below the target (1 when none does);
4. falls back to 1:1 with fewer than 5 callers or fewer than 50 attempts
   (here also before any talk time has been seen: a dropped person's talk
   is drawn from those).

Live, it places ``floor(ratio * ready - (ringing + presented))`` calls, uses
0.75 x the ratio while the campaign's abandonment is over the target, and
caps the ratio at 4 (Twilio's limit).

What the replay uses, all observed by this engine, never taken from the
scenario: each attempt's time from placement to answer (or to its end when
nobody answered), whether it was answered (every answer takes an agent here,
since the engine connects on answer), how long a machine held its agent (the
answer-to-verdict time), and for people the attempt's own talk and wrap-up
when the agent had them, otherwise a draw from the last 100 talk and wrap-up
times seen. Impact itself used fixed ring (10/15 s) and wrap (5 s) times;
one deviation kept out: its ``assign`` could hand one caller two calls in
one second (the on-hold list was not updated); here each answer takes its
own caller.

The simulation draws from a ``random.Random`` seeded with a fixed value plus
the number of replays so far, never the clock, so a run is reproducible; it
is event-driven on the 1-s grid, so a replay costs a few milliseconds.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict, deque
from dataclasses import dataclass

from dialer.pacing import Observation, PacerError, PacerEvent, register_pacer

REPLAY_EVERY_S = 60.0
WINDOW_S = 1800.0  # the past 30 minutes
MAX_ATTEMPTS = 100
SIMULATION_S = 240  # 4 minutes at 1-s resolution
INCREMENTS = 6
MIN_CALLERS = 5
MIN_ATTEMPTS = 50
RATIO_CAP = 4.0  # TwilioLimit's default
BACKOFF = 0.75
SEED = 20170401
_POOL = 100  # talk and wrap-up times kept for people whose own are unknown


@dataclass(slots=True)
class _Attempt:
    placed_at: float
    answered_at: float | None = None
    released_at: float | None = None  # the machine verdict freed the agent
    machine: bool = False
    talk_s: float | None = None
    wrap_s: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class SimAttempt:
    """One recorded attempt as the replay sees it: whole seconds, as in Impact's state machine."""

    ring_s: int  # placement to answer, or to the end when nobody answered
    answered: bool  # needs an agent when it answers
    hold_s: int = 0  # the agent's time on it (talk, or machine until the verdict)
    wrap_s: int = 0


@dataclass(frozen=True, slots=True)
class SimResult:
    dials: float
    utilization: float  # on_call / (on_call + on_hold), callers' seconds
    answered: int
    abandoned: int

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else math.nan


def simulate(
    attempts: list[SimAttempt], callers: int, dials: float, rng: random.Random, seconds: int = SIMULATION_S
) -> SimResult:
    """Impact's ``simulate!`` for one candidate ``dials`` (lines per on-hold caller).

    Each second, in Impact's order: callers accrue time in their state,
    attempts move on (rings end, conversations end, wrap-ups end and free
    their caller), ``on_hold * dials - ringing`` idle attempts are dialed,
    then every attempt that has just answered takes an on-hold caller or is
    abandoned (and is idle again at once).
    """
    idle = list(range(len(attempts)))
    due: dict[int, list[tuple[int, int]]] = {}  # second -> [(what, attempt)]; what: 0 ring, 1 talk, 2 wrap
    ringing = 0
    on_hold, on_call = callers, 0
    on_call_s = on_hold_s = 0
    answered = abandoned = 0

    def at(second: int, what: int, index: int) -> None:
        due.setdefault(second, []).append((what, index))

    for t in range(1, seconds + 1):
        on_call_s += on_call
        on_hold_s += on_hold
        just_answered: list[int] = []
        for what, index in due.pop(t, ()):
            attempt = attempts[index]
            if what == 0:
                ringing -= 1
                if attempt.answered:
                    just_answered.append(index)
                else:
                    idle.append(index)
            elif what == 1:
                if attempt.wrap_s > 0:
                    at(t + attempt.wrap_s, 2, index)
                else:
                    idle.append(index)
                    on_call -= 1
                    on_hold += 1
            else:
                idle.append(index)
                on_call -= 1
                on_hold += 1
        lines = int(on_hold * dials - ringing)  # Ruby's Array#sample(float) truncates
        for _ in range(min(max(lines, 0), len(idle))):
            pick = rng.randrange(len(idle))
            idle[pick], idle[-1] = idle[-1], idle[pick]
            index = idle.pop()
            ringing += 1
            at(t + attempts[index].ring_s, 0, index)
        for index in just_answered:
            answered += 1
            if on_hold > 0:
                on_hold -= 1
                on_call += 1
                at(t + max(1, attempts[index].hold_s), 1, index)
            else:
                abandoned += 1
                idle.append(index)
    total = on_call_s + on_hold_s
    return SimResult(dials, on_call_s / total if total else 0.0, answered, abandoned)


def candidate_dials(attempts: list[SimAttempt]) -> list[float]:
    """``(attempts / answered) * k / 6`` for k = 1..6, each floored at 1."""
    answered = sum(1 for a in attempts if a.answered)
    if not answered:
        return []
    per_answer = len(attempts) / answered
    return [max(1.0, per_answer * k / INCREMENTS) for k in range(1, INCREMENTS + 1)]


def best_ratio(
    attempts: list[SimAttempt], callers: int, target: float, rng: random.Random
) -> tuple[float, list[SimResult]]:
    """The candidate with the highest simulated utilization whose abandonment stays below ``target``."""
    best, best_utilization = 1.0, 0.0
    results = []
    for dials in candidate_dials(attempts):
        result = simulate(attempts, callers, dials, rng)
        results.append(result)
        # NaN (nobody answered) compares false: such a candidate is never kept, as in Ruby.
        if result.abandon_rate < target and result.utilization > best_utilization:
            best, best_utilization = dials, result.utilization
    return best, results


class ImpactPacer:
    """Replays the last minutes' calls once a minute to choose a dial ratio."""

    name = "impact"
    agent_bound = False

    def __init__(self) -> None:
        #: The ratio the last replay chose (before the cap and the back-off).
        self.best_ratio = 1.0
        #: The ratio in use at the last tick: read it to chart the pacer.
        self.dial_level = 1.0
        self.replays = 0
        self.last_results: list[SimResult] = []
        self._attempts: OrderedDict[str, _Attempt] = OrderedDict()
        self._talks: deque[float] = deque(maxlen=_POOL)
        self._wraps: deque[float] = deque(maxlen=_POOL)
        self._wrapping: dict[str, str] = {}  # agent -> the call they are wrapping up
        self._next_replay: float | None = None

    # ------------------------------------------------------------------ what happened
    def observe(self, event: PacerEvent) -> None:
        """Record each attempt's answer, verdict, talk and wrap-up, and keep the pools of recent times."""
        kind, call_id = event.kind, event.call_id
        if kind == "placed" and call_id:
            self._attempts[call_id] = _Attempt(event.at)
            self._forget(event.at)
            return
        if kind == "agent":
            self._agent_moved(event)
            return
        attempt = self._attempts.get(call_id or "")
        if attempt is None:
            return
        if kind == "answered":
            attempt.answered_at = event.at
        elif kind == "amd" and event.detail in ("machine", "fax"):
            attempt.machine = True
            attempt.released_at = event.at
        elif kind == "ended":
            attempt.ended_at = event.at

    def _agent_moved(self, event: PacerEvent) -> None:
        agent = event.agent_id or ""
        if event.old == "on_call" and event.detail == "wrap_up":
            self._talks.append(event.seconds)
            self._wrapping[agent] = event.call_id or ""
            attempt = self._attempts.get(event.call_id or "")
            if attempt is not None:
                attempt.talk_s = event.seconds
        elif event.old == "wrap_up":
            self._wraps.append(event.seconds)
            attempt = self._attempts.get(self._wrapping.pop(agent, ""))
            if attempt is not None:
                attempt.wrap_s = event.seconds

    def _forget(self, now: float) -> None:
        while self._attempts:
            first = next(iter(self._attempts.values()))
            if now - first.placed_at <= WINDOW_S + 600.0:
                break
            self._attempts.popitem(last=False)

    # ------------------------------------------------------------------ the replay
    def recent_attempts(self, now: float, rng: random.Random) -> list[SimAttempt]:
        """The last <= 100 finished attempts placed in the past 30 minutes, as the replay needs them."""
        chosen: list[_Attempt] = []
        for attempt in reversed(self._attempts.values()):
            if now - attempt.placed_at > WINDOW_S:
                break
            if attempt.ended_at is not None:
                chosen.append(attempt)
                if len(chosen) == MAX_ATTEMPTS:
                    break
        chosen.reverse()
        out = []
        for a in chosen:
            if a.answered_at is None:
                out.append(SimAttempt(_seconds(a.ended_at or a.placed_at, a.placed_at), False))
            elif a.machine and a.talk_s is None:
                held = (a.released_at if a.released_at is not None else a.answered_at) - a.answered_at
                out.append(SimAttempt(_seconds(a.answered_at, a.placed_at), True, max(1, round(held)), 0))
            else:
                talk = a.talk_s if a.talk_s is not None else rng.choice(self._talks)
                wrap = a.wrap_s if a.wrap_s is not None else (rng.choice(self._wraps) if self._wraps else 0.0)
                out.append(SimAttempt(_seconds(a.answered_at, a.placed_at), True, max(1, round(talk)), round(wrap)))
        return out

    def replay(self, obs: Observation) -> float:
        """Choose the ratio for the next minute (Impact's ``SimulatedValues#calculate_values``)."""
        rng = random.Random(SEED + self.replays)
        self.replays += 1
        self.last_results = []
        callers = obs.working
        if callers < MIN_CALLERS or not self._talks:
            return 1.0
        attempts = self.recent_attempts(obs.now, rng)
        if len(attempts) < MIN_ATTEMPTS:
            return 1.0
        ratio, self.last_results = best_ratio(attempts, callers, obs.target_abandon, rng)
        return ratio

    # ------------------------------------------------------------------ live
    def calls_to_place(self, obs: Observation) -> int:
        now = obs.now
        if self._next_replay is None or now >= self._next_replay - 1e-9:
            self.best_ratio = self.replay(obs)
            self._next_replay = now + REPLAY_EVERY_S
        ratio = self.best_ratio
        totals = obs.totals
        if totals.live_answers and totals.abandoned / totals.live_answers > obs.target_abandon:
            ratio *= BACKOFF
        ratio = min(ratio, RATIO_CAP)
        self.dial_level = ratio
        return max(0, math.floor(ratio * obs.ready + 1e-9) - (obs.in_flight + obs.waiting))


def _seconds(end: float, start: float) -> int:
    return max(1, round(end - start))


def _impact(arg: str | None) -> ImpactPacer:
    if arg is not None:
        raise PacerError(f"pacer 'impact' takes no argument, got {arg!r}")
    return ImpactPacer()


register_pacer("impact", _impact)
