"""A supervisor's lead filter: checked field by field, and run by SQLite and PostgreSQL alike with bound values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, inspect, select

from campaigns.db import make_engine
from campaigns.lead_filters import FilterError, compile_filter, describe_fields, filter_contacts, parse_filter
from campaigns.models import Base, Campaign, Contact, ContactList

INJECTION = "NY'; DROP TABLE contacts; --"

# name -> the contact's columns; every contact is in list 1 unless it says otherwise
PEOPLE: dict[str, dict[str, Any]] = {
    "ann": {"state": "NY", "postal_code": "10001", "timezone": "America/New_York", "attempts": 0, "priority": 5,
            "last_disposition": None, "created_at": datetime(2026, 1, 5, tzinfo=UTC),
            "custom_fields": {"plan": "Gold", "age": "42", "note": "100% sure"}},
    "bob": {"state": "NJ", "postal_code": "07030", "timezone": "America/New_York", "attempts": 2, "priority": 0,
            "last_disposition": "NA", "created_at": datetime(2026, 2, 1, tzinfo=UTC),
            "custom_fields": {"plan": "silver", "age": 35.5, "note": "under_score"}},
    "cat": {"state": None, "postal_code": "", "timezone": None, "attempts": 1, "priority": 1,
            "last_disposition": "AM", "created_at": datetime(2026, 3, 1, tzinfo=UTC),
            "custom_fields": {"age": "unknown"}, "list": 2},
    "dan": {"state": "CA", "postal_code": "94105", "timezone": "America/Los_Angeles", "attempts": 4, "priority": 9,
            "last_disposition": "HUP", "created_at": datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
            "custom_fields": {"plan": "gold plus", "age": 7, "quote'd": "yes"}},
    "eve": {"state": "ZZ", "postal_code": "1", "timezone": INJECTION, "attempts": 0, "priority": 0,
            "last_disposition": None, "created_at": datetime(2026, 3, 3, tzinfo=UTC),
            "custom_fields": {"age": "-3", "plan": ""}},
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'filters.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    Base.metadata.create_all(engine, tables=[
        Base.metadata.tables[name] for name in ("campaigns", "contact_lists", "contacts")
    ])
    with engine.begin() as conn:
        campaign_id = conn.execute(insert(Campaign).values(
            name="filters", caller_id="+12125550100", drop_message="sorry").returning(Campaign.id)).scalar_one()
        other_id = conn.execute(insert(Campaign).values(
            name="another", caller_id="+12125550100", drop_message="sorry").returning(Campaign.id)).scalar_one()
        for list_number in (1, 2):
            conn.execute(insert(ContactList).values(id=list_number, campaign_id=campaign_id, name=f"l{list_number}"))
        for name, spec in PEOPLE.items():
            values = {k: v for k, v in spec.items() if k != "list"}
            conn.execute(insert(Contact).values(campaign_id=campaign_id, list_id=spec.get("list", 1),
                                                first_name=name, **values))
        conn.execute(insert(Contact).values(campaign_id=other_id, list_id=1, first_name="zed", state="NY",
                                            custom_fields={}))
    yield engine
    engine.dispose()


def names(db: Engine, spec: Any) -> list[str]:
    with db.connect() as conn:
        campaign_id = conn.scalar(select(Campaign.id).where(Campaign.name == "filters"))
        assert campaign_id is not None
        return sorted(conn.scalars(select(Contact.first_name).where(filter_contacts(campaign_id, spec))))


def one(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"match": "all", "conditions": [{"field": field, "op": op, "value": value}]}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (("state", "eq", "NY"), ["ann"]),
        (("state", "ne", "NY"), ["bob", "cat", "dan", "eve"]),  # an unknown state is "not NY" too
        (("state", "in", ["NY", "NJ"]), ["ann", "bob"]),
        (("state", "not_in", ["NY", "NJ"]), ["cat", "dan", "eve"]),
        (("postal_code", "starts_with", "100"), ["ann"]),
        (("postal_code", "is_empty", True), ["cat"]),
        (("postal_code", "is_empty", False), ["ann", "bob", "dan", "eve"]),
        (("postal_code", "ge", "07000"), ["ann", "bob", "dan", "eve"]),
        (("timezone", "contains", "new_york"), ["ann", "bob"]),  # without regard to case
        (("list_id", "eq", 2), ["cat"]),
        (("attempts", "lt", 2), ["ann", "cat", "eve"]),
        (("attempts", "ge", 2), ["bob", "dan"]),
        (("priority", "gt", 1), ["ann", "dan"]),
        (("priority", "le", 0), ["bob", "eve"]),
        (("last_disposition", "is_empty", True), ["ann", "eve"]),
        (("last_disposition", "in", ["NA", "AM"]), ["bob", "cat"]),
        (("created_at", "ge", "2026-03-01"), ["cat", "dan", "eve"]),
        (("created_at", "lt", "2026-03-02T06:00:00-05:00"), ["ann", "bob", "cat"]),
        (("custom.plan", "eq", "Gold"), ["ann"]),
        (("custom.plan", "starts_with", "gold"), ["ann", "dan"]),
        (("custom.plan", "is_empty", True), ["cat", "eve"]),  # missing, or empty text
        (("custom.plan", "ne", "Gold"), ["bob", "cat", "dan", "eve"]),
        (("custom.note", "contains", "100%"), ["ann"]),  # a wildcard is a literal character
        (("custom.note", "contains", "r_s"), ["bob"]),
        (("custom.note", "contains", "0_s"), []),
        (("custom.age", "ge", 10), ["ann", "bob"]),  # text that is a number compares as one; "unknown" never
        (("custom.age", "lt", 0), ["eve"]),
        (("custom.age", "in", [7, 42]), ["ann", "dan"]),
        (("custom.age", "eq", "unknown"), ["cat"]),
        (("custom.quote'd", "eq", "yes"), ["dan"]),
    ],
)
def test_each_condition_keeps_exactly_the_contacts_it_describes(
    db: Engine, condition: tuple[str, str, Any], expected: list[str]
) -> None:
    assert names(db, one(*condition)) == expected


def test_conditions_are_joined_by_all_or_by_any(db: Engine) -> None:
    conditions = [{"field": "state", "op": "in", "value": ["NY", "CA"]}, {"field": "priority", "op": "ge", "value": 6}]
    assert names(db, {"match": "all", "conditions": conditions}) == ["dan"]
    assert names(db, {"match": "any", "conditions": conditions}) == ["ann", "dan"]
    assert names(db, conditions) == ["dan"]  # a bare list means all


def test_no_filter_keeps_every_contact_of_the_campaign_and_none_of_another(db: Engine) -> None:
    assert names(db, None) == names(db, {}) == ["ann", "bob", "cat", "dan", "eve"]


def test_an_injection_attempt_is_compared_as_plain_text_and_the_table_survives(db: Engine) -> None:
    assert names(db, one("timezone", "eq", INJECTION)) == ["eve"]
    assert names(db, one("timezone", "starts_with", "NY'")) == ["eve"]
    assert names(db, one("custom.x') OR 1=1 --", "eq", "1")) == []
    assert names(db, one("custom.plan", "in", ["' OR '1'='1", "Gold"])) == ["ann"]
    assert "contacts" in inspect(db).get_table_names()
    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Contact)) == 6


def test_values_reach_the_database_as_bound_parameters_only() -> None:
    clause = compile_filter(one("timezone", "eq", INJECTION))
    compiled = select(Contact.id).where(clause).compile()
    assert INJECTION not in str(compiled)
    assert INJECTION in compiled.params.values()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([{"field": "password", "op": "eq", "value": "x"}], "condition 1 (password): unknown field"),
        ([{"field": "state", "op": "eq", "value": "NY"}, {"field": "state", "op": "like", "value": "N%"}],
         "condition 2 (state): unknown op 'like'"),
        ([{"field": "attempts", "op": "contains", "value": "1"}], "condition 1 (attempts): op 'contains' does not"),
        ([{"field": "created_at", "op": "eq", "value": "2026-01-01"}], "condition 1 (created_at): op 'eq' does not"),
        ([{"field": "attempts", "op": "lt", "value": "3"}], "condition 1 (attempts): lt takes a whole number"),
        ([{"field": "attempts", "op": "lt", "value": True}], "condition 1 (attempts): lt takes a whole number"),
        ([{"field": "state", "op": "eq", "value": 5}], "condition 1 (state): eq takes text"),
        ([{"field": "state", "op": "in", "value": []}], "condition 1 (state): in takes a non-empty list"),
        ([{"field": "state", "op": "in", "value": "NY"}], "condition 1 (state): in takes a non-empty list"),
        ([{"field": "state", "op": "is_empty", "value": "yes"}], "condition 1 (state): is_empty takes true or false"),
        ([{"field": "created_at", "op": "lt", "value": "2026-01-01T10:00:00"}], "needs a time zone"),
        ([{"field": "created_at", "op": "lt", "value": "last tuesday"}], "is not a date"),
        ([{"field": "custom.age", "op": "in", "value": [1, "2"]}], "condition 1 (custom.age): in takes all text"),
        ([{"field": "custom.age", "op": "gt", "value": None}], "takes text or a number"),
        ([{"field": "custom.", "op": "eq", "value": "x"}], "condition 1 (custom.): a custom field needs a name"),
        ([{"field": "state", "op": "eq"}], "condition 1 (state): value is required"),
        ([{"op": "eq", "value": "x"}], "condition 1: field is required"),
        ([{"field": "state", "op": "eq", "value": "x", "sql": "1=1"}], "condition 1: unknown key 'sql'"),
        (["state = 'NY'"], "condition 1: must be an object"),
        ({"match": "some", "conditions": []}, "lead filter: match must be 'all' or 'any'"),
        ({"where": "1=1"}, "lead filter: unknown key 'where'"),
        ("state = 'NY'", "lead filter: must be an object"),
        ([{"field": "state", "op": "eq", "value": "x"}] * 51, "lead filter: at most 50 conditions"),
    ],
)
def test_a_bad_filter_is_refused_naming_the_condition_and_its_field(spec: Any, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(spec)


def test_the_error_carries_the_index_and_field_for_a_form_to_point_at() -> None:
    with pytest.raises(FilterError) as error:
        parse_filter([{"field": "state", "op": "eq", "value": "NY"}, {"field": "priority", "op": "gt", "value": "x"}])
    assert (error.value.index, error.value.field) == (1, "priority")


def test_a_filter_is_stored_normalized_with_times_in_utc() -> None:
    spec = parse_filter([{"field": "created_at", "op": "ge", "value": "2026-03-01T09:00:00-05:00"},
                         {"field": "state", "op": "in", "value": ["NY"]}])
    assert spec.to_json() == {"match": "all", "conditions": [
        {"field": "created_at", "op": "ge", "value": "2026-03-01T14:00:00+00:00"},
        {"field": "state", "op": "in", "value": ["NY"]},
    ]}
    assert parse_filter(spec.to_json()) == spec


def test_the_form_is_told_every_field_and_the_ops_each_allows() -> None:
    fields = {f["field"]: f for f in describe_fields()}
    assert set(fields) == {"state", "postal_code", "timezone", "list_id", "attempts", "last_disposition",
                           "priority", "created_at", "custom.<name>"}
    assert "contains" not in fields["attempts"]["ops"]
    assert fields["created_at"]["ops"] == ["lt", "le", "gt", "ge", "is_empty"]
