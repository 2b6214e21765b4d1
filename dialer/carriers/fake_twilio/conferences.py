"""Conference rooms and their participants, as the stand-in keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# TwiML's statusCallbackEvent words and the StatusCallbackEvent values Twilio sends for them.
EVENT_NAMES = {
    "start": ("conference-start",),
    "end": ("conference-end",),
    "join": ("participant-join",),
    "leave": ("participant-leave",),
    "mute": ("participant-mute", "participant-unmute"),
    "hold": ("participant-hold", "participant-unhold"),
    "modify": ("participant-modify",),
    "speaker": ("participant-speech-start", "participant-speech-stop"),
    "announcement": ("announcement-end", "announcement-fail"),
}


@dataclass
class Participant:
    call_sid: str
    kind: str  # customer | agent
    label: str | None
    muted: bool
    hold: bool
    coaching: bool
    call_sid_to_coach: str | None
    start_conference_on_enter: bool
    end_conference_on_exit: bool
    beep: bool
    created_at: float
    updated_at: float
    status: str = "queued"  # queued | connecting | ringing | connected | complete | failed

    @property
    def present(self) -> bool:
        return self.status == "connected"

    @property
    def can_be_heard_by_customer(self) -> bool:
        """An agent the customer talks to: neither a coach (heard by the agent only) nor on hold."""
        return self.kind == "agent" and not self.coaching and not self.hold


@dataclass
class Conference:
    sid: str
    account_sid: str
    friendly_name: str
    created_at: float
    updated_at: float
    status: str = "init"  # init | in-progress | completed
    participants: dict[str, Participant] = field(default_factory=dict)
    callback: str | None = None
    callback_method: str = "POST"
    events: frozenset[str] = frozenset()
    sequence: int = 0
    reason_ended: str | None = None
    call_sid_ending: str | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def present(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.present]

    def wants(self, event: str) -> bool:
        """Whether ``event`` (e.g. "participant-join") is one the room's callback asked for."""
        return self.callback is not None and any(event in EVENT_NAMES.get(word, ()) for word in self.events)

    def note(self, at: float, event: str, **detail: Any) -> None:
        self.timeline.append({"t": round(at, 3), "event": event, **detail})
