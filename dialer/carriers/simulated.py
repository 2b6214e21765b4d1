"""A carrier in virtual time, driven by a scenario file.

It behaves like the real network as the engine sees it: calls wait in a
calls-per-second queue, ring, are answered by people or machines or not at
all, the answering-machine detector's verdict comes seconds after the answer
(and is sometimes wrong), people hang up when nobody speaks, and the line is
bridged to an agent some latency after the engine asks.

It also keeps the truth the engine cannot see (``SimCall``): who really
answered and when the agent really heard them.  The simulation's measures
are taken from that truth, never from the engine's own counts.

Every dial draws its fate from the same positions of the call stream, in
the same order, whatever the pacer does: two pacers run on one seed meet the
same people in the same order (common random numbers), so their figures
differ by what they decided, not by luck.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from dialer.carrier import DialRequest
from dialer.carriers.rooms import Role, RoomBook
from dialer.clock import Timer, VirtualLoop
from dialer.events import CallEnd, CarrierEvent, CarrierEventKind
from dialer.simulation.draws import Draws
from dialer.simulation.scenario import Scenario


@dataclass(slots=True)
class Fate:
    """Everything chance decides about one dial, drawn when it is placed."""

    outcome: str  # human | machine | busy | invalid | no_answer
    setup_s: float
    ring_s: float
    fail_s: float  # busy / invalid: seconds until known
    amd_s: float
    verdict: str
    patience_s: float


@dataclass
class SimCall:
    sid: str
    request: DialRequest
    fate: Fate
    handed_at: float
    dialing_at: float | None = None
    answered_at: float | None = None
    verdict_at: float | None = None
    connect_asked_at: float | None = None
    heard_at: float | None = None  # the agent hears the customer
    agent_id: str | None = None
    talk_end_at: float | None = None
    ended_at: float | None = None
    end_by: str = ""  # network | customer | dialer | conversation | message
    message_played: bool = False
    sequence: int = 0
    timers: list[Timer] = field(default_factory=list)

    @property
    def is_person(self) -> bool:
        return self.fate.outcome == "human" and self.answered_at is not None

    @property
    def talk_s(self) -> float:
        if self.heard_at is None or self.fate.outcome != "human":
            return 0.0
        end = self.ended_at if self.ended_at is not None else self.heard_at
        return max(0.0, end - self.heard_at)


ConversationHook = Callable[[SimCall], None]

# How long the drop or voicemail message plays before the line is hung up. The law's drop
# message (seller, purpose, a number to call, a key-press opt-out) takes several seconds.
MESSAGE_S = 8.0


class SimulatedCarrier:
    def __init__(
        self,
        loop: VirtualLoop,
        scenario: Scenario,
        *,
        seed: int,
        day_start: Callable[[float], float],
        p_human: Callable[[float], float],
        talk_time: Callable[[str], float],
    ) -> None:
        """``day_start(t)`` gives the start of the working day containing t, ``p_human(t)``
        the chance a dial reaches a person at t, ``talk_time(agent)`` one conversation's length.
        """
        self.loop = loop
        self.scenario = scenario
        self.draws = Draws(scenario, random.Random(f"calls:{seed}"))
        self._day_start = day_start
        self._p_human = p_human
        self._talk_time = talk_time
        self.deliver: Callable[[CarrierEvent], None] = lambda event: None
        self.on_machine_bridged: ConversationHook = lambda call: None
        self.calls: dict[str, SimCall] = {}
        self.rooms = RoomBook()  # who is in each agent's room, for listen / whisper / barge / transfer
        self.oracle = False  # the simulator's oracle mode: see _oracle_fate
        self.oracle_skipped = 0
        self._next_slot = 0.0
        self._count = 0

    # ------------------------------------------------------------------ Carrier interface
    @property
    def cps_limit(self) -> float | None:
        return self._cps_at(self.loop.now())

    def _cps_at(self, t: float) -> float:
        return self.scenario.cps_at((t - self._day_start(t)) / 3600.0)

    def place_call(self, request: DialRequest) -> str:
        now = self.loop.now()
        self._count += 1
        # Like Twilio's CallSid: unique across runs sharing one database.
        sid = f"CA{uuid.uuid4().hex}"
        d = self.draws
        fate = Fate(
            outcome=d.outcome(self._p_human(now)),
            setup_s=d.setup(),
            ring_s=d.ring_answer(),
            fail_s=0.0,
            amd_s=d.amd(),
            verdict="",
            patience_s=d.patience(),
        )
        fate.fail_s = d.busy() if fate.outcome == "busy" else d.invalid()
        fate.verdict = d.amd_verdict(fate.outcome) if fate.outcome in ("human", "machine") else ""
        call = SimCall(sid, request, fate, handed_at=now)
        self.calls[sid] = call
        slot = max(now, self._next_slot)
        if self.oracle:
            slot = self._oracle_fate(fate, slot, request.ring_timeout_s)
        self._next_slot = slot + 1.0 / self._cps_at(slot)
        self._at(call, slot, lambda: self._start(call))
        return sid

    def _oracle_fate(self, fate: Fate, slot: float, timeout: float) -> float:
        """The oracle's dial: it knows which numbers a person answers, and dials so the answer is immediate.

        The dials it knows are useless still pass through the carrier's
        calls-per-second limit (they are counted in ``oracle_skipped``), so a
        CPS-bound floor binds the oracle too. Everything else about the call
        (talk time, wrap-up) is what chance gives anybody.
        """
        d = self.draws
        while fate.outcome != "human" or fate.ring_s >= timeout:
            self.oracle_skipped += 1
            slot += 1.0 / self._cps_at(slot)
            fate.outcome = d.outcome(self._p_human(slot))
            fate.ring_s = d.ring_answer()
        fate.setup_s = 0.0
        fate.ring_s = 0.0
        fate.verdict = "human"
        fate.patience_s = max(fate.patience_s, 60.0)
        return slot

    def connect(self, call_sid: str, agent_id: str) -> None:
        call = self.calls.get(call_sid)
        if call is None or call.ended_at is not None or call.answered_at is None:
            return  # the call is over (or never answered): nothing to bridge, not an error
        now = self.loop.now()
        call.connect_asked_at = now
        self._at(call, now + self.scenario.connect_latency_s, lambda: self._bridge(call, agent_id))

    def play_and_hangup(self, call_sid: str, message: str) -> None:
        """The message takes MESSAGE_S to play; the detector's verdict may still land meanwhile."""
        call = self.calls.get(call_sid)
        if call is None or call.ended_at is not None or call.message_played:
            return
        call.message_played = True
        self._at(call, self.loop.now() + MESSAGE_S, lambda: self._end(call, CallEnd.COMPLETED, "message"))

    def hangup(self, call_sid: str) -> None:
        call = self.calls.get(call_sid)
        if call is None or call.ended_at is not None:
            return
        self._end(call, CallEnd.COMPLETED if call.answered_at else CallEnd.CANCELED, "dialer")

    # ------------------------------------------------------------------ ConferenceControls
    def listen(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        return self.rooms.join(agent_id, supervisor, Role.LISTENER)

    def whisper(self, agent_id: str, supervisor: str, agent_call_sid: str, *, caller_id: str) -> str:
        return self.rooms.join(agent_id, supervisor, Role.COACH)

    def barge(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        return self.rooms.join(agent_id, supervisor, Role.BARGER)

    def add_colleague(self, agent_id: str, colleague: str, *, caller_id: str) -> str:
        return self.rooms.join(agent_id, colleague, Role.COLLEAGUE)

    def transfer(self, call_sid: str, to_agent_id: str) -> None:
        """The customer moves to another agent's room; a call that ended meanwhile is left alone."""
        call = self.calls.get(call_sid)
        if call is None or call.ended_at is not None or self.rooms.where(call_sid) is None:
            return
        self.rooms.move(call_sid, to_agent_id)
        call.agent_id = to_agent_id

    # ------------------------------------------------------------------ the network's side
    def _start(self, call: SimCall) -> None:
        now = self.loop.now()
        call.dialing_at = now
        self._emit(call, CarrierEventKind.INITIATED)
        f = call.fate
        timeout = call.request.ring_timeout_s
        if f.outcome == "busy":
            self._at(call, now + f.fail_s, lambda: self._end(call, CallEnd.BUSY, "network"))
            return
        if f.outcome == "invalid":
            self._at(call, now + f.fail_s, lambda: self._end(call, CallEnd.FAILED, "network"))
            return
        ringing = now + f.setup_s
        self._at(call, ringing, lambda: self._emit(call, CarrierEventKind.RINGING))
        if f.outcome in ("human", "machine") and f.ring_s < timeout:
            self._at(call, ringing + f.ring_s, lambda: self._answer(call))
        else:
            self._at(call, ringing + timeout, lambda: self._end(call, CallEnd.NO_ANSWER, "network"))

    def _answer(self, call: SimCall) -> None:
        now = self.loop.now()
        call.answered_at = now
        self._emit(call, CarrierEventKind.ANSWERED)
        f = call.fate
        if call.request.amd:
            self._at(call, now + f.amd_s, lambda: self._verdict(call))
        if f.outcome == "human":
            self._at(call, now + f.patience_s, lambda: self._lose_patience(call))
        else:
            # A machine records for a while, then hangs up on its own.
            self._at(call, now + 60.0, lambda: self._end(call, CallEnd.COMPLETED, "customer"))

    def _verdict(self, call: SimCall) -> None:
        call.verdict_at = self.loop.now()
        self._emit(call, CarrierEventKind.AMD, call.fate.verdict)

    def _lose_patience(self, call: SimCall) -> None:
        # A bridge already on its way reaches them: the agent's "hello" is what they wait for.
        if call.heard_at is None and call.connect_asked_at is None:
            self._end(call, CallEnd.COMPLETED, "customer")

    def _bridge(self, call: SimCall, agent_id: str) -> None:
        if call.ended_at is not None:
            return
        now = self.loop.now()
        call.heard_at = now
        call.agent_id = agent_id
        self.rooms.join(agent_id, call.request.to, Role.CUSTOMER, leg_id=call.sid)
        self._emit(call, CarrierEventKind.BRIDGED, agent_id)
        if call.fate.outcome == "human":
            call.talk_end_at = now + self._talk_time(agent_id)
            self._at(call, call.talk_end_at, lambda: self._end(call, CallEnd.COMPLETED, "conversation"))
        else:
            self.on_machine_bridged(call)

    def _end(self, call: SimCall, status: CallEnd, by: str) -> None:
        if call.ended_at is not None:
            return
        call.ended_at = self.loop.now()
        if call.heard_at is not None:
            self.rooms.leave(call.sid)
        call.end_by = by
        for timer in call.timers:
            timer.cancel()
        call.timers.clear()
        self._emit(call, CarrierEventKind.COMPLETED, status.value)

    def _emit(self, call: SimCall, kind: CarrierEventKind, detail: str = "") -> None:
        if call.ended_at is not None and kind is not CarrierEventKind.COMPLETED:
            return
        call.sequence += 1
        event = CarrierEvent(call.sid, kind, self.loop.now(), call.sequence, detail)
        # Like a webhook, the news reaches the engine after the action that caused it returns.
        self.loop.call_later(0.0, lambda: self.deliver(event))

    def _at(self, call: SimCall, when: float, action: Callable[[], None]) -> None:
        call.timers.append(self.loop.call_at(when, action))
