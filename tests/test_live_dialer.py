"""The live dialer process: leases shared between processes, the fence, takeover, the bus, live state.

These run DialerProcess instances in this test process on the wall clock
(short leases, a fast simulated world), on a SQLite file and the in-process
Redis stand-in; the subprocess fault test is in tests/test_run_command.py.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select, update

from campaigns.db import make_engine, make_session_factory, upgrade
from campaigns.leases import CampaignLease, current_holder, lease_key
from campaigns.live_dialer import (
    DialerOptions,
    DialerProcess,
    agents_key,
    events_offset_key,
    live_key,
)
from campaigns.live_events import Command, publish_carrier_event, publish_command
from campaigns.models import CallAttempt, Campaign, Contact, ContactList, ContactPhone
from campaigns.redis_conn import connect_redis
from campaigns.services import create_campaign, start_campaign
from compliance.gate import CallingWindow, CampaignPolicy, DialTarget, default_gate
from dialer.carrier import DialRequest
from dialer.events import CarrierEvent, CarrierEventKind
from dialer.simulation.scenario import Scenario, parse_scenario

# A world where things happen within seconds: quick answers, short talks, short wrap-ups.
FAST_WORLD = {
    "name": "fast", "p_human": 0.5, "cps": 5, "talk_mean_s": 3, "wrap_fixed_s": 0.5, "wrap_exp_mean_s": 0.5,
    "ring_median_s": 2, "ring_p90_s": 4, "amd_s": [0.5, 1.0], "setup_s": [0.2, 0.5],
}

# Number ranges in places whose calling hours differ, so that at any hour some are lawful to call now.
_FAMILIES: tuple[tuple[str, str, str | None], ...] = (
    ("+1212555{:04d}", "America/New_York", "NY"),
    ("+1312555{:04d}", "America/Chicago", "IL"),
    ("+1213555{:04d}", "America/Los_Angeles", "CA"),
    ("+1808555{:04d}", "Pacific/Honolulu", "HI"),
    ("+1671555{:04d}", "Pacific/Guam", "GU"),
    ("+44207946{:04d}", "Europe/London", None),
    ("+6129123{:04d}", "Australia/Sydney", None),
)


def fast_world() -> Scenario:
    return parse_scenario(FAST_WORLD)


@dataclass(frozen=True)
class Numbers:
    pattern: str
    zone: str
    state: str | None

    def e164(self, i: int) -> str:
        return self.pattern.format(i)


def lawful_numbers(n: int) -> Numbers:
    """A range of ``n`` numbers the real dial gate lets us call now and for the next minutes; else skip."""
    gate = default_gate()
    policy = CampaignPolicy(1, CallingWindow.parse("00:00-23:59"), "telemarketing")
    now = datetime.now(UTC)
    for pattern, zone, state in _FAMILIES:
        family = Numbers(pattern, zone, state)
        if all(
            gate.can_dial(DialTarget(family.e164(i), (zone,), state, None, i + 1), policy, at).allowed
            for i in (0, n // 2, n - 1)
            for at in (now, now + timedelta(minutes=3))
        ):
            return family
    pytest.skip("no number range is inside its calling hours right now")


def make_campaign(db: Engine, contacts: int, *, numbers: Numbers | None = None, campaign_id: int | None = None,
                  ring_timeout_s: int = 15) -> int:
    """An active campaign with ``contacts`` lawful-to-call-now contacts; ``campaign_id`` picks its id."""
    numbers = numbers or lawful_numbers(contacts)
    with make_session_factory(db)() as session, session.begin():
        campaign = create_campaign(
            session, name=f"live {uuid.uuid4().hex[:10]}", caller_id="+12125550100", pacer="progressive",
            calling_window="00:00-23:59", ring_timeout_s=ring_timeout_s,
        )
        start_campaign(session, campaign)
        cid = campaign.id
    if campaign_id is not None:
        with db.begin() as conn:
            conn.execute(update(Campaign).where(Campaign.id == cid).values(id=campaign_id))
        cid = campaign_id
    with make_session_factory(db)() as session, session.begin():
        contact_list = ContactList(campaign_id=cid, name="test list")
        session.add(contact_list)
        session.flush()
        offset = (cid * 37) % 5000  # distinct numbers per campaign
        for i in range(contacts):
            contact = Contact(campaign_id=cid, list_id=contact_list.id, first_name=f"C{i}", state=numbers.state)
            contact.phones.append(ContactPhone(campaign_id=cid, e164=numbers.e164(offset + i),
                                               timezones=[numbers.zone]))
            session.add(contact)
    return cid


def attempts(db: Engine, campaign_id: int) -> list[CallAttempt]:
    with make_session_factory(db)() as session:
        return list(session.scalars(select(CallAttempt).where(CallAttempt.campaign_id == campaign_id)
                                    .order_by(CallAttempt.id)))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def client() -> redis.Redis:
    return connect_redis(f"memory://live-dialer-{uuid.uuid4().hex}")


def run_until(processes: list[DialerProcess], condition: object, timeout: float, step: float = 0.1) -> bool:
    """Step every process in turn until ``condition()`` holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for process in processes:
            process.step(step)
        if condition():  # type: ignore[operator]
            return True
    return False


