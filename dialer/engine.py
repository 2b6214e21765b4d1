"""The engine: places the calls a pacer asks for and puts answered people through to agents.

It holds the live floor (agents and calls in flight) and makes the decisions
of ``design.md`` section 1b: on an answer, reserve the longest-idle ready
agent and bridge at once; with no agent free, give the first agent who frees
up within the safe-harbour time, otherwise play the drop message and count an
abandoned call; a machine verdict frees the agent at once.

Everything arrives through three doors, all in the engine's clock: ``tick``
(the pacer's turn), ``on_carrier_event`` (webhooks), and the agent methods
(the console). Persistence and the outside world sit behind the ``Recorder``,
``Carrier`` and ``LeadSource`` interfaces.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dialer.agents import AgentBoard, AgentMove, AgentState, AgentStateError
from dialer.calls import Call
from dialer.carrier import PENDING_SID, Carrier, CarrierError, DialRequest
from dialer.clock import Timer, Timers
from dialer.events import CallEnd, CarrierEvent, CarrierEventKind
from dialer.hopper import Hopper, Lead
from dialer.outcomes import auto_disposition
from dialer.pacing import AgentView, CallView, Observation, Pacer, PacerEvent, Totals

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    campaign_id: int
    caller_id: str
    ring_timeout_s: float = 25.0
    safe_harbour_s: float = 2.0
    drop_message: str = ""
    amd_enabled: bool = True
    machine_action: str = "hangup"  # "hangup" or "voicemail"
    voicemail_message: str = ""
    target_abandon: float = 0.03
    tick_s: float = 1.0
    max_calls_per_tick: int = 50
    lost_call_grace_s: float = 60.0  # a call with no news this long after its ring timeout is written off
    # Hold every pacer to progressive past the abandonment target. Only benchmarks turn it
    # off, to measure other dialers' pacers as they are.
    hold_over_budget: bool = True
    # The supervisor's ceiling: lines (dialing, ringing, waiting or with an agent) per working agent.
    max_dial_level: float = 3.0
    # More caller IDs presented in turn with caller_id: spreads calls over several numbers, so
    # one number's answer rate (which falls when carriers label it as spam) can be watched.
    caller_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.ring_timeout_s < 15:
            raise ValueError("ring_timeout_s must be at least 15 seconds (the law's minimum)")
        if self.safe_harbour_s <= 0 or self.safe_harbour_s > 2.0:
            raise ValueError("safe_harbour_s must be in (0, 2] seconds")
        if self.tick_s <= 0:
            raise ValueError("tick_s must be positive")
        if self.max_dial_level < 1.0:
            raise ValueError("max_dial_level must be at least 1.0 (progressive)")


class Recorder(Protocol):
    """Where the engine writes what happened (the database, or nothing in unit tests)."""

    def call_changed(self, call: Call, milestone: str) -> None: ...

    def call_finished(self, call: Call) -> None:
        """The call is over and needs nothing more from an agent: apply the contact's outcome."""
        ...

    def agent_moved(self, move: AgentMove) -> None: ...


class NullRecorder:
    def call_changed(self, call: Call, milestone: str) -> None:
        pass

    def call_finished(self, call: Call) -> None:
        pass

    def agent_moved(self, move: AgentMove) -> None:
        pass


@dataclass
class _Counters:
    dials: int = 0
    answered: int = 0
    machines: int = 0
    abandoned: int = 0
    connected: int = 0
    dials_without_agents: int = 0
    unknown_events: int = 0
    carrier_errors: int = 0
    lost_calls: int = 0


@dataclass
class _Live:
    """Engine-side facts about a call that the carrier knows nothing of."""

    call: Call
    drop_timer: Timer | None = None
    needs_wrap: bool = False  # an agent talked to someone: the call closes with their disposition
    released: bool = False  # no agent owes this call anything any more


