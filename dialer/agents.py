"""Agent states and the moves between them.

The table of allowed moves is the single place that says what an agent may do
next; the engine and the web console both go through ``AgentBoard.move``, so an
impossible sequence (wrap-up without a call, a reserved agent going on
another call) raises instead of corrupting the floor's counts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass


class AgentState(enum.StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    RESERVED = "reserved"  # chosen for an answered call, audio being bridged
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


S = AgentState
ALLOWED_MOVES: dict[AgentState, frozenset[AgentState]] = {
    S.OFFLINE: frozenset({S.READY, S.PAUSED}),
    S.READY: frozenset({S.RESERVED, S.PAUSED, S.OFFLINE}),
    S.RESERVED: frozenset({S.ON_CALL, S.READY, S.OFFLINE}),
    S.ON_CALL: frozenset({S.WRAP_UP, S.READY, S.OFFLINE}),
    S.WRAP_UP: frozenset({S.READY, S.PAUSED, S.OFFLINE}),
    S.PAUSED: frozenset({S.READY, S.OFFLINE}),
}
WORKING = frozenset({S.READY, S.RESERVED, S.ON_CALL, S.WRAP_UP})  # logged in and not paused


class AgentStateError(ValueError):
    pass


@dataclass(slots=True)
class AgentStatus:
    agent_id: str
    state: AgentState = AgentState.OFFLINE
    since: float = 0.0
    ready_since: float | None = None  # when the agent last became ready: longest idle goes first
    call_id: str | None = None
    pause_reason: str | None = None


@dataclass(frozen=True, slots=True)
class AgentMove:
    agent_id: str
    old: AgentState
    new: AgentState
    at: float
    reason: str | None
    call_id: str | None


class AgentBoard:
    """Every agent's state; the one place moves are checked."""

    def __init__(self) -> None:
        self._agents: dict[str, AgentStatus] = {}

    def get(self, agent_id: str) -> AgentStatus:
        status = self._agents.get(agent_id)
        if status is None:
            status = self._agents[agent_id] = AgentStatus(agent_id)
        return status

    def __iter__(self) -> Iterator[AgentStatus]:
        return iter(self._agents.values())

    def move(
        self,
        agent_id: str,
        new: AgentState,
        at: float,
        *,
        reason: str | None = None,
        call_id: str | None = None,
    ) -> AgentMove:
        status = self.get(agent_id)
        old = status.state
        if new not in ALLOWED_MOVES[old]:
            raise AgentStateError(f"agent {agent_id}: cannot go from {old} to {new}")
        status.state = new
        status.since = at
        status.pause_reason = reason if new is AgentState.PAUSED else None
        if new is AgentState.READY:
            status.ready_since = at
            status.call_id = None
        elif new in (AgentState.RESERVED, AgentState.ON_CALL):
            status.call_id = call_id or status.call_id
        elif new in (AgentState.OFFLINE, AgentState.PAUSED):
            status.call_id = None
            status.ready_since = None
        return AgentMove(agent_id, old, new, at, reason, call_id or status.call_id)

    def longest_idle_ready(self) -> AgentStatus | None:
        best: AgentStatus | None = None
        for status in self._agents.values():
            if status.state is AgentState.READY and (
                best is None or (status.ready_since or 0.0) < (best.ready_since or 0.0)
            ):
                best = status
        return best

    def count(self, *states: AgentState) -> int:
        wanted = set(states)
        return sum(1 for s in self._agents.values() if s.state in wanted)

    def working(self) -> int:
        return sum(1 for s in self._agents.values() if s.state in WORKING)
