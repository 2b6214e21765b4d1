"""The live dialer process (``dialer run``): the engine on the wall clock, one lease per campaign.

The engine is pure and clock-injected; this module puts it on a
``RealtimeLoop`` and around it everything a production floor needs:

* which campaigns to pace: the active ones in the database, each only while
  this process holds its lease (``campaigns.leases``), so several processes
  share the floor and a dead one's campaigns move on within the lease time;
* the fence: every tick, every claim of an attempt and every call record
  is preceded by a check that this process still holds the lease with the
  same token; when it does not, the campaign stops at once and its
  unwritten news is dropped, because another process owns it now;
* takeover: the attempts a dead holder left open are closed
  (``recover_interrupted_attempts``), never redialed; with a carrier whose
  calls outlive this process (Twilio), the open calls are adopted as
  *orphans* and their webhooks, read from the bus, still give them their
  outcome;
* the bus (``campaigns.live_events``): carrier events and agent commands are
  read in order from where the last holder stopped; the offset is written
  under the fence, so a new holder resumes exactly there;
* live state for the web app, refreshed every second (see docs/operations.md).

With the simulated carrier the calls live in this process (events are
delivered in-process, as in ``dialer simulate``) and die with it: a new
holder closes them as interrupted.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine as Database
from sqlalchemy import and_, func, select

from campaigns.compliance_reports import abandonment_periods
from campaigns.consent_store import SqlConsentLookup
from campaigns.db import make_session_factory
from campaigns.leases import CampaignLease, LeaseLost, heartbeat, leave, new_owner_id
from campaigns.live_events import START, Command, read_carrier_events, read_commands
from campaigns.models import Agent, CallAttempt, Campaign, CampaignStatus
from campaigns.store import (
    CampaignAttemptHistory,
    SqlDnc,
    SqlLeadSource,
    SqlRecorder,
    recover_interrupted_attempts,
)
from compliance.gate import CallingWindow, CampaignPolicy, Decision, DialTarget, default_gate
from dialer.agents import AgentMove, AgentState, AgentStateError
from dialer.calls import Call
from dialer.carrier import Carrier, CarrierError
from dialer.carriers.simulated import SimulatedCarrier
from dialer.clock import RealtimeLoop, Timer
from dialer.engine import Engine, EngineConfig
from dialer.events import CarrierEvent, CarrierEventKind
from dialer.hopper import Hopper, Lead
from dialer.outcomes import RetryPolicy, auto_disposition
from dialer.pacing import make_pacer
from dialer.simulation.scenario import AgentGroup, Scenario
from dialer.simulation.world import AgentWorld

if TYPE_CHECKING:
    import redis

    from campaigns.carrier_bots import CarrierBots
    from campaigns.settings import Settings

log = logging.getLogger(__name__)

CarrierFactory = Callable[[Campaign], Carrier]
"""The hook a carrier plugs into: one carrier per campaign a process takes over."""

# Open calls older than this are closed whatever the carrier: no call lasts four hours.
ORPHAN_MAX_AGE_S = 4 * 3600.0
# An orphan never answered and silent this long after its ring time is written off as lost.
ORPHAN_GRACE_S = 60.0


def live_key(campaign_id: int) -> str:
    return f"dialer:live:{campaign_id}"


def agents_key(campaign_id: int) -> str:
    return f"dialer:agents:{campaign_id}"


def events_offset_key(campaign_id: int) -> str:
    return f"dialer:bus:{campaign_id}:events_offset"


def commands_offset_key(campaign_id: int) -> str:
    return f"dialer:bus:{campaign_id}:commands_offset"


@dataclass(frozen=True)
class DialerOptions:
    campaign_ids: tuple[int, ...] = ()  # empty: every active campaign
    bot_agents: int = 0  # simulated agents per campaign (simulated carrier only)
    lease_s: float = 10.0
    renew_s: float | None = None  # default: a third of the lease, at most 3 s
    discover_s: float = 1.0
    bus_poll_s: float = 0.1
    publish_s: float = 1.0
    scenario: Scenario | None = None  # the simulated world (answer rates, talk and wrap times)
    seed: int = 1

    @property
    def renew_every_s(self) -> float:
        return self.renew_s if self.renew_s is not None else min(3.0, self.lease_s / 3.0)


# ---------------------------------------------------------------------------------- simulated floor


class SimulatedCarriers:
    """``carrier_factory`` for DIALER_CARRIER=simulated: virtual calls on the process's wall clock.

    Simulated bot agents are attached after the engine exists (they act on
    it), by ``attach_bots``; their conversations set the carrier's talk times.
    """

    def __init__(self, loop: RealtimeLoop, scenario: Scenario | None = None, *, seed: int = 1) -> None:
        self.loop = loop
        self.scenario = scenario or Scenario(name="live")
        self.seed = seed
        self.worlds: dict[int, AgentWorld] = {}

    def __call__(self, campaign: Campaign) -> SimulatedCarrier:
        start = self.loop.now()
        scenario = self.scenario
        cid = campaign.id

        def p_human(t: float) -> float:
            return scenario.p_human_at(((t - start) / 3600.0) % scenario.hours)

        return SimulatedCarrier(
            self.loop, scenario, seed=self.seed * 1_000_003 + cid, day_start=lambda t: start, p_human=p_human,
            talk_time=lambda agent_id: self._talk(cid, agent_id),
        )

    def _talk(self, campaign_id: int, agent_id: str) -> float:
        world = self.worlds.get(campaign_id)
        if world is not None and agent_id in world.agents:
            return world.talk_time(agent_id)
        return self.scenario.talk_mean_s  # a person at the web console on a simulated line

    def attach_bots(self, carrier: SimulatedCarrier, engine: Engine, n: int) -> AgentWorld:
        """``n`` simulated agents who log in now and work through the engine's agent doors."""
        scenario = replace(self.scenario, agents=(AgentGroup(n, 0.0, None),), hours=max(self.scenario.hours, 24.0),
                           breaks=None, lunch=None, abrupt_logouts_h=())
        world = AgentWorld(self.loop, scenario, engine, seed=self.seed * 1_000_003 + engine.config.campaign_id)
        carrier.on_machine_bridged = world.machine_bridged
        self.worlds[engine.config.campaign_id] = world

        def plan() -> None:
            start = self.loop.now()
            world.plan_day(start)
            self.loop.call_at(start + scenario.hours * 3600.0 + 60.0, plan)

        plan()
        return world

    def detach(self, campaign_id: int) -> None:
        self.worlds.pop(campaign_id, None)


