"""Which phone of a contact comes next, and how the campaign's lead-lifecycle settings are read."""

from __future__ import annotations

import pytest

from campaigns.recycling import (
    LEAD_ORDERS,
    PhoneOption,
    SettingError,
    label_rank,
    next_phone,
    parse_lead_order,
    parse_phone_order,
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
