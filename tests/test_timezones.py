"""Where the called party may be: candidate zones and jurisdictions (shared/reference/compliance.md 3.1-3.2).

Every extra candidate zone only costs calling time, while a missing one can
put a call outside the law's hours, so these tests pin the places where the
phone library alone would give too few zones.
"""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers.timezone import time_zones_for_number
from phonenumbers.tzdata import TIMEZONE_DATA

from compliance import rules as rule_data
from compliance.timezones import (
    UnknownPlace,
    country_of_number,
    normalize_state,
    resolve,
    state_for_postal_code,
    zones_of_number,
)

NY, CHI, DEN, PHX, LA = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles"
)
REFERENCE_SPLIT_NPAS = {
    "208", "219", "250", "270", "308", "418", "423", "541", "574", "605", "606", "620", "701", "709", "775",
    "785", "807", "812", "850", "867", "879", "906", "907", "928", "986",
}


def test_the_override_table_lists_exactly_the_25_split_area_codes_of_the_reference() -> None:
    table = rule_data.load("zones.json")["split_area_codes"]["zones"]
    assert set(table) == REFERENCE_SPLIT_NPAS
    assert all(len(zones) > 1 for zones in table.values())


def test_every_split_area_code_holds_every_zone_the_phone_library_gives_any_of_its_exchanges() -> None:
    # the reviewed table must not lose a zone the library knows: that would drop a candidate
    table = rule_data.load("zones.json")["split_area_codes"]["zones"]
    for key, value in TIMEZONE_DATA.items():
        if key.startswith("1") and key[1:4] in table:
            names = value.split("&") if isinstance(value, str) else value
            assert set(names) <= set(table[key[1:4]]), key


@pytest.mark.parametrize(
    ("phone", "zones"),
    [
        pytest.param("+18504345555", (CHI,), id="850-434 Chicago (reference 3.2 spot check)"),
        pytest.param("+12707815555", (CHI,), id="270-781 Chicago (reference 3.2 spot check)"),
        pytest.param("+15418895555", (DEN,), id="541-889 Denver (reference 3.2 spot check, override)"),
        pytest.param("+19155550100", (DEN,), id="915 Denver (reference 3.2 spot check)"),
        pytest.param("+12125550100", (NY,), id="212 New York"),
        pytest.param("+16712345678", ("Pacific/Guam",), id="671 Guam"),
        pytest.param("+442079460000", ("Europe/London",), id="UK London landline"),
        pytest.param("+33142868200", ("Europe/Paris",), id="France Paris landline"),
        pytest.param("+61291234567", ("Australia/Sydney",), id="Australia Sydney landline"),
    ],
)
def test_a_listed_exchange_gets_its_own_zones(phone: str, zones: tuple[str, ...]) -> None:
    assert resolve(phone).zones == zones
    assert zones_of_number(phone) == zones


@pytest.mark.parametrize(
    ("phone", "zones"),
    [
        pytest.param("+14236005555", (CHI, NY), id="423-600 unlisted: Chicago and New York, not Chicago only"),
        pytest.param("+19283335555", (DEN, PHX), id="928-333 unlisted: Phoenix and Navajo Denver"),
        pytest.param("+16055551234", (CHI, DEN, "America/North_Dakota/Center"), id="605-555 unlisted"),
    ],
)
def test_an_unlisted_exchange_of_a_split_area_code_gets_every_zone_of_the_area_code(
    phone: str, zones: tuple[str, ...]
) -> None:
    result = resolve(phone)
    assert result.zones == zones
    assert any("not listed in split area code" in note for note in result.notes)


def test_the_phone_library_alone_would_give_423_600_a_single_zone() -> None:
    # the reason for the union above; if the library learns the exchange this test says so
    assert TIMEZONE_DATA.get("1423600") is None
    assert TIMEZONE_DATA["1423"] == ("America/Chicago",) or TIMEZONE_DATA["1423"] == "America/Chicago"


@pytest.mark.parametrize("phone", ["+18005550100", "+18885550100", "+15005550100"])
def test_a_toll_free_or_non_geographic_number_alone_has_no_zone_and_says_why(phone: str) -> None:
    result = resolve(phone)
    assert result.zones == ()
    assert not result.known
    assert result.jurisdictions == ("US",)
    assert any("say nothing about where they ring" in note for note in result.notes)


def test_a_toll_free_number_takes_the_zones_of_the_contacts_state() -> None:
    result = resolve("+18005550100", state="AZ")
    assert result.zones == (DEN, PHX)
    assert result.jurisdictions == ("US", "US-AZ")


