"""Phone numbers as the dialer stores them: E.164 plus the time zones they may ring in.

Contact lists arrive in every format people type ("(212) 555-0100",
"1-212-555-0100", "+1 212 555 0100"), so normalisation must be exact (it is
the key for deduplication and do-not-call matching) and fast (a list has a
million rows, and phonenumbers parses about 40,000 numbers a second).

Speed comes from:

* one parse per number: ``analyze_phone`` derives the E.164 text, the number
  type and the candidate time zones from the same parsed object, where calling
  ``is_valid_number`` and ``time_zones_for_number`` separately would classify
  the number twice;
* a shortcut for plain North American numbers: when the text is ten digits (or
  eleven with the leading 1) separated only by punctuation, the parsed object
  is built directly instead of running the general parser.  It is the very
  object ``phonenumbers.parse`` returns for such input (a test compares
  them), so validation stays phonenumbers' own;
* for North American numbers, a table indexed by the first six national digits
  (area code and exchange).  Validity, type and time zones depend only on
  those six digits for all but a handful of exchanges; which ones is not
  assumed but derived from phonenumbers' own metadata on first use
  (``_nanp_prefix_exceptions``), so a new metadata release cannot make the
  cache wrong: exchanges whose patterns look further get the full treatment;
* other numbers are cached by their text, so repeated numbers cost a lookup.

Errors carry a short ``code`` meant for machines (reject files, counters) and a
message meant for people.  Error codes:

``empty``                 nothing but spaces or punctuation
``not_a_number``          letters or symbols that cannot be a phone number
``invalid_country_code``  "+" followed by no known country code, or no region to read it in
``too_short``             fewer digits than any number of the region
``too_long``              more digits than any number of the region
``invalid_length``        a length no number of that country has
``local_only``            a local number without its area code
``invalid_number``        the right length but not in the numbering plan
``not_dialable``          a premium-rate, pager or voicemail-access number
``unknown_region``        the default region is not a known region code
"""

from __future__ import annotations

import functools
import re._constants as sre_constants
import re._parser as sre_parse
from array import array
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata, PhoneNumberDesc
from phonenumbers.phonenumberutil import ValidationResult, is_number_type_geographical
from phonenumbers.timezone import time_zones_for_geographical_number, time_zones_for_number

__all__ = [
    "NOT_DIALABLE_TYPES",
    "PhoneError",
    "PhoneInfo",
    "analyze_phone",
    "candidate_timezones",
    "is_known_region",
    "normalize_phone",
]

_UNKNOWN_TZ = "Etc/Unknown"

#: Number types an outbound campaign must never dial: premium-rate numbers
#: charge the caller, pagers cannot take a voice call, and voicemail-access
#: numbers reach a mailbox system rather than a person.
NOT_DIALABLE_TYPES = frozenset({PhoneNumberType.PREMIUM_RATE, PhoneNumberType.PAGER, PhoneNumberType.VOICEMAIL})

_TYPE_NAMES = {
    value: name.lower()
    for name, value in vars(PhoneNumberType).items()
    if not name.startswith("_") and isinstance(value, int)
}

_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ()))
_NANP_REGIONS_ANY_CASE = _NANP_REGIONS | {region.lower() for region in _NANP_REGIONS}

# Separators people put between digits; removing them leaves the digits the
# fast path needs.  Anything else (letters, "ext", "#") goes to the full parser.
_SEPARATORS = str.maketrans("", "", " ()-./\t\u00a0")

_CACHE_SIZE = 1 << 16