def twilio_carrier_factory(settings: Settings) -> CarrierFactory:
    """The Twilio adapter's factory, looked up by name so the adapter plugs in without edits here.

    ``dialer.carriers.twilio`` is expected to offer ``carrier_factory(settings)``
    returning a ``Callable[[Campaign], Carrier]``; its calls live at Twilio and
    their webhooks reach this process through the bus.
    """
    import importlib

    module = importlib.import_module("dialer.carriers.twilio")
    make = getattr(module, "carrier_factory", None)
    if make is None:
        raise RuntimeError(
            "DIALER_CARRIER=twilio: dialer.carriers.twilio has no carrier_factory(settings) in this version"
        )
    factory: CarrierFactory = make(settings)
    return factory


# ---------------------------------------------------------------------------------- fenced adapters


class FencedLeadSource:
    """The database's leads; a claim is made only while the lease is still ours."""

    def __init__(self, inner: SqlLeadSource, fence: Callable[[], bool]) -> None:
        self.inner = inner
        self.fence = fence

    def fetch(self, now: float, limit: int, exclude: Collection[int]) -> list[Lead]:
        return self.inner.fetch(now, limit, exclude)

    def claim(self, leads: list[Lead], now: float) -> list[Lead]:
        if not self.fence():
            # Raised, not an empty answer: the hopper would otherwise fetch the same leads forever.
            raise LeaseLost("lease lost before claiming attempts")
        return self.inner.claim(leads, now)

    def defer(self, lead: Lead, until: float | None, codes: tuple[str, ...]) -> None:
        self.inner.defer(lead, until, codes)


class FencedRecorder:
    """The database recorder, writing only while the lease is still ours.

    A write refused here is not lost: the new holder reads the same carrier
    events from the bus, or closes the call as interrupted.
    """

    def __init__(self, inner: SqlRecorder, fence: Callable[[], bool]) -> None:
        self.inner = inner
        self.fence = fence
        self.refused = 0

    def _allowed(self) -> bool:
        if self.fence():
            return True
        self.refused += 1
        return False

    def call_changed(self, call: Call, milestone: str) -> None:
        if self._allowed():
            self.inner.call_changed(call, milestone)

    def call_finished(self, call: Call) -> None:
        if self._allowed():
            self.inner.call_finished(call)

    def agent_moved(self, move: AgentMove) -> None:
        if self._allowed():
            self.inner.agent_moved(move)

    def record(self, lead: Lead, decision: Decision, path: str) -> None:
        if self._allowed():
            self.inner.record(lead, decision, path)