# ---------------------------------------------------------------------------------- a bus-fed carrier


@dataclass
class CarrierAtTheBus:
    """A carrier whose calls outlive the dialer (like Twilio): its news comes only through the bus."""

    placed: list[DialRequest] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def cps_limit(self) -> float | None:
        return None

    def place_call(self, request: DialRequest) -> str:
        sid = f"CA{uuid.uuid4().hex}"
        self.placed.append(request)
        self.sids.append(sid)
        return sid

    def connect(self, call_sid: str, agent_id: str) -> None:
        self.actions.append(("connect", call_sid))

    def play_and_hangup(self, call_sid: str, message: str) -> None:
        self.actions.append(("play_and_hangup", call_sid))

    def hangup(self, call_sid: str) -> None:
        self.actions.append(("hangup", call_sid))


def event(sid: str, kind: CarrierEventKind, seq: int, detail: str = "") -> CarrierEvent:
    return CarrierEvent(sid, kind, time.time(), seq, detail)


# ---------------------------------------------------------------------------------- tests


def test_a_dialer_paces_a_campaign_with_bot_agents_and_publishes_its_live_state(
    db: Engine, client: redis.Redis
) -> None:
    cid = make_campaign(db, 60)
    process = DialerProcess(db, client, DialerOptions(bot_agents=3, lease_s=3, scenario=fast_world()))
    try:
        assert run_until([process], lambda: any(a.ended_at for a in attempts(db, cid)), timeout=12)
        process.step(1.2)
        live = {k.decode(): v.decode() for k, v in client.hgetall(live_key(cid)).items()}
        assert live["holder"] == process.owner
        assert int(live["agents_working"]) == 3
        assert int(live["dials"]) >= 1
        for name in ("calls_ringing", "calls_waiting", "calls_connected", "dial_level", "hopper_size",
                     "abandoned_today", "live_answers_today", "abandon_rate_today", "agents_ready"):
            assert name in live
        agents = {k.decode(): json.loads(v) for k, v in client.hgetall(agents_key(cid)).items()}
        assert set(agents) == {"agent001", "agent002", "agent003"}
        assert all(a["state"] != "offline" for a in agents.values())
    finally:
        process.shutdown()
    assert current_holder(client, cid) is None  # a clean exit lets go at once


