"""The live dialer process (``dialer run``): the engine on the wall clock, one lease per campaign.

The engine is pure and clock-injected; this module puts it on a
``RealtimeLoop`` and around it everything a production floor needs:

* which campaigns to pace: the active ones in the database, each only while
  this process holds its lease (``campaigns.leases``), so several processes
  share the floor and a dead one's campaigns move on within the lease time;
* the fence: every tick, every claim of an attempt and every batch of call
  records is preceded by a check that this process still holds the lease
  with the same token; when it does not, the campaign stops at once and its
  unwritten news is dropped, because another process owns it now;
* one pass of the loop, in this order: the carrier's answers to earlier
  requests, then the bus's events and commands (an answered person's connect
  leaves for the carrier's threads right there), then the pass's call
  records in one fenced transaction, then the bus offsets; the records of a
  pass are written at most ``flush_s`` later, and always before a claim, so
  the offset never runs ahead of what is written;
* carrier requests (placements, connects, hangups) are sent by a few threads
  (``campaigns.carrier_pool``), never on the engine's thread; an attempt is
  still claimed and committed before its placement leaves;
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
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine as Database
from sqlalchemy import and_, func, select

from campaigns.carrier_pool import ThreadedCarrier
from campaigns.compliance_reports import abandonment_periods
from campaigns.consent_store import SqlConsentLookup
from campaigns.db import make_session_factory
from campaigns.leases import CampaignLease, LeaseLost, heartbeat, leave, new_owner_id
from campaigns.live_events import START, Command, commands_key, events_key, read_carrier_events, read_commands
from campaigns.models import Agent, CallAttempt, Campaign, CampaignStatus
from campaigns.store import (
    CampaignAttemptHistory,
    RecorderBatch,
    SqlDnc,
    SqlLeadSource,
    SqlRecorder,
    recover_interrupted_attempts,
)
from campaigns.supervision import COMMANDS as SUPERVISION_COMMANDS
from campaigns.supervision import FloorControls, SupervisionError
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
from dialer.pacing import Observation, Pacer, PacerEvent, make_pacer
from dialer.simulation.scenario import AgentGroup, Scenario
from dialer.simulation.world import AgentWorld

if TYPE_CHECKING:
    import redis

    from campaigns.carrier_bots import CarrierBots
    from campaigns.settings import Settings
    from dialer.carrier import ConferenceControls

log = logging.getLogger(__name__)

CarrierFactory = Callable[[Campaign], Carrier]
"""The hook a carrier plugs into: one carrier per campaign a process takes over."""

# Open calls older than this are closed whatever the carrier: no call lasts four hours.
ORPHAN_MAX_AGE_S = 4 * 3600.0
# An orphan never answered and silent this long after its ring time is written off as lost.
ORPHAN_GRACE_S = 60.0
# An event for a CallSid nobody knows is held this long while placements are on their way
# (its call's placement may not have come back yet), then applied as it is.
UNMATCHED_HOLD_S = 15.0
# On a clean exit, how long to wait for the carrier requests already sent (their CallSids get written).
DRAIN_ON_EXIT_S = 5.0
# Off the loop, a placement may wait this long for its calls-per-second token (a tick's worth).
PLACEMENT_TOKEN_WAIT_S = 1.0


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
    bus_poll_s: float = 0.05  # the bus is read at least this often; a blocking read wakes the loop sooner
    flush_s: float = 0.2  # call records of a campaign are written at most this long after the event
    carrier_threads: int = 16  # per lane (placements, call control); 0: carrier requests on the loop itself
    publish_s: float = 1.0
    settings_s: float = 5.0  # how soon a supervisor's change (target, dial level, pacer) reaches the engine
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


class CpsPaced:
    """A pacer held to the carrier's calls per second: no more new calls a tick than tokens come in.

    With placements off the loop a tick's calls leave together; those past the
    account's bucket would be refused, and their contacts' attempts spent
    undialed. Placements not back from the carrier yet (``backlog``, most of them
    waiting for a token) count against the next tick; calls the carrier took and
    has not started do not: they hold no token.
    """

    def __init__(self, inner: Pacer, backlog: Callable[[], int]) -> None:
        self.inner = inner
        self.backlog = backlog
        self.name = inner.name
        self.agent_bound = inner.agent_bound

    def observe(self, event: PacerEvent) -> None:
        self.inner.observe(event)

    def calls_to_place(self, obs: Observation) -> int:
        wanted = self.inner.calls_to_place(obs)
        if obs.cps_limit:
            wanted = min(wanted, max(0, math.floor(obs.cps_limit * obs.tick_s) - self.backlog()))
        return wanted



class FencedLeadSource:
    """The database's leads; a claim is made only while the lease is still ours.

    ``before_claim`` writes what the recorder holds first: the gate's decisions
    for these leads, and every outcome (a number just put on the DNC list) that
    came before them, are durable before any attempt is.
    """

    def __init__(self, inner: SqlLeadSource, fence: Callable[[], bool],
                 before_claim: Callable[[], bool] | None = None) -> None:
        self.inner = inner
        self.fence = fence
        self.before_claim = before_claim

    def fetch(self, now: float, limit: int, exclude: Collection[int]) -> list[Lead]:
        return self.inner.fetch(now, limit, exclude)

    def claim(self, leads: list[Lead], now: float) -> list[Lead]:
        if self.before_claim is not None and not self.before_claim():
            raise LeaseLost("lease lost before claiming attempts")
        if not self.fence():
            # Raised, not an empty answer: the hopper would otherwise fetch the same leads forever.
            raise LeaseLost("lease lost before claiming attempts")
        return self.inner.claim(leads, now)

    def defer(self, lead: Lead, until: float | None, codes: tuple[str, ...]) -> None:
        self.inner.defer(lead, until, codes)


class FencedRecorder:
    """The database recorder, buffering a pass's writes and writing them only while the lease is still ours.

    One fence check and one transaction per batch instead of one of each per
    event: at 50 calls a second that is the difference between a loop that keeps
    up and one that loses its lease.  A batch refused here is not lost: the bus
    offset has not moved past its events, so the new holder reads them again
    (or closes the call as interrupted).

    ``flush`` writes on the caller's thread; ``write_in_background`` takes the
    batch on the caller's thread (the engine's) and writes it on ``writer``'s,
    checking the fence there with ``check``, which must not act on the answer
    (the loop does, in ``settle``).
    """

    def __init__(self, inner: SqlRecorder, fence: Callable[[], bool],
                 check: Callable[[], bool] | None = None) -> None:
        inner.autoflush = False
        self.inner = inner
        self.fence = fence
        self.check = check or fence
        self.refused = 0
        self.flushes = 0

    def call_changed(self, call: Call, milestone: str) -> None:
        self.inner.call_changed(call, milestone)

    def call_finished(self, call: Call) -> None:
        self.inner.call_finished(call)

    def agent_moved(self, move: AgentMove) -> None:
        self.inner.agent_moved(move)

    def record(self, lead: Lead, decision: Decision, path: str) -> None:
        self.inner.record(lead, decision, path)

    def flush(self) -> bool:
        """Write what is buffered if the lease is still ours; False (and the batch dropped) when it is not."""
        if not self.inner.pending:
            return True
        if not self.fence():
            self.refused += 1
            self.inner.discard()
            return False
        self.inner.flush()
        self.flushes += 1
        return True

    def write_in_background(self, writer: ThreadPoolExecutor) -> tuple[Future[bool], RecorderBatch] | None:
        """Start writing what is buffered on ``writer``; None when there is nothing to write."""
        batch = self.inner.take()
        if batch is None:
            return None

        def write() -> bool:
            if not self.check():
                return False
            self.inner.write(batch)
            return True

        return writer.submit(write), batch

    def settle(self, future: Future[bool], batch: RecorderBatch) -> bool:
        """The outcome of a background write (waiting for it): False when the fence refused it.

        A write that failed goes back into the buffers for the next flush, and its error is raised.
        """
        try:
            written = future.result()
        except Exception:
            self.inner.put_back(batch)
            raise
        if not written:
            self.refused += 1
            self.inner.discard()
            return False
        self.flushes += 1
        return True


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
        self.pool: ThreadedCarrier | None = None  # the carrier's requests off the loop (carriers outside us)
        self.pacer_spec = ""
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
        self._closing = False
        # Events for a CallSid not known yet, held while placements are out: (the read offset before
        # each, the event, when it was held). The offset written to Redis never passes the first one.
        self._unmatched: list[tuple[str, CarrierEvent, float]] = []
        self._held_sids: set[str] = set()
        self._flushed_at = 0.0
        self._offsets_written = (START, START)
        # Call records are written on a thread of their own, one batch at a time, with the
        # bus offsets the batch covers (moved once it is committed).
        self._writer: ThreadPoolExecutor | None = None
        self._writing: tuple[Future[bool], RecorderBatch, tuple[str, str]] | None = None

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

    def _check_lease(self) -> bool:
        """The fence without its consequences, for the recorder's thread (the loop acts on the answer)."""
        try:
            return not self.closed and self.lease.check()
        except Exception as error:
            log.warning("campaign %s: cannot check the lease (%s)", self.campaign_id, error)
            return False

    def lost(self) -> None:
        """The lease is gone: stop pacing now, write nothing more, let the process forget us."""
        if self.closed or self._closing:
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
            max_dial_level=campaign_row.max_dial_level, caller_ids=tuple(campaign_row.caller_ids or ()),
        )
        carrier = process.carrier_factory(campaign_row)
        self.carrier = carrier
        self.in_process_events = isinstance(carrier, SimulatedCarrier)
        if not self.fence():
            return
        threads = process.options.carrier_threads
        pacer = make_pacer(campaign_row.pacer)
        self.pacer_spec = campaign_row.pacer
        if not self.in_process_events and threads > 0:
            if hasattr(carrier, "token_wait_s"):  # a thread may wait for its token; the loop never does
                carrier.token_wait_s = max(carrier.token_wait_s, PLACEMENT_TOKEN_WAIT_S)
            pool = self.pool = ThreadedCarrier(carrier, place_threads=threads, control_threads=threads)
            self.carrier = carrier = pool
            pacer = CpsPaced(pacer, lambda: pool.pending_placements)
        # The calls a dead holder left: in-process calls died with it; carrier calls go on.
        self.recovered = recover_interrupted_attempts(
            db, cid, now=now, retry=retry, older_than_s=0.0 if self.in_process_events else ORPHAN_MAX_AGE_S
        )
        dnc = SqlDnc(db, clock=loop.now)
        history = CampaignAttemptHistory(db, cid, now=now)
        recorder = FencedRecorder(SqlRecorder(db, cid, retry, autoflush=False, dnc=dnc, history=history), self.fence,
                                  check=self._check_lease)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"recorder-{cid}")
        self.recorder = recorder
        consent = SqlConsentLookup(db) if policy.requires_consent else None
        gate = default_gate(dnc, history=history, consent=consent)

        def check(lead: Lead, at: float) -> Decision:
            target = DialTarget(lead.e164, lead.timezones, lead.state, lead.postal_code, lead.contact_id)
            return gate.can_dial(target, policy, datetime.fromtimestamp(at, UTC))

        source = FencedLeadSource(SqlLeadSource(db, cid, max_attempts=retry.max_attempts), self.fence,
                                  before_claim=self.flush_now)
        hopper = Hopper(source, check, recorder, max_attempts=retry.max_attempts)
        engine = FencedEngine(config, loop, carrier, pacer, hopper, recorder,
                              fence=self.fence, on_lost=self.lost, on_tick=lambda at: process.ticked(cid, at))
        with db.connect() as conn:
            rolling = abandonment_periods(conn, cid, datetime.fromtimestamp(now, UTC))[-1]
        engine.budget_history = (int(rolling["live_answers"]), int(rolling["abandoned"]))
        self.engine = engine
        if self.pool is not None:
            self.pool.on_placed = engine.placed
            self.pool.on_place_failed = engine.place_failed
            self.pool.on_action_failed = self._carrier_failed

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
        self._offsets_written = (self.events_offset, self.commands_offset)
        engine.start()
        if self.bots is not None:
            self.bots.start()  # after the offsets: their logins arrive on the bus as new entries
        log.info("campaign %s: taken over with token %s (%d interrupted attempts closed, %d calls adopted)",
                 cid, self.lease.token, self.recovered, len(self.orphans))

    def refresh_settings(self) -> dict[str, tuple[Any, Any]]:
        """Apply the pacing controls a supervisor changed since the campaign was taken over.

        ``dialer campaign set`` (or the web app) writes the campaign row; the engine
        was built from the row as it was, so without this a new target or dial level
        would wait for the next takeover.  Returns the changes made.
        """
        engine = self.engine
        if self.closed or engine is None:
            return {}
        with make_session_factory(self.process.db)() as session:
            row = session.execute(
                select(Campaign.target_abandon, Campaign.max_dial_level, Campaign.pacer)
                .where(Campaign.id == self.campaign_id)
            ).one_or_none()
        if row is None:
            return {}
        changes: dict[str, tuple[Any, Any]] = {}
        config = engine.config
        for name in ("target_abandon", "max_dial_level"):
            if getattr(row, name) != getattr(config, name):
                changes[name] = (getattr(config, name), getattr(row, name))
        if changes:
            engine.config = replace(config, **{name: after for name, (_, after) in changes.items()})
            self.config = engine.config
        if row.pacer != self.pacer_spec:
            pacer: Pacer = make_pacer(row.pacer)
            pool = self.pool
            if pool is not None:
                pacer = CpsPaced(pacer, lambda: pool.pending_placements)
            engine.set_pacer(pacer)
            changes["pacer"] = (self.pacer_spec, row.pacer)
            self.pacer_spec = row.pacer
        if changes:
            log.info("campaign %s: settings changed: %s", self.campaign_id, changes)
        return changes

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

    def _carrier_failed(self, call_sid: str, what: str, error: BaseException) -> None:
        """A connect, message or hangup the carrier refused, heard back from its thread: as the engine would log it."""
        if self.engine is not None:
            self.engine.counters.carrier_errors += 1
        log.info("campaign %s: carrier %s on %s failed: %s", self.campaign_id, what, call_sid, error)

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
        """One pass: the carrier's answers, then the bus (connects leave at once), then records and offsets."""
        if self.closed or self.engine is None:
            return
        self.drain_carrier()
        client = self.process.redis
        cid = self.campaign_id
        if not self.in_process_events:
            for entry, event in read_carrier_events(client, cid, after=self.events_offset):
                if self.closed:
                    return
                self.apply_event(event, after=self.events_offset)
                self.events_offset = entry
        for entry, command in read_commands(client, cid, after=self.commands_offset):
            if self.closed:
                return
            self.apply_command(command)
            self.commands_offset = entry
        self.flush()

    def bus_cursors(self) -> dict[str, str]:
        """The streams this campaign reads and where it stands in each (for a blocking read that wakes the loop)."""
        if self.closed or self.engine is None:
            return {}
        cursors = {commands_key(self.campaign_id): self.commands_offset}
        if not self.in_process_events:
            cursors[events_key(self.campaign_id)] = self.events_offset
        return cursors

    def flush(self, *, force: bool = False) -> None:
        """Write the buffered records (fenced), then move the bus offsets up to what they cover.

        Every ``flush_s`` a batch goes to the recorder's thread (one at a time;
        the next waits for it); ``force`` writes everything now, on this thread.
        The offsets never pass an event whose effects are not committed yet,
        nor one held for its placement.
        """
        if self.closed or self.recorder is None:
            return
        self._settle_write(wait=force)
        if self.closed:
            return
        now = self.loop.now()
        if not force and (self._writing is not None or now - self._flushed_at < self.process.options.flush_s):
            return
        self._flushed_at = now
        covered = (self._unmatched[0][0] if self._unmatched else self.events_offset, self.commands_offset)
        started = None if force or self._writer is None else self.recorder.write_in_background(self._writer)
        if started is not None:
            self._writing = (*started, covered)
            return
        if self.recorder.flush():
            self._move_offsets(covered)

    def flush_now(self) -> bool:
        """Everything written before a claim (the decisions for its leads, every outcome before them)."""
        self.flush(force=True)
        return not self.closed

    def _settle_write(self, *, wait: bool) -> None:
        if self._writing is None or self.recorder is None:
            return
        future, batch, covered = self._writing
        if not wait and not future.done():
            return
        self._writing = None
        try:
            written = self.recorder.settle(future, batch)
        except Exception:
            self.process.errors += 1
            log.exception("campaign %s: writing call records failed; they are kept for the next flush",
                          self.campaign_id)
            return
        if not written:
            self.lost()
            return
        self._move_offsets(covered)

    def _move_offsets(self, covered: tuple[str, str]) -> None:
        cid = self.campaign_id
        for key, value, written in zip((events_offset_key(cid), commands_offset_key(cid)), covered,
                                       self._offsets_written, strict=True):
            if value != written and not self.lease.fenced_set(key, value):
                self.lost()
                return
        self._offsets_written = covered

    def drain_carrier(self, wait_s: float = 0.0) -> None:
        """Hand the engine what the carrier's threads heard back (CallSids first, then events held for them)."""
        if self.pool is None:
            return
        if self.pool.drain(wait_s) or self._unmatched:
            self._apply_unmatched()

    def _unknown_for_now(self, event: CarrierEvent) -> bool:
        """An event for a CallSid nobody here knows while placements are out: perhaps one of theirs."""
        return (self.pool is not None and self.pool.pending_placements > 0 and self.engine is not None
                and event.call_sid not in self.orphans and not self.engine.holds(event.call_sid))

    def _apply_unmatched(self) -> None:
        now = self.loop.now()
        held, self._unmatched = self._unmatched, []
        self._held_sids.clear()
        for after, event, since in held:
            if self.closed:
                return
            if event.call_sid in self._held_sids or (now - since < UNMATCHED_HOLD_S
                                                     and self._unknown_for_now(event)):
                self._hold(after, event, since)
            else:
                self.apply_event(event)

    def _hold(self, after: str, event: CarrierEvent, since: float) -> None:
        self._unmatched.append((after, event, since))
        self._held_sids.add(event.call_sid)

    def apply_event(self, event: CarrierEvent, *, after: str | None = None) -> None:
        """One carrier event; read from the bus after offset ``after``, it may be held for its placement."""
        if after is not None and (event.call_sid in self._held_sids or self._unknown_for_now(event)):
            self._hold(after, event, self.loop.now())  # after the call's earlier events, in their order
            return
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
                then_pause, callback_at = args.get("then_pause"), args.get("callback_at")
                if not isinstance(callback_at, int | float) or isinstance(callback_at, bool):
                    callback_at = None  # epoch seconds or nothing: a malformed command must not stop the bus
                engine.wrap_done(agent, str(args.get("disposition") or "NI"), notes=str(args.get("notes") or ""),
                                 then_pause=None if then_pause is None else str(then_pause),
                                 callback_at=None if callback_at is None else float(callback_at),
                                 dnc_request=bool(args.get("dnc")))
            elif command.name in SUPERVISION_COMMANDS:  # listen, whisper, barge, help, transfer
                inner = self.pool.inner if self.pool is not None else self.carrier
                assert self.config is not None
                FloorControls(
                    engine, cast("ConferenceControls", inner) if hasattr(inner, "listen") else None,
                    campaign_id=self.campaign_id, caller_id=self.config.caller_id, client=self.process.redis,
                    submit=self.pool.run_off_loop if self.pool is not None else None,
                ).apply(command)
            else:
                log.warning("campaign %s: unknown command %r from %s", self.campaign_id, command.name, agent)
        except (AgentStateError, SupervisionError) as error:
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
    def _last_writes(self) -> None:
        """A clean exit: the carrier's answers to requests already sent come back, then everything is written."""
        try:
            self.drain_carrier(wait_s=DRAIN_ON_EXIT_S)
            self.flush(force=True)
        except Exception:
            self.process.errors += 1
            log.exception("campaign %s: the last writes before letting go failed", self.campaign_id)

    def close(self, *, release: bool) -> None:
        """Stop pacing; ``release`` gives the lease up for the next holder at once (a clean exit)."""
        if not self.closed:
            self._shut(release=release)

    def _shut(self, *, release: bool) -> None:
        if self._closing:
            return
        self._closing = True
        if self.engine is not None:
            self.engine.stop()
        for timer in self._timers:
            timer.cancel()
        if isinstance(self.carrier, SimulatedCarrier):
            self.carrier.deliver = lambda event: None
        if self.bots is not None:
            self.bots.stop()
        if self.pool is not None:
            self.pool.cancel_placements()  # not sent yet: closed as not dialed, never sent after we let go
        if release and not self.closed:
            self._last_writes()
        self.closed = True
        if self.pool is not None:
            self.pool.close()
        if self._writer is not None:
            self._writer.shutdown(wait=False)
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
        # Between timers the loop waits on the bus itself, so a webhook wakes it at once.
        self._bus_wakes = loop is None and not type(client).__module__.startswith("fakeredis")
        self.loop = loop or RealtimeLoop(sleep=self._idle)
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
        self._every(opts.settings_s, self.refresh_settings)

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

    def _idle(self, seconds: float) -> None:
        """The loop's sleep: a blocking read of every held campaign's streams, cut short by a new entry.

        What it reads is only a wake-up call: the pump that follows reads (and
        applies) from each campaign's offsets as always.
        """
        cursors: dict[str, str] = {}
        if self._bus_wakes and seconds >= 0.002 and not self._stop.is_set():
            for run in list(self.runs.values()):
                cursors.update(run.bus_cursors())
        if not cursors:
            time.sleep(seconds)
            return
        try:
            woke = self.redis.xread(cursors, count=1, block=max(1, int(seconds * 1000)))  # type: ignore[arg-type]
        except Exception as error:  # Redis trouble shows in the pump and the lease; here only wait
            log.debug("blocking bus read failed: %s", error)
            time.sleep(seconds)
            return
        if woke:
            try:
                self.pump()
            except Exception:
                self.errors += 1
                log.exception("dialer housekeeping pump failed")

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
            if run.pool is not None:
                run.pool.cancel_placements()
                run.pool.close()
            if run._writer is not None:
                run._writer.shutdown(wait=False, cancel_futures=True)
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

    def refresh_settings(self) -> None:
        for run in list(self.runs.values()):
            run.refresh_settings()

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
