"""The call log's search, one call's compliance record and the day-by-day abandonment, on seeded calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from campaigns import call_log, compliance_reports, consent_store, dnc_store
from campaigns.audit_store import append_event
from campaigns.call_log import CallFilters, FilterError
from campaigns.models import Agent, CallAttempt, Contact, ContactList, ContactPhone, DialDecisionRecord
from campaigns.services import create_campaign

NOW = datetime.now(UTC).replace(microsecond=0)
UTC_ZONE = ZoneInfo("UTC")

PASSED = [
    {"rule": "hours.federal", "code": "ok", "passed": True, "detail": "14:00 local, inside 08:00-21:00"},
    {"rule": "dnc.company", "code": "ok", "passed": True, "detail": "not on the company list"},
]
BLOCKED = [
    {"rule": "hours.federal", "code": "outside_hours", "passed": False, "detail": "07:10 local, before 08:00"},
]


@dataclass
class Floor:
    """Ids of what ``seed`` made, by a name the tests read."""

    campaign: dict[str, int] = field(default_factory=dict)
    attempt: dict[str, int] = field(default_factory=dict)
    decision: dict[str, int] = field(default_factory=dict)
    phone: dict[str, str] = field(default_factory=dict)


def _attempt(session: Session, contact: Contact, number: int, placed: datetime, **values: Any) -> int:
    phone = contact.phones[0]
    row = CallAttempt(campaign_id=contact.campaign_id, contact_id=contact.id, phone_id=phone.id, e164=phone.e164,
                      attempt_number=number, queued_at=placed - timedelta(milliseconds=200), placed_at=placed,
                      state=values.pop("state", "ended"), **values)
    session.add(row)
    session.flush()
    return row.id


def _at(base: datetime, seconds: float) -> datetime:
    return base + timedelta(seconds=seconds)


def seed(session: Session, *, now: datetime = NOW) -> Floor:
    """Two campaigns, four numbers, two agents and eight calls covering every outcome, with their records."""
    floor = Floor()
    spring = create_campaign(session, name="Spring renewals", caller_id="+12015550123")
    winter = create_campaign(session, name="Winter survey", caller_id="+12015550124")
    floor.campaign = {"spring": spring.id, "winter": winter.id}
    contacts = {}
    for key, campaign, e164 in (("ann", spring, "+12025550101"), ("bob", spring, "+12025550102"),
                                ("cy", spring, "+12025550103"), ("dee", winter, "+13125550104")):
        listing = ContactList(campaign_id=campaign.id, name=f"{key} list")
        session.add(listing)
        session.flush()
        contact = Contact(campaign_id=campaign.id, list_id=listing.id, first_name=key.title())
        contact.phones.append(ContactPhone(campaign_id=campaign.id, e164=e164, timezones=["America/New_York"]))
        session.add(contact)
        session.flush()
        contacts[key] = contact
        floor.phone[key] = e164
    lee, chen = Agent(login="a100", name="Ann Lee"), Agent(login="a200", name="Bo Chen")
    session.add_all([lee, chen])
    session.flush()

    t = now - timedelta(hours=3)
    floor.attempt["connected"] = _attempt(
        session, contacts["ann"], 1, t, ringing_at=_at(t, 1), answered_at=_at(t, 6), agent_reserved_at=_at(t, 6.05),
        connected_at=_at(t, 6.4), amd_at=_at(t, 9), amd_verdict="human", ended_at=_at(t, 120),
        wrap_ended_at=_at(t, 140), answer_class="human", agent_id=lee.id, disposition="SALE", talk_s=113.6,
        carrier_call_id="CA-connected", caller_id="+12015550123", end_reason="completed")
    t = now - timedelta(hours=2)
    floor.attempt["abandoned"] = _attempt(
        session, contacts["bob"], 1, t, ringing_at=_at(t, 1), answered_at=_at(t, 5), abandoned_at=_at(t, 7),
        message_played_at=_at(t, 7.1), ended_at=_at(t, 20), answer_class="human", disposition="DROP",
        end_reason="completed", carrier_call_id="CA-abandoned")
    t = now - timedelta(hours=1)
    floor.attempt["machine"] = _attempt(
        session, contacts["cy"], 1, t, answered_at=_at(t, 4), amd_at=_at(t, 7), amd_verdict="machine_start",
        ended_at=_at(t, 7.2), answer_class="machine", disposition="AM")
    t = now - timedelta(minutes=30)
    floor.attempt["no_answer"] = _attempt(
        session, contacts["ann"], 2, t, ringing_at=_at(t, 1), ended_at=_at(t, 26), answer_class="no_answer",
        disposition="NA", end_reason="no-answer")
    t = now - timedelta(days=2)
    floor.attempt["busy"] = _attempt(session, contacts["bob"], 2, t, ended_at=_at(t, 3), answer_class="busy",
                                     disposition="BUSY", end_reason="busy")
    t = now - timedelta(minutes=10)
    floor.attempt["late"] = _attempt(
        session, contacts["cy"], 2, t, answered_at=_at(t, 3), connected_at=_at(t, 5.8), ended_at=_at(t, 60),
        answer_class="human", agent_id=chen.id, disposition="NI", talk_s=54.2)
    t = now - timedelta(hours=5)
    floor.attempt["failed"] = _attempt(session, contacts["dee"], 1, t, ended_at=_at(t, 1), answer_class="failed",
                                       end_reason="failed")
    t = now - timedelta(hours=4)
    floor.attempt["interrupted"] = _attempt(session, contacts["dee"], 2, t, end_reason="interrupted",
                                            ended_at=_at(t, 600), disposition="NA")

    # The gate refused Ann once before her first call (too early), then let her through.
    first = now - timedelta(hours=3)
    for key, at, allowed, reasons in (("refused", first - timedelta(minutes=50), False, BLOCKED),
                                      ("allowed", first - timedelta(seconds=2), True, PASSED)):
        decision = DialDecisionRecord(at=at, campaign_id=spring.id, contact_id=contacts["ann"].id,
                                      e164=floor.phone["ann"], allowed=allowed, reasons=reasons)
        session.add(decision)
        session.flush()
        floor.decision[key] = decision.id
    conn = session.connection()
    append_event(conn, "dial_decision", {"path": "hopper", "decision": {
        "allowed": True, "ruleset_version": "2026.11", "zones": ["America/New_York"]}},
        campaign_id=spring.id, e164=floor.phone["ann"], at=first - timedelta(seconds=2))
    append_event(conn, "call_closed", {"answer_to_agent_ms": 400}, campaign_id=spring.id, e164=floor.phone["ann"],
                 attempt_id=floor.attempt["connected"], call_id=f"c{spring.id}-{contacts['ann'].id}-1",
                 at=_at(first, 140))
    consent_store.record_consent(session, floor.phone["ann"], source="web_form", obtained_at=now - timedelta(days=10),
                                 text_shown="Yes, Spring Co may call me about renewals.", recorded_by="import")
    # Cy went on the campaign's list before his calls: the record must show it.
    dnc_store.add_number(session, floor.phone["cy"], reason="asked by letter", source="mail", actor="cora",
                         campaign_id=spring.id, now=now - timedelta(hours=4))
    session.flush()
    return floor


@pytest.fixture
def floor(session: Session) -> Floor:
    return seed(session)


def ids(rows: list[call_log.CallRow]) -> set[int]:
    return {row.id for row in rows}


def find(session: Session, **args: str) -> set[int]:
    filters, _ = call_log.parse_filters(session, args)
    return ids(call_log.search(session, filters, page_size=500))


# -- search ----------------------------------------------------------------------------------


def test_a_number_typed_in_any_format_finds_the_calls_to_it(session, floor):
    wanted = {floor.attempt["connected"], floor.attempt["no_answer"]}

    assert find(session, number="(202) 555-0101") == wanted
    assert find(session, number="+1 202-555-0101") == wanted
    assert find(session, number="2025550101") == wanted


def test_each_outcome_finds_exactly_its_calls(session, floor):
    a = floor.attempt
    expected = {
        "human": {a["connected"], a["abandoned"], a["late"]},
        "machine": {a["machine"]},
        "no_answer": {a["no_answer"]},
        "busy": {a["busy"]},
        "failed": {a["failed"]},
        "abandoned": {a["abandoned"]},
        "connected": {a["connected"], a["late"]},
        "interrupted": {a["interrupted"]},
    }
    assert set(expected) == set(call_log.OUTCOMES)
    for outcome, wanted in expected.items():
        assert find(session, outcome=outcome) == wanted, outcome


def test_campaign_agent_and_disposition_filters_narrow_the_log(session, floor):
    a = floor.attempt

    assert find(session, campaign=str(floor.campaign["winter"])) == {a["failed"], a["interrupted"]}
    assert find(session, agent="a200") == {a["late"]}
    assert find(session, disposition="sale") == {a["connected"]}
    assert find(session, campaign=str(floor.campaign["spring"]), disposition="NA") == {a["no_answer"]}


def test_dates_are_read_in_the_chosen_zone_and_a_to_date_includes_its_whole_day(session, floor):
    zone = ZoneInfo("America/Los_Angeles")
    two_days_ago = (NOW - timedelta(days=2)).astimezone(zone).date().isoformat()
    busy_local = (NOW - timedelta(days=2)).astimezone(zone)

    same_day = find(session, tz="America/Los_Angeles", **{"from": two_days_ago, "to": two_days_ago})
    minute_after = (busy_local + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")

    assert floor.attempt["busy"] in same_day
    assert floor.attempt["connected"] not in same_day
    assert floor.attempt["busy"] not in find(session, tz="America/Los_Angeles", **{"from": minute_after})


@pytest.mark.parametrize(("args", "field_name"), [
    ({"number": "call me"}, "number"),
    ({"campaign": "999"}, "campaign"),
    ({"campaign": "spring"}, "campaign"),
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
    ({"outcome": "won"}, "outcome"),
    ({"agent": "nobody"}, "agent"),
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"disposition": "=cmd|x"}, "disposition"),
    ({"order": "sideways"}, "order"),
])
def test_a_bad_search_value_is_refused_with_the_name_of_its_field(session, floor, args, field_name):
    with pytest.raises(FilterError) as caught:
        call_log.parse_filters(session, args)

    assert caught.value.field == field_name


def test_pages_in_order_hold_the_same_calls_as_the_whole_export(session, floor):
    filters = CallFilters(order="oldest")
    pages = [call_log.search(session, filters, page=n, page_size=3) for n in (1, 2, 3, 4)]
    paged = [row.id for page in pages for row in page]
    whole = [row.id for row in call_log.iter_rows(session, filters)]

    assert len(paged) == call_log.count(session, filters) == 8
    assert paged == whole
    times = [row.at for row in call_log.iter_rows(session, filters)]
    assert times == sorted(times)


def test_filters_written_back_as_arguments_read_as_the_same_filters(session, floor):
    zone = ZoneInfo("America/Chicago")
    args = {"number": "202 555 0101", "campaign": str(floor.campaign["spring"]), "from": "2026-01-01",
            "to": "2026-12-31T18:30", "outcome": "connected", "agent": "a100", "disposition": "SALE",
            "order": "oldest", "tz": "America/Chicago"}
    filters, read_zone = call_log.parse_filters(session, args)

    again, _ = call_log.parse_filters(session, filters.to_args(zone))

    assert read_zone.key == "America/Chicago"
    assert again == filters


def test_a_csv_line_gives_times_with_their_offset_and_the_answer_to_agent_delay(session, floor):
    row = call_log.search(session, CallFilters(number=floor.phone["ann"], outcome="connected"))[0]

    cells = dict(zip(call_log.CSV_COLUMNS, call_log.csv_cells(row, ZoneInfo("America/New_York")), strict=True))

    assert cells["answer_to_agent_s"] == 0.4
    assert cells["outcome"] == "connected"
    assert cells["agent"] == "a100"
    assert cells["time"].endswith(("-05:00", "-04:00"))


# -- one call's record --------------------------------------------------------------------------


def test_a_call_connected_in_under_two_seconds_meets_the_rule(session, floor):
    record = call_log.call_record(session, floor.attempt["connected"])

    assert record is not None
    assert record.two_seconds.status == "met"
    assert record.two_seconds.delay_s == pytest.approx(0.4)


@pytest.mark.parametrize(("key", "status"), [
    ("late", "missed"), ("abandoned", "missed"), ("machine", "not_applicable"), ("no_answer", "not_applicable"),
    ("busy", "not_applicable"),
])
def test_the_two_second_check_names_what_happened_after_the_answer(session, floor, key, status):
    record = call_log.call_record(session, floor.attempt[key])

    assert record is not None
    assert record.two_seconds.status == status


def test_a_person_who_hangs_up_within_two_seconds_is_not_an_abandoned_call(session, floor):
    attempt = session.get(CallAttempt, floor.attempt["late"])
    attempt.connected_at = None
    attempt.ended_at = attempt.answered_at + timedelta(seconds=1.5)

    check = call_log.two_second_check(attempt)

    assert check.status == "hung_up"


def test_the_record_shows_every_moment_and_the_abandoned_calls_drop_message(session, floor):
    record = call_log.call_record(session, floor.attempt["abandoned"])

    assert record is not None
    moments = {m.key: m for m in record.moments}
    assert moments["abandoned_at"].after_placed_s == pytest.approx(7.0)
    assert moments["message_played_at"].after_placed_s == pytest.approx(7.1)
    assert record.drop_message and "press 9" in record.drop_message
    assert record.two_seconds.message_after_s == pytest.approx(2.1)
    assert record.caller_id == "+12015550123" and record.caller_id_source == "campaign"


def test_the_record_holds_the_gates_allowing_decision_with_every_rule(session, floor):
    record = call_log.call_record(session, floor.attempt["connected"])

    assert record is not None and record.decision is not None
    assert record.decision.id == floor.decision["allowed"]
    assert [r["rule"] for r in call_log.decision_reasons(record.decision.reasons)] == ["hours.federal", "dnc.company"]
    assert record.decision_detail["ruleset_version"] == "2026.11"


def test_a_second_attempt_does_not_borrow_the_decision_of_the_first(session, floor):
    record = call_log.call_record(session, floor.attempt["no_answer"])

    assert record is not None
    assert record.decision is None
    assert any("No dial gate decision" in note for note in record.notes)


def test_the_record_derives_consent_and_dnc_state_at_the_moment_of_dialing(session, floor):
    ann = call_log.call_record(session, floor.attempt["connected"])
    cy = call_log.call_record(session, floor.attempt["machine"])

    assert ann is not None and cy is not None
    assert ann.consent_state.granted
    assert [s.listed for s in ann.dnc_at_dial] == [False, False]
    listed = {s.list_name: s for s in cy.dnc_at_dial}
    assert listed[f"campaign {floor.campaign['spring']}"].listed
    assert "cora" in listed[f"campaign {floor.campaign['spring']}"].note
    assert not listed["company"].listed


def test_a_number_listed_after_the_call_was_not_listed_when_dialed(session, floor):
    dnc_store.add_number(session, floor.phone["bob"], reason="asked on the call", source="agent", actor="a100",
                         now=NOW - timedelta(minutes=1))

    record = call_log.call_record(session, floor.attempt["abandoned"])

    assert record is not None
    assert not any(s.listed for s in record.dnc_at_dial)
    assert [e.campaign_id for e in record.dnc_now] == [None]


def test_the_record_gathers_the_audit_events_that_name_the_call(session, floor):
    record = call_log.call_record(session, floor.attempt["connected"])

    assert record is not None
    assert [e.kind for e in record.audit_events] == ["dial_decision", "call_closed"]
    data = record.to_dict()
    assert data["two_second_rule"]["status"] == "met"
    assert data["audit_events"][1]["payload"] == {"answer_to_agent_ms": 400}
    sections = {row[0] for row in record.csv_rows(UTC_ZONE)[1:]}
    assert {"call", "moment", "two_second_rule", "dial_decision", "dial_rule", "consent_at_dial", "dnc_at_dial",
            "audit_event"} <= sections


def test_an_unknown_call_has_no_record(session, floor):
    assert call_log.call_record(session, 10_000) is None


# -- abandonment by day --------------------------------------------------------------------------


def test_the_days_of_the_rolling_window_add_up_to_the_reports_rolling_row(session, floor):
    spring = floor.campaign["spring"]
    rolling = compliance_reports.abandonment_periods(session.connection(), spring, NOW)[-1]

    days = call_log.daily_abandonment(session, spring, NOW, ZoneInfo("America/New_York"))

    assert rolling["live_answers"] == 3 and rolling["abandoned"] == 1
    assert sum(d["live_answers"] for d in days) == rolling["live_answers"]
    assert sum(d["abandoned"] for d in days) == rolling["abandoned"]
    assert days[0]["start"] == NOW - compliance_reports.PERIOD and days[-1]["end"] == NOW
    assert all(a["end"] == b["start"] for a, b in pairwise(days))
    assert not any(d["partial"] for d in days[1:-1])
    assert all(d["start"].astimezone(ZoneInfo("America/New_York")).hour == 0 for d in days[1:])


@pytest.mark.integration
def test_on_postgresql_the_log_the_record_and_the_days_agree_with_sqlite(pg_url):
    from campaigns.db import make_engine, make_session_factory
    from campaigns.models import Base

    engine = make_engine(pg_url)
    Base.metadata.create_all(engine)
    try:
        with make_session_factory(engine)() as session:
            floor = seed(session)
            session.commit()
            a = floor.attempt
            since = (NOW - timedelta(hours=2, minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")

            assert find(session, outcome="connected") == {a["connected"], a["late"]}
            assert find(session, **{"from": since}) == {a["abandoned"], a["machine"], a["no_answer"], a["late"]}
            newest = call_log.search(session, CallFilters())[0]
            assert newest.id == a["late"] and newest.at is not None and newest.at.tzinfo is not None
            record = call_log.call_record(session, a["connected"])
            assert record is not None and record.two_seconds.status == "met"
            assert record.decision is not None and record.decision.id == floor.decision["allowed"]
            days = call_log.daily_abandonment(session, floor.campaign["spring"], NOW, ZoneInfo("Europe/London"))
            assert (sum(d["live_answers"] for d in days), sum(d["abandoned"] for d in days)) == (3, 1)
    finally:
        engine.dispose()