def test_two_dialers_share_campaigns_and_never_pace_one_campaign_at_the_same_time(
    db: Engine, client: redis.Redis
) -> None:
    numbers = lawful_numbers(40)
    campaigns = [make_campaign(db, 10, numbers=numbers) for _ in range(4)]
    ticks: list[tuple[int, str, float]] = []
    options = DialerOptions(bot_agents=1, lease_s=1.0, scenario=fast_world())
    a = DialerProcess(db, client, options, owner="dialer-a")
    b = DialerProcess(db, client, options, owner="dialer-b")
    for process in (a, b):
        process.tick_listeners.append(lambda cid, owner, at: ticks.append((cid, owner, at)))
        process.start()  # both say they are alive before either looks for campaigns
    try:
        assert run_until([a, b], lambda: len(a.runs) + len(b.runs) == 4, timeout=5)
        assert len(a.runs) == 2 and len(b.runs) == 2
        assert not set(a.runs) & set(b.runs)
        run_until([a, b], lambda: False, timeout=1.5)
        taken_from_a = set(a.runs)
        crashed_at = time.time()
        a.crash()  # as if killed: the leases stay until they expire
        assert run_until([b], lambda: set(b.runs) == set(campaigns), timeout=5)
        took_over_at = time.time()
        assert took_over_at - crashed_at < options.lease_s + 2.0
        run_until([b], lambda: False, timeout=1.5)
    finally:
        b.shutdown()
    for cid in campaigns:
        by_owner: dict[str, list[float]] = {}
        for tick_cid, owner, at in ticks:
            if tick_cid == cid:
                by_owner.setdefault(owner, []).append(at)
        if cid in taken_from_a:
            assert max(by_owner["dialer-a"]) < min(by_owner["dialer-b"])  # never both at once
        else:
            assert set(by_owner) == {"dialer-b"}
    for cid in campaigns:
        rows = attempts(db, cid)
        assert len({(r.contact_id, r.attempt_number) for r in rows}) == len(rows)


def test_a_dialer_whose_lease_was_taken_stops_pacing_at_once_and_writes_nothing_more(
    db: Engine, client: redis.Redis
) -> None:
    cid = make_campaign(db, 30)
    process = DialerProcess(db, client, DialerOptions(bot_agents=2, lease_s=30, scenario=fast_world()))
    try:
        assert run_until([process], lambda: cid in process.runs and process.runs[cid].engine is not None
                         and process.runs[cid].engine.counters.dials > 0, timeout=8)
        run = process.runs[cid]
        # Someone else holds the campaign now (the lease was deleted and taken: a partition, an operator).
        client.delete(lease_key(cid))
        thief = CampaignLease(client, cid, "dialer-thief", 30)
        assert thief.acquire()
        before = len(attempts(db, cid))
        process.step(1.5)
        assert cid not in process.runs and run.closed
        assert not run.engine.running  # type: ignore[union-attr]
        process.step(1.5)
        assert len(attempts(db, cid)) == before  # no claim after the loss
        assert current_holder(client, cid).owner == "dialer-thief"  # type: ignore[union-attr]
    finally:
        process.shutdown()
    assert current_holder(client, cid).owner == "dialer-thief"  # type: ignore[union-attr]  # not released by us


def test_bus_events_delivered_twice_are_applied_once_and_a_new_holder_completes_the_dead_ones_calls(
    db: Engine, client: redis.Redis
) -> None:
    cid = make_campaign(db, 5)
    carrier = CarrierAtTheBus()
    options = DialerOptions(lease_s=1.0)
    a = DialerProcess(db, client, options, carrier_factory=lambda campaign: carrier, owner="dialer-a")
    publish_command(client, cid, Command("login", "alice", {}))
    assert run_until([a], lambda: len(carrier.placed) == 1, timeout=5)
    sid = carrier.sids[0]
    for ev in (
        event(sid, CarrierEventKind.INITIATED, 1),
        event(sid, CarrierEventKind.RINGING, 2),
        event(sid, CarrierEventKind.RINGING, 2),  # a webhook retried
        event(sid, CarrierEventKind.ANSWERED, 3),
        event(sid, CarrierEventKind.AMD, 4, "human"),
        event(sid, CarrierEventKind.BRIDGED, 5, "alice"),
    ):
        publish_carrier_event(client, cid, ev)
    assert run_until([a], lambda: a.runs[cid].events_applied == 6, timeout=3)
    assert a.runs[cid].engine.board.get("alice").state.value == "on_call"  # type: ignore[union-attr]
    run_until([a], lambda: False, timeout=1.2)  # live state and offset written
    offset = client.get(events_offset_key(cid))
    [row] = attempts(db, cid)
    assert row.connected_at is not None and row.ended_at is None and row.carrier_call_id == sid
    a.crash()  # the dialer dies with alice on the call; the call goes on at the carrier

    b = DialerProcess(db, client, options, carrier_factory=lambda campaign: carrier, owner="dialer-b")
    publish_carrier_event(client, cid, event(sid, CarrierEventKind.COMPLETED, 6, "completed"))
    publish_carrier_event(client, cid, event(sid, CarrierEventKind.COMPLETED, 6, "completed"))
    try:
        assert run_until([b], lambda: cid in b.runs and b.runs[cid].events_applied >= 2, timeout=5)
        run = b.runs[cid]
        assert run.events_applied == 2  # only what came after the dead holder's offset
        # The offset moves once the records of those events are committed, a flush later.
        assert run_until([b], lambda: client.get(events_offset_key(cid)) != offset, timeout=2)
        b.step(0.5)
    finally:
        b.shutdown()
    [row] = attempts(db, cid)
    assert row.ended_at is not None and row.end_reason == "completed"
    assert row.disposition == "HUP" and row.talk_s is not None
    assert len(carrier.placed) == 1  # alice came back paused: nothing dialed for her, nothing twice


