"""The engine's database side: leads out, claims that cannot double, outcomes in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, insert, select, text, update

from campaigns.db import make_engine, upgrade
from campaigns.models import (
    CallAttempt,
    Campaign,
    Contact,
    ContactList,
    ContactPhone,
    DispositionCode,
    DncEntry,
)
from campaigns.recycling import shuffle_key
from campaigns.simulate import run_simulation
from campaigns.store import SqlDnc, SqlLeadSource, SqlRecorder, recover_interrupted_attempts
from compliance.history import Attempt
from dialer.calls import Call
from dialer.hopper import Lead
from dialer.outcomes import RetryPolicy
from dialer.simulation.scenario import parse_scenario

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)  # the real migrations, seeded dispositions included
    return engine


def add_campaign(db: Engine, contacts: list[dict[str, object]], name: str = "store test", **settings: Any) -> int:
    """A campaign and its contacts; a phone is an E.164 number or an (E.164, label) pair."""
    with db.begin() as conn:
        campaign_id = conn.execute(insert(Campaign).values(
            name=name, caller_id="+12125550100", drop_message="sorry", retry_delays_min=[30, 60], **settings,
        ).returning(Campaign.id)).scalar_one()
        list_id = conn.execute(insert(ContactList).values(campaign_id=campaign_id, name="l").returning(
            ContactList.id)).scalar_one()
        for i, spec in enumerate(contacts, start=1):
            phones = spec.pop("phones", [f"+1{campaign_id:03d}555{i:04d}"])
            cid = conn.execute(insert(Contact).values(
                campaign_id=campaign_id, list_id=list_id, custom_fields=spec.pop("custom_fields", {}), **spec,
            ).returning(Contact.id)).scalar_one()
            for position, phone in enumerate(phones):  # type: ignore[arg-type]
                e164, label = phone if isinstance(phone, tuple) else (phone, "phone")
                conn.execute(insert(ContactPhone).values(
                    contact_id=cid, campaign_id=campaign_id, e164=e164, label=label, position=position,
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
    campaign_id = add_campaign(db, [{"phones": ["+12125550001", "+12125550002"]}])
    first = dial(db, campaign_id, NOW)
    finish(db, campaign_id, first, "NA", NOW, retry=RetryPolicy(3, (30,)))
    lead = SqlLeadSource(db, campaign_id, max_attempts=3).fetch(NOW + 7200, 1, ())[0]
    assert (first.e164, lead.e164, lead.attempt_number) == ("+12125550001", "+12125550002", 2)


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


# --- lead lifecycle: phones in the campaign's order, recycling rules, list order, the filter --------------------


def dial(db: Engine, campaign_id: int, now: float, max_attempts: int = 5) -> Lead:
    source = SqlLeadSource(db, campaign_id, max_attempts=max_attempts)
    claimed = source.claim(source.fetch(now, 1, ()), now)
    assert len(claimed) == 1, "nothing to dial"
    return claimed[0]


RETRY = RetryPolicy(5, (30,))


def finish(db: Engine, campaign_id: int, lead: Lead, code: str, at: float,
           retry: RetryPolicy = RETRY, **marks: float) -> None:
    call = Call(f"c{lead.contact_id}-{lead.attempt_number}", campaign_id, lead.contact_id, lead.e164,
                attempt_number=lead.attempt_number, attempt_id=lead.attempt_id, phone_id=lead.phone_id)
    call.mark("queued", at)
    for name, when in marks.items():
        call.mark(name, when)
    call.mark("ended", at + 30, "completed")
    call.disposition = code
    SqlRecorder(db, campaign_id, retry).call_finished(call)


def contact_row(db: Engine, contact_id: int = 1) -> Any:
    with db.connect() as conn:
        return conn.execute(select(Contact).where(Contact.id == contact_id)).one()


def fetched(db: Engine, campaign_id: int, now: float, limit: int = 50) -> list[int]:
    return [lead.contact_id for lead in SqlLeadSource(db, campaign_id, max_attempts=5).fetch(now, limit, ())]


HOME, MOBILE, WORK = ("+12125550001", "Home"), ("+12125550002", "Mobile phone"), ("+12125550003", "Work")


def test_the_campaigns_phone_order_picks_the_first_phone_and_a_no_answer_moves_on_to_the_next(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"phones": [HOME, MOBILE, WORK]}], phone_order=["mobile", "work", "home"])
    dialed = []
    for attempt in range(4):
        lead = dial(db, campaign_id, NOW + attempt * 7200)
        dialed.append(lead.e164)
        finish(db, campaign_id, lead, "NA", NOW + attempt * 7200)
    assert dialed == [MOBILE[0], WORK[0], HOME[0], MOBILE[0]]  # one round, then the next starts over
    with db.connect() as conn:
        assert conn.execute(select(ContactPhone.e164, ContactPhone.attempts).order_by(ContactPhone.id)).all() == [
            (HOME[0], 1), (MOBILE[0], 2), (WORK[0], 1)]


def test_a_wrong_number_marks_the_phone_bad_and_the_next_phone_is_due_at_once(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"phones": [HOME, MOBILE]}])
    lead = dial(db, campaign_id, NOW)
    finish(db, campaign_id, lead, "WRONG", NOW, connected=NOW + 5)
    contact = contact_row(db)
    assert (contact.status, contact.next_eligible_at) == ("retry", datetime.fromtimestamp(NOW + 30, UTC))
    again = dial(db, campaign_id, NOW + 31)
    assert again.e164 == MOBILE[0]
    finish(db, campaign_id, again, "WRONG", NOW + 31, connected=NOW + 36)
    assert contact_row(db).status == "bad_number"  # every phone is bad
    with db.connect() as conn:
        assert set(conn.scalars(select(ContactPhone.status))) == {"bad"}


def test_a_bad_number_on_the_last_allowed_attempt_exhausts_the_contact_even_with_phones_left(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"phones": [HOME, MOBILE], "attempts": 2, "status": "retry"}])
    lead = dial(db, campaign_id, NOW, max_attempts=3)
    finish(db, campaign_id, lead, "BAD", NOW, retry=RetryPolicy(3, (30,)))
    assert contact_row(db).status == "exhausted"


def test_a_person_who_hung_up_is_called_back_on_the_phone_they_answered(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"phones": [HOME, MOBILE]}])
    lead = dial(db, campaign_id, NOW)
    finish(db, campaign_id, lead, "HUP", NOW, connected=NOW + 5)
    assert contact_row(db).next_phone_id == lead.phone_id
    again = dial(db, campaign_id, NOW + 86_400)
    assert again.e164 == HOME[0]
    finish(db, campaign_id, again, "AM", NOW + 86_400)  # a machine: the next phone gets its turn
    assert contact_row(db).next_phone_id is None
    assert dial(db, campaign_id, NOW + 2 * 86_400).e164 == MOBILE[0]


def test_a_callback_is_dialed_on_the_phone_it_was_agreed_on(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"phones": [HOME, MOBILE]}], phone_order=["mobile"])
    lead = dial(db, campaign_id, NOW)
    assert lead.e164 == MOBILE[0]
    finish(db, campaign_id, lead, "CB", NOW, connected=NOW + 5, callback=NOW + 3600)
    contact = contact_row(db)
    assert (contact.status, contact.next_phone_id) == ("callback", lead.phone_id)
    assert dial(db, campaign_id, NOW + 3600).e164 == MOBILE[0]


def add_code(db: Engine, campaign_id: int, code: str, **flags: Any) -> None:
    with db.begin() as conn:
        conn.execute(insert(DispositionCode).values(campaign_id=campaign_id, code=code, label=code, **flags))


def test_a_campaigns_code_stops_retrying_after_its_own_number_of_retries(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    add_code(db, campaign_id, "NA", human_answered=False, retry_after_min=60, max_retries=2)
    statuses = []
    for attempt in range(3):
        lead = dial(db, campaign_id, NOW + attempt * 7200)
        finish(db, campaign_id, lead, "NA", NOW + attempt * 7200, retry=RetryPolicy(10, (30,)))
        statuses.append(contact_row(db).status)
    assert statuses == ["retry", "retry", "exhausted"]


def test_only_the_contacts_attempts_with_that_code_count_against_its_retries(db: Engine) -> None:
    campaign_id = add_campaign(db, [{}])
    add_code(db, campaign_id, "NA", human_answered=False, retry_after_min=60, max_retries=1)
    for attempt, code in enumerate(["NA", "BUSY", "BUSY"]):
        finish(db, campaign_id, dial(db, campaign_id, NOW + attempt * 7200), code, NOW + attempt * 7200)
    assert contact_row(db).status == "retry"
    finish(db, campaign_id, dial(db, campaign_id, NOW + 3 * 7200), "NA", NOW + 3 * 7200)
    assert contact_row(db).status == "exhausted"


def test_a_different_hour_retry_is_placed_in_the_contacts_own_zone(db: Engine) -> None:
    # 15:00 UTC is 20:30 in Kolkata and 10:00 in New York: the contact's stated zone decides.
    campaign_id = add_campaign(db, [{"timezone": "Asia/Kolkata"}, {}], schedule_tz="America/Chicago")
    add_code(db, campaign_id, "NA", human_answered=False, retry_after_min=1440, different_hour=True)
    for contact_id in (1, 2):
        lead = dial(db, campaign_id, NOW)
        assert lead.contact_id == contact_id
        finish(db, campaign_id, lead, "NA", NOW)
    stated, from_phone = contact_row(db, 1).next_eligible_at, contact_row(db, 2).next_eligible_at
    assert stated == datetime(2026, 3, 3, 15, 30, tzinfo=UTC)  # 21:00 in Kolkata
    assert from_phone == datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # 11:00 in New York, the phone's zone
    assert stated.astimezone(ZoneInfo("Asia/Kolkata")).hour == 21


def test_the_default_codes_know_wrong_numbers_and_machines(db: Engine) -> None:
    with db.connect() as conn:
        rows = {r.code: r for r in conn.execute(select(DispositionCode).where(DispositionCode.campaign_id.is_(None)))}
    assert {code for code, r in rows.items() if r.wrong_number} == {"WRONG", "BAD"}
    assert {code for code, r in rows.items() if r.answering_machine} == {"AM"}
    assert all(r.max_retries is None and not r.different_hour for r in rows.values())


def test_the_migration_counts_the_dials_each_phone_already_had(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0011")
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO campaigns (id, name, description, purpose, dial_mode, pacer, caller_id, default_region,"
            " ring_timeout_s, max_attempts, retry_delays_min, target_abandon, safe_harbour_s, amd_enabled,"
            " machine_action, voicemail_message, drop_message, calling_window, requires_consent, prerecorded,"
            " max_dial_level, record_calls, recording_announcement, script, caller_ids, schedule, schedule_tz,"
            " status, created_at, updated_at) VALUES (1, 'old', '', 'telemarketing', 'progressive', 'progressive',"
            " '+12125550100', 'US', 25, 5, '[60]', 0.03, 2.0, 1, 'hangup', '', 'sorry', '08:00-21:00', 0, 0, 3.0,"
            " 0, '', '', '[]', '[]', 'America/New_York', 'active', '2026-01-01', '2026-01-01')",
            "INSERT INTO contact_lists (id, campaign_id, name, source, default_region, rows_total, rows_imported,"
            " rows_rejected, created_at, rows_through) VALUES (1, 1, 'l', '', 'US', 0, 0, 0, '2026-01-01', 0)",
            "INSERT INTO contacts (id, campaign_id, list_id, first_name, last_name, email, custom_fields, status,"
            " attempts, priority, created_at) VALUES (1, 1, 1, '', '', '', '{}', 'retry', 3, 0, '2026-01-01')",
            "INSERT INTO contact_phones (id, contact_id, campaign_id, e164, label, position, timezones, status,"
            " attempts) VALUES (1, 1, 1, '+12125550001', 'home', 0, '[]', 'ok', 0),"
            " (2, 1, 1, '+12125550002', 'work', 1, '[]', 'ok', 0)",
            "INSERT INTO call_attempts (campaign_id, contact_id, phone_id, e164, caller_id, attempt_number, state,"
            " notes) VALUES (1, 1, 1, '+12125550001', '', 1, 'ended', ''), (1, 1, 2, '+12125550002', '', 2,"
            " 'ended', ''), (1, 1, 1, '+12125550001', '', 3, 'ended', '')",
        ):
            conn.execute(text(statement))
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(select(ContactPhone.id, ContactPhone.attempts).order_by(ContactPhone.id)).all() == [
            (1, 2), (2, 1)]
        assert conn.execute(select(Campaign.lead_order, Campaign.lead_filter, Campaign.phone_order)).one() == (
            "priority", {}, [])
    engine.dispose()


def test_callbacks_that_are_due_come_before_every_other_contact(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"priority": 9}, {"status": "callback", "attempts": 1,
                                                      "next_eligible_at": datetime.fromtimestamp(NOW - 60, UTC)}])
    assert fetched(db, campaign_id, NOW) == [2, 1]


@pytest.mark.parametrize(("order", "expected"), [
    ("priority", [3, 1, 2, 4]), ("newest_first", [2, 4, 3, 1]), ("oldest_first", [1, 3, 4, 2]),
])
def test_the_campaigns_lead_order_decides_which_contact_comes_first(
    db: Engine, order: str, expected: list[int]
) -> None:
    day = datetime(2026, 2, 1, tzinfo=UTC)
    campaign_id = add_campaign(db, [
        {"priority": 1, "created_at": day.replace(day=1)}, {"priority": 0, "created_at": day.replace(day=9)},
        {"priority": 7, "created_at": day.replace(day=5)}, {"priority": 0, "created_at": day.replace(day=5)},
    ], lead_order=order)
    assert fetched(db, campaign_id, NOW) == expected


def test_a_random_order_is_the_same_after_a_restart_and_differs_between_campaigns(db: Engine) -> None:
    campaign_id = add_campaign(db, [{} for _ in range(40)], lead_order="random")
    first, again = fetched(db, campaign_id, NOW), fetched(db, campaign_id, NOW)
    assert first == again
    assert sorted(first) == list(range(1, 41)) and first != sorted(first)
    with db.connect() as conn:
        other = list(conn.scalars(select(Contact.id).order_by(shuffle_key(campaign_id + 1), Contact.id)))
    assert other != first


def test_the_hopper_dials_only_the_contacts_the_campaigns_filter_keeps(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"state": "NY"}, {"state": "NJ", "custom_fields": {"plan": "gold"}}, {}],
                               lead_filter={"match": "any", "conditions": [
                                   {"field": "state", "op": "eq", "value": "NY"},
                                   {"field": "custom.plan", "op": "eq", "value": "gold"}]})
    assert fetched(db, campaign_id, NOW) == [1, 2]


def test_a_filter_changed_while_dialing_applies_within_the_refresh_time(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"state": "NY"}, {"state": "NJ"}])
    source = SqlLeadSource(db, campaign_id, max_attempts=5, settings_refresh_s=30)
    assert [lead.contact_id for lead in source.fetch(NOW, 10, ())] == [1, 2]
    with db.begin() as conn:
        conn.execute(update(Campaign).values(lead_filter=[{"field": "state", "op": "eq", "value": "NJ"}]))
    assert [lead.contact_id for lead in source.fetch(NOW + 10, 10, ())] == [1, 2]
    assert [lead.contact_id for lead in source.fetch(NOW + 31, 10, ())] == [2]


def test_a_broken_stored_filter_dials_nobody_rather_than_everybody(db: Engine) -> None:
    campaign_id = add_campaign(db, [{"state": "NY"}], lead_filter={"conditions": [{"field": "ssn", "op": "eq",
                                                                                  "value": "1"}]})
    assert fetched(db, campaign_id, NOW) == []


@pytest.mark.integration
def test_order_filter_phone_choice_and_claims_hold_on_postgresql(pg_url: str) -> None:
    db = make_engine(pg_url)
    try:
        upgrade(db)
        campaign_id = add_campaign(
            db, [{"state": "NY", "phones": [(f"+1212555{i:02d}01", "Home"), (f"+1212555{i:02d}02", "Mobile")]}
                 if i % 2 else {"state": "NJ", "phones": [f"+1212555{i:02d}01"]} for i in range(30)],
            lead_order="random", phone_order=["mobile"],
            lead_filter={"conditions": [{"field": "state", "op": "eq", "value": "NY"},
                                        {"field": "custom.missing", "op": "is_empty", "value": True}]},
        )
        ids = fetched(db, campaign_id, NOW)
        assert ids == fetched(db, campaign_id, NOW) and ids != sorted(ids)
        assert len(ids) == 15
        with db.connect() as conn:
            states = set(conn.scalars(select(Contact.state).where(Contact.id.in_(ids))))
        assert states == {"NY"}
        first, second = (SqlLeadSource(db, campaign_id, max_attempts=5) for _ in range(2))
        leads = first.fetch(NOW, 5, ())
        assert all(lead.e164.endswith("02") for lead in leads)  # the mobile, as the campaign orders
        assert len(first.claim(leads, NOW)) == 5
        assert second.claim(leads, NOW) == []
        with db.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(CallAttempt)) == 5
            assert conn.scalar(select(func.sum(ContactPhone.attempts))) == 5
    finally:
        db.dispose()
