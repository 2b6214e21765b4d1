"""One call as the stand-in keeps it: what was asked, what chance decided, what happened.

A customer's fate is drawn when the call is created, from the same scenario
draws and in the same order as the in-process simulated carrier
(``dialer/carriers/simulated.py``), so one seed gives both carriers the same
people; it is then played out in wall-clock time.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dialer.carriers.fake_twilio.scheduler import Timer
from dialer.carriers.fake_twilio.twiml import Verb
from dialer.carriers.fake_twilio.validation import Amd
from dialer.simulation.draws import Draws

ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(slots=True)
class Fate:
    """Everything chance decides about a customer's call, drawn when it is placed."""

    outcome: str  # human | machine | busy | invalid | no_answer
    setup_s: float
    ring_s: float
    fail_s: float
    amd_s: float
    verdict: str  # human | machine, or "" when nobody answers
    patience_s: float
    talk_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "setup_s": self.setup_s,
            "ring_s": self.ring_s,
            "fail_s": self.fail_s,
            "amd_s": self.amd_s,
            "verdict": self.verdict,
            "patience_s": self.patience_s,
            "talk_s": self.talk_s,
        }


def draw_fate(draws: Draws, p_human: float) -> Fate:
    """Same draws, same order as ``SimulatedCarrier.place_call``; the talk time comes last."""
    fate = Fate(
        outcome=draws.outcome(p_human),
        setup_s=draws.setup(),
        ring_s=draws.ring_answer(),
        fail_s=0.0,
        amd_s=draws.amd(),
        verdict="",
        patience_s=draws.patience(),
        talk_s=0.0,
    )
    fate.fail_s = draws.busy() if fate.outcome == "busy" else draws.invalid()
    fate.verdict = draws.amd_verdict(fate.outcome) if fate.outcome in ("human", "machine") else ""
    fate.talk_s = draws.talk()
    return fate


@dataclass
class Instructions:
    """Where a call's TwiML comes from: a URL to fetch or an inline document."""

    url: str | None
    method: str
    twiml: str | None


@dataclass
class FakeCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    kind: str  # customer | agent
    fate: Fate | None  # None for agent legs: they answer at once and stay
    instructions: Instructions
    status_callback: str | None
    status_callback_method: str
    status_events: frozenset[str]
    timeout_s: float
    amd: Amd | None
    created_at: float
    start_slot: float
    status: str = "queued"
    started_at: float | None = None
    ringing_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str = ""
    answered_by: str | None = None
    connected_at: float | None = None  # a customer first heard an agent
    sequence: int = 0
    generation: int = 0  # bumped by every redirect: stale TwiML steps see it and stop
    doc_url: str | None = None
    conference_sid: str | None = None
    join_on_answer: str | None = None  # a conference sid (Participants API)
    program: deque[Verb] = field(default_factory=deque)  # the verbs still to run
    dial: tuple[int, str | None, str] | None = None  # in a <Dial>: (generation, action URL, method)
    timers: list[Timer] = field(default_factory=list)
    patience_timer: Timer | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    webhook_ids: list[int] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def is_human(self) -> bool:
        return self.fate is not None and self.fate.outcome == "human"

    def note(self, at: float, event: str, **detail: Any) -> None:
        self.timeline.append({"t": round(at, 3), "event": event, **detail})

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    def duration_s(self) -> int:
        if self.answered_at is None or self.ended_at is None:
            return 0
        return round(self.ended_at - self.answered_at)