class PhoneError(ValueError):
    """A number that cannot be dialed, with a machine-readable ``code``.

    It subclasses ValueError so callers that only care "was the input bad?"
    can catch the builtin.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[PhoneError], tuple[str, str]]:
        # Keeps the code when errors cross process boundaries (RQ jobs pickle them).
        return (PhoneError, (self.code, self.message))


class PhoneInfo(NamedTuple):
    """Everything the importer stores about a phone, from one parse."""

    e164: str
    timezones: tuple[str, ...]
    number_type: str  # "fixed_line_or_mobile", "toll_free", ...


def is_known_region(region: str) -> bool:
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def normalize_phone(raw: str, region: str | None) -> str:
    """The E.164 form of ``raw`` read in ``region``, or PhoneError saying why not.

    Extensions ("x12") are dropped: E.164 has none and the dialer cannot key them.
    """
    return analyze_phone(raw, region).e164


def analyze_phone(raw: str, region: str | None) -> PhoneInfo:
    """E.164, candidate time zones and type of ``raw``; PhoneError when not dialable."""
    national = _nanp_national_digits(raw) if region in _NANP_REGIONS_ANY_CASE else None
    if national is not None:
        result = _analyze_nanp(national)
    else:
        result = _analyze_general(raw.strip(), region.upper() if region else None)
    if isinstance(result, PhoneError):
        # A fresh error each time: re-raising the cached one would grow its traceback forever.
        raise PhoneError(result.code, result.message)
    return result


def _nanp_national_digits(raw: str) -> str | None:
    """The ten national digits of a plainly written North American number, else None.

    Only forms whose parse is unambiguous are taken: ten digits starting 2-9,
    or eleven starting with the trunk/country code 1, optionally after "+".
    A "+" before ten digits means another country code, so it is left to the parser.
    """
    text = raw.strip()
    plus = text.startswith("+")
    digits = (text[1:] if plus else text).translate(_SEPARATORS)
    if not (digits.isascii() and digits.isdigit()):
        return None
    n = len(digits)
    if n == 10 and not plus and digits[0] in "23456789":
        return digits
    if n == 11 and digits[0] == "1" and digits[1] in "23456789":
        return digits[1:]
    return None


# Classification of each six-digit North American prefix (area code + exchange),
# as an index into _classes: 2 MB for all million prefixes, filled as numbers come.
_UNSEEN, _INVALID, _EXCEPTION = 0, 1, 2
_classes: list[tuple[str, tuple[str, ...]]] = [("", ()), ("", ()), ("", ())]
_class_ids: dict[tuple[str, tuple[str, ...]], int] = {}
_prefix_table: array[int] | None = None


def _analyze_nanp(national: str) -> PhoneInfo | PhoneError:
    table = _prefix_table if _prefix_table is not None else _make_prefix_table()
    prefix = int(national[:6])
    known = table[prefix] if table is not None else _EXCEPTION
    if known > _EXCEPTION:
        ntype, zones = _classes[known]
        return PhoneInfo("+1" + national, zones, ntype)
    result = _classify(PhoneNumber(country_code=1, national_number=int(national)), "+1" + national)
    if known == _UNSEEN and table is not None:
        if isinstance(result, PhoneInfo):
            key = (result.number_type, result.timezones)
            class_id = _class_ids.get(key)
            if class_id is None and len(_classes) < 0xFFFF:
                class_id = _class_ids[key] = len(_classes)
                _classes.append(key)
            if class_id is not None:
                table[prefix] = class_id
        else:  # invalid prefixes still get the full check, for the exact reason
            table[prefix] = _INVALID
    return result


def _make_prefix_table() -> array[int] | None:
    global _prefix_table
    exceptions = _nanp_prefix_exceptions()
    if exceptions is None:
        return None
    table = array("H", bytes(2 * 10**_PREFIX_LENGTH))
    for prefix in exceptions:
        table[int(prefix)] = _EXCEPTION
    _prefix_table = table
    return table


_DIGITS = frozenset("0123456789")
_NANP_LENGTH = 10
_PREFIX_LENGTH = 6


@functools.cache
def _nanp_prefix_exceptions() -> frozenset[str] | None:
    """The area code + exchange prefixes whose classification looks past six digits.

    Every pattern phonenumbers applies to a ten-digit North American number
    (each region's number-type patterns and leading digits) is expanded into
    its sequences of digit sets.  A sequence whose digits 7 to 10 are all "any
    digit" decides on the first six; the six-digit prefixes of the other
    sequences are returned, and the time-zone table's longer keys are added.
    None (no prefix caching at all) when a pattern uses syntax this expansion
    does not know.
    """
    try:
        exceptions: set[str] = set()
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ()):
            metadata = PhoneMetadata.metadata_for_region(region)
            if metadata is None:
                return None
            patterns = [
                (desc.national_number_pattern, True)
                for desc in vars(metadata).values()
                if isinstance(desc, PhoneNumberDesc) and desc.national_number_pattern
            ]
            if metadata.leading_digits:
                patterns.append((metadata.leading_digits, False))
            for pattern, whole in patterns:
                for seq in _expand(sre_parse.parse(pattern)):
                    if whole and len(seq) != _NANP_LENGTH:
                        continue  # a full match needs all ten digits
                    if any(digits != _DIGITS for digits in seq[_PREFIX_LENGTH:]):
                        exceptions.update(_prefixes(seq[:_PREFIX_LENGTH]))
        from phonenumbers.tzdata import TIMEZONE_DATA

        for key in TIMEZONE_DATA:
            if key.startswith("1") and len(key) > 1 + _PREFIX_LENGTH:
                exceptions.add(key[1 : 1 + _PREFIX_LENGTH])
        return frozenset(exceptions)
    except (ValueError, TypeError, AttributeError, ImportError, OverflowError):
        return None


_Seq = tuple[frozenset[str], ...]


def _expand(items: Any) -> set[_Seq]:
    """Every sequence of digit sets (at most ten long) the parsed pattern ``items`` matches."""
    result: set[_Seq] = {()}
    for op, arg in items:
        part = _expand_op(op, arg)
        result = {a + b for a in result for b in part if len(a) + len(b) <= _NANP_LENGTH}
        if not result:
            break
        if len(result) > 200_000:
            raise OverflowError("pattern too large to expand")
    return result


def _expand_op(op: Any, arg: Any) -> set[_Seq]:
    c = sre_constants
    if op is c.LITERAL:
        return {(frozenset(chr(arg)) & _DIGITS,)}
    if op is c.IN:
        return {(_digit_set(arg),)}
    if op is c.SUBPATTERN:
        return _expand(arg[-1])
    if op is c.BRANCH:
        out: set[_Seq] = set()
        for branch in arg[1]:
            out |= _expand(branch)
        return out
    if op is c.MAX_REPEAT or op is c.MIN_REPEAT:
        low, high, sub = arg
        unit = _expand(sub)
        out = set()
        current: set[_Seq] = {()}
        for n in range(min(high, _NANP_LENGTH) + 1):
            if n >= low:
                out |= current
            current = {a + b for a in current for b in unit if len(a) + len(b) <= _NANP_LENGTH}
            if not current:
                break
        return out
    raise ValueError(f"unsupported pattern element {op}")


def _digit_set(items: Any) -> frozenset[str]:
    c = sre_constants
    negate, chars = False, set()
    for op, arg in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            chars.add(chr(arg))
        elif op is c.RANGE:
            chars.update(chr(code) for code in range(arg[0], arg[1] + 1))
        elif op is c.CATEGORY and arg is c.CATEGORY_DIGIT:
            chars.update(_DIGITS)
        else:
            raise ValueError(f"unsupported set element {op}")
    digits = frozenset(chars) & _DIGITS
    return _DIGITS - digits if negate else digits


def _prefixes(seq: _Seq) -> set[str]:
    out = {""}
    for digits in seq:
        out = {p + d for p in out for d in digits}
        if len(out) > 100_000:
            raise OverflowError("too many exceptional prefixes")
    return out


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _analyze_general(text: str, region: str | None) -> PhoneInfo | PhoneError:
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        return PhoneError("unknown_region", f"unknown region code {region!r}")
    if not text or not any(ch.isalnum() for ch in text):
        return PhoneError("empty", "no phone number given")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return _parse_error(exc, text, region)
    return _classify(number, text)


def _parse_error(exc: NumberParseException, text: str, region: str | None) -> PhoneError:
    kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if region is None and not text.startswith("+"):
            return PhoneError("invalid_country_code", f"{text!r} has no country code and no default region was given")
        return PhoneError("invalid_country_code", f"{text!r} starts with an unknown country code")
    if kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        return PhoneError("too_short", f"{text!r} has too few digits")
    if kind == NumberParseException.TOO_LONG:
        return PhoneError("too_long", f"{text[:40]!r} has too many digits")
    return PhoneError("not_a_number", f"{text[:40]!r} is not a phone number")


def _classify(number: PhoneNumber, shown: str) -> PhoneInfo | PhoneError:
    ntype = phonenumbers.number_type(number)
    if ntype == PhoneNumberType.UNKNOWN:
        return _invalid(number, shown)
    if ntype in NOT_DIALABLE_TYPES:
        return PhoneError(
            "not_dialable",
            f"{shown!r} is a {_TYPE_NAMES.get(ntype, 'special')} number; it must not be dialed",
        )
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if is_number_type_geographical(ntype, number.country_code or 0):
        zones = time_zones_for_geographical_number(number)
    else:
        zones = time_zones_for_number(number)
    return PhoneInfo(e164, _known_zones(zones), _TYPE_NAMES.get(ntype, "unknown"))


def _invalid(number: PhoneNumber, shown: str) -> PhoneError:
    reason = phonenumbers.is_possible_number_with_reason(number)
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    if reason == ValidationResult.TOO_SHORT:
        return PhoneError("too_short", f"{shown!r} has too few digits for a {region} number")
    if reason == ValidationResult.TOO_LONG:
        return PhoneError("too_long", f"{shown!r} has too many digits for a {region} number")
    if reason == ValidationResult.INVALID_LENGTH:
        return PhoneError("invalid_length", f"{shown!r} has a length no {region} number has")
    if reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return PhoneError("local_only", f"{shown!r} is a local number; add its area code")
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        return PhoneError("invalid_country_code", f"{shown!r} starts with an unknown country code")
    return PhoneError("invalid_number", f"{shown!r} is not a valid {region} number")


def _known_zones(zones: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(z for z in zones if z != _UNKNOWN_TZ)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def candidate_timezones(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number may ring in; empty when phonenumbers cannot tell.

    Toll-free and other non-geographic numbers return every zone of their
    country, which is what the calling-hours rule needs: call only when all of
    them are inside the window.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return ()
    return _known_zones(time_zones_for_number(number))
