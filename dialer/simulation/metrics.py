"""The simulation's measures, defined once, as in the scenarios README.

Agent time comes from the engine's agent moves; everything about people
(who answered, when an agent heard them) comes from the simulated carrier's
truth, because the engine itself cannot tell a person from a machine the
detector got wrong.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dialer.agents import WORKING, AgentState
from dialer.carriers.simulated import SimCall
from dialer.pacing import PacerEvent


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class AgentClock:
    """Seconds each agent spends in each state, from the engine's moves."""

    seconds: dict[AgentState, float] = field(default_factory=lambda: defaultdict(float))
    _state: dict[str, tuple[AgentState, float]] = field(default_factory=dict)
    waits: dict[str, float] = field(default_factory=dict)  # call id -> agent's ready time before it

    def on_event(self, event: PacerEvent) -> None:
        if event.kind != "agent" or event.agent_id is None:
            return
        old = AgentState(event.old)
        self.seconds[old] += event.seconds
        new = AgentState(event.detail)
        self._state[event.agent_id] = (new, event.at)
        if old is AgentState.READY and new is AgentState.RESERVED and event.call_id:
            self.waits[event.call_id] = event.seconds

    def close(self, now: float) -> None:
        for agent_id, (state, since) in self._state.items():
            self.seconds[state] += max(0.0, now - since)
            self._state[agent_id] = (state, now)

    @property
    def working_s(self) -> float:
        return sum(self.seconds[s] for s in WORKING)


def summarize(
    calls: Iterable[SimCall],
    clock: AgentClock,
    *,
    abandon_window_s: float,
    hour_of: Callable[[float], int],
    day_of: Callable[[float], int],
    call_ids: dict[str, str],
    dials_without_agents: int,
) -> dict[str, float | int | list[float]]:
    """Figures for one run. ``call_ids`` maps carrier sids to engine call ids (for agent waits)."""
    talk = 0.0
    humans = abandoned = lost_to_detector = connects = dials = machines = 0
    hourly: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    daily: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    waits: list[float] = []
    holds: list[float] = []
    for call in calls:
        dials += 1
        if call.fate.outcome == "machine" and call.answered_at is not None:
            machines += 1
        if not call.is_person:
            continue
        assert call.answered_at is not None
        humans += 1
        heard_in_time = call.heard_at is not None and call.heard_at - call.answered_at <= abandon_window_s
        cut_by_detector = call.heard_at is not None and call.end_by == "dialer" and call.fate.verdict == "machine"
        hour, day = hour_of(call.answered_at), day_of(call.answered_at)
        hourly[hour][0] += 1
        daily[day][0] += 1
        if not heard_in_time:
            abandoned += 1
            hourly[hour][1] += 1
            daily[day][1] += 1
        if call.heard_at is not None:
            connects += 1
            talk += call.talk_s
            holds.append(call.heard_at - call.answered_at)
            wait = clock.waits.get(call_ids.get(call.sid, ""))
            if wait is not None:
                waits.append(wait)
            if cut_by_detector:
                lost_to_detector += 1
    working_h = clock.working_s / 3600.0
    worst_hour = max((a / n for n, a in hourly.values() if n >= 10), default=0.0)
    worst_day = max((a / n for n, a in daily.values() if n > 0), default=0.0)
    return {
        "occupancy": talk / clock.working_s if clock.working_s else 0.0,
        "utilisation": (clock.working_s - clock.seconds[AgentState.READY]) / clock.working_s
        if clock.working_s
        else 0.0,
        "abandonment_rate": abandoned / humans if humans else 0.0,
        "worst_hour_abandonment_rate": worst_hour,
        "worst_day_abandonment_rate": worst_day,
        "human_answers": humans,
        "abandoned": abandoned,
        "lost_to_detector": lost_to_detector,
        "connects": connects,
        "dials": dials,
        "machine_answers": machines,
        "agent_wait_p50_s": percentile(waits, 50),
        "agent_wait_p90_s": percentile(waits, 90),
        "customer_hold_p95_s": percentile(holds, 95),
        "connects_per_agent_hour": connects / working_h if working_h else 0.0,
        "dials_per_agent_hour": dials / working_h if working_h else 0.0,
        "dials_without_agents": dials_without_agents,
        "talk_hours": talk / 3600.0,
        "agent_hours": working_h,
        "paused_hours": clock.seconds[AgentState.PAUSED] / 3600.0,
    }
