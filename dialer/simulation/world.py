"""Simulated agents: they log in and out, take calls, wrap up, take breaks.

They act on the engine only through the doors a real agent's console uses
(login, ready, pause, hang up, disposition, logout), so the simulation
exercises the same paths as the web app. A pause or logout that falls while
an agent is busy waits until the agent is free, as it would on a real floor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial

from dialer.agents import AgentState
from dialer.carriers.simulated import SimCall
from dialer.clock import VirtualLoop
from dialer.engine import Engine
from dialer.pacing import PacerEvent
from dialer.simulation.draws import Draws
from dialer.simulation.scenario import Scenario

# What agents record after a conversation with a person, and how often.
DISPOSITION_MIX: tuple[tuple[str, float], ...] = (
    ("SALE", 0.15),
    ("NI", 0.62),
    ("CB", 0.10),
    ("DNC", 0.05),
    ("WRONG", 0.03),
    ("HUP", 0.05),
)


def pick_disposition(rng: random.Random) -> str:
    """A disposition drawn from DISPOSITION_MIX, as a simulated agent would record it."""
    u = rng.random()
    for code, share in DISPOSITION_MIX:
        if u < share:
            return code
        u -= share
    return DISPOSITION_MIX[-1][0]


@dataclass
class SimAgent:
    agent_id: str
    talk_factor: float
    login_at: float | None = None
    logout_at: float | None = None
    pending_pause_s: float | None = None  # a break to start when the agent is free
    pending_logout: bool = False
    gone_for_day: bool = False


class AgentWorld:
    def __init__(self, loop: VirtualLoop, scenario: Scenario, engine: Engine, *, seed: int) -> None:
        self.loop = loop
        self.scenario = scenario
        self.engine = engine
        self.seed = seed
        self.rng = random.Random(f"agents:{seed}")
        self.draws = Draws(scenario, self.rng)
        self.outcomes = random.Random(f"dispositions:{seed}")
        self.agents: dict[str, SimAgent] = {}
        number = 0
        for group in scenario.agents:
            for _ in range(group.n):
                number += 1
                agent_id = f"agent{number:03d}"
                self.agents[agent_id] = SimAgent(agent_id, self.draws.agent_factor())
        engine.listeners.append(self._on_engine_event)

    # ------------------------------------------------------------------ hooks for the carrier
    def talk_time(self, agent_id: str) -> float:
        return self.draws.talk(self.agents[agent_id].talk_factor)

    def machine_bridged(self, call: SimCall) -> None:
        """The agent hears a machine: they hang up once they notice."""
        agent_id = call.agent_id
        if agent_id is None:
            return

        def notice() -> None:
            status = self.engine.board.get(agent_id)
            if status.state is AgentState.ON_CALL and call.ended_at is None:
                self.engine.hangup(agent_id, disposition="AM", wrap=False)

        self.loop.call_later(self.scenario.machine_heard_s, notice)

    # ------------------------------------------------------------------ one working day
    def plan_day(self, day_start: float) -> None:
        s = self.scenario
        day_end = day_start + s.hours * 3600.0
        groups = iter(s.agents)
        group = next(groups)
        left = group.n
        for agent in self.agents.values():
            while left == 0:
                group = next(groups)
                left = group.n
            left -= 1
            agent.gone_for_day = False
            agent.pending_logout = False
            agent.pending_pause_s = None
            login = day_start + 3600.0 * self.draws.between(group.login_h)
            logout = day_end if group.logout_h is None else day_start + 3600.0 * self.draws.between(group.logout_h)
            agent.login_at, agent.logout_at = login, min(logout, day_end)
            if agent.logout_at <= login:
                continue
            self.loop.call_at(login, partial(self._login, agent))
            if agent.logout_at >= day_end:
                # Staying all day: the agent stays until the day's last calls have rung out.
                self.loop.call_at(day_end, partial(self._end_of_day, agent))
            else:
                self.loop.call_at(agent.logout_at, partial(self._want_logout, agent))
            if s.breaks is not None and s.breaks.per_hour > 0:
                self._schedule_break(agent, login, agent.logout_at)
        if s.lunch is not None:
            lunch = s.lunch
            self.loop.call_at(day_start + 3600.0 * lunch.at_h, lambda: self._lunch_wave(day_end))
        for hour in s.abrupt_logouts_h:
            self.loop.call_at(day_start + 3600.0 * hour, self._abrupt_logout)

    def _login(self, agent: SimAgent) -> None:
        if self.engine.board.get(agent.agent_id).state is AgentState.OFFLINE:
            self.engine.login(agent.agent_id)

    def _want_logout(self, agent: SimAgent) -> None:
        agent.gone_for_day = True
        state = self.engine.board.get(agent.agent_id).state
        if state in (AgentState.READY, AgentState.PAUSED):
            self.engine.logout(agent.agent_id)
        elif state is not AgentState.OFFLINE:
            agent.pending_logout = True

    def _end_of_day(self, agent: SimAgent) -> None:
        if any(not call.is_answered and not call.is_ended for call in self.engine.live_calls()):
            self.loop.call_later(1.0, lambda: self._end_of_day(agent))
            return
        self._want_logout(agent)

    def _schedule_break(self, agent: SimAgent, start: float, end: float) -> None:
        breaks = self.scenario.breaks
        assert breaks is not None
        t = start
        while True:
            t += self.rng.expovariate(breaks.per_hour / 3600.0)
            if t >= end:
                return
            duration = self.rng.uniform(breaks.min_s, breaks.max_s)
            self.loop.call_at(t, partial(self._want_pause, agent, duration))

    def _lunch_wave(self, day_end: float) -> None:
        lunch = self.scenario.lunch
        assert lunch is not None
        present = [
            a for a in self.agents.values()
            if self.engine.board.get(a.agent_id).state is not AgentState.OFFLINE and not a.gone_for_day
        ]
        chosen = self.rng.sample(present, round(lunch.frac * len(present)))
        now = self.loop.now()
        for agent in chosen:
            at = now + self.rng.uniform(0.0, lunch.within_s)
            self.loop.call_at(at, partial(self._want_pause, agent, lunch.dur_s))

    def _want_pause(self, agent: SimAgent, duration: float) -> None:
        state = self.engine.board.get(agent.agent_id).state
        if agent.gone_for_day or state in (AgentState.OFFLINE, AgentState.PAUSED):
            return
        if state is AgentState.READY:
            self._pause_now(agent, duration)
        else:
            agent.pending_pause_s = duration

    def _pause_now(self, agent: SimAgent, duration: float) -> None:
        self.engine.pause(agent.agent_id, "break")
        self.loop.call_later(duration, lambda: self._resume(agent))

    def _resume(self, agent: SimAgent) -> None:
        if self.engine.board.get(agent.agent_id).state is not AgentState.PAUSED:
            return
        if agent.gone_for_day:
            self.engine.logout(agent.agent_id)
        else:
            self.engine.set_ready(agent.agent_id)

    def _abrupt_logout(self) -> None:
        ready = [a for a in self.agents.values() if self.engine.board.get(a.agent_id).state is AgentState.READY]
        if ready:
            agent = self.rng.choice(ready)
            agent.gone_for_day = True
            self.engine.logout(agent.agent_id)

    # ------------------------------------------------------------------ calls
    def _on_engine_event(self, event: PacerEvent) -> None:
        if event.kind != "agent" or not event.agent_id:
            return
        agent_id = event.agent_id
        if agent_id not in self.agents:
            return  # a person at the web console on the same floor: theirs to act, not ours
        if event.detail == AgentState.WRAP_UP.value:
            self.loop.call_later(self.draws.wrap(), lambda: self._finish_wrap(agent_id))
        elif event.detail == AgentState.READY.value:
            # Not from inside the engine's own move: let it finish, then act.
            self.loop.call_later(0.0, lambda: self._after_free(agent_id))

    def _finish_wrap(self, agent_id: str) -> None:
        if self.engine.board.get(agent_id).state is not AgentState.WRAP_UP:
            return
        agent = self.agents[agent_id]
        if agent.pending_pause_s is not None and not agent.pending_logout:
            duration, agent.pending_pause_s = agent.pending_pause_s, None
            self.engine.wrap_done(agent_id, self._disposition(), then_pause="break")
            self.loop.call_later(duration, lambda: self._resume(agent))
            return
        self.engine.wrap_done(agent_id, self._disposition())

    def _disposition(self) -> str:
        return pick_disposition(self.outcomes)

    def _after_free(self, agent_id: str) -> None:
        """The agent just became ready: carry out a logout or break that waited for this."""
        agent = self.agents[agent_id]
        if self.engine.board.get(agent_id).state is not AgentState.READY:
            return
        if agent.pending_logout:
            agent.pending_logout = False
            self.engine.logout(agent_id)
        elif agent.pending_pause_s is not None:
            duration, agent.pending_pause_s = agent.pending_pause_s, None
            self._pause_now(agent, duration)
