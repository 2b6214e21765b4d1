from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from campaigns import db, services
from campaigns.models import CallAttempt, Contact, ContactList
from campaigns.services import CampaignError, CampaignNotFound

CALLER_ID = "(201) 555-0123"


def make(session, name="Spring renewals", **settings):
    return services.create_campaign(
        session, name=name, caller_id=settings.pop("caller_id", CALLER_ID), **settings
    )


def test_a_campaign_created_without_options_gets_safe_defaults(session):
    campaign = make(session)

    assert campaign.id is not None
    assert campaign.status == "draft"
    assert campaign.caller_id == "+12015550123"
    assert campaign.dial_mode == "progressive"
    assert campaign.pacer == "progressive"
    assert campaign.purpose == "telemarketing"
    assert campaign.ring_timeout_s >= 15
    assert 0 < campaign.target_abandon <= 0.03
    assert campaign.safe_harbour_s <= 2.0
    assert campaign.max_attempts >= 1
    assert campaign.retry_delays_min and all(d > 0 for d in campaign.retry_delays_min)
    assert campaign.calling_window == "08:00-21:00"


def test_the_default_drop_message_names_the_seller_the_purpose_the_callback_number_and_the_opt_out(session):
    message = make(session, name="Acme Solar").drop_message

    assert "Acme Solar" in message
    assert "telemarketing call" in message
    assert "(201) 555-0123" in message
    assert "press 9" in message
    assert "do-not-call list" in message


def test_a_drop_message_given_by_the_campaign_is_kept(session):
    assert make(session, drop_message="  Our own words.  ").drop_message == "Our own words."