class FencedEngine(Engine):
    """The engine, confirming the lease before each tick and stopping the moment it is gone."""

    def __init__(
        self,
        *args: Any,
        fence: Callable[[], bool],
        on_lost: Callable[[], None],
        on_tick: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fence = fence
        self.on_lost = on_lost
        self.on_tick = on_tick

    def tick(self) -> int:
        if not self.fence():
            self.stop()
            self.on_lost()
            return 0
        if self.on_tick is not None:
            self.on_tick(self.timers.now())
        try:
            return super().tick()
        except LeaseLost:
            self.stop()
            self.on_lost()
            return 0


# ---------------------------------------------------------------------------------- one campaign


def call_from_row(row: Any, agent_login: str | None) -> Call:
    """An open attempt rebuilt as the engine's ``Call``, so late webhooks can still complete it."""
    call = Call(
        call_id=f"c{row.campaign_id}-{row.contact_id}-{row.attempt_number}",
        campaign_id=row.campaign_id, contact_id=row.contact_id, e164=row.e164,
        attempt_number=row.attempt_number, phone_id=row.phone_id, attempt_id=row.id,
        carrier_sid=row.carrier_call_id, agent_id=agent_login, disposition=row.disposition,
    )

    def mark(name: str, when: datetime | None, detail: str = "") -> None:
        if when is not None:
            call.mark(name, when.timestamp(), detail)

    mark("queued", row.queued_at or row.placed_at)
    if row.state not in (None, "queued"):
        mark("dialing", row.ringing_at or row.placed_at or row.queued_at)
    mark("ringing", row.ringing_at)
    mark("answered", row.answered_at)
    mark("amd", row.amd_at, row.amd_verdict or "")
    mark("reserved", row.agent_reserved_at)
    mark("bridged", row.connected_at)
    mark("connected", row.connected_at)
    mark("abandoned", row.abandoned_at)
    mark("message_played", row.message_played_at)
    mark("ended", row.ended_at, row.end_reason or "")
    mark("wrap_ended", row.wrap_ended_at)
    return call


class CampaignRun:
    """One leased campaign in this process: its engine, carrier, bus offsets and orphaned calls."""

    def __init__(self, process: DialerProcess, lease: CampaignLease) -> None:
        self.process = process
        self.lease = lease
        self.campaign_id = lease.campaign_id
        self.loop = process.loop
        self.closed = False
        self.engine: FencedEngine | None = None
        self.carrier: Carrier | None = None
        self.recorder: FencedRecorder | None = None
        self.world: AgentWorld | None = None
        self.bots: CarrierBots | None = None  # bot agents with legs at a carrier of calls outside us
        self.in_process_events = False
        self.orphans: dict[str, Call] = {}
        self.events_offset = START
        self.commands_offset = START
        self.events_applied = 0
        self.commands_applied = 0
        self.recovered = 0
        self.config: EngineConfig | None = None
        self._today: tuple[float, dict[str, Any]] | None = None
        self._timers: list[Timer] = []

    # ------------------------------------------------------------------ the fence
    def fence(self) -> bool:
        if self.closed:
            return False
        try:
            ok = self.lease.check()
        except Exception as error:  # Redis unreachable: we cannot know, so we must not write
            log.warning("campaign %s: cannot check the lease (%s); stopping", self.campaign_id, error)
            ok = False
        if not ok:
            self.lost()
        return ok

    def lost(self) -> None:
        """The lease is gone: stop pacing now, write nothing more, let the process forget us."""
        if self.closed:
            return
        log.warning("campaign %s: lease lost (token %s); stopped pacing", self.campaign_id, self.lease.token)
        self._shut(release=False)

    # ------------------------------------------------------------------ taking over
    def start(self) -> None:
        process, db, loop = self.process, self.process.db, self.loop
        cid = self.campaign_id
        now = loop.now()
        with make_session_factory(db)() as session:
            campaign_row = session.get_one(Campaign, cid)
            session.expunge(campaign_row)  # every column is loaded: the carrier factory reads it detached
        retry = RetryPolicy(campaign_row.max_attempts, tuple(campaign_row.retry_delays_min))
        policy = CampaignPolicy(
            cid, CallingWindow.parse(campaign_row.calling_window), campaign_row.purpose,
            prerecorded=campaign_row.prerecorded, requires_consent=campaign_row.requires_consent,
        )
        self.config = config = EngineConfig(
            campaign_id=cid, caller_id=campaign_row.caller_id, ring_timeout_s=campaign_row.ring_timeout_s,
            safe_harbour_s=campaign_row.safe_harbour_s, drop_message=campaign_row.drop_message,
            amd_enabled=campaign_row.amd_enabled, machine_action=campaign_row.machine_action,
            voicemail_message=campaign_row.voicemail_message, target_abandon=campaign_row.target_abandon,
            max_dial_level=campaign_row.max_dial_level,
        )
        carrier = process.carrier_factory(campaign_row)
        self.carrier = carrier
        self.in_process_events = isinstance(carrier, SimulatedCarrier)
        if not self.fence():
            return
        # The calls a dead holder left: in-process calls died with it; carrier calls go on.
        self.recovered = recover_interrupted_attempts(
            db, cid, now=now, retry=retry, older_than_s=0.0 if self.in_process_events else ORPHAN_MAX_AGE_S
        )
        dnc = SqlDnc(db, clock=loop.now)
        history = CampaignAttemptHistory(db, cid, now=now)
        recorder = FencedRecorder(SqlRecorder(db, cid, retry, autoflush=True, dnc=dnc, history=history), self.fence)
        self.recorder = recorder
        consent = SqlConsentLookup(db) if policy.requires_consent else None
        gate = default_gate(dnc, history=history, consent=consent)

        def check(lead: Lead, at: float) -> Decision:
            target = DialTarget(lead.e164, lead.timezones, lead.state, lead.postal_code, lead.contact_id)
            return gate.can_dial(target, policy, datetime.fromtimestamp(at, UTC))

        source = FencedLeadSource(SqlLeadSource(db, cid, max_attempts=retry.max_attempts), self.fence)
        hopper = Hopper(source, check, recorder, max_attempts=retry.max_attempts)
        engine = FencedEngine(config, loop, carrier, make_pacer(campaign_row.pacer), hopper, recorder,
                              fence=self.fence, on_lost=self.lost, on_tick=lambda at: process.ticked(cid, at))
        with db.connect() as conn:
            rolling = abandonment_periods(conn, cid, datetime.fromtimestamp(now, UTC))[-1]
        engine.budget_history = (int(rolling["live_answers"]), int(rolling["abandoned"]))
        self.engine = engine

        if isinstance(carrier, SimulatedCarrier):
            carrier.deliver = self._deliver
            if process.simulated is not None and process.options.bot_agents > 0:
                self.world = process.simulated.attach_bots(carrier, engine, process.options.bot_agents)
        else:
            self._adopt_orphans(now)
            self._timers.append(loop.call_later(5.0, self._sweep_orphans))
            if process.options.bot_agents > 0:
                from campaigns.carrier_bots import attach_bots  # the Twilio library, only when bots need it

                self.bots = attach_bots(loop, engine, carrier, process.options.bot_agents,
                                        process.options.scenario or Scenario(name="live"), seed=process.options.seed)
        self._restore_agents()
        self.events_offset = self._offset(events_offset_key(cid))
        self.commands_offset = self._offset(commands_offset_key(cid))
        engine.start()
        if self.bots is not None:
            self.bots.start()  # after the offsets: their logins arrive on the bus as new entries
        log.info("campaign %s: taken over with token %s (%d interrupted attempts closed, %d calls adopted)",
                 cid, self.lease.token, self.recovered, len(self.orphans))

    def _offset(self, key: str) -> str:
        value = self.process.redis.get(key)
        if value is None:
            return START
        return value.decode() if isinstance(value, bytes) else str(value)

    def _deliver(self, event: CarrierEvent) -> None:
        if not self.closed and self.engine is not None:
            self.engine.on_carrier_event(event)

    def _restore_agents(self) -> None:
        """Agents the last holder had logged in stay logged in (paused unless they were ready)."""
        engine = self.engine
        assert engine is not None
        raw: dict[Any, Any] = self.process.redis.hgetall(agents_key(self.campaign_id))
        for key, value in sorted(raw.items()):
            agent_id = key.decode() if isinstance(key, bytes) else str(key)
            try:
                entry = json.loads(value)
                state, bot = entry["state"], bool(entry.get("bot"))
            except (ValueError, KeyError, TypeError):
                continue
            if bot:
                continue  # simulated agents belong to the process that simulated them
            if state == AgentState.OFFLINE.value or engine.board.get(agent_id).state is not AgentState.OFFLINE:
                continue
            engine.login(agent_id, ready=state == AgentState.READY.value)

    # ------------------------------------------------------------------ orphans (calls that outlive a dialer)
    def _adopt_orphans(self, now: float) -> None:
        with make_session_factory(self.process.db)() as session:
            rows = session.execute(
                select(CallAttempt, Agent.login)
                .outerjoin(Agent, Agent.id == CallAttempt.agent_id)
                .where(CallAttempt.campaign_id == self.campaign_id, CallAttempt.ended_at.is_(None))
            ).all()
        for attempt, login in rows:
            call = call_from_row(attempt, login)
            if call.carrier_sid is None:
                # Claimed, and perhaps placed, but its carrier id was never written: no webhook can find it.
                self._close_orphan(call, now, "interrupted")
                continue
            self.orphans[call.carrier_sid] = call
            if call.is_live_person and not call.has("reserved") and not call.has("abandoned"):
                # A person answered, no agent was chosen and none is coming: the drop message, now, counted.
                # (With an agent chosen the bridge may be on its way; its webhook says how it went.)
                call.mark("abandoned", now)
                call.mark("message_played", now)
                self._write(call, "abandoned")
                self._carrier_action(lambda sid: self._carrier().play_and_hangup(sid, self._drop_message()), call)

    def _carrier(self) -> Carrier:
        assert self.carrier is not None
        return self.carrier

    def _drop_message(self) -> str:
        return self.config.drop_message if self.config else ""

    def _carrier_action(self, action: Callable[[str], None], call: Call) -> None:
        if call.carrier_sid is None:
            return
        try:
            action(call.carrier_sid)
        except CarrierError as error:
            log.info("carrier action on orphan %s failed: %s", call.call_id, error)

    def _write(self, call: Call, milestone: str) -> None:
        if self.recorder is not None:
            self.recorder.call_changed(call, milestone)

    def _close_orphan(self, call: Call, now: float, reason: str) -> None:
        call.mark("ended", now, reason)
        call.disposition = call.disposition or "NA"
        if self.recorder is not None:
            self.recorder.call_changed(call, "ended")
            self.recorder.call_finished(call)
        if call.carrier_sid:
            self.orphans.pop(call.carrier_sid, None)

    def _orphan_event(self, call: Call, event: CarrierEvent) -> None:
        milestone = call.apply(event)
        if milestone is None:
            return
        if milestone == "bridged":
            call.mark("connected", event.at)
        self._write(call, milestone)
        if (event.kind is CarrierEventKind.AMD and call.amd_verdict in ("machine", "fax")
                and not call.has("connected") and not call.is_ended):
            self._carrier_action(self._carrier().hangup, call)
        if call.is_ended:
            if call.disposition is None:
                call.disposition = auto_disposition(call.answer_class, abandoned=call.has("abandoned"))
            if self.recorder is not None:
                self.recorder.call_finished(call)
            if call.carrier_sid:
                self.orphans.pop(call.carrier_sid, None)

    def _sweep_orphans(self) -> None:
        if self.closed:
            return
        now = self.loop.now()
        ring = self.config.ring_timeout_s if self.config else 60.0
        for call in list(self.orphans.values()):
            started = call.at("queued") or now
            silent_too_long = not call.is_answered and now - started > ring + ORPHAN_GRACE_S + 240.0
            if silent_too_long or now - started > ORPHAN_MAX_AGE_S:
                self._close_orphan(call, now, "interrupted")
        self._timers.append(self.loop.call_later(5.0, self._sweep_orphans))

    # ------------------------------------------------------------------ the bus
    def pump(self) -> None:
        """Apply what arrived on the bus since the last entry applied, then move the offset under the fence."""
        if self.closed or self.engine is None:
            return
        client = self.process.redis
        cid = self.campaign_id
        if not self.in_process_events:
            events = read_carrier_events(client, cid, after=self.events_offset)
            for entry, event in events:
                if self.closed:
                    return
                self.apply_event(event)
                self.events_offset = entry
            if events and not self.closed and not self.lease.fenced_set(events_offset_key(cid), self.events_offset):
                self.lost()
                return
        commands = read_commands(client, cid, after=self.commands_offset)
        for entry, command in commands:
            if self.closed:
                return
            self.apply_command(command)
            self.commands_offset = entry
        if commands and not self.closed and not self.lease.fenced_set(commands_offset_key(cid), self.commands_offset):
            self.lost()

    def apply_event(self, event: CarrierEvent) -> None:
        self.events_applied += 1
        observe = getattr(self.carrier, "observe", None)
        if observe is not None:  # Twilio's hangup must know whether a call still rings (cancel, not complete)
            observe(event)
        orphan = self.orphans.get(event.call_sid)
        if orphan is not None:
            self._orphan_event(orphan, event)
        elif self.engine is not None:
            self.engine.on_carrier_event(event)

    def apply_command(self, command: Command) -> None:
        """An agent's console action, through the engine's agent doors; a stale one is logged and skipped."""
        engine = self.engine
        assert engine is not None
        self.commands_applied += 1
        args, agent = command.args, command.agent_id
        try:
            if command.name == "login":
                if engine.board.get(agent).state is AgentState.OFFLINE:
                    engine.login(agent, ready=bool(args.get("ready", True)))
            elif command.name == "set_ready":
                engine.set_ready(agent)
            elif command.name == "pause":
                engine.pause(agent, str(args.get("reason") or "break"))
            elif command.name == "logout":
                engine.logout(agent)
            elif command.name == "hangup":
                disposition = args.get("disposition")
                engine.hangup(agent, disposition=None if disposition is None else str(disposition),
                              wrap=bool(args.get("wrap", True)))
            elif command.name == "wrap_done":
                then_pause = args.get("then_pause")
                engine.wrap_done(agent, str(args.get("disposition") or "NI"), notes=str(args.get("notes") or ""),
                                 then_pause=None if then_pause is None else str(then_pause))
            else:
                log.warning("campaign %s: unknown command %r from %s", self.campaign_id, command.name, agent)
        except AgentStateError as error:
            log.info("campaign %s: command %s for %s skipped: %s", self.campaign_id, command.name, agent, error)

    # ------------------------------------------------------------------ live state for the web app
    def publish(self) -> None:
        engine = self.engine
        if self.closed or engine is None:
            return
        obs = engine.observation()
        lines = obs.in_flight + obs.waiting + obs.reserved + obs.on_call
        today = self._abandonment_today()
        state: dict[str, Any] = {
            "holder": self.lease.owner,
            "token": self.lease.token,
            "pacer": engine.pacer.name,
            "running": int(engine.running),
            "agents_ready": obs.ready,
            "agents_reserved": obs.reserved,
            "agents_on_call": obs.on_call,
            "agents_wrap_up": obs.wrap_up,
            "agents_paused": obs.paused,
            "agents_working": obs.working,
            "calls_ringing": obs.in_flight,
            "calls_waiting": obs.waiting,
            "calls_connected": sum(1 for c in obs.calls if c.state == "connected"),
            "dial_level": round(lines / obs.working, 3) if obs.working else 0.0,
            "hopper_size": len(engine.hopper),
            "dials": engine.counters.dials,
            "orphan_calls": len(self.orphans),
            **today,
            "updated_at": datetime.fromtimestamp(obs.now, UTC).isoformat(),
        }
        bots = set(self.world.agents) if self.world is not None else set()
        if self.bots is not None:
            bots.update(self.bots.agents)
        agents = {
            a.agent_id: json.dumps({"state": a.state.value, "since": a.since, "call_id": a.call_id,
                                    "pause_reason": a.pause_reason, "bot": a.agent_id in bots})
            for a in engine.board
        }
        ttl = max(5, math.ceil(2 * self.process.options.lease_s))
        agents_ttl = max(60, math.ceil(6 * self.process.options.lease_s))
        pipe = self.process.redis.pipeline()
        pipe.delete(live_key(self.campaign_id))
        pipe.hset(live_key(self.campaign_id), mapping={k: str(v) for k, v in state.items()})
        pipe.expire(live_key(self.campaign_id), ttl)
        pipe.delete(agents_key(self.campaign_id))
        if agents:
            pipe.hset(agents_key(self.campaign_id), mapping=agents)  # type: ignore[arg-type]
            pipe.expire(agents_key(self.campaign_id), agents_ttl)
        pipe.execute()

    def _abandonment_today(self) -> dict[str, Any]:
        """Live answers and drops since midnight UTC, read from the call records every 15 s."""
        now = self.loop.now()
        if self._today is not None and now - self._today[0] < 15.0:
            return self._today[1]
        midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        live = and_(CallAttempt.answered_at.is_not(None),
                    func.coalesce(CallAttempt.answer_class, "unknown").not_in(("machine", "fax")))
        with self.process.db.connect() as conn:
            row = conn.execute(
                select(
                    func.count().filter(live),
                    func.count().filter(and_(live, CallAttempt.abandoned_at.is_not(None))),
                ).where(CallAttempt.campaign_id == self.campaign_id, CallAttempt.queued_at >= midnight)
            ).one()
        answers, dropped = int(row[0]), int(row[1])
        figures = {
            "live_answers_today": answers,
            "abandoned_today": dropped,
            "abandon_rate_today": round(dropped / answers, 4) if answers else 0.0,
        }
        self._today = (now, figures)
        return figures

    # ------------------------------------------------------------------ letting go
    def close(self, *, release: bool) -> None:
        """Stop pacing; ``release`` gives the lease up for the next holder at once (a clean exit)."""
        if not self.closed:
            self._shut(release=release)

    def _shut(self, *, release: bool) -> None:
        self.closed = True
        if self.engine is not None:
            self.engine.stop()
        for timer in self._timers:
            timer.cancel()
        if isinstance(self.carrier, SimulatedCarrier):
            self.carrier.deliver = lambda event: None
        if self.bots is not None:
            self.bots.stop()
        if self.process.simulated is not None:
            self.process.simulated.detach(self.campaign_id)
        if release:
            try:
                self.lease.release()
            except Exception as error:  # it expires by itself
                log.warning("campaign %s: could not release the lease: %s", self.campaign_id, error)
        else:
            self.lease.token = None
        self.process.forget(self)


# ---------------------------------------------------------------------------------- the process


class DialerProcess:
    """Finds active campaigns, holds leases on its fair share of them, and paces each on the wall clock."""

    def __init__(
        self,
        db: Database,
        client: redis.Redis,
        options: DialerOptions | None = None,
        *,
        carrier_factory: CarrierFactory | None = None,
        loop: RealtimeLoop | None = None,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.redis = client
        self.options = options or DialerOptions()
        self.loop = loop or RealtimeLoop()
        self.owner = owner or new_owner_id()
        self.simulated: SimulatedCarriers | None = None
        if carrier_factory is None:
            self.simulated = SimulatedCarriers(self.loop, self.options.scenario, seed=self.options.seed)
            carrier_factory = self.simulated
        self.carrier_factory: CarrierFactory = carrier_factory
        self.runs: dict[int, CampaignRun] = {}
        self.tick_listeners: list[Callable[[int, str, float], None]] = []
        self.errors = 0
        self._stop = threading.Event()
        self._started = False

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        """Say we are alive (for fair shares) and schedule the housekeeping on the loop."""
        if self._started:
            return
        self._started = True
        opts = self.options
        heartbeat(self.redis, self.owner, opts.lease_s, self.loop.now())
        self._every(opts.discover_s, self.discover, first=0.0)
        self._every(opts.renew_every_s, self.renew)
        self._every(opts.bus_poll_s, self.pump)
        self._every(opts.publish_s, self.publish)

    def _every(self, period: float, action: Callable[[], None], *, first: float | None = None) -> None:
        def run() -> None:
            if self._stop.is_set():
                return
            try:
                action()
            except Exception:
                self.errors += 1
                log.exception("dialer housekeeping %s failed", getattr(action, "__name__", action))
            self.loop.call_later(period, run)

        self.loop.call_later(period if first is None else first, run)

    def step(self, seconds: float) -> None:
        """Run the loop for ``seconds`` of wall time (the engine's timers and the housekeeping)."""
        self.start()
        end = self.loop.now() + seconds
        while not self._stop.is_set() and self.loop.now() < end:
            try:
                self.loop.run_for(min(0.25, max(0.0, end - self.loop.now())))
            except Exception:
                # One campaign's failure must not stop the floor; the error is in the log.
                self.errors += 1
                log.exception("dialer loop callback failed")

    def run(self, for_s: float | None = None) -> None:
        """Run until SIGTERM/SIGINT (or ``for_s`` seconds), then let go of every campaign cleanly."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda signum, frame: self.request_stop())
        self.start()
        end = None if for_s is None else self.loop.now() + for_s
        try:
            while not self._stop.is_set():
                left = 1.0 if end is None else end - self.loop.now()
                if left <= 0:
                    break
                self.step(min(1.0, left))
        finally:
            self.shutdown()

    def request_stop(self) -> None:
        self._stop.set()

    def shutdown(self) -> None:
        """Give up every lease at once (the next holder need not wait for expiry); hang up nothing."""
        self._stop.set()
        for run in list(self.runs.values()):
            run.close(release=True)
        try:
            leave(self.redis, self.owner)
        except Exception as error:
            log.warning("could not leave the dialers' list: %s", error)

    def crash(self) -> None:
        """Stop as if killed: no release, nothing more written (for tests of the takeover)."""
        self._stop.set()
        for run in list(self.runs.values()):
            run.closed = True
            if run.engine is not None:
                run.engine.stop()
        self.runs.clear()

    # ------------------------------------------------------------------ housekeeping
    def active_campaigns(self) -> list[int]:
        query = select(Campaign.id).where(Campaign.status == CampaignStatus.ACTIVE.value).order_by(Campaign.id)
        if self.options.campaign_ids:
            query = query.where(Campaign.id.in_(self.options.campaign_ids))
        with self.db.connect() as conn:
            return [int(cid) for cid in conn.scalars(query)]

    def discover(self) -> None:
        """Let go of campaigns no longer active; take free ones up to this process's fair share."""
        alive = heartbeat(self.redis, self.owner, self.options.lease_s, self.loop.now())
        active = self.active_campaigns()
        for cid in [cid for cid in self.runs if cid not in active]:
            log.info("campaign %s is no longer active; letting it go", cid)
            self.runs[cid].close(release=True)
        share = math.ceil(len(active) / max(1, alive))
        for cid in active:
            if len(self.runs) >= share or self._stop.is_set():
                break
            if cid in self.runs:
                continue
            lease = CampaignLease(self.redis, cid, self.owner, self.options.lease_s)
            if not lease.acquire():
                continue
            run = CampaignRun(self, lease)
            self.runs[cid] = run
            try:
                run.start()
            except Exception:
                self.errors += 1
                log.exception("campaign %s: could not start; letting it go", cid)
                run.close(release=True)

    def renew(self) -> None:
        for run in list(self.runs.values()):
            try:
                ok = run.lease.renew()
            except Exception as error:
                log.warning("campaign %s: lease renewal failed: %s", run.campaign_id, error)
                ok = False
            if not ok:
                run.lost()

    def pump(self) -> None:
        for run in list(self.runs.values()):
            run.pump()

    def publish(self) -> None:
        for run in list(self.runs.values()):
            run.publish()

    def forget(self, run: CampaignRun) -> None:
        if self.runs.get(run.campaign_id) is run:
            del self.runs[run.campaign_id]

    def ticked(self, campaign_id: int, at: float) -> None:
        for listener in self.tick_listeners:
            listener(campaign_id, self.owner, at)

    def held(self) -> Iterable[int]:
        return sorted(self.runs)


def open_attempts(db: Database, campaign_id: int) -> int:
    """Attempts of a campaign not closed yet (for tests and reports)."""
    with db.connect() as conn:
        return int(conn.scalar(
            select(func.count()).where(CallAttempt.campaign_id == campaign_id, CallAttempt.ended_at.is_(None))
        ) or 0)


__all__ = [
    "CampaignRun",
    "CarrierFactory",
    "DialerOptions",
    "DialerProcess",
    "FencedEngine",
    "FencedLeadSource",
    "FencedRecorder",
    "SimulatedCarriers",
    "agents_key",
    "commands_offset_key",
    "events_offset_key",
    "live_key",
    "open_attempts",
    "twilio_carrier_factory",
]