class Engine:
    def __init__(
        self,
        config: EngineConfig,
        timers: Timers,
        carrier: Carrier,
        pacer: Pacer,
        hopper: Hopper,
        recorder: Recorder | None = None,
    ) -> None:
        self.config = config
        self.timers = timers
        self.carrier = carrier
        self.pacer = pacer
        self.hopper = hopper
        self.recorder: Recorder = recorder or NullRecorder()
        self.board = AgentBoard()
        self.counters = _Counters()
        self.listeners: list[Callable[[PacerEvent], None]] = [pacer.observe]
        self._live: dict[str, _Live] = {}  # by engine call id
        self._caller_turn = -1  # index of the caller ID the last placed call presented
        self._by_sid: dict[str, str] = {}  # carrier sid -> engine call id
        self._waiting: list[str] = []  # answered people without an agent, oldest first
        self._tick_timer: Timer | None = None
        self._running = False
        self.bridge_latency_s = 0.5  # learnt from every connect: from the connect request to "bridged"
        self.budget_history: tuple[int, int] = (0, 0)  # (live answers, drops) of the 30 days before the start

    def set_pacer(self, pacer: Pacer) -> None:
        """Switch pacers while dialing (a supervisor's choice); the new one learns from now on."""
        self.listeners = [pacer.observe if listener == self.pacer.observe else listener for listener in self.listeners]
        self.pacer = pacer

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        if not self._running:
            self._running = True
            self._tick_timer = self.timers.call_later(0.0, self._tick_and_reschedule)

    def stop(self) -> None:
        """Stop placing calls; calls in flight still run to their end."""
        self._running = False
        if self._tick_timer is not None:
            self._tick_timer.cancel()
            self._tick_timer = None

    @property
    def running(self) -> bool:
        return self._running

    def over_abandon_budget(self, obs: Observation) -> bool:
        """Drops past the campaign's target share of live answers (one drop of slack to start).

        The count includes ``budget_history``: the campaign's live answers and drops of the
        last 30 days before this engine started, so a restart does not forget the budget.
        """
        totals = obs.totals
        live_before, dropped_before = self.budget_history
        live = totals.live_answers + live_before
        return totals.abandoned + dropped_before > self.config.target_abandon * live + 1.0

    def _tick_and_reschedule(self) -> None:
        if not self._running:
            return
        started = self.timers.now()
        self.tick()
        # On a fixed beat: on the wall clock a tick takes time, and a beat that slipped by it
        # would place fewer calls a second than the pacer (and the CPS limit) allow.
        self._tick_timer = self.timers.call_at(started + self.config.tick_s, self._tick_and_reschedule)

    def tick(self) -> int:
        """Ask the pacer and place that many calls; return how many were placed."""
        now = self.timers.now()
        self._write_off_lost_calls(now)
        obs = self.observation()
        wanted = self.pacer.calls_to_place(obs)
        if obs.working == 0:
            return 0  # never dial with nobody to take the call, whatever the pacer says
        wanted = max(0, min(int(wanted), self.config.max_calls_per_tick))
        lines = obs.in_flight + obs.waiting + obs.reserved + obs.on_call
        wanted = min(wanted, max(0, int(self.config.max_dial_level * obs.working + 1e-9) - lines))
        if self.config.hold_over_budget and self.over_abandon_budget(obs):
            # Whatever the pacer says, a campaign past its target only dials for free agents.
            wanted = min(wanted, max(0, obs.ready - obs.in_flight - obs.waiting))
        if self.pacer.agent_bound:
            wanted = min(wanted, obs.ready)
        if wanted == 0:
            return 0
        placed = 0
        for lead in self.hopper.take(wanted, now):
            if self.pacer.agent_bound and self.board.longest_idle_ready() is None:
                self._release_unplaced(lead, now)
                continue
            self._place(lead, now)
            placed += 1
        return placed

    # ------------------------------------------------------------------ placing
    def _place(self, lead: Lead, now: float) -> None:
        cfg = self.config
        call = self._new_call(lead, now)
        call.caller_id = self._next_caller_id()
        live = _Live(call)
        self._live[call.call_id] = live
        if self.pacer.agent_bound:
            agent = self.board.longest_idle_ready()
            assert agent is not None
            call.bound_agent = True
            self._reserve(agent.agent_id, call, now)
        if self.board.working() == 0:
            self.counters.dials_without_agents += 1
        self.counters.dials += 1
        self._emit(PacerEvent("placed", now, call.call_id))
        try:
            sid = self.carrier.place_call(
                DialRequest(call.call_id, lead.e164, call.caller_id, cfg.ring_timeout_s, cfg.amd_enabled)
            )
        except CarrierError as exc:
            self._refused(live, exc, now)
            return
        if sid != PENDING_SID:
            call.carrier_sid = sid
            self._by_sid[sid] = call.call_id
        self.recorder.call_changed(call, "queued")

    def _refused(self, live: _Live, exc: CarrierError, now: float) -> None:
        call = live.call
        self.counters.carrier_errors += 1
        log.warning("carrier refused %s: %s", call.call_id, exc)
        status = CallEnd.FAILED if exc.permanent else CallEnd.CANCELED
        call.mark("ended", now, status.value)
        call.disposition = "BAD" if exc.permanent else "NA"
        self.recorder.call_changed(call, "ended")
        self._after_end(live, now)

    def placed(self, call_id: str, sid: str) -> None:
        """The carrier's id of a call placed in the background (``place_call`` returned ``PENDING_SID``).

        Its events carry that id, so they find the call only from now on. A call
        given up while its request travelled (written off as lost) is hung up:
        nobody here would ever take it.
        """
        live = self._live.get(call_id)
        if live is None or live.call.is_ended:
            self._carrier_hangup(sid, call_id)
            return
        call = live.call
        call.carrier_sid = sid
        self._by_sid[sid] = call_id
        self.recorder.call_changed(call, "queued")

    def place_failed(self, call_id: str, exc: CarrierError) -> None:
        """A background placement the carrier refused: the same outcome as a refusal on the spot."""
        live = self._live.get(call_id)
        if live is None or live.call.is_ended or live.call.carrier_sid:
            return
        self._refused(live, exc, self.timers.now())

    def holds(self, call_sid: str) -> bool:
        """Whether an event for this carrier id would find a call here (the rest count as unknown)."""
        return call_sid in self._by_sid or call_sid in self._live

    def _carrier_hangup(self, sid: str, call_id: str) -> None:
        try:
            self.carrier.hangup(sid)
        except CarrierError as exc:
            self.counters.carrier_errors += 1
            log.info("carrier action on %s failed: %s", call_id, exc)

    def _next_caller_id(self) -> str:
        """The campaign's caller IDs in turn (the main one first), one per placed call."""
        numbers = (self.config.caller_id, *(n for n in self.config.caller_ids if n != self.config.caller_id))
        self._caller_turn = (self._caller_turn + 1) % len(numbers)
        return numbers[self._caller_turn]

    def _new_call(self, lead: Lead, now: float) -> Call:
        """The call for a claimed lead; its id names the campaign, contact and attempt, so it is unique."""
        campaign_id = self.config.campaign_id
        call = Call(
            call_id=f"c{campaign_id}-{lead.contact_id}-{lead.attempt_number}",
            campaign_id=campaign_id,
            contact_id=lead.contact_id,
            e164=lead.e164,
            attempt_number=lead.attempt_number,
            phone_id=lead.phone_id,
            attempt_id=lead.attempt_id,
        )
        call.mark("queued", now)
        return call

    def _release_unplaced(self, lead: Lead, now: float) -> None:
        """A claimed lead we could not place after all: close its attempt as not dialed."""
        call = self._new_call(lead, now)
        call.mark("ended", now, CallEnd.CANCELED.value)
        call.disposition = "NA"
        self.recorder.call_changed(call, "ended")
        self.recorder.call_finished(call)

    # ------------------------------------------------------------------ carrier events
    def on_carrier_event(self, event: CarrierEvent) -> None:
        call_id = self._by_sid.get(event.call_sid) or (
            event.call_sid if event.call_sid in self._live else None
        )
        live = self._live.get(call_id) if call_id else None
        if live is None:
            # A webhook for a call this process does not hold (finished, or another dialer's).
            self.counters.unknown_events += 1
            return
        call = live.call
        was_ended = call.is_ended
        milestone = call.apply(event)
        if milestone is None:
            return  # a duplicate: already known
        self.recorder.call_changed(call, milestone)
        now = self.timers.now()
        if milestone != "ended":  # the end is announced once, with its answer class, by _after_end
            self._emit(PacerEvent(milestone, event.at, call.call_id, call.agent_id, event.detail))
        if was_ended:
            return  # late news about a call that is over changes nothing live
        if event.kind is CarrierEventKind.ANSWERED:
            self._on_answer(live, now)
        elif event.kind is CarrierEventKind.AMD:
            self._on_verdict(live, now)
        elif event.kind is CarrierEventKind.BRIDGED:
            self._on_bridged(live, now)
        elif event.kind is CarrierEventKind.COMPLETED:
            self._on_end(live, now)

    def _on_answer(self, live: _Live, now: float) -> None:
        call = live.call
        self.counters.answered += 1
        if call.amd_verdict in ("machine", "fax"):
            self._on_verdict(live, now)  # the verdict overtook the answer
            return
        if call.bound_agent and call.agent_id is not None:
            self._connect(live, call.agent_id, now)
            return
        agent = self.board.longest_idle_ready()
        if agent is not None:
            self._reserve(agent.agent_id, call, now)
            self._connect(live, agent.agent_id, now)
            return
        self._wait_for_agent(live, now)

    def _on_verdict(self, live: _Live, now: float) -> None:
        call = live.call
        verdict = call.amd_verdict
        if verdict not in ("machine", "fax") or not call.is_answered:
            return
        self.counters.machines += 1
        self._stop_waiting(live)
        if call.has("abandoned") and self.counters.abandoned > 0:
            # The drop message went to a machine: not a person, so not an abandoned call.
            self.counters.abandoned -= 1
            self._emit(PacerEvent("abandon_cleared", now, call.call_id))
        call.disposition = "AM"
        call.mark("released", now, "machine")
        live.released = True
        freed = None
        if call.agent_id is not None:
            agent = self.board.get(call.agent_id)
            if agent.call_id == call.call_id and agent.state in (AgentState.RESERVED, AgentState.ON_CALL):
                live.needs_wrap = False
                freed = call.agent_id
                self._move(freed, AgentState.READY, now, reason="machine")
        if self.config.machine_action == "voicemail" and self.config.voicemail_message:
            self._carrier(lambda sid: self.carrier.play_and_hangup(sid, self.config.voicemail_message), call)
        else:
            self._carrier(self.carrier.hangup, call)
        if freed is not None:
            self._serve_waiting(now)

    def _on_bridged(self, live: _Live, now: float) -> None:
        call = live.call
        agent_id = call.agent_id
        if agent_id is None:
            self._carrier(self.carrier.hangup, call)
            return
        agent = self.board.get(agent_id)
        if agent.state is not AgentState.RESERVED or agent.call_id != call.call_id:
            self._carrier(self.carrier.hangup, call)  # the agent left in the meantime
            return
        self.counters.connected += 1
        asked = call.at("connect_requested")
        if asked is not None:
            sample = min(max(0.0, now - asked), 1.5)
            self.bridge_latency_s += 0.1 * (sample - self.bridge_latency_s)
        call.mark("connected", now)
        self.recorder.call_changed(call, "connected")  # durable now: a dialer that dies mid-call leaves it known
        live.needs_wrap = True
        self._move(agent_id, AgentState.ON_CALL, now, call_id=call.call_id)
        self._emit(PacerEvent("connected", now, call.call_id, agent_id))

    def _on_end(self, live: _Live, now: float) -> None:
        call = live.call
        if call.call_id in self._waiting:
            self._stop_waiting(live)
            if call.is_live_person and not call.has("abandoned"):
                self._count_abandoned(live, now, message=False)  # they hung up before an agent came
        if call.agent_id is not None:
            agent = self.board.get(call.agent_id)
            if agent.call_id == call.call_id:
                if agent.state is AgentState.RESERVED:
                    self._move(call.agent_id, AgentState.READY, now, reason="customer_gone")
                    self._serve_waiting(now)
                elif agent.state is AgentState.ON_CALL:
                    self._move(call.agent_id, AgentState.WRAP_UP, now, call_id=call.call_id)
        self._release_consulted(call, now)
        self._after_end(live, now)

    def _release_consulted(self, call: Call, now: float) -> None:
        """Colleagues held for a call that was not theirs (a warm transfer in progress) are free once it ends."""
        held = [a.agent_id for a in self.board
                if a.agent_id != call.agent_id and a.call_id == call.call_id and a.state is AgentState.RESERVED]
        for agent_id in held:
            self._move(agent_id, AgentState.READY, now, reason="call_ended")
        if held:
            self._serve_waiting(now)

    def _after_end(self, live: _Live, now: float) -> None:
        call = live.call
        self._emit(PacerEvent("ended", now, call.call_id, call.agent_id, str(call.answer_class or "")))
        if not live.needs_wrap:
            self._finish(live)

    def _finish(self, live: _Live) -> None:
        call = live.call
        if call.disposition is None:
            call.disposition = auto_disposition(call.answer_class, abandoned=call.has("abandoned"))
        live.released = True
        self.recorder.call_finished(call)
        self._live.pop(call.call_id, None)
        if call.carrier_sid:
            self._by_sid.pop(call.carrier_sid, None)

    # ------------------------------------------------------------------ the two seconds
    def _safe_harbour_expired(self, live: _Live) -> None:
        call = live.call
        if call.call_id not in self._waiting or call.is_ended:
            return
        now = self.timers.now()
        self._stop_waiting(live)
        self._count_abandoned(live, now, message=True)
        self._carrier(lambda sid: self.carrier.play_and_hangup(sid, self.config.drop_message), call)

    def _count_abandoned(self, live: _Live, now: float, *, message: bool) -> None:
        call = live.call
        call.mark("abandoned", now)
        if message:
            call.mark("message_played", now)
        self.recorder.call_changed(call, "abandoned")
        self.counters.abandoned += 1
        self._emit(PacerEvent("abandoned", now, call.call_id))

    def _wait_for_agent(self, live: _Live, now: float, *, first: bool = False) -> None:
        """Queue an answered person for the next free agent; the safe-harbour clock runs from the answer."""
        call = live.call
        if first:
            self._waiting.insert(0, call.call_id)
        else:
            self._waiting.append(call.call_id)
        live.drop_timer = self.timers.call_at(self._deadline(call, now), lambda: self._safe_harbour_expired(live))

    def _deadline(self, call: Call, now: float) -> float:
        """The last moment to choose an agent so that the person hears them within the safe harbour.

        Bridging takes time (measured on every connect), so the choice must come
        that much earlier; past it, the drop message plays, still inside the limit.
        """
        answered_at = call.at("answered") or now
        return answered_at + self.config.safe_harbour_s - self.bridge_latency_s

    def _stop_waiting(self, live: _Live) -> None:
        if live.call.call_id in self._waiting:
            self._waiting.remove(live.call.call_id)
        if live.drop_timer is not None:
            live.drop_timer.cancel()
            live.drop_timer = None

    def _serve_waiting(self, now: float) -> None:
        """Give waiting people to ready agents, oldest answer first, inside the safe harbour."""
        while self._waiting:
            agent = self.board.longest_idle_ready()
            if agent is None:
                return
            live = self._live.get(self._waiting[0])
            if live is None:
                self._waiting.pop(0)
                continue
            if now >= self._deadline(live.call, now):
                self._safe_harbour_expired(live)
                continue
            self._stop_waiting(live)
            self._reserve(agent.agent_id, live.call, now)
            self._connect(live, agent.agent_id, now)

    def _reserve(self, agent_id: str, call: Call, now: float) -> None:
        call.agent_id = agent_id
        call.mark("reserved", now)
        self._move(agent_id, AgentState.RESERVED, now, call_id=call.call_id)
        self._emit(PacerEvent("reserved", now, call.call_id, agent_id))

    def _connect(self, live: _Live, agent_id: str, now: float) -> None:
        call = live.call
        call.mark("connect_requested", now)
        self.recorder.call_changed(call, "reserved")
        self._carrier(lambda sid: self.carrier.connect(sid, agent_id), call)

    def _carrier(self, action: Callable[[str], None], call: Call) -> None:
        """Run a carrier action on a live call; a call that already ended is not an error."""
        if not call.carrier_sid:
            return
        try:
            action(call.carrier_sid)
        except CarrierError as exc:
            self.counters.carrier_errors += 1
            log.info("carrier action on %s failed: %s", call.call_id, exc)

    def _write_off_lost_calls(self, now: float) -> None:
        """Calls whose final webhook never came must not hold the floor's counts forever."""
        limit = self.config.ring_timeout_s + self.config.lost_call_grace_s
        for live in list(self._live.values()):
            call = live.call
            if call.is_answered or call.is_ended:
                continue
            started = call.at("dialing") or call.at("queued") or now
            if now - started > limit + (0.0 if call.has("dialing") else 240.0):
                self.counters.lost_calls += 1
                self._carrier(self.carrier.hangup, call)
                call.mark("ended", now, CallEnd.CANCELED.value)
                call.mark("lost", now)
                self.recorder.call_changed(call, "ended")
                self._on_end(live, now)

    # ------------------------------------------------------------------ agents (the console's doors)
    def login(self, agent_id: str, *, ready: bool = True) -> None:
        now = self.timers.now()
        self._move(agent_id, AgentState.READY if ready else AgentState.PAUSED, now, reason="login")
        if ready:
            self._serve_waiting(now)

    def set_ready(self, agent_id: str) -> None:
        now = self.timers.now()
        self._move(agent_id, AgentState.READY, now)
        self._serve_waiting(now)

    def pause(self, agent_id: str, reason: str = "break") -> None:
        self._move(agent_id, AgentState.PAUSED, self.timers.now(), reason=reason)

    def logout(self, agent_id: str) -> None:
        now = self.timers.now()
        agent = self.board.get(agent_id)
        call_id = agent.call_id
        if agent.state is AgentState.OFFLINE:
            return
        self._move(agent_id, AgentState.OFFLINE, now, reason="logout")
        live = self._live.get(call_id) if call_id else None
        if live is None:
            return
        call = live.call
        call.agent_id = None
        if live.needs_wrap:
            live.needs_wrap = False
            self._carrier(self.carrier.hangup, call)
            if call.is_ended:
                self._finish(live)
        elif call.is_answered and call.is_live_person and not call.is_ended:
            # Reserved but not yet bridged: the person goes back to waiting for another agent.
            self._wait_for_agent(live, now, first=True)
            self._serve_waiting(now)
        elif not call.is_answered:
            call.bound_agent = False

    def hangup(self, agent_id: str, *, disposition: str | None = None, wrap: bool = True) -> None:
        """The agent ends the conversation; wrap-up follows unless ``wrap`` is False."""
        now = self.timers.now()
        agent = self.board.get(agent_id)
        if agent.state is not AgentState.ON_CALL or agent.call_id is None:
            raise AgentStateError(f"agent {agent_id} is not on a call")
        live = self._live.get(agent.call_id)
        if wrap:
            self._move(agent_id, AgentState.WRAP_UP, now, call_id=agent.call_id)
        else:
            if live is not None:
                live.call.disposition = disposition or live.call.disposition
            self._move(agent_id, AgentState.READY, now)
        if live is not None:
            live.call.mark("agent_hangup", now)
            self._carrier(self.carrier.hangup, live.call)
            if not wrap:
                self._close_wrap(live)
        if not wrap:
            self._serve_waiting(now)

    def wrap_done(
        self, agent_id: str, disposition: str, *, notes: str = "", then_pause: str | None = None,
        callback_at: float | None = None, dnc_request: bool = False,
    ) -> None:
        """The agent has dispositioned the call: it closes, and the agent is ready (or paused).

        ``callback_at`` is when the person asked to be called again and ``dnc_request``
        that they asked never to be called; both ride on the call as milestones
        ("callback" at the promised time, "dnc_requested") so the recorder decides
        the contact's next step from the call alone.
        """
        now = self.timers.now()
        agent = self.board.get(agent_id)
        if agent.state is not AgentState.WRAP_UP:
            raise AgentStateError(f"agent {agent_id} is not in wrap-up")
        call_id = agent.call_id
        live = self._live.get(call_id) if call_id else None
        if live is not None:
            live.call.disposition = disposition
            live.call.mark("wrap_ended", now, notes)
            if callback_at is not None:
                live.call.mark("callback", callback_at)
            if dnc_request:
                live.call.mark("dnc_requested", now)
            self._close_wrap(live)
        if then_pause:
            self._move(agent_id, AgentState.PAUSED, now, reason=then_pause)
        else:
            self._move(agent_id, AgentState.READY, now)
            self._serve_waiting(now)

    def _close_wrap(self, live: _Live) -> None:
        live.needs_wrap = False
        if live.call.is_ended:
            self._finish(live)

    def _move(
        self,
        agent_id: str,
        state: AgentState,
        now: float,
        *,
        reason: str | None = None,
        call_id: str | None = None,
    ) -> None:
        old = self.board.get(agent_id)
        old_state, since = old.state, old.since
        move = self.board.move(agent_id, state, now, reason=reason, call_id=call_id)
        self.recorder.agent_moved(move)
        self._emit(
            PacerEvent("agent", now, move.call_id, agent_id, state.value, old_state.value, now - since)
        )

    def _emit(self, event: PacerEvent) -> None:
        for listener in self.listeners:
            listener(event)

    # ------------------------------------------------------------------ what the pacer sees
    def observation(self) -> Observation:
        now = self.timers.now()
        counts = dict.fromkeys(AgentState, 0)
        agents = []
        for a in self.board:
            counts[a.state] += 1
            if a.state is not AgentState.OFFLINE:
                agents.append(AgentView(a.agent_id, a.state, now - a.since, a.call_id))
        calls = []
        queued = dialing = 0
        for live in self._live.values():
            call = live.call
            state = call.state
            if call.is_ended:
                continue
            if not call.is_answered:
                if call.has("dialing"):
                    dialing += 1
                else:
                    queued += 1
            started = call.at("queued") or now
            calls.append(CallView(call.call_id, state.value, now - started, 0.0, call.agent_id))
        c = self.counters
        return Observation(
            now=now,
            agents=tuple(agents),
            calls=tuple(calls),
            ready=counts[AgentState.READY],
            reserved=counts[AgentState.RESERVED],
            on_call=counts[AgentState.ON_CALL],
            wrap_up=counts[AgentState.WRAP_UP],
            paused=counts[AgentState.PAUSED],
            working=counts[AgentState.READY]
            + counts[AgentState.RESERVED]
            + counts[AgentState.ON_CALL]
            + counts[AgentState.WRAP_UP],
            queued=queued,
            dialing=dialing,
            waiting=len(self._waiting),
            cps_limit=self.carrier.cps_limit,
            target_abandon=self.config.target_abandon,
            tick_s=self.config.tick_s,
            totals=Totals(
                dials=c.dials,
                answered=c.answered,
                live_answers=c.answered - c.machines,
                abandoned=c.abandoned,
                connected=c.connected,
                machines=c.machines,
            ),
        )

    # ------------------------------------------------------------------ introspection
    def live_calls(self) -> list[Call]:
        return [live.call for live in self._live.values()]

    def waiting_calls(self) -> list[str]:
        return list(self._waiting)