def test_the_whole_country_list_an_importer_stored_for_a_toll_free_number_is_not_a_location() -> None:
    everywhere = tuple(sorted(time_zones_for_number(phonenumbers.parse("+18005550100"))))
    assert len(everywhere) > 3
    result = resolve("+18005550100", stated=everywhere)
    assert result.zones == ()
    assert any("whole country's list" in note for note in result.notes)


def test_a_mobile_of_a_country_with_many_zones_is_unknown_without_an_address() -> None:
    result = resolve("+61412345678")
    assert result.zones == ()
    assert "AU" in result.jurisdictions
    assert resolve("+61412345678", state="WA").zones == ("Australia/Eucla", "Australia/Perth")


def test_the_candidates_are_the_union_of_the_number_the_state_the_postal_code_and_the_stated_zone() -> None:
    result = resolve("+12125550100", state="CA", postal_code="32501", stated=("America/Anchorage",))
    assert result.zones == ("America/Anchorage", CHI, LA, NY)
    assert result.jurisdictions == ("US", "US-NY", "US-CA", "US-FL")
    assert [source for source, _ in result.sources] == ["area code 212", "state CA", "postal code 32501", "stated"]


def test_an_area_code_brings_its_states_rules_whatever_the_address_says() -> None:
    # FL and OK presume an in-state area code reaches a resident (reference section 3.1)
    assert "US-FL" in resolve("+13055550100", state="NY").jurisdictions
    assert "US-OK" in resolve("+14055550100", postal_code="10001").jurisdictions


def test_an_unreadable_stated_zone_makes_the_whole_set_unknown() -> None:
    result = resolve("+12125550100", stated=("Mars/Olympus",))
    assert result.zones == ()
    assert any("Mars/Olympus" in note for note in result.notes)


def test_an_unknown_state_or_postal_code_is_noted_and_left_out() -> None:
    result = resolve("+12125550100", state="ZZ", postal_code="ABCDE")
    assert result.zones == (NY,)
    assert len(result.notes) == 2


def test_a_french_postal_code_is_not_read_as_a_us_zip_code() -> None:
    result = resolve("+33142868200", postal_code="75001")
    assert result.jurisdictions == ("FR",)
    assert result.zones == ("Europe/Paris",)


@pytest.mark.parametrize(
    ("postal", "subdivisions", "extra"),
    [
        ("10001", ("US-NY",), ()),
        ("32501-1234", ("US-FL",), ()),
        ("00901", ("US-PR",), ()),
        ("96799", ("US-AS",), ()),
        ("36854", ("US-AL",), (CHI, NY)),  # Valley, AL: official Central, informal Eastern (Vinson, D. Mass. 2012)
        ("m5v 3l9", ("CA-ON",), ()),
        ("X0A 0H0", ("CA-NT", "CA-NU"), ()),
    ],
)
def test_a_postal_code_points_to_its_state_or_province(postal: str, subdivisions: tuple[str, ...],
                                                        extra: tuple[str, ...]) -> None:
    assert state_for_postal_code(postal) == (subdivisions, extra)


@pytest.mark.parametrize("postal", ["", "1234", "00000", "SW1A 1AA", "D1A 1A1"])
def test_a_postal_code_that_is_no_us_zip_or_canadian_code_is_refused(postal: str) -> None:
    with pytest.raises(UnknownPlace):
        state_for_postal_code(postal)


def test_a_state_code_is_read_in_the_numbers_country_first() -> None:
    assert normalize_state("NT", "CA") == "CA-NT"
    assert normalize_state("NT", "AU") == "AU-NT"
    assert normalize_state("wa", "AU") == "AU-WA"
    assert normalize_state("WA", "US") == "US-WA"
    assert normalize_state("PR", "PR") == "US-PR"
    assert normalize_state("US-FL") == "US-FL"
    with pytest.raises(UnknownPlace):
        normalize_state("XX", "US")


def test_the_country_of_a_number_is_its_region() -> None:
    assert country_of_number("+14165550100") == "CA"
    assert country_of_number("+17875550100") == "PR"
    assert country_of_number("+442079460000") == "GB"
    assert country_of_number("+1") is None


def test_every_zone_of_the_data_is_a_zone_zoneinfo_knows() -> None:
    data = rule_data.load("zones.json")
    names = {z for zones in data["subdivision_zones"].values() for z in zones}
    names |= {z for zones in data["split_area_codes"]["zones"].values() for z in zones}
    for zones in data["exchange_overrides"]["zones"].values():
        names |= set(zones)
    for name in names:
        assert resolve("+12125550100", stated=(name,)).known, name


def test_resolution_is_cached_per_exchange_and_place() -> None:
    first = resolve("+12125550100", state="NY")
    assert resolve("+12125559999", state="NY") is first
    assert resolve("+12125550100", state="NJ") is not first
