"""Which of a campaign's contacts to dial: a filter a supervisor writes, compiled to SQL safely.

A filter is JSON, so a form or the API can build it and it can be stored on
the campaign::

    {"match": "all", "conditions": [
        {"field": "state", "op": "in", "value": ["NY", "NJ"]},
        {"field": "custom.plan", "op": "eq", "value": "gold"},
        {"field": "custom.age", "op": "ge", "value": 30}]}

Fields come from an allow-list (plus ``custom.<name>`` for the list's own
columns) and every value reaches the database as a bound parameter, never as
SQL text: a filter can only narrow what the hopper dials, never run anything.
Custom fields are read with the JSON path operators of each backend; a numeric
comparison treats a value that is not a number as not matching, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, func, literal, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from campaigns.models import Contact

MATCHES = ("all", "any")
OPS = ("eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "contains", "starts_with", "is_empty")
CUSTOM_PREFIX = "custom."
MAX_CONDITIONS = 50
MAX_LIST_VALUES = 1000
MAX_TEXT = 200

_TEXT_OPS = ("eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "contains", "starts_with", "is_empty")
_NUMBER_OPS = ("eq", "ne", "in", "not_in", "lt", "le", "gt", "ge", "is_empty")
_TIME_OPS = ("lt", "le", "gt", "ge", "is_empty")


@dataclass(frozen=True, slots=True)
class Field:
    """A column a filter may name, with the kind of value it compares to."""

    column: Any
    kind: str  # text | int | time
    label: str


FIELDS: dict[str, Field] = {
    "state": Field(Contact.state, "text", "State"),
    "postal_code": Field(Contact.postal_code, "text", "Postal code"),
    "timezone": Field(Contact.timezone, "text", "Time zone"),
    "list_id": Field(Contact.list_id, "int", "List"),
    "attempts": Field(Contact.attempts, "int", "Attempts"),
    "last_disposition": Field(Contact.last_disposition, "text", "Last disposition"),
    "priority": Field(Contact.priority, "int", "Priority"),
    "created_at": Field(Contact.created_at, "time", "Added"),
}
OPS_BY_KIND = {"text": _TEXT_OPS, "int": _NUMBER_OPS, "time": _TIME_OPS, "custom": _TEXT_OPS}


class FilterError(ValueError):
    """A filter was refused; ``index`` (0-based, None for the whole filter) and ``field`` say where."""

    def __init__(self, index: int | None, field: str | None, message: str) -> None:
        self.index = index
        self.field = field
        self.message = message
        where = "lead filter" if index is None else f"condition {index + 1}"
        if field:
            where += f" ({field})"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class LeadFilter:
    match: str
    conditions: tuple[Condition, ...]

    def to_json(self) -> dict[str, Any]:
        """The normalized form stored on the campaign (times as ISO 8601 in UTC)."""
        return {
            "match": self.match,
            "conditions": [
                {"field": c.field, "op": c.op, "value": _json_value(c.value)} for c in self.conditions
            ],
        }


def parse_filter(raw: Any) -> LeadFilter:
    """Check a filter as given (a dict, a bare list of conditions, or None/{} for none) and normalize it."""
    if raw is None or raw == {} or raw == []:
        return LeadFilter("all", ())
    if isinstance(raw, list):
        raw = {"match": "all", "conditions": raw}
    if not isinstance(raw, Mapping):
        raise FilterError(None, None, f"must be an object with match and conditions, not {type(raw).__name__}")
    unknown = set(raw) - {"match", "conditions"}
    if unknown:
        raise FilterError(None, None, f"unknown key {sorted(unknown)[0]!r}; use match and conditions")
    match = raw.get("match", "all")
    if match not in MATCHES:
        raise FilterError(None, None, f"match must be 'all' or 'any', not {match!r}")
    items = raw.get("conditions", [])
    if not isinstance(items, list):
        raise FilterError(None, None, "conditions must be a list")
    if len(items) > MAX_CONDITIONS:
        raise FilterError(None, None, f"at most {MAX_CONDITIONS} conditions, not {len(items)}")
    return LeadFilter(str(match), tuple(_condition(i, item) for i, item in enumerate(items)))


def compile_filter(raw: Any) -> ColumnElement[bool]:
    """The filter as a WHERE clause on ``contacts`` (true when there is no condition)."""
    spec = raw if isinstance(raw, LeadFilter) else parse_filter(raw)
    if not spec.conditions:
        return true()
    clauses = [_clause(c) for c in spec.conditions]
    return and_(*clauses) if spec.match == "all" else or_(*clauses)


# checking ---------------------------------------------------------------------------------------


def _condition(index: int, item: Any) -> Condition:
    if not isinstance(item, Mapping):
        raise FilterError(index, None, "must be an object with field, op and value")
    unknown = set(item) - {"field", "op", "value"}
    if unknown:
        raise FilterError(index, None, f"unknown key {sorted(unknown)[0]!r}; use field, op and value")
    name = item.get("field")
    if not isinstance(name, str) or not name:
        raise FilterError(index, None, "field is required")
    kind = _kind(index, name)
    op = item.get("op")
    if op not in OPS:
        raise FilterError(index, name, f"unknown op {op!r}; use one of {', '.join(OPS)}")
    if op not in OPS_BY_KIND[kind]:
        raise FilterError(index, name, f"op {op!r} does not apply to this field")
    if "value" not in item:
        raise FilterError(index, name, "value is required")
    return Condition(name, op, _value(index, name, kind, op, item["value"]))


def _kind(index: int, name: str) -> str:
    if name in FIELDS:
        return FIELDS[name].kind
    if name.startswith(CUSTOM_PREFIX):
        key = name[len(CUSTOM_PREFIX):]
        if not key or len(key) > 100 or any(ord(ch) < 32 for ch in key):
            raise FilterError(index, name, "a custom field needs a name of 1 to 100 printable characters")
        return "custom"
    allowed = ", ".join([*FIELDS, CUSTOM_PREFIX + "<name>"])
    raise FilterError(index, name, f"unknown field; use one of {allowed}")


def _value(index: int, name: str, kind: str, op: str, value: Any) -> Any:
    def fail(message: str) -> FilterError:
        return FilterError(index, name, message)

    if op == "is_empty":
        if not isinstance(value, bool):
            raise fail(f"is_empty takes true or false, not {value!r}")
        return value
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise fail(f"{op} takes a non-empty list of values")
        if len(value) > MAX_LIST_VALUES:
            raise fail(f"{op} takes at most {MAX_LIST_VALUES} values, not {len(value)}")
        items = [_scalar(fail, kind, op, v) for v in value]
        if kind == "custom" and len({isinstance(v, str) for v in items}) > 1:
            raise fail(f"{op} takes all text or all numbers, not a mix")
        return tuple(items)
    return _scalar(fail, kind, op, value)


def _scalar(fail: Callable[[str], FilterError], kind: str, op: str, value: Any) -> Any:
    if kind == "text" or op in ("contains", "starts_with"):
        if not isinstance(value, str):
            raise fail(f"{op} takes text, not {value!r}")
        if len(value) > MAX_TEXT:
            raise fail(f"a value has at most {MAX_TEXT} characters")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"{op} takes a whole number, not {value!r}")
        if abs(value) > 2**31 - 1:
            raise fail(f"{value} is out of range")
        return value
    if kind == "time":
        return _time(fail, value)
    # custom: text, or a number compared as a number
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(f"{op} takes text or a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(f"{value} is not a number a contact can have")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise fail(f"a value has at most {MAX_TEXT} characters")
    return value


def _time(fail: Callable[[str], FilterError], value: Any) -> datetime:
    if not isinstance(value, str):
        raise fail(f"takes a date (YYYY-MM-DD) or a time with its zone (ISO 8601), not {value!r}")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if at.tzinfo is None:
        raise fail(f"{value!r} needs a time zone, such as Z or +00:00")
    return at.astimezone(UTC)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


# compiling --------------------------------------------------------------------------------------


class numeric_or_null(FunctionElement[float]):
    """A text value as a number, or NULL when it is not one (a cast would fail on PostgreSQL)."""

    type = Float()
    inherit_cache = True


@compiles(numeric_or_null, "postgresql")
def _numeric_pg(element: numeric_or_null, compiler: SQLCompiler, **kw: Any) -> str:
    text = compiler.process(func.trim(*element.clauses.clauses), **kw)
    pattern = compiler.process(literal(r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)$"), **kw)
    return f"CASE WHEN {text} ~ {pattern} THEN CAST({text} AS DOUBLE PRECISION) END"


@compiles(numeric_or_null)
def _numeric_other(element: numeric_or_null, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite has no regular expressions: one optional sign, then digits with at most one point.
    text = compiler.process(func.trim(*element.clauses.clauses), **kw)
    body = compiler.process(func.ltrim(func.trim(*element.clauses.clauses), literal("+-")), **kw)
    checks = [
        f"{body} <> ''",
        f"{text} NOT GLOB {compiler.process(literal('?*[-+]*'), **kw)}",
        f"{body} NOT GLOB {compiler.process(literal('*[^0-9.]*'), **kw)}",
        f"{body} NOT GLOB {compiler.process(literal('*.*.*'), **kw)}",
        f"{body} GLOB {compiler.process(literal('*[0-9]*'), **kw)}",
    ]
    return f"CASE WHEN {' AND '.join(checks)} THEN CAST({text} AS REAL) END"


def _custom_text(key: str) -> ColumnElement[str]:
    # As text on both: SQLite's json_extract hands numbers back as numbers, PostgreSQL's ->> as text.
    return Contact.custom_fields[key].as_string()


def _clause(c: Condition) -> ColumnElement[bool]:
    if c.field in FIELDS:
        column: Any = FIELDS[c.field].column
        kind = FIELDS[c.field].kind
    else:
        key = c.field[len(CUSTOM_PREFIX):]
        numeric = (isinstance(c.value, int | float) or
                   (isinstance(c.value, tuple) and not isinstance(c.value[0], str)))
        if c.op in ("contains", "starts_with", "is_empty") or not numeric:
            column, kind = _custom_text(key), "text"
        else:
            column, kind = numeric_or_null(_custom_text(key)), "number"
    return _compare(column, kind, c.op, c.value)


def _compare(column: Any, kind: str, op: str, value: Any) -> ColumnElement[bool]:
    if op == "is_empty":
        empty = or_(column.is_(None), column == "") if kind == "text" else column.is_(None)
        return empty if value else ~empty
    if op == "contains":
        return func.lower(column).contains(value.lower(), autoescape=True)
    if op == "starts_with":
        return func.lower(column).startswith(value.lower(), autoescape=True)
    if op == "eq":
        return column == value
    if op == "ne":
        # "Not NY" includes the contacts whose state is unknown, as a person reading it expects.
        return or_(column.is_(None), column != value)
    if op == "in":
        return column.in_(list(value))
    if op == "not_in":
        return or_(column.is_(None), column.not_in(list(value)))
    comparisons: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    }
    return comparisons[op](column, value)


def describe_fields() -> list[dict[str, Any]]:
    """The fields and ops a filter form offers (custom fields are the list's own columns)."""
    fields = [{"field": name, "label": f.label, "kind": f.kind, "ops": list(OPS_BY_KIND[f.kind])}
              for name, f in FIELDS.items()]
    fields.append({"field": CUSTOM_PREFIX + "<name>", "label": "Custom field", "kind": "custom",
                   "ops": list(OPS_BY_KIND["custom"])})
    return fields


def filter_contacts(campaign_id: int, raw: Any) -> ColumnElement[bool]:
    """The campaign's contacts that the filter keeps, for a count or a preview before saving it."""
    return and_(Contact.campaign_id == campaign_id, compile_filter(raw))


__all__ = [
    "FIELDS", "OPS", "Condition", "FilterError", "LeadFilter", "compile_filter", "describe_fields",
    "filter_contacts", "parse_filter",
]
