"""``dialer simulate``: the real engine against the simulated carrier, in virtual time.

Real hopper, real state machines, real database (a SQLite file of its own
unless told otherwise); only the carrier and the agents are simulated.  The
contact list grows as the run needs it, so a long scenario never runs dry,
and contacts not reached are retried by the campaign's own rules.

Days are laid on the calendar (a working day starts at 08:00 New York time
on consecutive days from a Monday without holidays), so the dial gate's
calling hours see real local times; days of more than 13 hours start at
midnight with a whole-day window.
"""

from __future__ import annotations

import math
import random
import tempfile
import time as wallclock
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine as Database
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from campaigns.compliance_reports import abandonment_periods
from campaigns.consent_store import SqlConsentLookup
from campaigns.db import make_engine, make_session_factory, upgrade
from campaigns.models import Agent, Campaign, Contact, ContactList, ContactPhone
from campaigns.services import create_campaign, start_campaign
from campaigns.store import (
    CampaignAttemptHistory,
    SqlDnc,
    SqlLeadSource,
    SqlRecorder,
    recover_interrupted_attempts,
)
from compliance.gate import CallingWindow, CampaignPolicy, Decision, DialTarget, default_gate
from dialer.carriers.simulated import SimulatedCarrier
from dialer.clock import VirtualLoop
from dialer.engine import Engine, EngineConfig
from dialer.hopper import Hopper, Lead
from dialer.outcomes import RetryPolicy
from dialer.pacing import make_pacer
from dialer.simulation.analytic import oracle_occupancy
from dialer.simulation.metrics import AgentClock, summarize
from dialer.simulation.scenario import Scenario
from dialer.simulation.world import AgentWorld

SIM_ZONE = ZoneInfo("America/New_York")
SIM_FIRST_DAY = datetime(2026, 3, 2, tzinfo=SIM_ZONE)  # a Monday; no public holiday in the weeks after
# New York area codes in one time zone; numbers are made up but valid in form.
SIM_AREA_CODES = ("212", "646", "718", "347", "917", "929", "332", "516", "631", "914")
CALLER_ID = "+12125550100"


