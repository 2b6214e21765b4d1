"""Which phone of a contact comes next, and how the campaign's lead-lifecycle settings are read."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from campaigns.models import DEFAULT_DISPOSITIONS, Campaign, DispositionCode
from campaigns.recycling import (
    LEAD_ORDERS,
    PhoneOption,
    SettingError,
    disposition_set,
    label_rank,
    next_phone,
    parse_disposition,
    parse_lead_order,
    parse_lifecycle_settings,
    parse_phone_order,
    replace_dispositions,
)

HOME = PhoneOption(1, "Home", 0, 0)
MOBILE = PhoneOption(2, "Mobile", 1, 0)
WORK = PhoneOption(3, "Work phone", 2, 0)


def tried(phone: PhoneOption, times: int) -> PhoneOption:
    return PhoneOption(phone.id, phone.label, phone.position, times)


def test_without_a_phone_order_the_lists_first_column_is_dialed_first() -> None:
    assert next_phone([WORK, MOBILE, HOME], []) == HOME


def test_the_campaigns_phone_order_decides_which_phone_is_dialed_first() -> None:
    assert next_phone([HOME, MOBILE, WORK], ["mobile", "home", "work"]) == MOBILE
    assert next_phone([HOME, MOBILE, WORK], ["work"]) == WORK


def test_after_a_phone_is_tried_the_next_one_in_the_order_gets_its_turn_and_then_the_round_starts_again() -> None:
    order = ["mobile", "home", "work"]
    assert next_phone([HOME, tried(MOBILE, 1), WORK], order) == HOME
    assert next_phone([tried(HOME, 1), tried(MOBILE, 1), WORK], order) == WORK
    assert next_phone([tried(HOME, 1), tried(MOBILE, 1), tried(WORK, 1)], order) == tried(MOBILE, 1)


def test_a_phone_marked_bad_leaves_the_round_and_the_next_one_is_dialed_at_once() -> None:
    # Bad phones are not options at all: only phones whose status is ok are offered.
    assert next_phone([tried(MOBILE, 1), WORK], ["home", "mobile", "work"]) == WORK
    assert next_phone([], ["home"]) is None


def test_the_phone_a_person_answered_on_is_dialed_again_while_it_is_usable() -> None:
    assert next_phone([HOME, tried(MOBILE, 3), WORK], ["home"], preferred=MOBILE.id) == tried(MOBILE, 3)
    assert next_phone([HOME, WORK], ["work"], preferred=MOBILE.id) == WORK  # gone bad: the order decides


def test_a_label_in_the_order_matches_a_phone_label_by_word_and_without_regard_to_case() -> None:
    assert label_rank("Home Phone", ["mobile", "home"]) == 1
    assert label_rank("CELL", ["cell"]) == 0
    assert label_rank("Homeowner", ["home"]) == 1  # not a word of it: after every listed label


@pytest.mark.parametrize("value", [None, "", "priority"])
def test_the_lead_order_defaults_to_priority(value: object) -> None:
    assert parse_lead_order(value) == "priority"


@pytest.mark.parametrize("value", LEAD_ORDERS)
def test_every_lead_order_is_accepted(value: str) -> None:
    assert parse_lead_order(value) == value


def test_an_unknown_lead_order_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingError, match="lead_order: must be one of priority, newest_first") as error:
        parse_lead_order("alphabetical")
    assert error.value.field == "lead_order"


@pytest.mark.parametrize("value", [None, "position", []])
def test_position_means_the_lists_column_order(value: object) -> None:
    assert parse_phone_order(value) == []


def test_a_phone_order_is_kept_as_lower_case_labels_and_may_be_typed_as_a_comma_list() -> None:
    assert parse_phone_order([" Mobile", "HOME", "work"]) == ["mobile", "home", "work"]
    assert parse_phone_order("Mobile, Home") == ["mobile", "home"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["mobile", "Mobile"], "'Mobile' is listed twice"),
        (["mobile", 3], "each label is text"),
        (["x" * 33], "each label is text of 1 to 32 characters"),
        ({"mobile": 1}, "must be 'position' or a list"),
        ([f"l{i}" for i in range(21)], "at most 20 labels"),
    ],
)
def test_a_bad_phone_order_is_refused_naming_the_setting(value: object, message: str) -> None:
    with pytest.raises(SettingError, match=message) as error:
        parse_phone_order(value)
    assert error.value.field == "phone_order"


def test_the_lifecycle_settings_are_normalized_together_and_a_bad_filter_names_the_setting() -> None:
    assert parse_lifecycle_settings({
        "phone_order": "Mobile,Home", "lead_order": "random",
        "lead_filter": [{"field": "state", "op": "in", "value": ["NY"]}],
    }) == {"phone_order": ["mobile", "home"], "lead_order": "random",
           "lead_filter": {"match": "all", "conditions": [{"field": "state", "op": "in", "value": ["NY"]}]}}
    assert parse_lifecycle_settings({"lead_filter": {"match": "any", "conditions": []}}) == {"lead_filter": {}}
    assert parse_lifecycle_settings({}) == {}
    with pytest.raises(SettingError, match=r"lead_filter: condition 1 \(zip\): unknown field") as error:
        parse_lifecycle_settings({"lead_filter": [{"field": "zip", "op": "eq", "value": "1"}]})
    assert error.value.field == "lead_filter"


# --- a campaign's own disposition set ------------------------------------------------------------------------


def test_a_code_gets_the_usual_flags_unless_it_says_otherwise() -> None:
    assert parse_disposition({"code": " vm ", "label": "Left voicemail", "human_answered": False,
                              "answering_machine": True, "retry_after_min": 1440, "max_retries": 2,
                              "different_hour": True}) == {
        "code": "VM", "label": "Left voicemail", "human_answered": False, "final": False, "sale": False,
        "adds_to_dnc": False, "callback": False, "wrong_number": False, "answering_machine": True,
        "different_hour": True, "retry_after_min": 1440, "max_retries": 2,
    }


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"code": "NO SPACES"}, "dispositions[0].code", "letters, digits or _"),
        ({"code": "X", "label": ""}, "dispositions[0].label", "1 to 100 characters"),
        ({"code": "X", "final": "yes"}, "dispositions[0].final", "true or false"),
        ({"code": "X", "max_retries": -1}, "dispositions[0].max_retries", "from 0 to 100"),
        ({"code": "X", "retry_after_min": 1.5}, "dispositions[0].retry_after_min", "whole number"),
        ({"code": "X", "final": True, "callback": True}, "dispositions[0].callback", "final cannot also ask"),
        ({"code": "X", "sale": True, "max_retries": 2}, "dispositions[0].max_retries", "retried codes only"),
        ({"code": "X", "callback": True, "different_hour": True}, "dispositions[0].different_hour",
         "this one is callback"),
        ({"code": "X", "answering_machine": True}, "dispositions[0].answering_machine", "turn human_answered off"),
        ({"code": "X", "sql": "1"}, "dispositions[0].sql", "not a disposition setting"),
        ("X", "dispositions[0]", "must be an object"),
    ],
)
def test_a_code_that_makes_no_sense_is_refused_naming_its_field(raw: Any, field: str, message: str) -> None:
    with pytest.raises(SettingError, match=message) as error:
        parse_disposition(raw)
    assert error.value.field == field


def make_campaign(session: Session) -> int:
    session.execute(insert(DispositionCode), [{"campaign_id": None, **code} for code in DEFAULT_DISPOSITIONS])
    campaign = Campaign(name="sets", caller_id="+12125550100", drop_message="sorry")
    session.add(campaign)
    session.flush()
    return campaign.id


def test_a_campaigns_own_set_overrides_the_default_codes_it_redefines_and_can_be_reset(session: Session) -> None:
    campaign_id = make_campaign(session)
    replace_dispositions(session, campaign_id, [
        {"code": "SALE", "label": "Policy sold", "final": True, "sale": True},
        {"code": "NA", "label": "No answer", "human_answered": False, "retry_after_min": 120, "max_retries": 3,
         "different_hour": True},
    ])
    codes = {row.code: row for row in disposition_set(session, campaign_id)}
    assert codes["SALE"].label == "Policy sold" and codes["SALE"].campaign_id == campaign_id
    assert (codes["NA"].max_retries, codes["NA"].different_hour) == (3, True)
    assert codes["BUSY"].campaign_id is None  # not redefined: the default rule still applies
    replace_dispositions(session, campaign_id, [])
    assert session.scalars(select(DispositionCode).where(DispositionCode.campaign_id == campaign_id)).all() == []


def test_a_set_that_lists_a_code_twice_is_refused_and_the_old_set_stays(session: Session) -> None:
    campaign_id = make_campaign(session)
    replace_dispositions(session, campaign_id, [{"code": "SALE", "final": True}])
    with pytest.raises(SettingError, match="SALE is listed twice") as error:
        replace_dispositions(session, campaign_id, [{"code": "sale", "final": True}, {"code": "SALE"}])
    assert error.value.field == "dispositions[1].code"
    assert [r.code for r in session.scalars(select(DispositionCode).where(DispositionCode.campaign_id == campaign_id))
            ] == ["SALE"]
