"""The life of one call, as a record of first-seen milestones.

Why milestones and not a mutable "state" field: carrier events can be
duplicated and reordered.  Keeping, for every milestone, the value of the
event with the lowest carrier sequence number makes the final record the same
whatever the arrival order; the state is derived from which milestones exist.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from dialer.events import CallEnd, CarrierEvent, CarrierEventKind


class CallState(enum.StrEnum):
    QUEUED = "queued"  # claimed, handed to the carrier, not yet dialing
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"  # picked up; no agent yet
    CONNECTED = "connected"
    ABANDONED = "abandoned"  # answered, no agent in time: drop message
    ENDED = "ended"


class AnswerClass(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    FAX = "fax"
    UNKNOWN = "unknown"  # answered, no verdict (treated as a person)
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


_ENDS_WITHOUT_ANSWER = {
    CallEnd.NO_ANSWER.value: AnswerClass.NO_ANSWER,
    CallEnd.BUSY.value: AnswerClass.BUSY,
    CallEnd.FAILED.value: AnswerClass.FAILED,
    CallEnd.CANCELED.value: AnswerClass.NO_ANSWER,
}

# Milestones that only the carrier reports, by event kind.
_CARRIER_MILESTONES = {
    CarrierEventKind.INITIATED: "dialing",
    CarrierEventKind.RINGING: "ringing",
    CarrierEventKind.ANSWERED: "answered",
    CarrierEventKind.AMD: "amd",
    CarrierEventKind.BRIDGED: "bridged",
    CarrierEventKind.COMPLETED: "ended",
}


@dataclass(slots=True)
class Milestone:
    at: float
    sequence: int
    detail: str = ""


@dataclass
class Call:
    """One dial; ``milestones`` maps a milestone name to when it happened."""

    call_id: str
    campaign_id: int
    contact_id: int
    e164: str
    attempt_number: int = 1
    phone_id: int | None = None
    attempt_id: int | None = None
    carrier_sid: str | None = None
    agent_id: str | None = None
    bound_agent: bool = False  # preview/agent-bound dial: the agent waits on this call
    disposition: str | None = None
    caller_id: str = ""  # the number the called party saw
    milestones: dict[str, Milestone] = field(default_factory=dict)

    # ---- the carrier's side ----------------------------------------------------------------
    def apply(self, event: CarrierEvent) -> str | None:
        """Record a carrier event; return the milestone it set, or None when it changed nothing."""
        name = _CARRIER_MILESTONES[event.kind]
        return name if self._set(name, event.at, event.sequence, event.detail) else None

    # ---- the engine's side -----------------------------------------------------------------
    def mark(self, name: str, at: float, detail: str = "") -> bool:
        """Record a decision of the engine (queued, reserved, abandoned, message, released...)."""
        return self._set(name, at, -1, detail)

    def _set(self, name: str, at: float, sequence: int, detail: str) -> bool:
        current = self.milestones.get(name)
        if current is None:
            self.milestones[name] = Milestone(at, sequence, detail)
            return True
        if sequence >= 0 and current.sequence >= 0 and sequence < current.sequence:
            # An earlier event arrived late: it is the truth for this milestone.
            self.milestones[name] = Milestone(at, sequence, detail)
        return False

    def at(self, name: str) -> float | None:
        m = self.milestones.get(name)
        return m.at if m else None

    def has(self, name: str) -> bool:
        return name in self.milestones

    # ---- derived views ---------------------------------------------------------------------
    @property
    def state(self) -> CallState:
        m = self.milestones
        if "ended" in m:
            return CallState.ENDED
        if "abandoned" in m:
            return CallState.ABANDONED
        if "bridged" in m:
            return CallState.CONNECTED
        if "answered" in m:
            return CallState.ANSWERED
        if "ringing" in m:
            return CallState.RINGING
        if "dialing" in m:
            return CallState.DIALING
        return CallState.QUEUED

    @property
    def is_ended(self) -> bool:
        return "ended" in self.milestones

    @property
    def is_answered(self) -> bool:
        return "answered" in self.milestones

    @property
    def amd_verdict(self) -> str | None:
        m = self.milestones.get("amd")
        return m.detail if m else None

    @property
    def end_status(self) -> str | None:
        m = self.milestones.get("ended")
        return m.detail if m else None

    @property
    def answer_class(self) -> AnswerClass | None:
        """What answered: the AMD verdict when there is one, else what the end says."""
        verdict = self.amd_verdict
        if self.is_answered:
            if verdict in (AnswerClass.HUMAN, AnswerClass.MACHINE, AnswerClass.FAX):
                return AnswerClass(verdict)
            return AnswerClass.UNKNOWN
        status = self.end_status
        if status is None:
            return None
        if status == CallEnd.COMPLETED.value:
            return AnswerClass.UNKNOWN  # completed without an "answered" event we saw
        return _ENDS_WITHOUT_ANSWER.get(status, AnswerClass.FAILED)

    @property
    def is_live_person(self) -> bool:
        """Answered and not (yet) known to be a machine: the law's 2-second clock runs."""
        return self.is_answered and self.amd_verdict not in ("machine", "fax")

    def seconds(self, start: str, end: str) -> float | None:
        a, b = self.at(start), self.at(end)
        if a is None or b is None:
            return None
        return max(0.0, b - a)
