"""The engine's database side: leads out, claims that cannot double, outcomes in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from campaigns.db import make_engine, upgrade
from campaigns.models import CallAttempt, Campaign, Contact, ContactList, ContactPhone, DncEntry
from campaigns.simulate import run_simulation
from campaigns.store import SqlDnc, SqlLeadSource, SqlRecorder, recover_interrupted_attempts
from compliance.history import Attempt
from dialer.calls import Call
from dialer.outcomes import RetryPolicy
from dialer.simulation.scenario import parse_scenario

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)  # the real migrations, seeded dispositions included
    return engine


def add_campaign(db: Engine, contacts: list[dict[str, object]]) -> int:
    with db.begin() as conn:
        campaign_id = conn.execute(insert(Campaign).values(
            name="store test", caller_id="+12125550100", drop_message="sorry", retry_delays_min=[30, 60],
        ).returning(Campaign.id)).scalar_one()
        list_id = conn.execute(insert(ContactList).values(campaign_id=campaign_id, name="l").returning(
            ContactList.id)).scalar_one()
        for i, spec in enumerate(contacts, start=1):
            phones = spec.pop("phones", [f"+1212555{i:04d}"])
            cid = conn.execute(insert(Contact).values(
                campaign_id=campaign_id, list_id=list_id, custom_fields={}, **spec).returning(Contact.id)).scalar_one()
            for position, e164 in enumerate(phones):  # type: ignore[arg-type]
                conn.execute(insert(ContactPhone).values(
                    contact_id=cid, campaign_id=campaign_id, e164=e164, position=position,
                    timezones=["America/New_York"]))
    return campaign_id


def test_leads_come_best_first_and_skip_contacts_not_yet_eligible(db: Engine) -> None:
    later = datetime.fromtimestamp(NOW + 3600, UTC)
    campaign_id = add_campaign(db, [
        {"priority": 0}, {"priority": 5}, {"priority": 9, "next_eligible_at": later}, {"status": "done"},
    ])
    source = SqlLeadSource(db, campaign_id, max_attempts=3)
    leads = source.fetch(NOW, 10, ())
    assert [lead.contact_id for lead in leads] == [2, 1]
    assert leads[0].timezones == ("America/New_York",)
    assert [lead.contact_id for lead in source.fetch(NOW + 7200, 10, ())] == [3, 2, 1]


def test_a_lead_is_claimed_once_even_by_two_dialers(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    first = SqlLeadSource(db, campaign_id, max_attempts=3)
    second = SqlLeadSource(db, campaign_id, max_attempts=3)
    lead_seen_by_both = first.fetch(NOW, 1, ())[0]
    assert second.fetch(NOW, 1, ())[0] == lead_seen_by_both
    assert len(first.claim([lead_seen_by_both], NOW)) == 1
    assert second.claim([lead_seen_by_both], NOW) == []
    with db.connect() as conn:
        assert conn.scalar(select(Contact.attempts)) == 1
        assert len(conn.execute(select(CallAttempt.id)).all()) == 1


def test_a_contact_rotates_through_its_phones_by_attempt(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"phones": ["+12125550001", "+12125550002"], "attempts": 1, "status": "retry"}])
    lead = SqlLeadSource(db, campaign_id, max_attempts=3).fetch(NOW, 1, ())[0]
    assert (lead.e164, lead.attempt_number) == ("+12125550002", 2)


def finished_call(lead_contact: int, attempt_id: int, disposition: str, **marks: float) -> Call:
    call = Call("c", 1, lead_contact, "+12125550001", attempt_number=1, attempt_id=attempt_id, phone_id=1)
    call.mark("queued", NOW)
    for name, at in marks.items():
        call.mark(name, at)
    call.mark("ended", NOW + 30, "completed")
    call.disposition = disposition
    return call


def claim_one(db: Engine, campaign_id: int) -> int:
    source = SqlLeadSource(db, campaign_id, max_attempts=3)
    claimed = source.claim(source.fetch(NOW, 1, ()), NOW)
    assert claimed[0].attempt_id is not None
    return claimed[0].attempt_id


def test_a_no_answer_is_retried_after_the_campaign_delay(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    attempt_id = claim_one(db, campaign_id)
    recorder = SqlRecorder(db, campaign_id, RetryPolicy(3, (30, 60)))
    recorder.call_finished(finished_call(1, attempt_id, "NA"))
    with db.connect() as conn:
        contact = conn.execute(select(Contact)).one()
        attempt = conn.execute(select(CallAttempt)).one()
    assert contact.status == "retry"
    assert contact.next_eligible_at == datetime.fromtimestamp(NOW + 30 + 3600, UTC)  # NA retries after 60 min
    assert attempt.disposition == "NA" and attempt.ended_at is not None


def test_a_do_not_call_disposition_puts_the_number_on_the_company_list(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    attempt_id = claim_one(db, campaign_id)
    dnc = SqlDnc(db, clock=lambda: NOW)
    recorder = SqlRecorder(db, campaign_id, RetryPolicy(), dnc=dnc)
    recorder.call_finished(finished_call(1, attempt_id, "DNC", connected=NOW + 5))
    with db.connect() as conn:
        assert conn.scalar(select(Contact.status)) == "dnc"
        assert conn.scalar(select(DncEntry.e164)) == "+12125550001"
    assert dnc.listed("+12125550001", campaign_id) == "company"


def test_a_bad_number_moves_the_contact_to_its_next_phone(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"phones": ["+12125550001", "+12125550002"]}])
    attempt_id = claim_one(db, campaign_id)
    with db.connect() as conn:
        phone_id = conn.scalar(select(ContactPhone.id).where(ContactPhone.e164 == "+12125550001"))
    call = finished_call(1, attempt_id, "BAD")
    call.phone_id = phone_id
    SqlRecorder(db, campaign_id, RetryPolicy(3)).call_finished(call)
    lead = SqlLeadSource(db, campaign_id, max_attempts=3).fetch(NOW + 31, 1, ())[0]
    assert lead.e164 == "+12125550002"


def test_attempts_a_dead_dialer_left_open_are_closed_and_never_redialed_as_the_same_attempt(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    claim_one(db, campaign_id)
    retry = RetryPolicy(3, (30,))
    assert recover_interrupted_attempts(db, campaign_id, now=NOW + 60, retry=retry) == 0  # too fresh to judge
    assert recover_interrupted_attempts(db, campaign_id, now=NOW + 3600, retry=retry) == 1
    with db.connect() as conn:
        attempt = conn.execute(select(CallAttempt)).one()
        contact = conn.execute(select(Contact)).one()
    assert attempt.end_reason == "interrupted"
    assert contact.status == "retry"
    later = SqlLeadSource(db, campaign_id, max_attempts=3).fetch(NOW + 3600 + 1801, 1, ())
    assert later[0].attempt_number == 2


def test_a_dnc_lookup_sees_campaign_lists_apart_from_the_company_list(db: Engine) -> None:
    campaign_id = add_campaign(db, [])
    with db.begin() as conn:
        conn.execute(insert(DncEntry).values(e164="+12125550009", campaign_id=campaign_id, reason="asked"))
    dnc = SqlDnc(db, clock=lambda: NOW)
    assert dnc.listed("+12125550009", campaign_id) == "campaign"
    assert dnc.listed("+12125550009", campaign_id + 1) is None


@pytest.mark.integration
def test_a_simulation_runs_on_postgresql_with_every_dial_recorded(pg_url: str) -> None:
    scenario = parse_scenario({"name": "pg", "agents": 3, "hours": 0.5})
    result = run_simulation(scenario, "progressive", 1, database_url=pg_url)
    db = make_engine(pg_url)
    with db.connect() as conn:
        attempts = conn.execute(select(CallAttempt.ended_at, CallAttempt.disposition)).all()
    db.dispose()
    assert len(attempts) == result["dials"] > 0
    assert all(a.ended_at is not None and a.disposition for a in attempts)


def test_the_attempt_history_lets_the_gate_enforce_a_state_cap(db: Engine) -> None:
    from campaigns.store import CampaignAttemptHistory
    from compliance.gate import CampaignPolicy, DialTarget, default_gate

    campaign_id = add_campaign(db, [])
    history = CampaignAttemptHistory(db, campaign_id, now=NOW)
    gate = default_gate(history=history)
    florida = DialTarget("+13055550123", ("America/New_York",), state="FL", contact_id=42)
    policy = CampaignPolicy(campaign_id)
    at = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 11:00 in Miami
    assert gate.can_dial(florida, policy, at).allowed
    for hours_ago in (5, 3, 1):
        history.add(42, Attempt(datetime.fromtimestamp(at.timestamp() - 3600 * hours_ago, UTC), "no-answer"))
    decision = gate.can_dial(florida, policy, at)
    assert not decision.allowed
    assert "frequency_cap" in decision.codes


def test_a_drop_that_reached_a_machine_counts_as_a_machine_whether_read_back_or_recorded_live() -> None:
    from campaigns.store import attempt_outcome

    assert attempt_outcome("machine", abandoned=True, connected=False) == "machine"
    assert attempt_outcome("unknown", abandoned=True, connected=False) == "abandoned"
    assert attempt_outcome(None, abandoned=True, connected=False) == "abandoned"
    assert attempt_outcome("human", abandoned=False, connected=True) == "human"
    assert attempt_outcome("busy", abandoned=False, connected=False) == "busy"