def test_agent_commands_from_the_bus_reach_the_engine_in_order(db: Engine, client: redis.Redis) -> None:
    cid = make_campaign(db, 3)
    carrier = CarrierAtTheBus()
    process = DialerProcess(db, client, DialerOptions(lease_s=5.0), carrier_factory=lambda campaign: carrier)
    for command in (Command("login", "bob", {"ready": False}), Command("set_ready", "bob", {}),
                    Command("pause", "bob", {"reason": "lunch"}), Command("wrap_done", "bob", {"disposition": "NI"})):
        publish_command(client, cid, command)
    try:
        assert run_until([process], lambda: cid in process.runs and process.runs[cid].commands_applied == 4,
                         timeout=5)
        agent = process.runs[cid].engine.board.get("bob")  # type: ignore[union-attr]
        assert agent.state.value == "paused"  # the stale wrap_done was skipped, not fatal
        assert agent.pause_reason == "lunch"
    finally:
        process.shutdown()


# ---------------------------------------------------------------------------------- carrier requests off the loop


def attempt_exists(db: Engine, call_id: str) -> bool:
    """Whether the attempt of an engine call id (c<campaign>-<contact>-<attempt>) is committed, seen from outside."""
    _, contact_id, attempt_number = call_id.split("-")
    with db.connect() as conn:
        return conn.execute(select(CallAttempt.id).where(
            CallAttempt.contact_id == int(contact_id), CallAttempt.attempt_number == int(attempt_number),
        )).first() is not None


def test_an_attempt_is_committed_before_its_dial_request_leaves_for_the_carrier(
    db: Engine, client: redis.Redis
) -> None:
    cid = make_campaign(db, 4)
    seen: list[tuple[str, bool]] = []

    class Checking(CarrierAtTheBus):
        def place_call(self, request: DialRequest) -> str:
            seen.append((request.call_id, attempt_exists(db, request.call_id)))
            return super().place_call(request)

    carrier = Checking()
    for agent in ("alice", "bob"):
        publish_command(client, cid, Command("login", agent, {}))
    process = DialerProcess(db, client, DialerOptions(lease_s=5.0), carrier_factory=lambda campaign: carrier)
    try:
        assert run_until([process], lambda: len(seen) == 2, timeout=5)
        assert process.runs[cid].pool is not None  # sent from the carrier's threads, not the loop
    finally:
        process.shutdown()
    assert [committed for _, committed in seen] == [True, True]


