from __future__ import annotations

import pickle

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers.timezone import time_zones_for_number

from compliance import phones
from compliance.phones import PhoneError, analyze_phone, candidate_timezones, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "(212) 555-0123",
        "212-555-0123",
        "212.555.0123",
        "2125550123",
        " 212 555 0123 ",
        "1 212 555 0123",
        "1-212-555-0123",
        "+1 (212) 555-0123",
        "+12125550123",
        "212/555-0123",
    ],
)
def test_a_us_number_in_any_common_format_normalizes_to_the_same_e164(raw):
    assert normalize_phone(raw, "US") == "+12125550123"


def test_the_region_may_be_given_in_lower_case():
    assert normalize_phone("212 555 0123", "us") == "+12125550123"


def test_a_number_written_with_a_plus_keeps_its_own_country_in_a_us_list():
    assert normalize_phone("+44 20 7946 0958", "US") == "+442079460958"


def test_a_canadian_number_is_valid_in_a_us_list_and_rings_in_toronto():
    info = analyze_phone("(416) 555-0199", "US")

    assert info.e164 == "+14165550199"
    assert info.timezones == ("America/Toronto",)


def test_a_vanity_number_and_an_extension_are_read_as_phonenumbers_reads_them():
    assert normalize_phone("1-800-FLOWERS", "US") == "+18003569377"
    assert normalize_phone("212 555 0123 ext. 45", "US") == "+12125550123"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ("-- ()", "empty"),
        ("n/a", "not_a_number"),
        ('=HYPERLINK("x")', "not_a_number"),
        ("12345", "too_short"),
        ("555-0123", "local_only"),
        ("+1 212 555 01234", "too_long"),
        ("+999 1234567", "invalid_country_code"),
        ("1-900-555-0199", "not_dialable"),
        ("(123) 456-7890", "invalid_number"),
    ],
)
def test_each_kind_of_bad_number_is_refused_with_its_reason_code(raw, code):
    with pytest.raises(PhoneError) as caught:
        normalize_phone(raw, "US")

    assert caught.value.code == code
    assert str(caught.value)


def test_a_number_valid_in_form_but_not_in_the_numbering_plan_is_invalid():
    with pytest.raises(PhoneError) as caught:
        normalize_phone("+44 0000 000000", "US")

    assert caught.value.code in {"invalid_number", "invalid_length", "too_short"}


def test_a_phone_error_is_a_value_error_that_keeps_its_code_through_pickling():
    with pytest.raises(ValueError) as caught:
        normalize_phone("12345", "US")

    copy = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(copy, PhoneError)
    assert (copy.code, str(copy)) == ("too_short", str(caught.value))


def test_without_a_region_only_numbers_with_a_country_code_are_read():
    assert normalize_phone("+1 212 555 0123", None) == "+12125550123"
    with pytest.raises(PhoneError) as caught:
        normalize_phone("212 555 0123", None)
    assert caught.value.code == "invalid_country_code"


def test_an_unknown_region_is_refused():
    with pytest.raises(PhoneError) as caught:
        normalize_phone("020 7946 0958", "XX")

    assert caught.value.code == "unknown_region"


def test_a_uk_number_is_read_in_the_uk_region():
    info = analyze_phone("020 7946 0958", "GB")

    assert info.e164 == "+442079460958"
    assert info.timezones == ("Europe/London",)


def test_candidate_timezones_of_a_new_york_number_is_new_york_only():
    assert candidate_timezones("+12125550123") == ("America/New_York",)


def test_a_toll_free_number_may_ring_in_every_north_american_zone():
    zones = candidate_timezones("+18005550123")

    assert {"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"} <= set(zones)
    assert "Etc/Unknown" not in zones


def test_an_unknown_zone_is_an_empty_tuple_never_etc_unknown():
    assert candidate_timezones("+999123") == ()
    assert candidate_timezones("not a number") == ()
    assert candidate_timezones("+12125") == ()


def test_the_zones_found_while_normalizing_are_the_candidate_timezones_of_the_result():
    for raw in ("212 555 0123", "907 555 0123", "808 555 0123", "800 555 0123", "+44 20 7946 0958"):
        info = analyze_phone(raw, "US")
        assert info.timezones == candidate_timezones(info.e164)


@pytest.mark.parametrize("raw", ["2125550123", "12125550123", "+12125550123", "(876) 606-1234", "1 246 521 0123"])
def test_the_shortcut_for_plain_north_american_numbers_builds_what_phonenumbers_parses(raw):
    national = phones._nanp_national_digits(raw)

    assert national is not None
    built = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
    assert built == phonenumbers.parse(raw, "US")


@pytest.mark.parametrize(
    "raw", ["+2125550123", "212555012", "0212 555 0123", "212 555 0123 x4", "１２１２５５５０１２３"]
)
def test_text_the_shortcut_cannot_read_safely_goes_to_the_full_parser(raw):
    assert phones._nanp_national_digits(raw) is None


def test_the_exchanges_whose_rules_look_past_six_digits_are_derived_from_the_metadata():
    exceptions = phones._nanp_prefix_exceptions()

    # None would silently switch the prefix cache off and make imports slow.
    assert exceptions is not None
    assert all(len(prefix) == 6 and prefix.isdigit() for prefix in exceptions)


def _reference(national: str) -> tuple[str, tuple[str, ...]] | None:
    """What plain phonenumbers says, one call at a time: the behaviour the caches must keep."""
    number = phonenumbers.parse(national, "US")
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) in (
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.PAGER,
        PhoneNumberType.VOICEMAIL,
    ):
        return None
    zones = tuple(z for z in time_zones_for_number(number) if z != "Etc/Unknown")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), zones


def _ours(national: str) -> tuple[str, tuple[str, ...]] | None:
    try:
        info = analyze_phone(national, "US")
    except PhoneError:
        return None
    return info.e164, info.timezones


# Caribbean and Canadian area codes, and the exchanges known to need a seventh digit.
_TRICKY_AREAS = ["246", "876", "416", "787", "809", "868", "441", "345", "684", "671", "900", "800", "500"]


@settings(max_examples=400, deadline=None)
@given(
    area=st.one_of(st.sampled_from(_TRICKY_AREAS), st.integers(200, 999).map(str)),
    exchange=st.one_of(st.sampled_from(["521", "522", "606", "555"]), st.integers(0, 999).map("{:03d}".format)),
    line=st.integers(0, 9999).map("{:04d}".format),
)
def test_the_prefix_cache_agrees_with_plain_phonenumbers_on_any_north_american_number(area, exchange, line):
    national = area + exchange + line

    first, again = _ours(national), _ours(national)

    assert first == again == _reference(national)


def test_numbers_sharing_an_exchange_with_different_seventh_digits_are_each_classified_exactly():
    for area, exchange in (("246", "521"), ("246", "522"), ("876", "606")):
        for digit in "0123456789":
            national = f"{area}{exchange}{digit}123"
            assert _ours(national) == _reference(national)


def test_a_bad_number_seen_many_times_raises_a_fresh_error_each_time():
    errors = []
    for _ in range(3):
        try:
            normalize_phone("n/a", "US")
        except PhoneError as error:
            errors.append(error)

    assert len({id(error) for error in errors}) == 3
    assert all(error.code == "not_a_number" for error in errors)
