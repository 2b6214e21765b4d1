"""Surveys wired into dialing: the hopper's lead source skips contacts the list puts in a full quota cell,
and a questionnaire chosen on the campaign form reaches the agent on the call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from campaigns import surveys
from campaigns.db import make_engine, upgrade
from campaigns.live_dialer import agents_key
from campaigns.models import CallAttempt, Campaign, Contact, ContactList, ContactPhone
from campaigns.services import create_campaign
from campaigns.store import QUOTA_FULL, QUOTA_RECHECK_S, SqlLeadSource
from compliance.gate import Decision
from dialer.hopper import Hopper, Lead
from tests.test_questionnaire import POLL
from tests.web_support import csrf_token, make_rig
from web import resources

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC).timestamp()
RED_VOTER = (("voter", True), ("party", 1), ("score", 8), ("topics", [1, 3]), ("age", 45), ("since", None))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wiring.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def survey_campaign(db: Engine, definition: dict[str, Any] | None = POLL) -> int:
    """A campaign asking ``definition`` (None: asking nothing), read by agents."""
    with Session(db) as session, session.begin():
        campaign = create_campaign(session, name="Town poll", caller_id="+12015550123", purpose="survey")
        session.add(ContactList(campaign_id=campaign.id, name="voters"))
        session.flush()
        if definition is not None:
            publish(session, definition)
            surveys.assign(session, campaign, surveys.get_questionnaire(session, "Town poll"))
        return campaign.id


def publish(session: Session, definition: dict[str, Any]) -> None:
    surveys.add_version(session, "Town poll", definition)
    surveys.publish(session, surveys.get_questionnaire(session, "Town poll"))


def add_contact(db: Engine, campaign_id: int, n: int, *, status: str = "new", **fields: Any) -> int:
    with Session(db) as session, session.begin():
        listing = session.scalars(select(ContactList).where(ContactList.campaign_id == campaign_id)).first()
        assert listing is not None
        contact = Contact(campaign_id=campaign_id, list_id=listing.id, first_name=f"Voter{n}", status=status,
                          **fields)
        contact.phones.append(ContactPhone(campaign_id=campaign_id, e164=f"+1201555{n:04d}",
                                           timezones=["America/New_York"]))
        session.add(contact)
        session.flush()
        return contact.id


def complete_red_interviews(db: Engine, campaign_id: int, count: int, first: int = 9000) -> None:
    """``count`` respondents who completed the poll leaning Red (cell "red"), already dialed and done."""
    for n in range(first, first + count):
        contact_id = add_contact(db, campaign_id, n, status="done", state="TX")
        with Session(db) as session, session.begin():
            state = surveys.start_interview(session, campaign_id, contact_id)
            for question_id, value in RED_VOTER:
                state = surveys.record_answer(session, state.response.id, question_id, value)
            assert state.response.status == "complete"


def next_eligible(db: Engine, contact_id: int) -> datetime | None:
    with Session(db) as session:
        return session.get_one(Contact, contact_id).next_eligible_at


def test_contacts_the_list_puts_in_a_full_cell_are_skipped_deferred_and_counted(db: Engine) -> None:
    cid = survey_campaign(db)
    complete_red_interviews(db, cid, 2)  # cell "red" (New York and New Jersey by the list) is full: 2 of 2
    new_york = add_contact(db, cid, 1, state="ny")  # compared without case
    illinois = add_contact(db, cid, 2, state="IL")
    new_jersey = add_contact(db, cid, 3, state="NJ")
    unknown = add_contact(db, cid, 4)  # no state: not known to be in the cell, so dialed
    called_back = add_contact(db, cid, 5, state="NY", status="callback")  # a promise: kept
    source = SqlLeadSource(db, cid, max_attempts=3)

    leads = source.fetch(NOW, 10, ())

    assert sorted(lead.contact_id for lead in leads) == [illinois, unknown, called_back]
    assert source.skipped == {QUOTA_FULL: 2}
    recheck = datetime.fromtimestamp(NOW + QUOTA_RECHECK_S, UTC)
    assert next_eligible(db, new_york) == next_eligible(db, new_jersey) == recheck
    assert next_eligible(db, illinois) is None
    assert source.fetch(NOW, 10, ()) == leads  # deferred: not fetched again, not counted twice
    assert source.skipped == {QUOTA_FULL: 2}


def test_nobody_is_skipped_while_the_cell_has_places_or_the_campaign_asks_no_questionnaire(db: Engine) -> None:
    cid = survey_campaign(db)
    complete_red_interviews(db, cid, 1)  # 1 of 2: open
    new_york = add_contact(db, cid, 1, state="NY")
    plain = survey_campaign_without_questionnaire(db)
    elsewhere = add_contact(db, plain, 2, state="NY")

    polled = SqlLeadSource(db, cid, max_attempts=3)
    unpolled = SqlLeadSource(db, plain, max_attempts=3)

    assert [lead.contact_id for lead in polled.fetch(NOW, 10, ())] == [new_york]
    assert [lead.contact_id for lead in unpolled.fetch(NOW, 10, ())] == [elsewhere]
    assert polled.skipped == {} and unpolled.skipped == {}


def survey_campaign_without_questionnaire(db: Engine) -> int:
    with Session(db) as session, session.begin():
        campaign = create_campaign(session, name="Renewals", caller_id="+12015550124")
        session.add(ContactList(campaign_id=campaign.id, name="customers"))
        session.flush()
        return campaign.id


def test_a_cell_closed_from_the_start_by_a_custom_field_keeps_its_contacts_back(db: Engine) -> None:
    closed = {**POLL, "quotas": [{"id": "north", "target": 0, "when": "voter == yes",
                                  "contact": {"custom.Region": ["North"]}}]}
    cid = survey_campaign(db, closed)
    north = add_contact(db, cid, 1, custom_fields={"Region": "north "})
    south = add_contact(db, cid, 2, custom_fields={"Region": "South"})

    source = SqlLeadSource(db, cid, max_attempts=3)

    assert [lead.contact_id for lead in source.fetch(NOW, 10, ())] == [south]
    assert next_eligible(db, north) is not None and source.skipped[QUOTA_FULL] == 1


def test_a_refill_looks_past_a_page_of_contacts_in_full_cells(db: Engine) -> None:
    cid = survey_campaign(db)
    complete_red_interviews(db, cid, 2)
    kept_back = [add_contact(db, cid, n, state="NY", priority=10) for n in range(1, 6)]
    dialable = [add_contact(db, cid, n, state="IL") for n in range(6, 9)]
    source = SqlLeadSource(db, cid, max_attempts=3)

    leads = source.fetch(NOW, 3, ())  # the best three by priority are all New Yorkers

    assert sorted(lead.contact_id for lead in leads) == dialable
    assert source.skipped[QUOTA_FULL] == len(kept_back)


def test_contacts_kept_back_come_back_when_a_new_version_reopens_their_cell(db: Engine) -> None:
    cid = survey_campaign(db)
    complete_red_interviews(db, cid, 2)
    new_york = add_contact(db, cid, 1, state="NY")
    source = SqlLeadSource(db, cid, max_attempts=3, settings_refresh_s=30)
    assert source.fetch(NOW, 10, ()) == []

    with Session(db) as session, session.begin():
        publish(session, {**POLL, "quotas": [{**POLL["quotas"][0], "target": 5}, POLL["quotas"][1]]})
    later = NOW + QUOTA_RECHECK_S

    assert [lead.contact_id for lead in source.fetch(later, 10, ())] == [new_york]
    assert source.skipped[QUOTA_FULL] == 1


def test_a_questionnaire_assigned_to_a_running_campaign_is_screened_after_the_settings_refresh(db: Engine) -> None:
    cid = survey_campaign(db, None)
    with Session(db) as session, session.begin():
        closed = {**POLL, "quotas": [{"id": "ny", "target": 0, "when": "voter == yes", "contact": {"state": "NY"}}]}
        publish(session, closed)
    new_york = add_contact(db, cid, 1, state="NY")
    source = SqlLeadSource(db, cid, max_attempts=3, settings_refresh_s=30)
    assert [lead.contact_id for lead in source.fetch(NOW, 10, ())] == [new_york]  # asks nothing yet

    with Session(db) as session, session.begin():
        surveys.assign(session, session.get_one(Campaign, cid), surveys.get_questionnaire(session, "Town poll"))

    assert [lead.contact_id for lead in source.fetch(NOW + 31, 10, ())] == []
    assert source.skipped[QUOTA_FULL] == 1


class AllowAll:
    def __call__(self, lead: Lead, at: float) -> Decision:
        return Decision(True, datetime.fromtimestamp(at, UTC), ())


class NoLog:
    def record(self, lead: Lead, decision: Decision, path: str) -> None:
        pass


def test_the_hopper_claims_only_contacts_outside_full_cells(db: Engine) -> None:
    cid = survey_campaign(db)
    complete_red_interviews(db, cid, 2)
    add_contact(db, cid, 1, state="NJ")
    illinois = add_contact(db, cid, 2, state="IL")
    hopper = Hopper(SqlLeadSource(db, cid, max_attempts=3), AllowAll(), NoLog(), max_attempts=3)

    taken = hopper.take(5, NOW)

    assert [lead.contact_id for lead in taken] == [illinois] and taken[0].attempt_id is not None
    with Session(db) as session:
        attempts = session.scalars(select(CallAttempt.contact_id).where(CallAttempt.campaign_id == cid)).all()
    assert attempts == [illinois]


# ---------------------------------------------------------------------- from the campaign form to the call


def test_a_questionnaire_chosen_on_the_campaign_form_reaches_the_agent_on_the_call(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    try:
        with rig.sessions()() as session, session.begin():
            publish(session, POLL)
            questionnaire_id = surveys.get_questionnaire(session, "Town poll").id
            campaign = create_campaign(session, name="Spring poll", caller_id="+12015550123", purpose="survey",
                                       calling_window="00:00-23:59")
            campaign_id, drop_message = campaign.id, campaign.drop_message
        sam = rig.client("supervisor")
        page = sam.get(f"/campaigns/{campaign_id}/edit").get_data(as_text=True)
        form = {"csrf_token": csrf_token(sam, f"/campaigns/{campaign_id}/edit"), "name": "Spring poll",
                "purpose": "survey", "dial_mode": "predictive", "caller_id": "+12015550123", "default_region": "US",
                "ring_timeout_s": "25", "max_attempts": "3", "retry_delays_min": "60", "target_abandon_pct": "3",
                "safe_harbour_s": "2", "max_dial_level": "3", "machine_action": "hangup",
                "calling_window": "00:00-23:59", "schedule_tz": "America/New_York", "drop_message": drop_message,
                "code-0-code": "DONE", "code-0-label": "Interview done", "code-0-final": "on",
                "code-0-human_answered": "on", "questionnaire_id": str(questionnaire_id), "survey_mode": "agent"}
        saved = sam.post(f"/campaigns/{campaign_id}/edit", data=form)
        assert saved.status_code == 302, saved.get_data(as_text=True)[:3000]
        assert sam.post(f"/campaigns/{campaign_id}/status", data={
            "csrf_token": form["csrf_token"], "action": "start"}).status_code == 302

        with rig.sessions()() as session, session.begin():
            session.add(ContactList(campaign_id=campaign_id, name="voters"))
            session.flush()
            listing = session.scalars(select(ContactList)).one()
            contact = Contact(campaign_id=campaign_id, list_id=listing.id, first_name="Ann", status="in_call",
                              attempts=1)
            contact.phones.append(ContactPhone(campaign_id=campaign_id, e164="+12025550101"))
            session.add(contact)
            session.flush()
            session.add(CallAttempt(campaign_id=campaign_id, contact_id=contact.id, phone_id=contact.phones[0].id,
                                    e164="+12025550101", attempt_number=1))
            contact_id = contact.id
        with rig.app.app_context():
            resources().redis.hset(agents_key(campaign_id), "alice", json.dumps(
                {"state": "on_call", "since": NOW, "call_id": f"c{campaign_id}-{contact_id}-1", "bot": False}))
        alice = rig.client("agent")
        token = csrf_token(alice, "/agent")
        first = alice.get(f"/agent/survey?campaign_id={campaign_id}", headers={"Accept": "application/json"})
        answered = alice.post("/agent/survey/answer", json={"campaign_id": campaign_id, "question_id": "voter",
                                                            "value": True},
                              headers={"X-CSRFToken": token, "Accept": "application/json"})
    finally:
        with rig.app.app_context():
            resources().engine.dispose()

    assert 'Town poll (version 1)</option>' in page
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["survey"]["question"]["text"] == "Hello Ann, are you registered to vote?"
    assert answered.status_code == 200 and answered.get_json()["survey"]["question"]["id"] == "party"