def test_events_that_arrive_before_their_placement_returns_are_held_for_it_not_lost(
    db: Engine, client: redis.Redis
) -> None:
    cid = make_campaign(db, 3)

    class Quick(CarrierAtTheBus):
        """Its webhooks overtake the answer to the request that created the call."""

        def place_call(self, request: DialRequest) -> str:
            sid = f"CA{uuid.uuid4().hex}"
            publish_carrier_event(client, cid, event(sid, CarrierEventKind.INITIATED, 1))
            publish_carrier_event(client, cid, event(sid, CarrierEventKind.RINGING, 2))
            time.sleep(0.4)  # the loop reads both events meanwhile
            self.placed.append(request)
            self.sids.append(sid)
            return sid

    carrier = Quick()
    publish_command(client, cid, Command("login", "alice", {}))
    process = DialerProcess(db, client, DialerOptions(lease_s=5.0), carrier_factory=lambda campaign: carrier)
    try:
        assert run_until([process], lambda: cid in process.runs and process.runs[cid].events_applied == 2,
                         timeout=6)
        engine = process.runs[cid].engine
        assert engine is not None
        [call] = engine.live_calls()
        assert call.carrier_sid == carrier.sids[0] and call.has("ringing")
        assert engine.counters.unknown_events == 0
    finally:
        process.shutdown()


def test_on_sigterm_every_call_record_still_buffered_is_written_before_the_process_lets_go(
    db: Engine, client: redis.Redis
) -> None:
    cid = make_campaign(db, 3)

    class Answering(CarrierAtTheBus):
        """The whole call happens at once; then the operator stops the dialer."""

        def place_call(self, request: DialRequest) -> str:
            sid = super().place_call(request)

            def play() -> None:
                time.sleep(0.3)
                for ev in (event(sid, CarrierEventKind.INITIATED, 1), event(sid, CarrierEventKind.ANSWERED, 3),
                           event(sid, CarrierEventKind.AMD, 4, "human"),
                           event(sid, CarrierEventKind.BRIDGED, 5, "alice"),
                           event(sid, CarrierEventKind.COMPLETED, 6, "completed")):
                    publish_carrier_event(client, cid, ev)
                time.sleep(1.0)
                os.kill(os.getpid(), signal.SIGTERM)

            threading.Thread(target=play, daemon=True).start()
            return sid

    carrier = Answering()
    publish_command(client, cid, Command("login", "alice", {}))
    # Nothing is written in the background for a minute: what lands, lands on the way out.
    process = DialerProcess(db, client, DialerOptions(lease_s=5.0, flush_s=60.0),
                            carrier_factory=lambda campaign: carrier)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        process.run(for_s=20)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    [row] = attempts(db, cid)
    assert row.carrier_call_id == carrier.sids[0]
    assert row.answered_at is not None and row.connected_at is not None and row.ended_at is not None
    assert row.end_reason == "completed" and row.agent_id is not None
    last = client.xrevrange(f"dialer:events:{cid}", count=1)[0][0]
    assert client.get(events_offset_key(cid)) == last  # the offset covers exactly what was written
    assert current_holder(client, cid) is None


def test_a_supervisors_new_target_dial_level_and_pacer_reach_the_running_engine(
    db: Engine, client: redis.Redis
) -> None:
    from campaigns import services

    cid = make_campaign(db, 3)
    carrier = CarrierAtTheBus()
    process = DialerProcess(db, client, DialerOptions(lease_s=5.0), carrier_factory=lambda campaign: carrier)
    try:
        assert run_until([process], lambda: cid in process.runs and process.runs[cid].engine is not None, timeout=5)
        run = process.runs[cid]
        engine = run.engine
        assert engine is not None
        with make_session_factory(db)() as session:
            campaign = session.get_one(Campaign, cid)
            services.update_pacing(session, campaign, actor="sue", target_abandon=0.02, max_dial_level=1.5,
                                   pacer="ratio:1.4")
            session.commit()
        changes = run.refresh_settings()
        assert changes["target_abandon"] == (0.03, 0.02)
        assert engine.config.target_abandon == 0.02
        assert engine.config.max_dial_level == 1.5
        assert engine.observation().target_abandon == 0.02
        inner = getattr(engine.pacer, "inner", engine.pacer)
        assert getattr(inner, "ratio", None) == 1.4
        assert engine.pacer.observe in engine.listeners
        assert run.refresh_settings() == {}  # nothing new: nothing changes
    finally:
        process.shutdown()