def test_every_setting_can_be_chosen(session):
    campaign = make(
        session,
        description="renewals due in May",
        purpose="survey",
        dial_mode="power",
        pacer="ratio:1.80",
        default_region="ca",
        caller_id="416 555 0199",
        ring_timeout_s=20,
        max_attempts=3,
        retry_delays_min=[30, 90],
        target_abandon=0.02,
        safe_harbour_s=1.5,
        amd_enabled=True,
        machine_action="voicemail",
        voicemail_message="Please call us back.",
        calling_window="9:00-20:30",
        requires_consent=True,
        prerecorded=True,
        max_dial_level=2.2,
        record_calls=True,
        recording_announcement="This call is recorded.",
    )

    assert services.campaign_to_dict(campaign) | {"created_at": None, "updated_at": None} == {
        "id": campaign.id,
        "status": "draft",
        "name": "Spring renewals",
        "description": "renewals due in May",
        "purpose": "survey",
        "dial_mode": "power",
        "pacer": "ratio:1.8",
        "caller_id": "+14165550199",
        "default_region": "CA",
        "ring_timeout_s": 20,
        "max_attempts": 3,
        "retry_delays_min": [30, 90],
        "target_abandon": 0.02,
        "safe_harbour_s": 1.5,
        "amd_enabled": True,
        "machine_action": "voicemail",
        "voicemail_message": "Please call us back.",
        "drop_message": campaign.drop_message,
        "calling_window": "09:00-20:30",
        "requires_consent": True,
        "prerecorded": True,
        "max_dial_level": 2.2,
        "record_calls": True,
        "recording_announcement": "This call is recorded.",
        "created_at": None,
        "updated_at": None,
    }
    assert "survey call" in campaign.drop_message


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "42"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"caller_id": "12345"}, "caller_id"),
        ({"caller_id": "not a number"}, "caller_id"),
        ({"caller_id": ""}, "caller_id"),
        ({"ring_timeout_s": 14}, "ring_timeout_s"),
        ({"ring_timeout_s": 15.5}, "ring_timeout_s"),
        ({"ring_timeout_s": 601}, "ring_timeout_s"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"retry_delays_min": []}, "retry_delays_min"),
        ({"retry_delays_min": [60, 0]}, "retry_delays_min"),
        ({"retry_delays_min": [-5]}, "retry_delays_min"),
        ({"retry_delays_min": "60,240"}, "retry_delays_min"),
        ({"target_abandon": 0}, "target_abandon"),
        ({"target_abandon": 0.031}, "target_abandon"),
        ({"target_abandon": float("nan")}, "target_abandon"),
        ({"safe_harbour_s": 2.5}, "safe_harbour_s"),
        ({"dial_mode": "blast"}, "dial_mode"),
        ({"pacer": "turbo"}, "pacer"),
        ({"pacer": "ratio:0.9"}, "pacer"),
        ({"pacer": "ratio:abc"}, "pacer"),
        ({"pacer": "ratio:inf"}, "pacer"),
        ({"dial_mode": "preview", "pacer": "ratio:2"}, "pacer"),
        ({"dial_mode": "power", "pacer": "progressive"}, "pacer"),
        ({"calling_window": "8-21"}, "calling_window"),
        ({"requires_consent": "yes"}, "requires_consent"),
        ({"prerecorded": 1}, "prerecorded"),
        ({"calling_window": "21:00-08:00"}, "calling_window"),
        ({"calling_window": "09:00-09:00"}, "calling_window"),
        ({"calling_window": "09:00-24:30"}, "calling_window"),
        ({"purpose": "fundraising"}, "purpose"),
        ({"default_region": "XX"}, "default_region"),
        ({"machine_action": "transfer"}, "machine_action"),
        ({"machine_action": "voicemail"}, "voicemail_message"),
        ({"machine_action": "voicemail", "voicemail_message": "hi", "amd_enabled": False}, "machine_action"),
        ({"amd_enabled": "yes"}, "amd_enabled"),
        ({"drop_message": "   "}, "drop_message"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_field(session, settings, field):
    with pytest.raises(CampaignError) as raised:
        make(session, **settings)

    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


def test_a_campaign_needs_a_name_and_a_caller_id(session):
    with pytest.raises(CampaignError, match="caller_id: is required"):
        services.create_campaign(session, name="No number")
    with pytest.raises(CampaignError, match="name: is required"):
        services.create_campaign(session, caller_id=CALLER_ID)


def test_campaign_errors_are_value_errors():
    assert issubclass(CampaignError, ValueError)
    assert issubclass(CampaignNotFound, CampaignError)


def test_two_campaigns_cannot_share_a_name(session):
    make(session)

    with pytest.raises(CampaignError, match=r"name: .*exists already"):
        make(session, name="  Spring renewals ")


def test_the_dial_mode_follows_the_pacer_and_the_pacer_follows_the_dial_mode(session):
    assert make(session, name="a", pacer="ratio:2").dial_mode == "power"
    assert make(session, name="b", dial_mode="power").pacer == "ratio:1.5"
    assert make(session, name="c", dial_mode="preview").pacer == "preview"
    assert make(session, name="d", pacer="predictive").dial_mode == "predictive"


def test_a_setting_passed_as_none_takes_its_default(session):
    campaign = make(session, ring_timeout_s=None, pacer=None, drop_message=None)

    assert campaign.ring_timeout_s == services.campaign_defaults()["ring_timeout_s"]
    assert campaign.pacer == "progressive"
    assert "Spring renewals" in campaign.drop_message


def test_campaigns_are_found_by_id_or_by_name(session):
    first, second = make(session, name="First"), make(session, name="Second")

    assert services.get_campaign(session, first.id) is first
    assert services.get_campaign(session, str(second.id)) is second
    assert services.get_campaign(session, " Second ") is second
    with pytest.raises(CampaignNotFound, match="Third"):
        services.get_campaign(session, "Third")
    with pytest.raises(CampaignNotFound):
        services.get_campaign(session, 999)


def test_campaigns_are_listed_oldest_first_and_can_be_filtered_by_status(session):
    first, second = make(session, name="First"), make(session, name="Second")
    services.start_campaign(session, second)

    assert services.list_campaigns(session) == [first, second]
    assert services.list_campaigns(session, "active") == [second]
    with pytest.raises(CampaignError, match="status"):
        services.list_campaigns(session, "running")


def test_a_campaign_starts_pauses_and_starts_again(session):
    campaign = make(session)

    assert services.start_campaign(session, campaign).status == "active"
    assert services.start_campaign(session, campaign).status == "active"
    assert services.pause_campaign(session, campaign).status == "paused"
    assert services.pause_campaign(session, campaign).status == "paused"
    assert services.start_campaign(session, campaign).status == "active"


def test_a_finished_campaign_cannot_start_or_pause(session):
    campaign = services.finish_campaign(session, make(session))

    with pytest.raises(CampaignError, match="finished"):
        services.start_campaign(session, campaign)
    with pytest.raises(CampaignError, match="finished"):
        services.pause_campaign(session, campaign)
    assert campaign.status == "finished"


def test_a_draft_campaign_cannot_pause(session):
    with pytest.raises(CampaignError, match="has not started"):
        services.pause_campaign(session, make(session))


def test_the_summary_counts_contacts_attempts_answers_connects_and_drops(session):
    campaign, other = make(session), make(session, name="Other")
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    for owner in (campaign, other):
        contact_list = ContactList(campaign_id=owner.id, name="list")
        session.add(contact_list)
        session.flush()
        contacts = [
            Contact(campaign_id=owner.id, list_id=contact_list.id, status=s) for s in ("new", "new", "done")
        ]
        session.add_all(contacts)
        session.flush()
        outcomes: list[dict[str, Any]] = [
            {"answer_class": "human", "connected_at": at},
            {"answer_class": "human", "abandoned_at": at},
            {"answer_class": "machine"},
            {"answer_class": None},
        ]
        session.add_all(
            CallAttempt(
                campaign_id=owner.id,
                contact_id=contacts[n % 3].id,
                e164="+12015550100",
                attempt_number=n + 1,
                **outcome,
            )
            for n, outcome in enumerate(outcomes)
        )
    session.flush()

    summary = services.campaign_summary(session, campaign)

    assert summary["lists"] == 1
    assert summary["contacts"] == 3
    assert summary["contacts_by_status"]["new"] == 2
    assert summary["contacts_by_status"]["done"] == 1
    assert summary["contacts_by_status"]["dnc"] == 0
    assert summary["attempts"] == 4
    assert summary["calls_by_answer_class"] == {
        "human": 2,
        "machine": 1,
        "fax": 0,
        "unknown": 0,
        "no_answer": 0,
        "busy": 0,
        "failed": 0,
        "pending": 1,
    }
    assert summary["connected"] == 1
    assert summary["abandoned"] == 1


def test_a_new_campaign_has_an_all_zero_summary(session):
    summary = services.campaign_summary(session, make(session))

    assert summary["contacts"] == summary["attempts"] == summary["connected"] == summary["abandoned"] == 0
    assert set(summary["calls_by_answer_class"].values()) == {0}


@pytest.mark.integration
def test_a_campaign_round_trips_through_postgresql(pg_url):
    db.ensure_schema(pg_url)
    engine = db.make_engine(pg_url)
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        created = make(session, retry_delays_min=[15, 45], calling_window="09:30-20:00")
        services.start_campaign(session, created)
        expected = services.campaign_to_dict(created)

    with sessions() as session:
        loaded = services.get_campaign(session, "Spring renewals")
        assert services.campaign_to_dict(loaded) == expected
        assert loaded.created_at.tzinfo is not None
        assert services.campaign_summary(session, loaded)["contacts"] == 0
        with pytest.raises(CampaignError, match="exists already"):
            make(session)
    engine.dispose()


def test_the_default_drop_message_of_every_purpose_lets_the_campaign_start(session):
    for purpose in services.PURPOSES:
        campaign = make(session, name=f"Acme {purpose}", purpose=purpose)
        assert services.start_campaign(session, campaign).status == "active"


@pytest.mark.parametrize(
    ("message", "lacks"),
    [
        (
            "This was a telemarketing call from someone. Call (201) 555-0123. Press 9 to opt out.",
            "does not name the seller",
        ),
        ("This was a call from Spring renewals. Call (201) 555-0123. Press 9 to opt out.", "telemarketing"),
        (
            "This was a telemarketing call from Spring renewals. Call us back. Press 9 to opt out.",
            "no phone number",
        ),
        (
            "This was a telemarketing call from Spring renewals. Call (201) 555-0123 to opt out.",
            "no key-press opt-out",
        ),
    ],
)
def test_a_campaign_whose_drop_message_lacks_a_required_part_cannot_start(session, message, lacks):
    campaign = make(session, drop_message=message)

    with pytest.raises(CampaignError, match="drop_message") as refused:
        services.start_campaign(session, campaign)

    assert lacks in refused.value.message
    assert campaign.status == "draft"


def test_a_survey_drop_message_need_not_say_telemarketing(session):
    message = "A survey call from Spring renewals. Call 201 555 0123. Press 9 to opt out."
    campaign = make(session, purpose="survey", drop_message=message)
    assert services.start_campaign(session, campaign).status == "active"


def test_a_campaign_ringing_less_than_15_seconds_cannot_start(session):
    campaign = make(session)
    campaign.ring_timeout_s = 14  # set behind validation's back, as an old row or a direct edit could

    with pytest.raises(CampaignError, match="ring_timeout_s"):
        services.start_campaign(session, campaign)
    assert campaign.status == "draft"


def test_a_campaign_takes_a_maximum_dial_level_between_progressive_and_ten(session) -> None:
    from campaigns import services

    campaign = services.create_campaign(session, name="Levels", caller_id="+12015550123", max_dial_level=2.5)
    assert campaign.max_dial_level == 2.5
    assert services.create_campaign(session, name="Default", caller_id="+12015550123").max_dial_level == 3.0
    for bad in (0.5, 11, "high", True):
        with pytest.raises(services.CampaignError) as error:
            services.create_campaign(session, name=f"Bad {bad}", caller_id="+12015550123", max_dial_level=bad)
        assert error.value.field == "max_dial_level"


def test_a_campaign_takes_its_lead_order_phone_order_and_filter_and_a_bad_filter_names_its_condition(session):
    campaign = services.create_campaign(
        session, name="Ordered", caller_id="2015550123", lead_order="random", phone_order=["mobile", "home"],
        lead_filter={"match": "all", "conditions": [{"field": "state", "op": "in", "value": ["NY", "NJ"]}]},
    )

    assert (campaign.lead_order, campaign.phone_order) == ("random", ["mobile", "home"])
    assert campaign.lead_filter["conditions"][0]["field"] == "state"
    with pytest.raises(services.CampaignError) as caught:
        services.create_campaign(session, name="Broken", caller_id="2015550123",
                                 lead_filter=[{"field": "password", "op": "eq", "value": "x"}])
    assert caught.value.field == "lead_filter"
    assert "condition" in str(caught.value)
