"""Who hears whom in an agent's room: the simulated carrier's side of ``ConferenceControls``.

Twilio mixes a conference on its servers; the simulator has no audio, so this
keeps the part that matters to the product: which legs are in an agent's room
and in which role, and therefore who can hear whom.  Supervisor and web-app
tests can then check that a whisper reaches the agent and never the customer.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    LISTENER = "listener"  # hears everyone, heard by nobody
    COACH = "coach"  # hears everyone, heard by the agent only
    BARGER = "barger"  # hears and is heard by everyone
    COLLEAGUE = "colleague"  # a second agent pulled in: a full participant


@dataclass
class Leg:
    leg_id: str
    who: str
    role: Role


@dataclass
class Room:
    agent_id: str
    legs: dict[str, Leg] = field(default_factory=dict)

    def hears(self, listener: str, speaker: str) -> bool:
        """Whether the leg ``listener`` hears the leg ``speaker`` (both leg ids)."""
        a, b = self.legs.get(listener), self.legs.get(speaker)
        if a is None or b is None or a is b:
            return False
        if b.role is Role.LISTENER:
            return False
        if b.role is Role.COACH:
            return a.role is Role.AGENT
        return True


class RoomBook:
    """Every agent's room and the legs in it."""

    def __init__(self, prefix: str = "LEG") -> None:
        self.rooms: dict[str, Room] = {}
        self._ids = (f"{prefix}{n:06d}" for n in itertools.count(1))

    def room(self, agent_id: str) -> Room:
        room = self.rooms.get(agent_id)
        if room is None:
            room = self.rooms[agent_id] = Room(agent_id)
            self.join(agent_id, agent_id, Role.AGENT, leg_id=f"agent:{agent_id}")
        return room

    def join(self, agent_id: str, who: str, role: Role, *, leg_id: str | None = None) -> str:
        room = self.room(agent_id)
        leg = Leg(leg_id or next(self._ids), who, role)
        room.legs[leg.leg_id] = leg
        return leg.leg_id

    def leave(self, leg_id: str) -> None:
        for room in self.rooms.values():
            room.legs.pop(leg_id, None)

    def move(self, leg_id: str, to_agent_id: str) -> None:
        """Move a leg (a transferred customer) into another agent's room, keeping its role."""
        for room in self.rooms.values():
            leg = room.legs.pop(leg_id, None)
            if leg is not None:
                target = self.room(to_agent_id)
                target.legs[leg_id] = leg
                return
        raise KeyError(leg_id)

    def where(self, leg_id: str) -> str | None:
        for agent_id, room in self.rooms.items():
            if leg_id in room.legs:
                return agent_id
        return None
