"""List health: each contact in one group, judged as the dialer would judge it at that instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns import services
from campaigns.list_health import ContactFacts, judge, list_health
from campaigns.models import Contact, ContactList, ContactPhone, DncEntry
from compliance.gate import CallingWindow

CHICAGO = ("America/Chicago",)
# 2026-12-01 18:00 UTC is noon in Chicago: inside 08:00-21:00.
NOON_CHICAGO = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
OFFICE = ZoneInfo("America/New_York")
WINDOW = CallingWindow.parse("08:00-21:00")


def facts(status: str = "new", *, attempts: int = 0, due: datetime | None = None, zones=CHICAGO,
          phones: tuple[str, ...] = ("+13125550101",), disposition: str | None = None) -> ContactFacts:
    return ContactFacts(status, attempts, due, disposition, tuple((p, zones) for p in phones))


def verdict(f: ContactFacts, now: datetime = NOON_CHICAGO, listed: frozenset[str] = frozenset()):
    return judge(f, now=now, window=WINDOW, max_attempts=3, listed=listed, office_zone=OFFICE)


def test_a_fresh_contact_at_noon_in_its_zone_is_dialable_now():
    assert verdict(facts()).group == "now"


def test_a_contact_at_six_in_the_morning_its_time_waits_for_eight_and_says_so():
    early = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 06:00 in Chicago

    found = verdict(facts(), now=early)

    assert (found.group, found.key) == ("not", "outside_hours")
    assert found.when == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 08:00 CST


def test_a_number_spanning_two_zones_waits_for_the_later_one():
    found = verdict(facts(zones=("America/Chicago", "America/Denver")), now=datetime(2026, 12, 1, 14, 30, tzinfo=UTC))

    assert found.key == "outside_hours"  # 08:30 in Chicago but 07:30 in Denver
    assert found.when == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def test_retries_due_soon_today_or_later_fall_in_their_buckets():
    soon = verdict(facts("retry", attempts=1, due=NOON_CHICAGO + timedelta(minutes=40)))
    today = verdict(facts("retry", attempts=1, due=NOON_CHICAGO + timedelta(hours=3)))
    tomorrow = verdict(facts("callback", attempts=5, due=NOON_CHICAGO + timedelta(days=1)))

    assert (soon.group, soon.key) == ("later", "within_1h")
    assert (today.group, today.key) == ("later", "today")
    assert (tomorrow.group, tomorrow.key) == ("later", "later")  # a callback is kept whatever its attempts


def test_contacts_that_cannot_be_called_say_why():
    assert verdict(facts(attempts=3)).key == "attempts_exhausted"
    assert verdict(facts(phones=())).key == "bad_phones"
    unreadable = ContactFacts("new", 0, None, None, (("+13125550101", CHICAGO),), timezone="Nowhere/Land")
    assert verdict(unreadable).key == "unknown_timezone"
    assert verdict(facts(), listed=frozenset({"+13125550101"})).key == "dnc"
    assert verdict(facts("in_call")).key == "in_call"
    assert verdict(facts("done", disposition="SALE")).key == "SALE"


def test_a_phone_stored_without_zones_is_placed_by_its_number():
    assert verdict(facts(zones=())).group == "now"  # +1 312 is Chicago
    assert verdict(facts(zones=()), now=datetime(2026, 12, 1, 12, 0, tzinfo=UTC)).key == "outside_hours"


def test_the_phone_the_dialer_takes_next_decides_the_dnc_verdict():
    two = ("+13125550101", "+13125550102")

    assert verdict(facts(phones=two, attempts=1), listed=frozenset({"+13125550101"})).group == "now"
    assert verdict(facts(phones=two, attempts=0), listed=frozenset({"+13125550101"})).key == "dnc"


def make_campaign(session):
    campaign = services.create_campaign(session, name="Health", caller_id="+12015550199")
    first = ContactList(campaign_id=campaign.id, name="spring.csv")
    second = ContactList(campaign_id=campaign.id, name="summer.csv")
    session.add_all([first, second])
    session.flush()
    return campaign, first, second


def add(session, campaign, contact_list, number, **values):
    contact = Contact(campaign_id=campaign.id, list_id=contact_list.id, **values)
    contact.phones.append(ContactPhone(campaign_id=campaign.id, e164=number, timezones=list(CHICAGO)))
    session.add(contact)
    return contact


def test_a_campaigns_lists_are_counted_per_list_and_in_total(session):
    campaign, spring, summer = make_campaign(session)
    add(session, campaign, spring, "+13125550101")
    add(session, campaign, spring, "+13125550102", status="retry", attempts=1,
        next_eligible_at=NOON_CHICAGO + timedelta(minutes=30))
    add(session, campaign, spring, "+13125550103", status="done", last_disposition="SALE", attempts=1)
    add(session, campaign, summer, "+13125550104", status="done", last_disposition="NI", attempts=2)
    add(session, campaign, summer, "+13125550105")
    add(session, campaign, summer, "+13125550106", status="exhausted", attempts=5)
    session.add(DncEntry(e164="+13125550105", campaign_id=None, reason="asked"))
    session.flush()

    report = list_health(session, campaign, NOON_CHICAGO)

    by_name = {counts.name: counts for counts in report.lists}
    assert by_name["spring.csv"].dialable_now == 1
    assert by_name["spring.csv"].later["within_1h"] == 1
    assert by_name["spring.csv"].earliest_later == NOON_CHICAGO + timedelta(minutes=30)
    assert by_name["summer.csv"].not_by["dnc"] == 1
    assert by_name["summer.csv"].not_by["attempts_exhausted"] == 1
    assert dict(report.total.finished_by) == {"SALE": 1, "NI": 1}
    assert report.total.total == 6
    assert report.total.dialable_now + report.total.dialable_later + report.total.finished \
        + report.total.not_dialable == 6
    assert report.to_dict()["total"]["not_by"]["dnc"] == 1


def test_a_number_on_another_campaigns_dnc_list_does_not_block_this_one(session):
    campaign, spring, _ = make_campaign(session)
    other = services.create_campaign(session, name="Other", caller_id="+12015550198")
    add(session, campaign, spring, "+13125550101")
    session.add(DncEntry(e164="+13125550101", campaign_id=other.id))
    session.flush()

    assert list_health(session, campaign, NOON_CHICAGO).total.dialable_now == 1
