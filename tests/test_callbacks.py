"""Scheduled callbacks: from an agent's disposition to the record, through the hopper and the gate, and the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from campaigns.callback_models import Callback
from campaigns.callbacks import (
    OWNER_GRACE,
    CallbackError,
    callbacks_for_agent,
    describe,
    reassign,
    record_agreed_callback,
    reschedule,
    schedule_callback,
    sync_callbacks,
)
from campaigns.db import make_engine, make_session_factory, upgrade
from campaigns.models import Agent, CallAttempt, Campaign, Contact, ContactList, ContactPhone
from campaigns.store import SqlDnc, SqlLeadSource, SqlRecorder, to_dt
from compliance.gate import CallingWindow, CampaignPolicy, Decision, DialTarget, default_gate
from dialer.clock import VirtualLoop
from dialer.engine import Engine as DialEngine
from dialer.engine import EngineConfig
from dialer.hopper import Hopper, Lead
from dialer.outcomes import RetryPolicy
from dialer.pacing import make_pacer
from tests.engine_support import ScriptedCarrier
from tests.web_support import WebRig, make_rig

NY = ZoneInfo("America/New_York")
# Tuesday 1 December 2026, 10:00 in New York (15:00 UTC): inside everyone's calling hours.
MORNING = datetime(2026, 12, 1, 10, 0, tzinfo=NY)


def ny(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=NY).astimezone(UTC)


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'callbacks.db'}")
    upgrade(engine)  # the real migrations: the callbacks table comes from its migration
    return engine


def add_campaign(db: Engine, contacts: list[dict[str, object]], *, name: str = "callbacks") -> int:
    with db.begin() as conn:
        campaign_id = conn.execute(insert(Campaign).values(
            name=name, caller_id="+12125550100", drop_message="sorry", retry_delays_min=[30, 60],
            calling_window="08:00-21:00", max_attempts=3,
        ).returning(Campaign.id)).scalar_one()
        list_id = conn.execute(insert(ContactList).values(campaign_id=campaign_id, name="l").returning(
            ContactList.id)).scalar_one()
        for i, spec in enumerate(contacts, start=1):
            cid = conn.execute(insert(Contact).values(
                campaign_id=campaign_id, list_id=list_id, custom_fields={}, first_name=f"Person{i}",
                state="NY", timezone="America/New_York", **spec).returning(Contact.id)).scalar_one()
            conn.execute(insert(ContactPhone).values(
                contact_id=cid, campaign_id=campaign_id, e164=f"+1212555{campaign_id:02d}{i:02d}", position=0,
                timezones=["America/New_York"]))
    return campaign_id


def sessions(db: Engine) -> Session:
    return make_session_factory(db)()


def gate_check(db: Engine, campaign_id: int) -> object:
    policy = CampaignPolicy(campaign_id, CallingWindow.parse("08:00-21:00"))
    gate = default_gate(SqlDnc(db))

    def check(lead: Lead, at: float) -> Decision:
        target = DialTarget(lead.e164, lead.timezones, lead.state, lead.postal_code, lead.contact_id, history=())
        return gate.can_dial(target, policy, datetime.fromtimestamp(at, UTC))

    return check


class PersonalCallbackRecorder(SqlRecorder):
    """The recorder with the callback door wired into its outcome, every callback kept by the agent who agreed it."""

    def _outcome(self, conn: Any, plan: Any) -> dict[str, Any]:
        row = super()._outcome(conn, plan)
        if row["new_status"] == "callback" and row["next_at"] is not None:
            row["next_at"] = record_agreed_callback(
                conn, campaign_id=self.campaign_id, contact_id=plan.contact_id, due_at=row["next_at"],
                agent=plan.agent_id, personal=True, phone_id=plan.phone_id, e164=plan.e164, now=to_dt(plan.ended),
            )
        return row


def floor(db: Engine, campaign_id: int, start: datetime, *, recorder_class: type[SqlRecorder] = SqlRecorder
          ) -> tuple[VirtualLoop, ScriptedCarrier, DialEngine]:
    """The real engine on the real database adapters, with a carrier the test drives."""
    loop = VirtualLoop(start.timestamp())
    carrier = ScriptedCarrier(loop)
    recorder = recorder_class(db, campaign_id, RetryPolicy(3, (30, 60)))
    hopper = Hopper(SqlLeadSource(db, campaign_id, max_attempts=3), gate_check(db, campaign_id),  # type: ignore[arg-type]
                    recorder, max_attempts=3)
    engine = DialEngine(EngineConfig(campaign_id=campaign_id, caller_id="+12125550100", drop_message="sorry"),
                        loop, carrier, make_pacer("progressive"), hopper, recorder)
    carrier.engine = engine
    return loop, carrier, engine


def talk_and_disposition(carrier: ScriptedCarrier, engine: DialEngine, agent: str, code: str, *,
                         notes: str = "", callback_at: datetime | None = None) -> None:
    sid = f"SID{len(carrier.placed)}"
    carrier.answer(sid)
    carrier.send(sid, "bridged")
    engine.hangup(agent)
    carrier.send(sid, "completed", "completed")
    engine.wrap_done(agent, code, notes=notes, callback_at=callback_at.timestamp() if callback_at else None)


# ------------------------------------------------------------------------------------------ the recorder's path


def test_a_call_dispositioned_with_a_callback_time_becomes_a_callback_record_in_the_persons_zone(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    _, carrier, engine = floor(db, campaign_id, MORNING)
    engine.login("alice")
    assert engine.tick() == 1
    promised = ny(14, 30, day=3)
    talk_and_disposition(carrier, engine, "alice", "CB", notes="Ask for Dana", callback_at=promised)

    with sessions(db) as session:
        assert sync_callbacks(session, MORNING.astimezone(UTC) + timedelta(minutes=5)) == 1
        session.commit()
        callback = session.scalars(select(Callback)).one()
        contact = session.get_one(Contact, callback.contact_id)
        shown = describe(callback, contact, MORNING.astimezone(UTC))
    assert (callback.status, callback.owner, callback.created_by) == ("scheduled", None, "alice")
    assert callback.due_at == promised and contact.next_eligible_at == promised and contact.status == "callback"
    assert callback.note == "Ask for Dana" and callback.contact_zone == "America/New_York"
    assert shown["due_local"] == "Thu 3 Dec 14:30 (America/New_York)"
    assert shown["turn"] == "for anyone"


def test_a_recorder_wired_to_the_callback_door_writes_a_personal_callback_with_the_call_and_holds_it_for_its_owner(
        db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    _, carrier, engine = floor(db, campaign_id, MORNING, recorder_class=PersonalCallbackRecorder)
    engine.login("alice")
    engine.tick()
    promised = ny(14, 30, day=3)
    talk_and_disposition(carrier, engine, "alice", "CB", callback_at=promised)
    with sessions(db) as session:
        callback = session.scalars(select(Callback)).one()  # written by the recorder, before any sync
        contact = session.get_one(Contact, callback.contact_id)
        assert (callback.owner, callback.created_by, callback.contact_zone) == ("alice", "alice", "America/New_York")
        assert contact.next_eligible_at == promised + OWNER_GRACE
        assert sync_callbacks(session, MORNING.astimezone(UTC)) == 0  # nothing left to discover
        assert len(session.scalars(select(Callback)).all()) == 1


def test_a_callback_is_followed_to_the_call_that_served_it(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    loop, carrier, engine = floor(db, campaign_id, MORNING)
    engine.login("alice")
    engine.tick()
    due = MORNING.astimezone(UTC) + timedelta(hours=2)
    talk_and_disposition(carrier, engine, "alice", "CB", callback_at=due)
    with sessions(db) as session:
        sync_callbacks(session, MORNING.astimezone(UTC))
        session.commit()

    loop.run_until(due.timestamp() + 30)
    assert engine.tick() == 1  # the callback is dialed when due
    with sessions(db) as session:
        sync_callbacks(session, due + timedelta(seconds=40))
        session.commit()
        assert session.scalars(select(Callback.status)).one() == "dialing"
    talk_and_disposition(carrier, engine, "alice", "SALE")
    with sessions(db) as session:
        sync_callbacks(session, due + timedelta(minutes=5))
        session.commit()
        callback = session.scalars(select(Callback)).one()
        served = session.scalars(select(CallAttempt).order_by(CallAttempt.id.desc())).first()
    assert callback.status == "done" and served is not None and callback.attempt_id == served.id


def test_a_callback_whose_call_reaches_nobody_is_missed_and_says_why(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    loop, carrier, engine = floor(db, campaign_id, MORNING)
    engine.login("alice")
    engine.tick()
    due = MORNING.astimezone(UTC) + timedelta(hours=1)
    talk_and_disposition(carrier, engine, "alice", "CB", callback_at=due)
    with sessions(db) as session:
        sync_callbacks(session, MORNING.astimezone(UTC))  # what the scheduler does every minute
        session.commit()
    loop.run_until(due.timestamp() + 1)
    engine.tick()
    sid = f"SID{len(carrier.placed)}"
    carrier.send(sid, "ringing")
    carrier.send(sid, "completed", "no-answer")
    with sessions(db) as session:
        sync_callbacks(session, due + timedelta(minutes=2))
        session.commit()
        callback = session.scalars(select(Callback)).one()
    assert callback.status == "missed"
    assert "reached nobody" in callback.status_detail


# ------------------------------------------------------------------------------------------ the hopper and the gate


def test_a_due_callback_is_dialed_before_new_contacts_of_the_same_priority(db: Engine) -> None:
    now = MORNING.astimezone(UTC)
    campaign_id = add_campaign(db, [{}, {"status": "callback", "attempts": 1,
                                         "next_eligible_at": now - timedelta(minutes=1)}, {}])
    leads = SqlLeadSource(db, campaign_id, max_attempts=3).fetch(now.timestamp(), 3, ())
    assert leads[0].callback and leads[0].contact_id == 2


def test_a_callback_at_7_30_for_a_window_opening_at_8_waits_for_8_and_its_record_says_so(db: Engine) -> None:
    waits_for_the_window(db)


def test_a_callback_waits_for_the_window_on_postgresql_too(pg_url: str) -> None:
    db = make_engine(pg_url)
    upgrade(db)
    try:
        waits_for_the_window(db)
    finally:
        db.dispose()


def waits_for_the_window(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    with sessions(db) as session, session.begin():
        contact = session.scalars(select(Contact)).one()
        contact.status, contact.attempts, contact.next_eligible_at = "callback", 1, ny(7, 30, day=2)
        schedule_callback(session, campaign_id=campaign_id, contact_id=contact.id, due_at=ny(7, 30, day=2),
                          contact_zone="America/New_York", owner=None, created_by="alice", note="before work",
                          phone_id=contact.phones[0].id, e164=contact.phones[0].e164, now=ny(16, 0))
    recorder = SqlRecorder(db, campaign_id, RetryPolicy(3, (30, 60)))
    hopper = Hopper(SqlLeadSource(db, campaign_id, max_attempts=3), gate_check(db, campaign_id),  # type: ignore[arg-type]
                    recorder, max_attempts=3)
    at = ny(7, 31, day=2)
    assert hopper.take(1, at.timestamp()) == []

    with sessions(db) as session:
        sync_callbacks(session, at)
        session.commit()
        callback = session.scalars(select(Callback)).one()
        contact = session.get_one(Contact, callback.contact_id)
        shown = describe(callback, contact, at)
    assert contact.next_eligible_at == ny(8, 0, day=2)
    assert callback.status == "due" and callback.waiting_until == ny(8, 0, day=2)
    assert shown["waiting"].startswith("waiting for the calling window until Wed 2 Dec 08:00 (America/New_York)")
    assert "08:00-21:00" in shown["waiting"]

    # At eight the same hopper dials it, and the record forgets the wait once the call serves it.
    assert len(hopper.take(1, ny(8, 0, day=2).timestamp())) == 1
    with sessions(db) as session:
        sync_callbacks(session, ny(8, 1, day=2))
        session.commit()
        callback = session.scalars(select(Callback)).one()
    assert (callback.status, callback.waiting_until) == ("dialing", None)


# ------------------------------------------------------------------------------------------ ownership


def test_a_personal_callback_is_held_for_its_owner_then_dialed_for_anyone_and_the_pages_say_so(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    due = ny(11, 0)
    with sessions(db) as session, session.begin():
        contact = session.scalars(select(Contact)).one()
        contact.status, contact.attempts, contact.next_eligible_at = "callback", 1, due
        written = schedule_callback(session, campaign_id=campaign_id, contact_id=contact.id, due_at=due,
                                    contact_zone="America/New_York", owner="alice", created_by="alice",
                                    now=ny(10, 0))
    assert written.contact_next_at == due + OWNER_GRACE
    source = SqlLeadSource(db, campaign_id, max_attempts=3)
    with sessions(db) as session:
        sync_callbacks(session, ny(10, 0))  # the recorder wrote the due time: the owner's turn holds it back
        session.commit()
    assert source.fetch((due + timedelta(minutes=1)).timestamp(), 5, ()) == []
    assert [lead.contact_id for lead in source.fetch((due + OWNER_GRACE).timestamp(), 5, ())] == [1]

    with sessions(db) as session:
        sync_callbacks(session, due + timedelta(minutes=1))
        callback = session.scalars(select(Callback)).one()
        during = describe(callback, None, due + timedelta(minutes=1), viewer="alice")
        to_others = describe(callback, None, due + timedelta(minutes=1), viewer="bob")
        after = describe(callback, None, due + OWNER_GRACE + timedelta(minutes=1), viewer="alice")
        assert [c["id"] for c in callbacks_for_agent(session, "alice", due + timedelta(minutes=1)).due] == [callback.id]
        assert callbacks_for_agent(session, "bob", due + timedelta(minutes=1)).due == []
    assert during["turn"] == "yours until 11:15, then anyone's"
    assert to_others["turn"] == "alice's until 11:15, then anyone's"
    assert after["turn"] == "alice's turn has passed: dialed for anyone"


def test_giving_a_callback_to_anyone_releases_it_at_once_and_to_an_agent_after_its_time_gives_them_a_turn(
        db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    due = ny(11, 0)
    with sessions(db) as session, session.begin():
        session.add(Agent(login="bob", name="Bob"))
        contact = session.scalars(select(Contact)).one()
        contact.status, contact.attempts, contact.next_eligible_at = "callback", 1, due + OWNER_GRACE
        written = schedule_callback(session, campaign_id=campaign_id, contact_id=contact.id, due_at=due,
                                    contact_zone="America/New_York", owner="alice", created_by="alice",
                                    now=ny(10, 0))
    with sessions(db) as session, session.begin():
        reassign(session, written.callback_id, None, now=ny(11, 2))
        assert session.get_one(Contact, 1).next_eligible_at == due
        with pytest.raises(CallbackError) as refused:
            reassign(session, written.callback_id, "nobody", now=ny(11, 2), known=["alice", "bob"])
        assert refused.value.field == "owner"
        callback = reassign(session, written.callback_id, "bob", now=ny(11, 5), known=["alice", "bob"])
        assert callback.owner_until == ny(11, 20)
        assert session.get_one(Contact, 1).next_eligible_at == ny(11, 20)


def test_a_newer_callback_for_the_same_person_replaces_the_open_one(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    with sessions(db) as session, session.begin():
        first = schedule_callback(session, campaign_id=campaign_id, contact_id=1, due_at=ny(12, 0),
                                  contact_zone="America/New_York", owner=None, created_by="alice", now=ny(10, 0))
        second = schedule_callback(session, campaign_id=campaign_id, contact_id=1, due_at=ny(13, 0),
                                   contact_zone="America/New_York", owner=None, created_by="bob", now=ny(10, 5))
        again = schedule_callback(session, campaign_id=campaign_id, contact_id=1, due_at=ny(13, 30),
                                  contact_zone="America/New_York", owner="bob", created_by="bob", now=ny(10, 6),
                                  scheduled_attempt_id=None)
    with sessions(db) as session:
        rows = {c.id: c for c in session.scalars(select(Callback))}
    assert rows[first.callback_id].status == "cancelled"
    assert rows[first.callback_id].status_detail == "replaced by a newer callback"
    assert rows[second.callback_id].status == "cancelled" and rows[again.callback_id].status == "scheduled"


def test_rescheduling_reads_the_persons_clock_refuses_the_past_and_warns_outside_the_window(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    with sessions(db) as session, session.begin():
        contact = session.scalars(select(Contact)).one()
        contact.status, contact.attempts, contact.next_eligible_at = "callback", 1, ny(12, 0)
        written = schedule_callback(session, campaign_id=campaign_id, contact_id=contact.id, due_at=ny(12, 0),
                                    contact_zone="America/New_York", owner=None, created_by="alice",
                                    phone_id=contact.phones[0].id, e164=contact.phones[0].e164, now=ny(10, 0))
    with sessions(db) as session, session.begin():
        with pytest.raises(CallbackError) as past:
            reschedule(session, written.callback_id, "2026-12-01T09:00", actor="sam", now=ny(10, 0))
        assert past.value.field == "due_at" and "has passed" in past.value.message
        with pytest.raises(CallbackError) as garbled:
            reschedule(session, written.callback_id, "tomorrow-ish", actor="sam", now=ny(10, 0))
        assert garbled.value.field == "due_at"
        early = reschedule(session, written.callback_id, "2026-12-02T07:30", actor="sam", now=ny(10, 0))
        assert early.callback.due_at == ny(7, 30, day=2)
        assert "until Wed 2 Dec 08:00 (America/New_York)" in early.warning
        fine = reschedule(session, written.callback_id, "2026-12-02T09:30", actor="sam", now=ny(10, 0))
        assert fine.warning == "" and session.get_one(Contact, 1).next_eligible_at == ny(9, 30, day=2)


# ------------------------------------------------------------------------------------------ pages and roles


@pytest.fixture
def rig(tmp_path: Path) -> WebRig:
    rig = make_rig(tmp_path, csrf=False)
    if "callbacks" not in rig.app.blueprints:
        from web.callbacks import bp

        rig.app.register_blueprint(bp)
    return rig


def rig_campaign(rig: WebRig, *, due: datetime, owner: str | None, created_by: str = "alice") -> tuple[int, int]:
    engine = make_engine(rig.database_url)
    campaign_id = add_campaign(engine, [{"status": "callback", "attempts": 1, "next_eligible_at": due}],
                               name=f"web {owner} {due.timestamp()}")
    with sessions(engine) as session, session.begin():
        contact = session.scalars(select(Contact).where(Contact.campaign_id == campaign_id)).one()
        written = schedule_callback(session, campaign_id=campaign_id, contact_id=contact.id, due_at=due,
                                    contact_zone="America/New_York", owner=owner, created_by=created_by,
                                    note="wants the evening rate", phone_id=contact.phones[0].id,
                                    e164=contact.phones[0].e164, now=datetime.now(UTC))
    engine.dispose()
    return campaign_id, written.callback_id


def test_an_agent_sees_their_due_callbacks_on_their_page_and_in_the_consoles_poll(rig: WebRig) -> None:
    now = datetime.now(UTC)
    _, due_id = rig_campaign(rig, due=now - timedelta(minutes=2), owner="alice")
    _, later_id = rig_campaign(rig, due=now + timedelta(days=2), owner=None)
    _, others_id = rig_campaign(rig, due=now - timedelta(minutes=1), owner="bob", created_by="bob")
    alice = rig.client("agent")
    polled = alice.get("/callbacks/due.json")
    assert polled.status_code == 200
    body = polled.get_json()
    assert [c["id"] for c in body["due"]] == [due_id] and body["upcoming"] == 1
    assert body["due"][0]["turn"].startswith("yours until ")
    page = alice.get("/callbacks/mine").get_data(as_text=True)
    assert "My callbacks" in page and "wants the evening rate" in page and f"callback-{later_id}" in page
    assert f"callback-{others_id}" not in page


def test_an_agent_keeps_a_callback_they_set_for_anyone_but_cannot_touch_someone_elses(rig: WebRig) -> None:
    now = datetime.now(UTC)
    _, mine_id = rig_campaign(rig, due=now + timedelta(hours=3), owner=None)
    _, bobs_id = rig_campaign(rig, due=now + timedelta(hours=3), owner="bob", created_by="bob")
    alice = rig.client("agent")
    kept = alice.post(f"/callbacks/{mine_id}/turn", data={"owner": "me"})
    assert kept.status_code == 302
    assert alice.post(f"/callbacks/{bobs_id}/turn", data={"owner": "me"}).status_code == 404
    assert alice.post(f"/callbacks/{mine_id}/turn", data={"owner": "everyone"},
                      headers={"Accept": "application/json"}).get_json()["field"] == "owner"
    with rig.sessions()() as session:
        assert session.get_one(Callback, mine_id).owner == "alice"
        assert session.get_one(Callback, bobs_id).owner == "bob"


def test_supervisors_filter_reassign_cancel_and_reschedule_a_campaigns_callbacks(rig: WebRig) -> None:
    now = datetime.now(UTC)
    campaign_id, callback_id = rig_campaign(rig, due=now + timedelta(days=1), owner="alice")
    sam = rig.client("supervisor")
    page = sam.get(f"/callbacks/?campaign={campaign_id}&owner=alice&status=open")
    assert page.status_code == 200 and f"callback-{callback_id}" in page.get_data(as_text=True)
    assert f"callback-{callback_id}" not in sam.get(f"/callbacks/?campaign={campaign_id}&owner=anyone") \
        .get_data(as_text=True)
    bad = sam.get(f"/callbacks/?campaign={campaign_id}&status=lost", headers={"Accept": "application/json"})
    assert (bad.status_code, bad.get_json()["field"]) == (400, "status")
    assert sam.get("/callbacks/?campaign=999999").status_code == 404

    given = sam.post(f"/callbacks/{callback_id}/reassign", data={"owner": ""}, headers={"Accept": "application/json"})
    assert given.get_json()["owner"] is None
    unknown = sam.post(f"/callbacks/{callback_id}/reassign", data={"owner": "zed"},
                       headers={"Accept": "application/json"})
    assert (unknown.status_code, unknown.get_json()["field"]) == (400, "owner")

    tomorrow = (now + timedelta(days=1)).astimezone(NY).date()
    early = sam.post(f"/callbacks/{callback_id}/reschedule", data={"due_at": f"{tomorrow}T07:30"})
    assert early.status_code == 302
    warned = sam.get(early.headers["Location"]).get_data(as_text=True)
    assert "wait for the calling window until" in warned
    past = sam.post(f"/callbacks/{callback_id}/reschedule", data={"due_at": "2020-01-01T10:00"},
                    headers={"Accept": "application/json"})
    assert (past.status_code, past.get_json()["field"]) == (400, "due_at")

    assert sam.post(f"/callbacks/{callback_id}/cancel").status_code == 302
    with rig.sessions()() as session:
        callback = session.get_one(Callback, callback_id)
        contact = session.get_one(Contact, callback.contact_id)
    assert callback.status == "cancelled" and callback.status_detail == "cancelled by sam"
    assert contact.status == "retry"
    again = sam.post(f"/callbacks/{callback_id}/cancel", headers={"Accept": "application/json"})
    assert (again.status_code, again.get_json()["field"]) == (400, "status")


def test_each_role_reaches_only_its_callback_pages_and_junk_is_a_clear_refusal(rig: WebRig) -> None:
    expected = {
        "/callbacks/mine": {"agent": 200, "supervisor": 403, "compliance": 403, "admin": 403},
        "/callbacks/due.json": {"agent": 200, "supervisor": 403, "compliance": 403, "admin": 403},
        "/callbacks/": {"agent": 403, "supervisor": 200, "compliance": 403, "admin": 200},
    }
    for path, by_role in expected.items():
        for role, status in by_role.items():
            assert rig.client(role).get(path).status_code == status, (path, role)
    sam = rig.client("supervisor")
    assert sam.post("/callbacks/1/reassign").status_code == 404
    assert sam.post("/callbacks/x/cancel").status_code == 404
    assert rig.client("agent").post("/callbacks/1/turn").status_code == 404
    assert rig.client("agent").post("/callbacks/1/cancel").status_code == 403
    assert rig.client(None).get("/callbacks/mine").status_code in (302, 401)


def test_every_callback_route_refuses_the_roles_it_is_not_for_and_answers_placeholder_junk_without_failing(
        rig: WebRig) -> None:
    from tests.test_auth import call, concrete_routes
    from web.auth import allowed_roles

    routes = [r for r in concrete_routes(rig.app) if r[0].startswith("callbacks.")]
    assert len(routes) == 7
    clients = {role: rig.client(role) for role in ("agent", "supervisor", "compliance", "admin")}
    for endpoint, url, method in routes:
        allowed = allowed_roles(rig.app, endpoint)
        assert allowed is not None
        assert call(rig.client(), method, url).status_code in (302, 401), endpoint
        for role, client in clients.items():
            status = call(client, method, url).status_code
            if role in allowed:
                assert status not in (401, 403) and status < 500, (endpoint, role, status)
            else:
                assert status == 403, (endpoint, role, status)


def test_a_supervisor_without_campaigns_sees_an_empty_page(rig: WebRig) -> None:
    page = rig.client("admin").get("/callbacks/")
    assert page.status_code == 200 and "No campaigns yet" in page.get_data(as_text=True)


def test_callbacks_left_by_contacts_that_may_no_longer_be_called_are_cancelled_with_the_reason(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    with sessions(db) as session, session.begin():
        contact = session.scalars(select(Contact)).one()
        contact.status, contact.attempts, contact.next_eligible_at = "callback", 1, ny(12, 0)
        schedule_callback(session, campaign_id=campaign_id, contact_id=contact.id, due_at=ny(12, 0),
                          contact_zone="America/New_York", owner=None, created_by="alice", now=ny(10, 0))
    with db.begin() as conn:
        conn.execute(update(Contact).values(status="dnc"))
    with sessions(db) as session:
        sync_callbacks(session, ny(11, 0))
        session.commit()
        callback = session.scalars(select(Callback)).one()
    assert (callback.status, callback.status_detail) == ("cancelled", "the contact is now dnc")


def test_the_scheduler_process_keeps_the_callback_records_up_to_date(db: Engine) -> None:
    from campaigns.commands.scheduler import callbacks_tick

    due = datetime.now(UTC) + timedelta(hours=2)
    campaign_id = add_campaign(db, [{"status": "callback", "next_eligible_at": due, "attempts": 1}])

    changed = callbacks_tick(db)

    with sessions(db) as session:
        found = session.scalars(select(Callback).where(Callback.campaign_id == campaign_id)).all()
    assert changed >= 1
    assert [(c.status, c.owner) for c in found] == [("scheduled", None)]
