"""What-if: replay the last hours of a campaign with another dial level or pacer.

A supervisor who wonders "would ratio 2.0 have kept my agents busier?" should
not try it on live customers.  The campaign's own records already say what
the world looked like: how often people answered hour by hour, how long phones
rang, how long conversations and wrap-ups took, when agents logged in and
paused.  Those records are fitted into a simulator scenario, and the same
simulator the benchmark uses replays it under each pacer asked for, next to the
campaign's own pacer replayed in the same fitted world (comparing a replay with
the real day would mix the model's error into the answer).

What the records cannot show is kept at the simulator's defaults and listed in
``assumed``: how long people wait in silence before hanging up, and how often
the answering-machine detector misreads.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from campaigns.models import AgentStateChange, CallAttempt, Campaign
from campaigns.simulate import run_simulation
from dialer.simulation.metrics import percentile
from dialer.simulation.scenario import AgentGroup, Breaks, Scenario

# Fewer answered calls than this in an hour and the hour borrows the whole window's rate.
MIN_DIALS_PER_HOUR = 40
MIN_SAMPLES = 5
ASSUMED = ("patience_mean_s", "amd_human_as_machine", "amd_machine_as_human", "machine_heard_s")
_WORKING = ("ready", "reserved", "on_call", "wrap_up")


class WhatIfError(ValueError):
    """The campaign has too little history in the window to replay."""


@dataclass
class Observed:
    """What the campaign's records show for the window, as measured (not replayed)."""

    start: datetime
    end: datetime
    dials: int = 0
    people: int = 0
    abandoned: int = 0
    talk_s: float = 0.0
    working_s: float = 0.0
    agents: int = 0

    @property
    def occupancy(self) -> float:
        return self.talk_s / self.working_s if self.working_s else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.people if self.people else 0.0


@dataclass
class Replay:
    pacer: str
    occupancy: list[float] = field(default_factory=list)
    abandon_rate: list[float] = field(default_factory=list)
    worst_hour: list[float] = field(default_factory=list)
    dials_per_agent_hour: list[float] = field(default_factory=list)

    def mean(self, name: str) -> float:
        values: list[float] = getattr(self, name)
        return statistics.fmean(values) if values else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "pacer": self.pacer,
            "occupancy": self.mean("occupancy"),
            "abandon_rate": self.mean("abandon_rate"),
            "abandon_rate_max": max(self.abandon_rate, default=0.0),
            "worst_hour": max(self.worst_hour, default=0.0),
            "dials_per_agent_hour": self.mean("dials_per_agent_hour"),
            "seeds": len(self.occupancy),
        }


@dataclass
class WhatIf:
    campaign_id: int
    observed: Observed
    scenario: Scenario
    assumed: tuple[str, ...]
    replays: list[Replay]

    def to_dict(self) -> dict[str, Any]:
        o = self.observed
        return {
            "campaign_id": self.campaign_id,
            "window": {"start": o.start.isoformat(), "end": o.end.isoformat()},
            "observed": {
                "dials": o.dials, "people": o.people, "abandoned": o.abandoned,
                "abandon_rate": o.abandon_rate, "occupancy": o.occupancy, "agents": o.agents,
            },
            "fitted_world": self.scenario.to_dict(),
            "assumed": list(self.assumed),
            "replays": [replay.to_dict() for replay in self.replays],
        }


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def _range(values: Sequence[float], default: tuple[float, float]) -> tuple[float, float]:
    if len(values) < MIN_SAMPLES:
        return default
    lo, hi = percentile(list(values), 10), percentile(list(values), 90)
    return (lo, max(hi, lo + 0.1))


