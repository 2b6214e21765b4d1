"""The carrier interface: what the engine asks of Twilio or of the simulated carrier.

Calls are asynchronous: ``place_call`` returns the carrier's call id at once
and everything after (ringing, answer, verdict, bridge, end) comes back as
``CarrierEvent``s through the engine's ``on_carrier_event``.

A carrier whose requests travel over a network may place calls in the
background instead, so that the engine's one thread never waits on a round
trip: its ``place_call`` returns ``PENDING_SID``, and whoever runs the engine
later hands it the outcome through ``Engine.placed`` or ``Engine.place_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

PENDING_SID: Final = ""
"""What ``place_call`` returns when the carrier's id follows later (``Engine.placed``)."""


@dataclass(frozen=True, slots=True)
class DialRequest:
    call_id: str  # the engine's id, echoed in webhooks so events find their call
    to: str  # E.164
    caller_id: str  # E.164
    ring_timeout_s: float
    amd: bool = True


class CarrierError(Exception):
    """The carrier refused a request.

    ``permanent`` marks a number that will never work (mark it bad, never
    retry); ``retry_after_s`` asks us to back off (rate limited).
    """

    def __init__(self, message: str, *, permanent: bool = False, retry_after_s: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after_s = retry_after_s


class Carrier(Protocol):
    @property
    def cps_limit(self) -> float | None:
        """The account's calls-per-second limit, when known."""
        ...

    def place_call(self, request: DialRequest) -> str:
        """The carrier's id of the new call, or ``PENDING_SID`` when it is being placed in the background."""
        ...

    def connect(self, call_sid: str, agent_id: str) -> None:
        """Bridge an answered call to the agent's audio leg."""
        ...

    def play_and_hangup(self, call_sid: str, message: str) -> None:
        """Play a message (the drop message, a voicemail) and hang up."""
        ...

    def hangup(self, call_sid: str) -> None:
        """End the call; ending a call that already ended is not an error."""
        ...


class ConferenceControls(Protocol):
    """What a supervisor or an agent does to a conversation in progress (listen, whisper, barge, transfer).

    Separate from ``Carrier`` because the engine's pacing never needs it and not
    every carrier can do it; each agent talks in a room of their own, named
    after them, so the operations address the agent, not a call.  Each ``to``
    is a phone number or a carrier address (``client:name``); each operation
    that adds a leg returns the carrier's id of that leg.
    """

    def listen(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        """The supervisor hears both sides, unheard."""
        ...

    def whisper(self, agent_id: str, supervisor: str, agent_call_sid: str, *, caller_id: str) -> str:
        """The supervisor speaks to the agent only."""
        ...

    def barge(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        """The supervisor joins the conversation, heard by both sides."""
        ...

    def add_colleague(self, agent_id: str, colleague: str, *, caller_id: str) -> str:
        """Pull a colleague into the conversation (a warm transfer when the agent then leaves)."""
        ...

    def transfer(self, call_sid: str, to_agent_id: str) -> None:
        """Cold transfer: the customer moves to another agent's room."""
        ...
