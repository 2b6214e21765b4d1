"""Why a campaign is not dialing: every reason, with its count and when it changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from campaigns.dial_blockers import (
    AGENTS_PAUSED,
    ATTEMPTS_EXHAUSTED,
    BAD_PHONES,
    BUDGET_SPENT,
    DNC,
    LIST_EXHAUSTED,
    NO_AGENTS,
    NO_DIALER,
    NOT_ACTIVE,
    NOTHING_DIALABLE_NOW,
    OUTSIDE_HOURS,
    RETRY_WAIT,
    Blocker,
    DialReport,
    abandonment_budget,
    why_not_dialing,
)
from campaigns.models import CallAttempt, Campaign, Contact, ContactList, ContactPhone, DncEntry
from campaigns.services import create_campaign, pause_campaign, start_campaign

# A Wednesday at 03:00 UTC: 23:00 the evening before in New York (closed), 13:00 in Guam (open).
NOW = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)
STAFFED = {"agents_working": "3", "agents_paused": "0", "agents_ready": "1"}
NY = ("+1212555{:04d}", "America/New_York", "NY")
GUAM = ("+1671555{:04d}", "Pacific/Guam", "GU")


def campaign(session: Session, *, dial_mode: str = "progressive", active: bool = True, **settings: object) -> Campaign:
    made = create_campaign(session, name=f"Spring {dial_mode} {len(settings)}", caller_id="+12125550100",
                           dial_mode=dial_mode, **settings)
    if active:
        start_campaign(session, made)
    session.add(ContactList(campaign_id=made.id, name="list"))
    session.flush()
    return made


def add_contacts(session: Session, camp: Campaign, n: int, place: tuple[str, str, str], *, start: int = 0,
                 **fields: object) -> list[Contact]:
    pattern, zone, state = place
    list_id = camp.lists[0].id if camp.lists else session.query(ContactList).filter_by(campaign_id=camp.id).one().id
    made = []
    for i in range(start, start + n):
        contact = Contact(campaign_id=camp.id, list_id=list_id, state=state, **fields)
        contact.phones.append(ContactPhone(campaign_id=camp.id, e164=pattern.format(i), timezones=[zone]))
        session.add(contact)
        made.append(contact)
    session.flush()
    return made


def report(session: Session, camp: Campaign, live: dict[str, str] | None = STAFFED) -> DialReport:
    return why_not_dialing(session.connection(), camp, live, NOW)


def codes(items: list[Blocker]) -> dict[str, Blocker]:
    return {b.code: b for b in items}


def test_a_campaign_with_staff_and_callable_contacts_is_dialing_with_no_blocker(session: Session) -> None:
    camp = campaign(session)
    add_contacts(session, camp, 4, GUAM)
    found = report(session, camp)
    assert found.dialing
    assert found.blockers == []
    assert found.dialable_now == 4 and found.remaining == 4


def test_a_paused_or_draft_campaign_says_it_is_not_active(session: Session) -> None:
    draft = campaign(session, active=False)
    add_contacts(session, draft, 2, GUAM)
    assert "has not been started" in codes(report(session, draft).blockers)[NOT_ACTIVE].sentence
    paused = campaign(session, dial_mode="predictive")
    add_contacts(session, paused, 2, GUAM, start=100)
    pause_campaign(session, paused)
    found = report(session, paused)
    assert not found.dialing
    assert "paused" in codes(found.blockers)[NOT_ACTIVE].sentence


def test_an_active_campaign_without_live_state_has_no_dialer_and_one_without_agents_says_so(session: Session) -> None:
    camp = campaign(session)
    add_contacts(session, camp, 2, GUAM)
    assert NO_DIALER in codes(report(session, camp, None).blockers)
    found = report(session, camp, {"agents_working": "0", "agents_paused": "0"})
    assert NO_AGENTS in codes(found.blockers) and not found.dialing
    paused = report(session, camp, {"agents_working": "0", "agents_paused": "2"})
    assert codes(paused.blockers)[AGENTS_PAUSED].sentence == "All 2 logged-in agents are paused."


def test_a_spent_abandonment_budget_holds_an_overdialing_campaign_to_progressive(session: Session) -> None:
    camp = campaign(session, dial_mode="predictive", target_abandon=0.03)
    contacts = add_contacts(session, camp, 40, GUAM)
    for i, contact in enumerate(contacts):
        placed = NOW - timedelta(days=2, minutes=i)
        session.add(CallAttempt(campaign_id=camp.id, contact_id=contact.id, e164=contact.phones[0].e164,
                                attempt_number=1, placed_at=placed, answered_at=placed, answer_class="human",
                                abandoned_at=placed if i < 3 else None))
    session.flush()
    found = report(session, camp)
    spent = codes(found.blockers)[BUDGET_SPENT]
    assert "3 abandoned of 40 live answers" in spent.sentence
    assert "Held to progressive" in spent.sentence
    # The oldest of the three drops leaves the 30-day window first.
    assert spent.changes_at == NOW - timedelta(days=2, minutes=2) + timedelta(days=30)
    assert found.budget.left == 0 and found.budget.spent
    assert found.dialing  # slowed, not stopped


def test_the_budget_left_counts_the_drops_the_target_still_allows(session: Session) -> None:
    camp = campaign(session, dial_mode="predictive", target_abandon=0.02)
    contacts = add_contacts(session, camp, 100, GUAM)
    for i, contact in enumerate(contacts):
        placed = NOW - timedelta(hours=1, seconds=i)
        session.add(CallAttempt(campaign_id=camp.id, contact_id=contact.id, e164=contact.phones[0].e164,
                                attempt_number=1, placed_at=placed, answered_at=placed, answer_class="human",
                                abandoned_at=placed if i == 0 else None))
    session.flush()
    budget = abandonment_budget(session.connection(), camp, NOW)
    assert (budget.live_answers, budget.abandoned, budget.left, budget.spent) == (100, 1, 1, False)
    assert BUDGET_SPENT not in codes(report(session, camp).blockers)


def test_a_list_with_no_contact_left_to_dial_is_exhausted(session: Session) -> None:
    camp = campaign(session)
    add_contacts(session, camp, 3, GUAM, status="done")
    found = report(session, camp)
    assert codes(found.blockers)[LIST_EXHAUSTED].count == 0
    assert not found.dialing


def test_contacts_waiting_for_their_retry_are_counted_with_the_first_time_one_is_due(session: Session) -> None:
    camp = campaign(session)
    add_contacts(session, camp, 2, GUAM, status="retry", attempts=1, next_eligible_at=NOW + timedelta(hours=3))
    add_contacts(session, camp, 1, GUAM, start=50, status="retry", attempts=1,
                 next_eligible_at=NOW + timedelta(minutes=20))
    found = report(session, camp)
    wait = codes(found.contacts)[RETRY_WAIT]
    assert wait.count == 3
    assert wait.changes_at == NOW + timedelta(minutes=20)
    nothing = codes(found.blockers)[NOTHING_DIALABLE_NOW]
    assert nothing.changes_at == NOW + timedelta(minutes=20)


def test_contacts_on_a_do_not_call_list_are_counted_whether_marked_already_or_only_listed(session: Session) -> None:
    camp = campaign(session)
    listed = add_contacts(session, camp, 2, GUAM)
    add_contacts(session, camp, 1, GUAM, start=10, status="dnc")
    add_contacts(session, camp, 3, GUAM, start=20)
    session.add(DncEntry(e164=listed[0].phones[0].e164, campaign_id=None))
    session.add(DncEntry(e164=listed[1].phones[0].e164, campaign_id=camp.id))
    session.flush()
    found = report(session, camp)
    assert codes(found.contacts)[DNC].count == 3
    assert found.dialable_now == 3


def test_contacts_outside_calling_hours_where_they_live_are_counted_with_when_hours_open(session: Session) -> None:
    camp = campaign(session)
    add_contacts(session, camp, 5, NY)
    add_contacts(session, camp, 2, GUAM)
    found = report(session, camp)
    outside = codes(found.contacts)[OUTSIDE_HOURS]
    assert outside.count == 5
    assert outside.changes_at == datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert found.dialable_now == 2 and found.dialing


def test_attempts_exhausted_and_phones_that_do_not_work_are_counted(session: Session) -> None:
    camp = campaign(session, max_attempts=2)
    add_contacts(session, camp, 2, GUAM, status="exhausted", attempts=2)
    add_contacts(session, camp, 1, GUAM, start=10, status="retry", attempts=2)
    add_contacts(session, camp, 1, GUAM, start=20, status="bad_number")
    broken = add_contacts(session, camp, 1, GUAM, start=30)
    broken[0].phones[0].status = "bad"
    session.flush()
    found = report(session, camp)
    assert codes(found.contacts)[ATTEMPTS_EXHAUSTED].count == 3
    assert codes(found.contacts)[BAD_PHONES].count == 2
    assert codes(found.blockers)[NOTHING_DIALABLE_NOW].changes_at is None


def test_a_big_list_is_estimated_from_a_sample_in_hopper_order(session: Session) -> None:
    camp = campaign(session)
    add_contacts(session, camp, 30, NY)
    add_contacts(session, camp, 30, GUAM, start=100)
    found = why_not_dialing(session.connection(), camp, STAFFED, NOW, sample_limit=20)
    assert found.estimated
    assert codes(found.contacts)[OUTSIDE_HOURS].count == 60  # the first 20 (all New York) stand for all 60
    assert codes(found.contacts)[OUTSIDE_HOURS].estimated
    assert found.to_dict()["contacts"][0]["code"] == OUTSIDE_HOURS


def test_the_reasons_and_the_days_figures_are_the_same_on_postgresql(pg_url: str) -> None:
    from campaigns import floor_stats
    from campaigns.db import make_engine, make_session_factory, upgrade

    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        with make_session_factory(engine)() as session, session.begin():
            camp = campaign(session, dial_mode="predictive", target_abandon=0.03)
            add_contacts(session, camp, 3, NY)
            waiting = add_contacts(session, camp, 2, GUAM, start=10, status="retry", attempts=1,
                                   next_eligible_at=NOW + timedelta(minutes=20))
            for i, contact in enumerate(waiting):
                placed = NOW - timedelta(minutes=40 + i)
                session.add(CallAttempt(campaign_id=camp.id, contact_id=contact.id, e164=contact.phones[0].e164,
                                        attempt_number=1, placed_at=placed, answered_at=placed,
                                        answer_class="human", connected_at=None if i else placed,
                                        abandoned_at=placed if i else None))
            session.flush()
            found = report(session, camp)
            assert codes(found.contacts)[OUTSIDE_HOURS].count == 3
            assert codes(found.contacts)[RETRY_WAIT].changes_at == NOW + timedelta(minutes=20)
            assert codes(found.blockers)[NOTHING_DIALABLE_NOW].changes_at == NOW + timedelta(minutes=20)
            assert (found.budget.live_answers, found.budget.abandoned) == (2, 1)
            hours = floor_stats.hourly(session.connection(), camp, NOW, start=NOW - timedelta(hours=2))
            assert [(h.calls, h.connects, h.abandoned) for h in hours if h.calls] == [(2, 1, 1)]
            [today] = floor_stats.daily_abandonment(session.connection(), camp, NOW, days=1)
            assert (today.live_answers, today.abandoned, today.rolling_rate) == (2, 1, 0.5)
    finally:
        engine.dispose()