@dataclass(frozen=True)
class DayPlan:
    """Where each working day sits on the calendar."""

    first_start: float
    span_s: float  # from one day's start to the next
    length_s: float
    window: str

    @classmethod
    def for_scenario(cls, s: Scenario) -> DayPlan:
        length = s.hours * 3600.0
        if s.hours <= 13:
            start, window = SIM_FIRST_DAY.replace(hour=8), "08:00-21:00"
        else:
            start, window = SIM_FIRST_DAY, "00:00-24:00"
        span = 86400.0 if s.hours <= 24 else length + s.day_gap_s
        return cls(start.timestamp(), span, length, window)

    def day_of(self, t: float) -> int:
        return max(0, int((t - self.first_start) // self.span_s))

    def start_of_day(self, t: float) -> float:
        return self.first_start + self.day_of(t) * self.span_s

    def hour_of(self, t: float) -> int:
        """A global hour index: day d's hours follow day d-1's."""
        per_day = math.ceil(self.length_s / 3600.0)
        return self.day_of(t) * per_day + int((t - self.start_of_day(t)) // 3600.0)


class ContactFeeder:
    """Adds made-up contacts to the simulation's list whenever the hopper runs short."""

    def __init__(self, sessions: sessionmaker[Session], campaign_id: int, list_id: int, seed: int) -> None:
        self.sessions = sessions
        self.campaign_id = campaign_id
        self.list_id = list_id
        self.rng = random.Random(f"contacts:{seed}")
        self.used: set[str] = set()
        self.added = 0

    def add(self, n: int) -> None:
        contacts: list[dict[str, Any]] = []
        numbers: list[str] = []
        while len(numbers) < n:
            number = (f"+1{self.rng.choice(SIM_AREA_CODES)}{self.rng.randint(201, 999)}"
                      f"{self.rng.randint(0, 9999):04d}")
            if number[5:7] == "11" or number in self.used:
                continue
            self.used.add(number)
            numbers.append(number)
        with self.sessions() as session, session.begin():
            first = (session.scalar(select(Contact.id).order_by(Contact.id.desc()).limit(1)) or 0) + 1
            for i, _ in enumerate(numbers):
                contacts.append({
                    "id": first + i, "campaign_id": self.campaign_id, "list_id": self.list_id,
                    "first_name": f"Sim{self.added + i + 1}", "last_name": "Contact", "state": "NY",
                    "status": "new", "attempts": 0, "priority": 0, "custom_fields": {},
                })
            session.execute(insert(Contact), contacts)
            session.execute(insert(ContactPhone), [
                {"contact_id": first + i, "campaign_id": self.campaign_id, "e164": number,
                 "position": 0, "timezones": [SIM_ZONE.key], "status": "ok", "attempts": 0}
                for i, number in enumerate(numbers)
            ])
        self.added += n


class ToppedUpSource(SqlLeadSource):
    def __init__(self, feeder: ContactFeeder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feeder = feeder

    def fetch(self, now: float, limit: int, exclude: Any) -> list[Lead]:
        leads = super().fetch(now, limit, exclude)
        if len(leads) < limit:
            self.feeder.add(max(limit, 500))
            leads += super().fetch(now, limit - len(leads), {*exclude, *(lead.contact_id for lead in leads)})
        return leads


def run_simulation(
    scenario: Scenario,
    pacer_spec: str = "progressive",
    seed: int = 1,
    *,
    database_url: str | None = None,
    flush_every_s: float = 15.0,
    progress: Callable[[float], None] | None = None,
    hold_over_budget: bool = True,
) -> dict[str, Any]:
    """Run one (scenario, pacer, seed) and return its figures; the same three give the same figures.

    ``hold_over_budget=False`` turns off the engine's own safety net (progressive
    dialing past the abandonment target), so other dialers' pacers are measured
    as they are.
    """
    started = wallclock.perf_counter()
    make_pacer(pacer_spec)  # fail fast on a bad name, before any database work
    with tempfile.TemporaryDirectory(prefix="dialer-sim-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'simulation.db'}"
        db = make_engine(url)
        if database_url is None:
            # A throwaway file: durability buys nothing, speed does.
            event.listen(db, "connect", _fast_sqlite)
        upgrade(db)
        try:
            plan = DayPlan.for_scenario(scenario)
            campaign_id, list_id = create_sim_campaign(db, scenario, pacer_spec, seed, plan.window)
            feeder = ContactFeeder(make_session_factory(db), campaign_id, list_id, seed)
            rig = Rig.build(db, scenario, pacer_spec, seed, campaign_id, plan, feeder=feeder,
                            flush_every_s=flush_every_s, hold_over_budget=hold_over_budget)
            rig.run_days(progress)
            result = rig.figures()
            result["contacts_created"] = feeder.added
        finally:
            db.dispose()
    result["wall_s"] = round(wallclock.perf_counter() - started, 3)
    return result


def _fast_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def create_sim_campaign(db: Database, scenario: Scenario, pacer_spec: str, seed: int, window: str) -> tuple[int, int]:
    with make_session_factory(db)() as session, session.begin():
        campaign = create_campaign(
            session,
            name=f"simulation {scenario.name or 'scenario'} {pacer_spec} seed {seed}",
            caller_id=CALLER_ID,
            pacer=pacer_spec,
            ring_timeout_s=max(15, math.ceil(scenario.ring_timeout_s)),
            target_abandon=min(0.03, scenario.target_abandon),
            calling_window=window,
        )
        start_campaign(session, campaign)
        contact_list = ContactList(campaign_id=campaign.id, name="simulated list", source="simulation")
        session.add(contact_list)
        session.flush()
        return campaign.id, contact_list.id


@dataclass
class Rig:
    """The engine on a campaign of a real database, with the simulated carrier and agents around it."""

    scenario: Scenario
    plan: DayPlan
    loop: VirtualLoop
    engine: Engine
    carrier: SimulatedCarrier
    world: AgentWorld
    recorder: SqlRecorder
    clock: AgentClock
    hopper: Hopper

    @classmethod
    def build(
        cls,
        db: Database,
        scenario: Scenario,
        pacer_spec: str,
        seed: int,
        campaign_id: int,
        plan: DayPlan,
        *,
        feeder: ContactFeeder | None = None,
        flush_every_s: float = 15.0,
        hold_over_budget: bool = True,
        world_factory: Callable[..., AgentWorld] = AgentWorld,
    ) -> Rig:
        """``world_factory`` makes the simulated agents (called like ``AgentWorld``): a subclass may
        choose each call's disposition from what happened on it, as a survey's interview does."""
        with make_session_factory(db)() as session:
            campaign = session.get_one(Campaign, campaign_id)
            for number in range(1, scenario.total_agents + 1):
                login = f"agent{number:03d}"
                if session.scalar(select(Agent.id).where(Agent.login == login)) is None:
                    session.add(Agent(login=login, name=f"Agent {number}"))
            session.commit()
            retry = RetryPolicy(campaign.max_attempts, tuple(campaign.retry_delays_min))
            policy = CampaignPolicy(
                campaign_id, CallingWindow.parse(campaign.calling_window), campaign.purpose,
                prerecorded=campaign.prerecorded, requires_consent=campaign.requires_consent,
            )  # fmt: skip
            config = EngineConfig(
                campaign_id=campaign_id, caller_id=campaign.caller_id, ring_timeout_s=campaign.ring_timeout_s,
                safe_harbour_s=min(campaign.safe_harbour_s, scenario.safe_harbour_s),
                drop_message=campaign.drop_message, amd_enabled=campaign.amd_enabled,
                machine_action=campaign.machine_action, voicemail_message=campaign.voicemail_message,
                target_abandon=campaign.target_abandon, tick_s=scenario.tick_s,
                hold_over_budget=hold_over_budget,
                # Without our safety net (benchmarks of other dialers' pacers), no ceiling of ours either.
                max_dial_level=campaign.max_dial_level if hold_over_budget else 10.0,
                caller_ids=tuple(campaign.caller_ids or ()),
            )

        loop = VirtualLoop(plan.first_start)
        recover_interrupted_attempts(db, campaign_id, now=plan.first_start, retry=retry)
        source: SqlLeadSource
        if feeder is not None:
            source = ToppedUpSource(feeder, db=db, campaign_id=campaign_id, max_attempts=retry.max_attempts)
        else:
            source = SqlLeadSource(db, campaign_id, max_attempts=retry.max_attempts)
        dnc = SqlDnc(db, clock=loop.now)
        history = CampaignAttemptHistory(db, campaign_id, now=plan.first_start)
        recorder = SqlRecorder(db, campaign_id, retry, autoflush=False, dnc=dnc, history=history)
        consent = SqlConsentLookup(db) if policy.requires_consent else None
        gate = default_gate(dnc, history=history, consent=consent)

        def check(lead: Lead, now: float) -> Decision:
            target = DialTarget(lead.e164, lead.timezones, lead.state, lead.postal_code, lead.contact_id)
            return gate.can_dial(target, policy, datetime.fromtimestamp(now, UTC))

        hopper = Hopper(source, check, recorder, max_attempts=retry.max_attempts)
        p_days = random.Random(f"days:{seed}")
        daily_p = [p_days.uniform(*scenario.p_daily_range) if scenario.p_daily_range else None
                   for _ in range(scenario.days)]

        def p_human(t: float) -> float:
            fixed = daily_p[min(plan.day_of(t), len(daily_p) - 1)]
            return fixed if fixed is not None else scenario.p_human_at((t - plan.start_of_day(t)) / 3600.0)

        world: AgentWorld | None = None
        carrier = SimulatedCarrier(
            loop, scenario, seed=seed, day_start=plan.start_of_day, p_human=p_human,
            talk_time=lambda agent_id: world.talk_time(agent_id) if world else 0.0,
        )
        pacer = make_pacer(pacer_spec)
        carrier.oracle = pacer.name == "oracle"
        engine = Engine(config, loop, carrier, pacer, hopper, recorder)
        with db.connect() as conn:
            rolling = abandonment_periods(conn, campaign_id, datetime.fromtimestamp(plan.first_start, UTC))[-1]
        engine.budget_history = (int(rolling["live_answers"]), int(rolling["abandoned"]))
        world = world_factory(loop, scenario, engine, seed=seed)
        carrier.deliver = engine.on_carrier_event
        carrier.on_machine_bridged = world.machine_bridged
        clock = AgentClock()
        engine.listeners.append(clock.on_event)

        def flush() -> None:
            recorder.flush()
            loop.call_later(flush_every_s, flush)

        loop.call_later(flush_every_s, flush)
        return cls(scenario, plan, loop, engine, carrier, world, recorder, clock, hopper)

    def run_days(self, progress: Callable[[float], None] | None = None) -> None:
        scenario, plan, loop = self.scenario, self.plan, self.loop
        for day in range(scenario.days):
            start = plan.first_start + day * plan.span_s
            end = start + plan.length_s
            loop.run_until(start)
            self.world.plan_day(start)
            loop.call_at(start, self.engine.start)
            loop.call_at(end, self.engine.stop)
            hour = start
            while hour < end:
                hour = min(end, hour + 3600.0)
                loop.run_until(hour)
                if progress:
                    progress((day + (hour - start) / plan.length_s) / scenario.days)
            # Let calls in flight end and agents finish their wrap-up and log out.
            loop.run_until(end + 3600.0)
        self.clock.close(loop.now())
        self.recorder.flush()

    def figures(self) -> dict[str, Any]:
        engine, scenario, plan = self.engine, self.scenario, self.plan
        call_ids = {sid: call.request.call_id for sid, call in self.carrier.calls.items()}
        figures = summarize(
            self.carrier.calls.values(), self.clock,
            abandon_window_s=scenario.abandon_window_s, hour_of=plan.hour_of, day_of=plan.day_of,
            call_ids=call_ids, dials_without_agents=engine.counters.dials_without_agents,
        )
        return {
            "scenario": scenario.name,
            "pacer": engine.pacer.name,
            "seed": self.world.seed,
            **figures,
            "oracle_occupancy": oracle_occupancy(scenario),
            "engine": {
                "dials": engine.counters.dials,
                "answered": engine.counters.answered,
                "machines_detected": engine.counters.machines,
                "abandoned_seen": engine.counters.abandoned,
                "connected": engine.counters.connected,
                "lost_calls": engine.counters.lost_calls,
                "unknown_events": engine.counters.unknown_events,
                "blocked_by_gate": dict(self.hopper.blocked),
            },
            "campaign_id": engine.config.campaign_id,
            "oracle_skipped_dials": self.carrier.oracle_skipped,
        }
