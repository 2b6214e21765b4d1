"""A hand-driven carrier and lead source for engine tests: the test says what the network does."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime

from compliance.gate import Decision, RuleResult
from dialer.agents import AgentMove
from dialer.calls import Call
from dialer.carrier import CarrierError, DialRequest
from dialer.clock import VirtualLoop
from dialer.engine import Engine, EngineConfig
from dialer.events import CarrierEvent, CarrierEventKind
from dialer.hopper import Hopper, Lead
from dialer.pacing import make_pacer


@dataclass
class ScriptedCarrier:
    loop: VirtualLoop
    cps_limit: float | None = None
    placed: list[DialRequest] = field(default_factory=list)
    actions: list[tuple[str, str, str]] = field(default_factory=list)  # (action, sid, argument)
    refuse_next: CarrierError | None = None
    engine: Engine | None = None
    _seq: dict[str, int] = field(default_factory=dict)

    def place_call(self, request: DialRequest) -> str:
        if self.refuse_next is not None:
            error, self.refuse_next = self.refuse_next, None
            raise error
        self.placed.append(request)
        return f"SID{len(self.placed)}"

    def connect(self, call_sid: str, agent_id: str) -> None:
        self.actions.append(("connect", call_sid, agent_id))

    def play_and_hangup(self, call_sid: str, message: str) -> None:
        self.actions.append(("play_and_hangup", call_sid, message))

    def hangup(self, call_sid: str) -> None:
        self.actions.append(("hangup", call_sid, ""))

    def send(self, sid: str, kind: str, detail: str = "", *, at: float | None = None, seq: int | None = None) -> None:
        """Deliver one webhook to the engine now."""
        assert self.engine is not None
        number = self._seq.get(sid, 0) + 1 if seq is None else seq
        self._seq[sid] = max(self._seq.get(sid, 0), number)
        event = CarrierEvent(sid, CarrierEventKind(kind), self.loop.now() if at is None else at, number, detail)
        self.engine.on_carrier_event(event)

    def answer(self, sid: str) -> None:
        for kind in ("initiated", "ringing", "answered"):
            self.send(sid, kind)


class ListSource:
    """Leads from a list; claims always succeed once per (contact, attempt)."""

    def __init__(self, n: int) -> None:
        self.leads = [Lead(i, f"+1212555{i:04d}", 1, timezones=("America/New_York",)) for i in range(1, n + 1)]
        self.claimed: set[tuple[int, int]] = set()
        self.deferred: list[tuple[int, float | None]] = []

    def fetch(self, now: float, limit: int, exclude: Collection[int]) -> list[Lead]:
        out = [lead for lead in self.leads if lead.contact_id not in exclude][:limit]
        self.leads = self.leads[len(out):]
        return out

    def claim(self, leads: list[Lead], now: float) -> list[Lead]:
        out = []
        for lead in leads:
            key = (lead.contact_id, lead.attempt_number)
            if key not in self.claimed:
                self.claimed.add(key)
                out.append(replace(lead, attempt_id=len(self.claimed)))
        return out

    def defer(self, lead: Lead, until: float | None, codes: tuple[str, ...]) -> None:
        self.deferred.append((lead.contact_id, until))


class MemoryRecorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, str]] = []
        self.finished: list[Call] = []
        self.moves: list[AgentMove] = []
        self.decisions: list[Decision] = []

    def call_changed(self, call: Call, milestone: str) -> None:
        self.changes.append((call.call_id, milestone))

    def call_finished(self, call: Call) -> None:
        self.finished.append(call)

    def agent_moved(self, move: AgentMove) -> None:
        self.moves.append(move)

    def record(self, lead: Lead, decision: Decision, path: str) -> None:
        self.decisions.append(decision)


def allow_all(lead: Lead, now: float) -> Decision:
    from datetime import UTC

    return Decision(True, datetime.fromtimestamp(now, UTC), (RuleResult("test.allow", "ok", True, "allowed"),))


@dataclass
class Floor:
    loop: VirtualLoop
    carrier: ScriptedCarrier
    engine: Engine
    recorder: MemoryRecorder
    source: ListSource

    def sid_of_contact(self, contact_id: int) -> str:
        for i, request in enumerate(self.carrier.placed, start=1):
            if request.call_id.split("-")[1] == str(contact_id):
                return f"SID{i}"
        raise KeyError(contact_id)

    def advance(self, seconds: float) -> None:
        self.loop.run_until(self.loop.now() + seconds)


def make_floor(pacer: str = "progressive", *, leads: int = 50, start: float = 1_000_000.0, **config: object) -> Floor:
    loop = VirtualLoop(start)
    carrier = ScriptedCarrier(loop)
    recorder = MemoryRecorder()
    source = ListSource(leads)
    hopper = Hopper(source, allow_all, recorder, max_attempts=5)
    settings: dict[str, object] = {"campaign_id": 7, "caller_id": "+12125550100", "drop_message": "sorry"}
    settings.update(config)
    engine = Engine(EngineConfig(**settings), loop, carrier, make_pacer(pacer), hopper, recorder)  # type: ignore[arg-type]
    carrier.engine = engine
    return Floor(loop, carrier, engine, recorder, source)