def fit_world(
    session: Session, campaign: Campaign, start: datetime, end: datetime, *, cps: float | None = None
) -> tuple[Scenario, Observed]:
    """The campaign's world in [start, end) as a simulator scenario, and what was measured."""
    attempts = session.scalars(
        select(CallAttempt).where(
            CallAttempt.campaign_id == campaign.id, CallAttempt.placed_at >= start, CallAttempt.placed_at < end
        )
    ).all()
    if len(attempts) < MIN_SAMPLES:
        raise WhatIfError(
            f"campaign {campaign.id} placed {len(attempts)} calls between {start:%Y-%m-%d %H:%M} and "
            f"{end:%Y-%m-%d %H:%M} UTC: too few to replay (widen --hours or give --until)"
        )
    hours = max(1.0 / 60.0, (end - start).total_seconds() / 3600.0)
    observed = Observed(start=start, end=end, dials=len(attempts))

    classes: Counter[str] = Counter()
    per_hour: dict[int, Counter[str]] = defaultdict(Counter)
    setup, ring, amd, talk, wrap, latency = [], [], [], [], [], []
    talk_by_agent: dict[int, list[float]] = defaultdict(list)
    placements: list[float] = []
    for a in attempts:
        assert a.placed_at is not None
        placements.append((a.placed_at - start).total_seconds())
        cls = _answer_class(a)
        classes[cls] += 1
        per_hour[int((a.placed_at - start).total_seconds() // 3600)][cls] += 1
        if cls == "human":
            observed.people += 1
            if a.abandoned_at is not None:
                observed.abandoned += 1
        if (s := _seconds(a.placed_at, a.ringing_at)) is not None:
            setup.append(s)
        if (s := _seconds(a.ringing_at or a.placed_at, a.answered_at)) is not None:
            ring.append(s)
        if (s := _seconds(a.answered_at, a.amd_at)) is not None:
            amd.append(s)
        if (s := _seconds(a.agent_reserved_at, a.connected_at)) is not None:
            latency.append(s)
        if cls == "human" and (s := _seconds(a.connected_at, a.ended_at)) is not None and s > 0:
            talk.append(s)
            if a.agent_id is not None:
                talk_by_agent[a.agent_id].append(s)
            if (w := _seconds(a.ended_at, a.wrap_ended_at)) is not None:
                wrap.append(w)

    dials = len(attempts)
    share = {name: classes[name] / dials for name in ("human", "machine", "busy", "failed")}
    p_human = share["human"]
    steps = []
    for hour in range(math.ceil(hours)):
        counts = per_hour.get(hour)
        total = sum(counts.values()) if counts else 0
        steps.append((float(hour), counts["human"] / total if counts and total >= MIN_DIALS_PER_HOUR else p_human))
    machine = min(share["machine"], 1.0 - p_human)
    busy = min(share["busy"], 1.0 - p_human - machine)
    invalid = min(share["failed"], 1.0 - p_human - machine - busy)

    defaults = Scenario()
    values: dict[str, Any] = {
        "name": f"campaign-{campaign.id}-replay",
        "title": f"{campaign.name}: {start:%Y-%m-%d %H:%M}..{end:%H:%M} UTC as observed",
        "hours": hours,
        "target_abandon": campaign.target_abandon,
        "p_human": tuple(steps),
        "p_machine": machine,
        "p_busy": busy,
        "p_invalid": invalid,
        "ring_timeout_s": float(campaign.ring_timeout_s),
        "setup_s": _range(setup, defaults.setup_s),
        "amd_s": _range(amd, defaults.amd_s),
        "safe_harbour_s": campaign.safe_harbour_s,
    }
    if len(ring) >= MIN_SAMPLES:
        median, p90 = percentile(ring, 50), percentile(ring, 90)
        values["ring_median_s"] = max(0.5, median)
        values["ring_p90_s"] = max(values["ring_median_s"] * 1.05, p90)
    if len(talk) >= MIN_SAMPLES:
        mean = statistics.fmean(talk)
        values["talk_mean_s"] = mean
        values["talk_cv"] = max(0.05, statistics.pstdev(talk) / mean)
        values["agent_talk_sigma"] = _agent_sigma(talk_by_agent, mean)
    if len(wrap) >= MIN_SAMPLES:
        fixed = max(0.0, percentile(wrap, 5))
        values["wrap_fixed_s"] = fixed
        values["wrap_exp_mean_s"] = max(0.1, statistics.fmean(wrap) - fixed)
    if len(latency) >= MIN_SAMPLES:
        values["connect_latency_s"] = max(0.0, statistics.median(latency))
    values["cps"] = ((0.0, cps if cps is not None else _peak_rate(placements)),)

    groups, breaks = _agents(session, campaign.id, start, end, observed)
    if not groups:
        raise WhatIfError(f"campaign {campaign.id} had no agent logged in between {start} and {end}")
    values["agents"] = tuple(groups)
    values["breaks"] = breaks
    return Scenario(**values), observed


def _answer_class(a: CallAttempt) -> str:
    """Classify as the dialer saw it; a connected "unknown" was a person."""
    cls = a.answer_class or ""
    if cls in ("human", "unknown"):
        return "human"
    if cls in ("machine", "fax"):
        return "machine"
    if cls in ("busy", "failed"):
        return cls
    return "no_answer"


def _agent_sigma(talk_by_agent: dict[int, list[float]], mean: float) -> float:
    """Spread of agents' own average talk times, less what sampling alone would give."""
    logs = [math.log(statistics.fmean(v) / mean) for v in talk_by_agent.values() if len(v) >= MIN_SAMPLES]
    if len(logs) < 2:
        return 0.0
    return min(1.0, statistics.pstdev(logs))


def _peak_rate(placements: list[float]) -> float:
    """The busiest 10 seconds of placements, per second: a floor for the carrier's limit."""
    counts = Counter(int(t // 10) for t in placements)
    return max(1.0, math.ceil(max(counts.values()) / 10 * 2) / 2)


def _agents(
    session: Session, campaign_id: int, start: datetime, end: datetime, observed: Observed
) -> tuple[list[AgentGroup], Breaks | None]:
    """One group per agent with the hours they were logged in, and their break pattern."""
    rows = session.execute(
        select(AgentStateChange.agent_id, AgentStateChange.state, AgentStateChange.at)
        .where(AgentStateChange.campaign_id == campaign_id, AgentStateChange.at < end)
        .order_by(AgentStateChange.at, AgentStateChange.id)
    ).all()
    timeline: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for agent_id, state, at in rows:
        timeline[agent_id].append((at, state))
    hours = (end - start).total_seconds() / 3600.0
    groups: list[AgentGroup] = []
    pauses: list[float] = []
    for moves in timeline.values():
        state, since = "offline", start
        login: float | None = None
        logout: float | None = None
        for at, new_state in [*moves, (end, "__end__")]:
            at_w = max(at, start)
            span = (at_w - since).total_seconds() if at_w > since else 0.0
            if at >= start:
                if state in _WORKING:
                    observed.working_s += span
                    if state == "on_call":
                        observed.talk_s += span
                if state == "paused" and span > 0:
                    pauses.append(span)
            if new_state == "__end__":
                break
            here = max(0.0, (at - start).total_seconds() / 3600.0)
            if state == "offline" and new_state != "offline" and login is None:
                login = here
            if new_state == "offline" and login is not None:
                logout = here
            elif new_state != "offline":
                logout = None
            state, since = new_state, at_w
        if login is None or (logout is not None and logout <= login):
            continue
        if logout is not None and logout >= hours - 1e-6:
            logout = None
        groups.append(AgentGroup(1, min(login, hours), logout))
    observed.agents = len(groups)
    breaks = None
    if pauses and observed.working_s > 0:
        per_hour = len(pauses) / (observed.working_s / 3600.0)  # pauses per working agent-hour
        lo, hi = _range(pauses, (min(pauses), max(pauses)))
        breaks = Breaks(per_hour=per_hour, min_s=max(1.0, lo), max_s=max(lo + 1.0, hi))
    return groups, breaks


def last_activity(db: Engine, campaign_id: int) -> datetime | None:
    """When the campaign last placed a call: the default end of the replayed window."""
    with Session(db) as session:
        return session.scalar(select(func.max(CallAttempt.placed_at)).where(CallAttempt.campaign_id == campaign_id))


def what_if(
    db: Engine,
    campaign_id: int,
    pacers: Sequence[str],
    *,
    hours: float,
    until: datetime,
    seeds: int = 3,
    cps: float | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> WhatIf:
    """Replay ``hours`` before ``until`` under each pacer (the campaign's own first) over ``seeds`` seeds."""
    # Replays run on throwaway databases: the campaign's own database is only read.
    start = until - timedelta(hours=hours)
    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise WhatIfError(f"campaign {campaign_id} does not exist")
        scenario, observed = fit_world(session, campaign, start, until, cps=cps)
        own = campaign.pacer
    specs = [own, *[p for p in pacers if p != own]]
    replays = []
    for spec in specs:
        replay = Replay(spec)
        for seed in range(1, seeds + 1):
            if progress is not None:
                progress(spec, seed)
            figures = run_simulation(scenario, spec, seed)
            replay.occupancy.append(figures["occupancy"])
            replay.abandon_rate.append(figures["abandonment_rate"])
            replay.worst_hour.append(figures["worst_hour_abandonment_rate"] or 0.0)
            replay.dials_per_agent_hour.append(figures["dials_per_agent_hour"])
        replays.append(replay)
    return WhatIf(campaign_id, observed, scenario, ASSUMED, replays)
