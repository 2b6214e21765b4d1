"""The supervisor floor: live numbers, the not-dialing panel, controls, monitoring and help requests."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select

from campaigns import floor_stats
from campaigns.compliance_models import AuditEvent
from campaigns.db import make_engine, upgrade
from campaigns.live_dialer import DialerOptions, DialerProcess, agents_key, live_key
from campaigns.live_events import Command, publish_carrier_event, publish_command, read_commands
from campaigns.models import Agent, AgentStateChange, CallAttempt, Campaign, Contact, ContactList, ContactPhone
from campaigns.redis_conn import connect_redis
from campaigns.services import create_campaign, start_campaign
from campaigns.supervision import (
    AGENT_LEG_PREFIX,
    help_key,
    monitor,
    monitor_key,
    open_help_requests,
    request_help,
    transfer,
)
from dialer.agents import AgentState
from dialer.carriers.rooms import Role
from dialer.carriers.simulated import SimulatedCarrier
from dialer.events import CarrierEventKind
from tests.test_live_dialer import CarrierAtTheBus, event, fast_world, lawful_numbers, make_campaign, run_until
from tests.web_support import WebRig, csrf_token
from web import resources


def new_campaign(web: WebRig, *, contacts: int = 3, status: str = "active") -> int:
    with web.sessions()() as session, session.begin():
        camp = create_campaign(session, name=f"Floor {uuid.uuid4().hex[:8]}", caller_id="+12125550100",
                               dial_mode="predictive", target_abandon=0.02)
        if status == "active":
            start_campaign(session, camp)
        lst = ContactList(campaign_id=camp.id, name="list")
        session.add(lst)
        session.flush()
        numbers = lawful_numbers(20)  # a range inside its calling hours now
        for i in range(contacts):
            contact = Contact(campaign_id=camp.id, list_id=lst.id, state=numbers.state)
            contact.phones.append(ContactPhone(campaign_id=camp.id, e164=numbers.e164(camp.id * 10 + i),
                                               timezones=[numbers.zone]))
            session.add(contact)
        return camp.id


def redis_of(web: WebRig) -> redis.Redis:
    with web.app.app_context():
        return resources().redis


def publish_live(web: WebRig, cid: int, agents: dict[str, dict[str, Any]], **numbers: object) -> None:
    """What a running dialer would publish for the campaign."""
    client = redis_of(web)
    live = {"pacer": "predictive", "running": 1, "agents_ready": 1, "agents_on_call": 1, "agents_wrap_up": 0,
            "agents_paused": 0, "agents_working": 2, "calls_ringing": 4, "calls_waiting": 1, "calls_connected": 1,
            "dial_level": 2.5, "hopper_size": 17, "dials": 40, "live_answers_today": 20, "abandoned_today": 1,
            "abandon_rate_today": 0.05, "updated_at": datetime.now(UTC).isoformat(), **numbers}
    client.hset(live_key(cid), mapping={k: str(v) for k, v in live.items()})
    client.hset(agents_key(cid), mapping={k: json.dumps(v) for k, v in agents.items()})


def agents_now() -> dict[str, dict[str, Any]]:
    """Alice on a call for 75 s, Bob (a bot) ready for 5 s."""
    return {
        "alice": {"state": "on_call", "since": time.time() - 75, "call_id": "c1-1-1", "pause_reason": None,
                  "bot": False},
        "bob": {"state": "ready", "since": time.time() - 5, "call_id": None, "pause_reason": None, "bot": True},
    }


# ---------------------------------------------------------------------------------- pages and live numbers


def test_a_supervisor_sees_every_campaign_on_the_floor_with_why_one_is_not_dialing(web: WebRig) -> None:
    dialing = new_campaign(web)
    publish_live(web, dialing, agents_now())
    silent = new_campaign(web)  # no dialer holds it
    page = web.client("supervisor").get("/floor")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"/floor/{dialing}" in text and f"/floor/{silent}" in text
    assert "No dialer process is running this campaign" in text
    assert web.client("agent").get("/floor").status_code == 403


def test_a_campaign_floor_shows_agents_calls_dial_level_and_abandonment(web: WebRig) -> None:
    cid = new_campaign(web)
    publish_live(web, cid, agents_now())
    page = web.client("supervisor").get(f"/floor/{cid}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-agent="alice"' in text and 'class="pill on_call"' in text
    assert 'data-f="dial_level">2.5<' in text and 'data-f="hopper_size">17<' in text
    assert 'data-f="calls_ringing">4<' in text
    assert "Listen" in text and "Whisper" in text and "Barge" in text
    assert "<svg" in text  # the charts are inline
    assert web.client("supervisor").get("/floor/99999").status_code == 404


def test_the_live_json_carries_the_dialers_numbers_time_in_state_and_the_budget(web: WebRig) -> None:
    cid = new_campaign(web)
    publish_live(web, cid, agents_now())
    data = web.client("supervisor").get(f"/floor/{cid}/live.json").get_json()
    assert data["live"]["calls_waiting"] == 1 and data["live"]["dial_level"] == 2.5
    alice = next(a for a in data["agents"] if a["agent_id"] == "alice")
    assert 75 <= alice["time_in_state_s"] <= 85
    assert data["agents"][0]["agent_id"] == "alice"  # on a call first
    assert data["abandonment"]["target"] == 0.02 and data["abandonment"]["budget_left"] == 0
    assert data["not_dialing"]["dialing"] is True
    assert data["not_dialing"]["dialable_now"] + sum(b["count"] for b in data["not_dialing"]["contacts"]) == 3


def test_the_event_stream_pushes_the_live_json_as_it_changes(web: WebRig) -> None:
    cid = new_campaign(web)
    publish_live(web, cid, agents_now())
    client = web.client("supervisor")
    response = client.get(f"/floor/{cid}/events?for_s=3", buffered=False)
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    first = next(chunks).decode()
    assert first.startswith("event: live\ndata: ")
    assert json.loads(first.split("data: ", 1)[1])["live"]["calls_ringing"] == 4
    publish_live(web, cid, agents_now(), calls_ringing=9)
    second = next(chunks).decode()
    assert json.loads(second.split("data: ", 1)[1])["live"]["calls_ringing"] == 9
    response.close()


# ---------------------------------------------------------------------------------- controls


def test_a_supervisor_pauses_and_resumes_a_campaign_from_the_floor(web: WebRig) -> None:
    cid = new_campaign(web)
    client = web.client("supervisor")
    token = csrf_token(client, f"/floor/{cid}")
    assert client.post(f"/floor/{cid}/pause", data={"csrf_token": token}).status_code == 302
    with web.sessions()() as session:
        assert session.get(Campaign, cid).status == "paused"
    page = client.get(f"/floor/{cid}").get_data(as_text=True)
    assert "is paused; resume it to dial again" in page
    assert client.post(f"/floor/{cid}/resume", data={"csrf_token": token}).status_code == 302
    with web.sessions()() as session:
        assert session.get(Campaign, cid).status == "active"
    assert client.post(f"/floor/{cid}/pause").status_code == 400  # no CSRF token


def test_a_target_above_three_percent_is_refused_next_to_its_field(web: WebRig) -> None:
    cid = new_campaign(web)
    client = web.client("supervisor")
    token = csrf_token(client, f"/floor/{cid}")
    answer = client.post(f"/floor/{cid}/pacing", data={"csrf_token": token, "target_abandon_pct": "3.5"},
                         follow_redirects=True)
    text = answer.get_data(as_text=True)
    assert 'name="target_abandon_pct"' in text and 'aria-invalid="true"' in text
    assert "at most 3" in text
    json_answer = client.post(f"/floor/{cid}/pacing", json={"target_abandon_pct": "lots"},
                              headers={"X-CSRFToken": token})
    assert json_answer.status_code == 400 and json_answer.get_json()["field"] == "target_abandon_pct"
    with web.sessions()() as session:
        assert session.get(Campaign, cid).target_abandon == 0.02


def test_a_new_target_pacer_and_dial_level_are_applied_and_audited(web: WebRig) -> None:
    cid = new_campaign(web)
    client = web.client("supervisor")
    token = csrf_token(client, f"/floor/{cid}")
    answer = client.post(f"/floor/{cid}/pacing", json={"target_abandon_pct": "1.5", "pacer": "ratio:2",
                                                       "max_dial_level": "2.5"}, headers={"X-CSRFToken": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["changes"]["target_abandon"] == {"from": 0.02, "to": 0.015}
    with web.sessions()() as session:
        camp = session.get(Campaign, cid)
        assert (camp.target_abandon, camp.pacer, camp.max_dial_level) == (0.015, "ratio:2", 2.5)
        events = session.scalars(select(AuditEvent).where(AuditEvent.campaign_id == cid,
                                                          AuditEvent.kind == "campaign.pacing_changed")).all()
        assert len(events) == 1 and "sam" in json.dumps(events[0].payload)


# ---------------------------------------------------------------------------------- monitoring and help


def test_listen_publishes_a_command_for_the_dialer_with_the_supervisors_line(web: WebRig) -> None:
    cid = new_campaign(web)
    publish_live(web, cid, agents_now())
    client = web.client("supervisor")
    token = csrf_token(client, f"/floor/{cid}")
    answer = client.post(f"/floor/{cid}/agents/alice/monitor", json={"mode": "listen", "line": "+1 212 555 0199"},
                         headers={"X-CSRFToken": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [(_, command)] = read_commands(redis_of(web), cid)
    assert command == Command("listen", "alice", {"supervisor": "+12125550199", "by": "sam"})
    refused = client.post(f"/floor/{cid}/agents/bob/monitor", json={"mode": "barge"}, headers={"X-CSRFToken": token})
    assert refused.status_code == 409 and "not on a call" in refused.get_json()["error"]
    bad = client.post(f"/floor/{cid}/agents/alice/monitor", json={"mode": "shout"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 400 and bad.get_json()["field"] == "mode"


def test_an_agents_help_request_shows_on_the_floor_with_its_age_until_a_supervisor_marks_it_done(web: WebRig) -> None:
    cid = new_campaign(web)
    publish_live(web, cid, agents_now())
    client_redis = redis_of(web)
    request_help(client_redis, cid, "alice", "Customer asks for a manager", now=time.time() - 42)
    data = web.client("supervisor").get(f"/floor/{cid}/live.json").get_json()
    [help_row] = data["help"]
    assert help_row["note"] == "Customer asks for a manager" and help_row["age_s"] >= 42
    assert next(a for a in data["agents"] if a["agent_id"] == "alice")["help"]["note"].startswith("Customer")
    page = web.client("supervisor").get(f"/floor/{cid}").get_data(as_text=True)
    assert "Customer asks for a manager" in page and ">Join</button>" in page
    client = web.client("supervisor")
    token = csrf_token(client, f"/floor/{cid}")
    assert client.post(f"/floor/{cid}/help/alice/done", json={}, headers={"X-CSRFToken": token}).status_code == 200
    assert open_help_requests(client_redis, cid) == []
    names = [c.name for _, c in read_commands(client_redis, cid)]
    assert names == ["help_request", "help_done"]
    again = client.post(f"/floor/{cid}/help/alice/done", json={}, headers={"X-CSRFToken": token})
    assert again.status_code == 404


def test_asking_for_help_twice_keeps_the_first_time_and_the_newest_note() -> None:
    client = connect_redis(f"memory://help-{uuid.uuid4().hex}")
    request_help(client, 5, "amy", "first", now=100.0)
    request_help(client, 5, "amy", "second", now=160.0)
    [open_request] = open_help_requests(client, 5)
    assert (open_request.at, open_request.note) == (100.0, "second")
    assert open_request.age_s(190.0) == 90.0


def test_supervision_commands_refuse_bad_arguments_naming_the_field() -> None:
    client = connect_redis(f"memory://bad-{uuid.uuid4().hex}")
    with pytest.raises(ValueError, match="supervisor"):
        monitor(client, 1, "amy", "listen", "not a line", by="sam")
    with pytest.raises(ValueError, match="mode"):
        transfer(client, 1, "amy", "ben", "lukewarm", by="sam")
    with pytest.raises(ValueError, match="to"):
        transfer(client, 1, "amy", "amy", "cold", by="sam")
    with pytest.raises(ValueError, match="note"):
        request_help(client, 1, "amy", "x" * 501)


# ---------------------------------------------------------------------------------- the day's figures


def test_hourly_figures_and_occupancy_come_from_the_call_records_and_state_changes(web: WebRig) -> None:
    cid = new_campaign(web)
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    with web.sessions()() as session, session.begin():
        contacts = session.scalars(select(Contact).where(Contact.campaign_id == cid)).all()
        for i, contact in enumerate(contacts):
            placed = now - timedelta(minutes=10 * i)
            session.add(CallAttempt(campaign_id=cid, contact_id=contact.id, e164="+12125550000", attempt_number=1,
                                    placed_at=placed, answered_at=placed, answer_class="human" if i else "machine",
                                    connected_at=placed if i else None))
        agent = Agent(login="amy", name="Amy")
        session.add(agent)
        session.flush()
        start = now - timedelta(minutes=20)
        for minutes, state in ((0, "ready"), (5, "on_call"), (15, "wrap_up"), (17, "ready")):
            session.add(AgentStateChange(agent_id=agent.id, campaign_id=cid, state=state,
                                         at=start + timedelta(minutes=minutes)))
    with web.sessions()() as session:
        camp = session.get(Campaign, cid)
        hours = floor_stats.hourly(session.connection(), camp, now, start=now - timedelta(hours=1))
        assert sum(h.calls for h in hours) == 3 and sum(h.connects for h in hours) == 2
        assert sum(h.live_answers for h in hours) == 2
        [amy] = floor_stats.occupancy(session.connection(), camp, now, start=now - timedelta(hours=1))
        assert (amy.talk_s, amy.wrap_s, amy.ready_s) == (600.0, 120.0, 480.0)
        assert amy.occupancy == pytest.approx(720 / 1200)


# ---------------------------------------------------------------------------------- a real engine


@pytest.fixture
def live_db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'floor.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _on_call(process: DialerProcess, cid: int, agent: str) -> bool:
    run = process.runs.get(cid)
    return run is not None and run.engine is not None and run.engine.board.get(agent).state is AgentState.ON_CALL


def test_a_supervisor_listens_whispers_and_barges_into_a_live_call_on_the_simulated_carrier(live_db: Engine) -> None:
    client = connect_redis(f"memory://floor-live-{uuid.uuid4().hex}")
    cid = make_campaign(live_db, 40)
    process = DialerProcess(live_db, client, DialerOptions(bot_agents=2, lease_s=3, scenario=fast_world()))
    try:
        assert run_until([process], lambda: _on_call(process, cid, "agent001") or _on_call(process, cid, "agent002"),
                         timeout=20)
        agent = "agent001" if _on_call(process, cid, "agent001") else "agent002"
        monitor(client, cid, agent, "listen", "client:sam", by="sam")
        monitor(client, cid, agent, "whisper", "client:sue", by="sue")
        monitor(client, cid, agent, "barge", "client:ada", by="ada")
        run = process.runs[cid]
        assert run_until([process], lambda: run.commands_applied >= 3, timeout=5, step=0.05)
        carrier = run.carrier
        assert isinstance(carrier, SimulatedCarrier)
        roles = {leg.who: leg.role for leg in carrier.rooms.room(agent).legs.values()}
        assert roles["client:sam"] is Role.LISTENER and roles["client:sue"] is Role.COACH
        assert roles["client:ada"] is Role.BARGER
        watching = json.loads(client.hget(monitor_key(cid), agent))  # type: ignore[arg-type]
        assert watching["by"] == "ada" and watching["mode"] == "barge"
    finally:
        process.shutdown()


def test_a_cold_transfer_moves_the_customer_and_the_call_to_a_ready_colleague(live_db: Engine) -> None:
    client = connect_redis(f"memory://floor-xfer-{uuid.uuid4().hex}")
    cid = make_campaign(live_db, 20)
    publish_command(client, cid, Command("login", "amy", {"ready": True}))
    publish_command(client, cid, Command("login", "ben", {"ready": False}))
    process = DialerProcess(live_db, client, DialerOptions(lease_s=3, scenario=fast_world()))
    try:
        assert run_until([process], lambda: _on_call(process, cid, "amy"), timeout=20)
        run = process.runs[cid]
        engine = run.engine
        assert engine is not None
        call_id = engine.board.get("amy").call_id
        sid = next(c.carrier_sid for c in engine.live_calls() if c.call_id == call_id)
        before = run.commands_applied
        publish_command(client, cid, Command("set_ready", "ben", {}))
        transfer(client, cid, "amy", "ben", "cold", by="sam")
        assert run_until([process], lambda: run.commands_applied >= before + 2, timeout=5, step=0.02)
        carrier = run.carrier
        assert isinstance(carrier, SimulatedCarrier)
        if engine.board.get("ben").call_id != call_id:
            pytest.skip("the customer hung up before the transfer reached the dialer")
        assert carrier.rooms.where(str(sid)) == "ben"
        assert engine.board.get("ben").state is AgentState.ON_CALL
        assert engine.board.get("amy").state is not AgentState.ON_CALL or engine.board.get("amy").call_id != call_id
        assert next(c.agent_id for c in engine.live_calls() if c.call_id == call_id) == "ben"
    finally:
        process.shutdown()


def test_help_requests_and_their_closing_reach_the_dialer_which_notes_the_call(live_db: Engine) -> None:
    client = connect_redis(f"memory://floor-help-{uuid.uuid4().hex}")
    cid = make_campaign(live_db, 20)
    process = DialerProcess(live_db, client, DialerOptions(bot_agents=1, lease_s=3, scenario=fast_world()))
    try:
        assert run_until([process], lambda: _on_call(process, cid, "agent001"), timeout=20)
        run = process.runs[cid]
        before = run.commands_applied
        request_help(client, cid, "agent001", "angry customer")
        assert run_until([process], lambda: run.commands_applied > before, timeout=5, step=0.05)
        stored = json.loads(client.hget(help_key(cid), "agent001"))  # type: ignore[arg-type]
        assert stored["note"] == "angry customer" and stored["call_id"] is not None
    finally:
        process.shutdown()


@dataclass
class ConferenceAtTheBus(CarrierAtTheBus):
    """A carrier outside the process (like Twilio) that also takes supervisors into agents' rooms."""

    legs: list[tuple[str, ...]] = field(default_factory=list)

    def listen(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        self.legs.append(("listen", agent_id, supervisor, caller_id))
        return f"CA-listen-{len(self.legs)}"

    def whisper(self, agent_id: str, supervisor: str, agent_call_sid: str, *, caller_id: str) -> str:
        self.legs.append(("whisper", agent_id, supervisor, agent_call_sid))
        return f"CA-whisper-{len(self.legs)}"

    def barge(self, agent_id: str, supervisor: str, *, caller_id: str) -> str:
        self.legs.append(("barge", agent_id, supervisor, caller_id))
        return f"CA-barge-{len(self.legs)}"

    def add_colleague(self, agent_id: str, colleague: str, *, caller_id: str) -> str:
        self.legs.append(("colleague", agent_id, colleague, caller_id))
        return f"CA-colleague-{len(self.legs)}"

    def transfer(self, call_sid: str, to_agent_id: str) -> None:
        self.legs.append(("transfer", call_sid, to_agent_id))


def test_on_a_network_carrier_a_whisper_coaches_the_agents_own_leg_and_runs_off_the_dialers_loop(
    live_db: Engine,
) -> None:
    client = connect_redis(f"memory://floor-bus-{uuid.uuid4().hex}")
    cid = make_campaign(live_db, 5)
    carrier = ConferenceAtTheBus()
    process = DialerProcess(live_db, client, DialerOptions(lease_s=3.0), carrier_factory=lambda campaign: carrier)
    publish_command(client, cid, Command("login", "alice", {}))
    try:
        assert run_until([process], lambda: len(carrier.placed) == 1, timeout=5)
        sid = carrier.sids[0]
        for ev in (event(sid, CarrierEventKind.INITIATED, 1), event(sid, CarrierEventKind.RINGING, 2),
                   event(sid, CarrierEventKind.ANSWERED, 3), event(sid, CarrierEventKind.AMD, 4, "human"),
                   event(sid, CarrierEventKind.BRIDGED, 5, "alice")):
            publish_carrier_event(client, cid, ev)
        assert run_until([process], lambda: _on_call(process, cid, "alice"), timeout=5)
        run = process.runs[cid]
        assert run.pool is not None  # requests to this carrier leave from threads
        client.set(AGENT_LEG_PREFIX + "CA-alice-softphone", "alice")  # what the agent-leg webhook remembers
        monitor(client, cid, "alice", "whisper", "client:sam", by="sam")
        assert run_until([process], lambda: client.hexists(monitor_key(cid), "alice"), timeout=5, step=0.05)
        assert carrier.legs == [("whisper", "alice", "client:sam", "CA-alice-softphone")]
        assert json.loads(client.hget(monitor_key(cid), "alice"))["leg"] == "CA-whisper-1"  # type: ignore[arg-type]
        transfer(client, cid, "alice", "+1 212 555 0177", "cold", by="sam")
        assert run_until([process], lambda: len(carrier.legs) == 3, timeout=5, step=0.05)
        assert carrier.legs[1:] == [("colleague", "transfer-12125550177", "+12125550177", "+12125550100"),
                                    ("transfer", sid, "transfer-12125550177")]
        assert run.engine is not None and run.engine.board.get("alice").state is AgentState.WRAP_UP
    finally:
        process.shutdown()


def test_a_warm_transfer_brings_the_colleague_in_first_and_a_cold_one_then_hands_the_call_over(
    live_db: Engine,
) -> None:
    client = connect_redis(f"memory://floor-warm-{uuid.uuid4().hex}")
    cid = make_campaign(live_db, 20)
    publish_command(client, cid, Command("login", "amy", {"ready": True}))
    publish_command(client, cid, Command("login", "ben", {"ready": False}))
    process = DialerProcess(live_db, client, DialerOptions(lease_s=3, scenario=fast_world()))
    try:
        assert run_until([process], lambda: _on_call(process, cid, "amy"), timeout=20)
        run = process.runs[cid]
        engine, carrier = run.engine, run.carrier
        assert engine is not None and isinstance(carrier, SimulatedCarrier)
        call_id = engine.board.get("amy").call_id
        before = run.commands_applied
        publish_command(client, cid, Command("set_ready", "ben", {}))
        transfer(client, cid, "amy", "ben", "warm", by="amy")
        assert run_until([process], lambda: run.commands_applied >= before + 2, timeout=5, step=0.02)
        if engine.board.get("amy").call_id != call_id:
            pytest.skip("the customer hung up before the transfer reached the dialer")
        legs = {leg.who: leg.role for leg in carrier.rooms.room("amy").legs.values()}
        assert legs["client:ben"] is Role.COLLEAGUE  # all three talk
        ben = engine.board.get("ben")
        assert ben.state is AgentState.RESERVED and ben.call_id == call_id  # kept off new calls meanwhile
        transfer(client, cid, "amy", "ben", "cold", by="amy")
        assert run_until([process], lambda: run.commands_applied >= before + 3, timeout=5, step=0.02)
        if not any(c.call_id == call_id and not c.is_ended for c in engine.live_calls()):
            pytest.skip("the customer hung up before the hand-over")
        assert engine.board.get("ben").state is AgentState.ON_CALL
        assert engine.board.get("amy").call_id != call_id
    finally:
        process.shutdown()


def test_a_supervisor_transfers_an_agents_call_from_the_floor_and_a_bad_target_is_named(web: WebRig) -> None:
    cid = new_campaign(web)
    publish_live(web, cid, agents_now())
    client = web.client("supervisor")
    token = csrf_token(client, f"/floor/{cid}")
    page = client.get(f"/floor/{cid}").get_data(as_text=True)
    assert 'class="transfer-form"' in page
    answer = client.post(f"/floor/{cid}/agents/alice/transfer", json={"to": "bob", "mode": "warm"},
                         headers={"X-CSRFToken": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [(_, command)] = read_commands(redis_of(web), cid)
    assert command == Command("transfer", "alice", {"to": "bob", "mode": "warm", "by": "sam"})
    bad = client.post(f"/floor/{cid}/agents/alice/transfer", json={"to": "+1 555", "mode": "cold"},
                      headers={"X-CSRFToken": token})
    assert bad.status_code == 400 and bad.get_json()["field"] == "to"
    idle = client.post(f"/floor/{cid}/agents/bob/transfer", json={"to": "alice", "mode": "cold"},
                       headers={"X-CSRFToken": token})
    assert idle.status_code == 409
