"""Reading what a caller sent: JSON bodies, query strings and ids, each checked before any service sees it.

A wrong type, an unknown field, text the database cannot store (NUL bytes,
unpaired surrogates) or an id too large for a 64-bit column is refused here
with a message and the field's name, so no such input ever reaches SQL and
turns into a server error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask import request

from web.api.errors import ApiError

#: The largest id any table can hold: ids are 32-bit integer columns on PostgreSQL.
MAX_ID = 2**31 - 1
MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_OFFSET = 10_000_000


def json_object(*, required: Iterable[str] = (), optional: Iterable[str] = ()) -> dict[str, Any]:
    """The request's JSON object, holding every ``required`` field and nothing but the known ones."""
    if not request.is_json:
        raise ApiError("body", "send a JSON object with Content-Type: application/json", 415)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError("body", "the body must be a JSON object")
    required = tuple(required)
    known = (*required, *optional)
    for key in data:
        if key not in known:
            raise ApiError(key, f"is not a field of this request (known: {', '.join(known) or 'none'})")
    for key in required:
        if key not in data:
            raise ApiError(key, "is required")
    for key, value in data.items():
        _check_storable(key, value)
    return data


def _check_storable(field: str, value: Any) -> None:
    if isinstance(value, str):
        check_text_storable(field, value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ApiError(field, "must be a finite number")
    elif isinstance(value, list):
        for item in value:
            _check_storable(field, item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text_storable(field, key)
            _check_storable(field, item)


def check_text_storable(field: str, value: str) -> None:
    if "\x00" in value:
        raise ApiError(field, "must not hold NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(field, "holds characters that are not valid Unicode (an unpaired surrogate)") from None


def text(data: Mapping[str, Any], field: str, *, max_length: int, required: bool = False) -> str:
    """A text field, stripped; refused when it is not a string or is longer than the column."""
    value = data.get(field)
    if not isinstance(value, str):
        raise ApiError(field, f"must be text, not {_kind(value)}")
    value = value.strip()
    if required and not value:
        raise ApiError(field, "must not be empty")
    if len(value) > max_length:
        raise ApiError(field, f"must be at most {max_length} characters, not {len(value)}")
    return value


def integer(data: Mapping[str, Any], field: str, *, low: int, high: int) -> int:
    value = data.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(field, f"must be a whole number, not {_kind(value)}")
    if not low <= value <= high:
        raise ApiError(field, f"must be from {low} to {high}, not {value}")
    return value


def optional_id(data: Mapping[str, Any], field: str) -> int | None:
    """An id that may be null."""
    if data.get(field) is None:
        return None
    return integer(data, field, low=1, high=MAX_ID)


def boolean(data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field)
    if not isinstance(value, bool):
        raise ApiError(field, f"must be true or false, not {_kind(value)}")
    return value


def timezone_name(field: str, value: Any) -> str:
    """An IANA zone name such as America/Chicago."""
    if not isinstance(value, str) or value.strip() not in _zones():
        shown = value if isinstance(value, str) else _kind(value)
        raise ApiError(field, f"must be a time zone name such as America/Chicago, not {shown!r}")
    return value.strip()


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


# -- query strings ------------------------------------------------------------------------------


def query_text(name: str, *, max_length: int = 200) -> str | None:
    value = request.args.get(name)
    if value is None or not value.strip():
        return None
    check_text_storable(name, value)
    if len(value) > max_length:
        raise ApiError(name, f"must be at most {max_length} characters")
    return value.strip()


def query_int(name: str, *, low: int = 1, high: int = MAX_ID) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not (value.isascii() and value.lstrip("-").isdigit()) or len(value) > 20:
        raise ApiError(name, f"must be a whole number, not {value[:40]!r}")
    number = int(value)
    if not low <= number <= high:
        raise ApiError(name, f"must be from {low} to {high}, not {number}")
    return number


def query_choice(name: str, options: Iterable[str]) -> str | None:
    value = query_text(name)
    options = tuple(options)
    if value is None:
        return None
    if value not in options:
        raise ApiError(name, f"must be one of {', '.join(options)}, not {value[:40]!r}")
    return value


def query_time(name: str) -> datetime | None:
    """An ISO 8601 moment; one without a zone is taken as UTC, a bare date as its midnight UTC."""
    value = query_text(name, max_length=40)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(name, f"must be an ISO 8601 time such as 2026-11-30T14:00:00Z, not {value!r}") from None
    if not 1 < moment.year < 9999:
        raise ApiError(name, f"must be a time between the years 2 and 9998, not {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def query_date(name: str) -> date | None:
    value = query_text(name, max_length=20)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ApiError(name, f"must be a date such as 2026-11-30, not {value!r}") from None
    if not 1 < day.year < 9999:
        raise ApiError(name, f"must be a date between the years 2 and 9998, not {value!r}")
    return day


def paging() -> tuple[int, int]:
    """``limit`` (1..500, default 50) and ``offset`` (from 0) of a listing."""
    limit = query_int("limit", low=1, high=MAX_PAGE) or DEFAULT_PAGE
    offset = query_int("offset", low=0, high=MAX_OFFSET) or 0
    return limit, offset

