"""Where the called party may be: candidate time zones and the jurisdictions they bring.

The law says "local time at the called party's location", and a phone number
does not reveal where the person is.  So the candidates are the union of what
every source says (shared/reference/compliance.md section 3.1):

* the number: phonenumbers' zones for the exchange (NPA-NXX) where it lists
  one, a reviewed override for some exchanges, and, in the 25 area codes that
  span zones, every zone of the area code when the exchange is not listed
  (the library would fall back to the area code's single entry: 423-600 gives
  Chicago only while most of 423 is Eastern);
* the contact's state or province, and its postal code (US ZIP prefix or
  Canadian first letter; a few ZIP codes that keep an informal zone bring both);
* any zone stated for the contact (``DialTarget.timezones``).

A call is allowed only when every rule passes in every candidate zone, so a
wrong extra candidate costs calling time, never compliance.  Numbers that say
nothing about a place (toll-free, personal and other non-geographic numbers,
mobiles of countries that give every zone) bring no zone of their own: with
no address they are unknown, which blocks, as the reference recommends for
"Etc/Unknown or more than 3 candidate zones".

The jurisdictions are the number's country and area-code state (FL and OK
presume an in-state area code reaches a resident; so does this module for
every state) and the address's country and state.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import NumberParseException
from phonenumbers.timezone import time_zones_for_number
from phonenumbers.tzdata import TIMEZONE_DATA

from compliance import rules as rule_data

__all__ = [
    "Resolution",
    "UnknownPlace",
    "country_of_number",
    "normalize_state",
    "resolve",
    "state_for_postal_code",
    "zones_of_number",
]

US_TERRITORIES = frozenset({"PR", "GU", "VI", "AS", "MP"})
NANP_POSTAL_REGIONS = frozenset({"US", "CA"}) | US_TERRITORIES  # where a postal code is a ZIP or a Canadian code
_MAX_COUNTRY_ZONES = 3  # more candidates than this from a number alone say "anywhere in the country"
_NPA_KEY_LENGTH = 4  # "1" + area code: an area-code-level entry of the zone table
_CACHE_MAX = 200_000

_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")
_CA_POSTAL = re.compile(r"^([A-Z])\d[A-Z] ?\d[A-Z]\d$")


class UnknownPlace(ValueError):
    """A state, province or postal code this module cannot place."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """The candidate zones and jurisdictions of one called party, with where each came from."""

    zones: tuple[str, ...]  # sorted IANA names; empty: unknown
    jurisdictions: tuple[str, ...]  # "US", "US-FL", "CA", "CA-ON", "GB", ...
    sources: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (what said it, the zones it gave)
    notes: tuple[str, ...] = ()
    zoneinfos: tuple[ZoneInfo, ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.zones)


@dataclass(frozen=True, slots=True)
class _NumberPlace:
    region: str | None
    zones: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    source: str
    note: str | None = None
    country_zones: frozenset[str] = frozenset()  # the whole-country list a non-geographic number gives


@functools.cache
def _zone_data() -> dict[str, Any]:
    data: dict[str, Any] = rule_data.load("zones.json")
    zip3 = sorted((int(lo), int(hi), st) for lo, hi, st in data["us_zip3"])
    data["_zip3_lows"] = [lo for lo, _, _ in zip3]
    data["_zip3"] = zip3
    return data


def _country_jurisdictions(region: str | None, subdivisions: tuple[str, ...] = ()) -> tuple[str, ...]:
    if region is None:
        return ()
    if region in US_TERRITORIES:
        return ("US", f"US-{region}")
    return (region, *subdivisions)


@functools.lru_cache(maxsize=4096)
def _nanp_place(npanxx: str) -> _NumberPlace:
    """What a North American area code + exchange says; cached per exchange (all digits after it agree)."""
    data = _zone_data()
    npa = npanxx[:3]
    area = data["area_codes"].get(npa)
    if area is None:
        return _NumberPlace(None, (), (), "number", f"area code {npa} is not in the numbering plan")
    region = area["region"]
    subdivisions = tuple(area["subdivisions"])
    jurisdictions = _country_jurisdictions(region, subdivisions)
    if region in ("US", "CA") and not subdivisions:
        everywhere = frozenset(time_zones_for_number(phonenumbers.parse(f"+1{npanxx}0000"))) - {"Etc/Unknown"}
        return _NumberPlace(
            region, (), jurisdictions, "number",
            f"+1 {npa} numbers (toll-free or non-geographic) say nothing about where they ring",
            everywhere,
        )
    override = data["exchange_overrides"]["zones"].get(npanxx)
    if override:
        return _NumberPlace(region, tuple(sorted(override)), jurisdictions, f"exchange {npa}-{npanxx[3:]} (override)")
    key, zones = _longest_prefix("1" + npanxx)
    split = data["split_area_codes"]["zones"].get(npa)
    if split and (key is None or len(key) <= _NPA_KEY_LENGTH):
        return _NumberPlace(
            region, tuple(sorted(split)), jurisdictions, f"area code {npa} (split)",
            f"exchange {npa}-{npanxx[3:]} is not listed in split area code {npa}: every zone of the area code",
        )
    if not zones:
        return _NumberPlace(region, (), jurisdictions, "number", f"no time zone is known for {npa}-{npanxx[3:]}")
    source = f"exchange {npa}-{npanxx[3:]}" if key and len(key) > _NPA_KEY_LENGTH else f"area code {npa}"
    return _NumberPlace(region, zones, jurisdictions, source)


def _longest_prefix(digits: str) -> tuple[str | None, tuple[str, ...]]:
    for length in range(len(digits), 0, -1):
        value = TIMEZONE_DATA.get(digits[:length])
        if value is not None:
            names = value.split("&") if isinstance(value, str) else value
            return digits[:length], tuple(sorted(z for z in names if z != "Etc/Unknown"))
    return None, ()


@functools.lru_cache(maxsize=65536)
def _other_place(e164: str) -> _NumberPlace:
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return _NumberPlace(None, (), (), "number", f"{e164} is not a phone number")
    region = phonenumbers.region_code_for_number(number)
    if region is None or phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.UNKNOWN:
        return _NumberPlace(region, (), _country_jurisdictions(region), "number", f"{e164} is not a valid number")
    zones = tuple(sorted(z for z in time_zones_for_number(number) if z != "Etc/Unknown"))
    if len(zones) > _MAX_COUNTRY_ZONES:
        return _NumberPlace(
            region, (), _country_jurisdictions(region), "number",
            f"{e164} may ring anywhere in {region} ({len(zones)} zones)", frozenset(zones),
        )
    return _NumberPlace(region, zones, _country_jurisdictions(region), "number")


def _number_place(e164: str) -> _NumberPlace:
    if e164.startswith("+1") and len(e164) == 12 and e164[1:].isdigit():
        return _nanp_place(e164[2:8])
    return _other_place(e164)


def country_of_number(e164: str) -> str | None:
    """The region code (US, CA, GB, PR...) of the number, or None when it has none."""
    return _number_place(e164).region


def zones_of_number(e164: str) -> tuple[str, ...]:
    """The candidate zones the number alone gives (empty: it says nothing or is not valid)."""
    return _number_place(e164).zones


def normalize_state(state: str, country: str | None = None) -> str:
    """The jurisdiction key ("US-FL") of a state or province code, read in ``country`` first.

    "NT" is the Northwest Territories for a Canadian number and the Northern
    Territory for an Australian one; without a country, US then Canada then
    Australia is tried.  UnknownPlace when nothing matches.
    """
    code = state.strip().upper()
    subdivisions = _zone_data()["subdivision_zones"]
    if code in subdivisions:
        return code
    order = ["US", "CA", "AU"]
    if country in US_TERRITORIES:
        country = "US"
    if country in order:
        order.remove(country)
        order.insert(0, country)
    for prefix in order:
        if f"{prefix}-{code}" in subdivisions:
            return f"{prefix}-{code}"
    raise UnknownPlace(f"unknown state or province {state!r}")


def state_for_postal_code(postal_code: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The subdivisions ("US-FL") and extra zones a US ZIP or Canadian postal code points to.

    UnknownPlace when the code is neither, or a ZIP prefix no state uses.
    """
    data = _zone_data()
    code = postal_code.strip().upper()
    if match := _ZIP.match(code):
        zip5 = match.group(1)
        extra = tuple(data["zip_zone_overrides"]["zones"].get(zip5, ()))
        special = data["us_zip5"].get(zip5)
        if special:
            return (f"US-{special}",), extra
        prefix = int(zip5[:3])
        i = bisect_right(data["_zip3_lows"], prefix) - 1
        if i >= 0:
            lo, hi, st = data["_zip3"][i]
            if lo <= prefix <= hi:
                return (f"US-{st}",), extra
        raise UnknownPlace(f"ZIP code {postal_code!r} is in no state")
    if match := _CA_POSTAL.match(code):
        provinces = data["ca_postal_first_letter"].get(match.group(1))
        if provinces:
            return tuple(f"CA-{p}" for p in provinces), ()
    raise UnknownPlace(f"postal code {postal_code!r} is neither a US ZIP code nor a Canadian postal code")


_cache: dict[tuple[str, str | None, str | None, tuple[str, ...]], Resolution] = {}


def resolve(
    e164: str,
    state: str | None = None,
    postal_code: str | None = None,
    stated: tuple[str, ...] = (),
) -> Resolution:
    """Every candidate zone and jurisdiction of the called party; cached, so cheap to call per dial.

    An unreadable state or postal code is noted and left out; an unreadable
    stated zone makes the whole set unknown (it might be the one where it is
    seven in the morning).
    """
    if type(stated) is not tuple:
        stated = tuple(stated)  # a list from a database column still resolves (and hashes)
    number_key = e164[:8] if e164.startswith("+1") and len(e164) == 12 else e164
    key = (number_key, state, postal_code, stated)
    found = _cache.get(key)
    if found is None:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        found = _cache[key] = _resolve(e164, state, postal_code, stated)
    return found


def _resolve(e164: str, state: str | None, postal_code: str | None, stated: tuple[str, ...]) -> Resolution:
    data = _zone_data()
    place = _number_place(e164)
    zones: set[str] = set(place.zones)
    jurisdictions: list[str] = list(place.jurisdictions)
    sources: list[tuple[str, tuple[str, ...]]] = []
    notes: list[str] = [place.note] if place.note else []
    if place.zones:
        sources.append((place.source, place.zones))

    def add_subdivision(key: str, what: str, extra: tuple[str, ...] = ()) -> None:
        found = tuple(sorted({*data["subdivision_zones"][key], *extra}))
        zones.update(found)
        sources.append((what, found))
        jurisdictions.extend((key.split("-")[0], key))

    if state and state.strip():
        try:
            add_subdivision(normalize_state(state, place.region), f"state {state.strip().upper()}")
        except UnknownPlace as exc:
            notes.append(f"{exc}: left out")
    if postal_code and postal_code.strip() and place.region not in (None, *NANP_POSTAL_REGIONS):
        notes.append(f"postal codes of {place.region} are not mapped: {postal_code.strip()!r} left out")
    elif postal_code and postal_code.strip():
        try:
            subdivisions, extra = state_for_postal_code(postal_code)
            for key in subdivisions:
                add_subdivision(key, f"postal code {postal_code.strip().upper()}", extra)
        except UnknownPlace as exc:
            notes.append(f"{exc}: left out")
    if stated:
        if place.country_zones and set(stated) == place.country_zones:
            notes.append("the stated zones are the whole country's list the number gives: no location")
        elif not all(_readable(name) for name in stated):
            bad = [name for name in stated if not _readable(name)]
            notes.append(f"stated zone {bad[0]!r} is not a time zone: the candidates are unknown")
            return Resolution((), _unique(jurisdictions), tuple(sources), tuple(notes))
        else:
            zones.update(stated)
            sources.append(("stated", tuple(sorted(stated))))
    if not zones:
        notes.append("no candidate time zone: add the contact's state, postal code or time zone")
    ordered = tuple(sorted(zones))
    return Resolution(
        ordered, _unique(jurisdictions), tuple(sources), tuple(notes), tuple(ZoneInfo(z) for z in ordered)
    )


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@functools.lru_cache(maxsize=1024)
def _readable(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "America"
        return False
    return True
