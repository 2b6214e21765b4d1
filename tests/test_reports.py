"""Reports over a small hand-made day of calls: every figure checked by hand and against the raw rows."""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from campaigns import reports
from campaigns.csv_safety import FORMULA_TRIGGERS
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.models import (
    DEFAULT_DISPOSITIONS,
    Agent,
    AgentStateChange,
    CallAttempt,
    Campaign,
    Contact,
    ContactList,
    DispositionCode,
)
from campaigns.reports import ReportError, ReportFilter, ReportTable
from web.reports import cell

NY = ZoneInfo("America/New_York")
DAY = date(2026, 11, 10)  # EST all day: local midnight is 05:00 UTC
LATER = datetime(2026, 11, 20, tzinfo=UTC)  # "now" for agent time: long after the day
X, Y, Z = "+12015550100", "+12015550101", "+12015550102"


def utc(day: int, hour: int, minute: int = 0, second: float = 0.0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


@dataclass
class Seed:
    solar: int  # campaign A, New York
    insurance: int  # campaign B
    north: int  # list of A
    south: int  # list of A
    brokers: int  # list of B
    anna: int
    ben: int


def seed(session: Session) -> Seed:
    """Two campaigns, three lists, two agents and a day of calls chosen to hit every rule once."""
    if session.scalar(select(DispositionCode.id).where(DispositionCode.campaign_id.is_(None)).limit(1)) is None:
        session.add_all(DispositionCode(**code) for code in DEFAULT_DISPOSITIONS)  # migrations seed them
    solar = Campaign(name="Solar", caller_id=X, drop_message="Sorry", schedule_tz="America/New_York")
    insurance = Campaign(name="Insurance", caller_id=Z, drop_message="Sorry", schedule_tz="America/Chicago")
    session.add_all([solar, insurance])
    session.flush()
    # Solar adds a sale code of its own; Insurance's own SALE is not a sale (it overrides the default's flag).
    session.add_all([
        DispositionCode(campaign_id=solar.id, code="UPSELL", label="Upsell", final=True, sale=True),
        DispositionCode(campaign_id=insurance.id, code="SALE", label="Quote sent", final=True, sale=False),
    ])
    north = ContactList(campaign_id=solar.id, name="North")
    south = ContactList(campaign_id=solar.id, name="South")
    brokers = ContactList(campaign_id=insurance.id, name="Brokers")
    session.add_all([north, south, brokers])
    session.flush()

    def contact(lst: ContactList, status: str, attempts: int) -> int:
        row = Contact(campaign_id=lst.campaign_id, list_id=lst.id, status=status, attempts=attempts)
        session.add(row)
        session.flush()
        return row.id

    c1, c2, c6 = contact(north, "done", 2), contact(north, "done", 2), contact(north, "retry", 2)
    c3, c4, c5 = contact(south, "retry", 1), contact(south, "retry", 1), contact(south, "retry", 1)
    contact(south, "new", 0)  # never dialed
    c7, c8 = contact(brokers, "done", 1), contact(brokers, "retry", 2)
    anna, ben = Agent(login="anna", name="Anna Li"), Agent(login="ben", name="")
    session.add_all([anna, ben])
    session.flush()

    def call(campaign: Campaign, contact_id: int, number: int, placed: datetime | None, *, cls: str | None = None,
             answer_s: float | None = None, connect_s: float | None = None, abandoned: bool = False,
             agent: Agent | None = None, talk: float | None = None, wrap: float | None = None,
             code: str | None = None, caller: str = X) -> None:
        answered = placed + timedelta(seconds=answer_s) if placed is not None and answer_s is not None else None
        session.add(CallAttempt(
            campaign_id=campaign.id, contact_id=contact_id, e164=f"+1201555{contact_id:04d}", caller_id=caller,
            attempt_number=number, state="ended", answer_class=cls, queued_at=placed, placed_at=placed,
            answered_at=answered,
            connected_at=answered + timedelta(seconds=connect_s) if answered and connect_s is not None else None,
            abandoned_at=answered + timedelta(seconds=2) if answered and abandoned else None,
            agent_id=agent.id if agent else None, talk_s=talk, wrap_s=wrap, disposition=code,
        ))

    call(solar, c1, 1, utc(10, 14), cls="no_answer", code="NA", caller=X)
    call(solar, c1, 2, utc(10, 15), cls="human", answer_s=10, connect_s=1, agent=anna, talk=120, wrap=30,
         code="SALE", caller=Y)
    call(solar, c2, 1, utc(10, 14, 5), cls="machine", answer_s=8, code="AM", caller=X)
    call(solar, c2, 2, utc(10, 16), cls="human", answer_s=0, connect_s=2.0, agent=ben, talk=60, wrap=20,
         code="UPSELL", caller=Y)
    call(solar, c3, 1, utc(10, 16, 30), cls="human", answer_s=5, abandoned=True, code="DROP", caller=X)
    call(solar, c4, 1, utc(10, 17), cls="unknown", answer_s=6, connect_s=2.5, agent=anna, talk=30, caller=X)
    call(solar, c5, 1, utc(11, 3, 30), cls="busy", code="BUSY", caller=X)  # 22:30 on the 10th in New York
    call(solar, c6, 1, utc(10, 18), cls="fax", answer_s=4, abandoned=True, code="AM", caller=Y)
    call(solar, c6, 2, utc(10, 19), cls=None, answer_s=4, abandoned=True, code="DROP", caller=Y)
    call(insurance, c7, 1, utc(10, 15, 30), cls="human", answer_s=3, connect_s=0.5, agent=ben, talk=90, wrap=10,
         code="SALE", caller=Z)
    call(insurance, c8, 1, utc(9, 20), cls="human", answer_s=3, connect_s=0.5, agent=ben, talk=40, wrap=5,
         code="CB", caller=Z)  # the day before, in New York too
    call(insurance, c8, 2, None)  # queued, never placed

    def move(agent: Agent, at: datetime, state: str, reason: str | None = None) -> None:
        session.add(AgentStateChange(agent_id=agent.id, campaign_id=solar.id, state=state, reason=reason, at=at))

    move(anna, utc(10, 4), "ready")  # before the day: ready from local midnight on
    move(anna, utc(10, 15, 0, 10), "reserved")
    move(anna, utc(10, 15, 0, 11), "on_call")
    move(anna, utc(10, 15, 2, 11), "wrap_up")
    move(anna, utc(10, 15, 2, 41), "ready")
    move(anna, utc(10, 15, 30), "paused", "lunch")
    move(anna, utc(10, 16), "ready")
    move(anna, utc(10, 17), "on_call")
    move(anna, utc(10, 17, 0, 30), "wrap_up")
    move(anna, utc(10, 17, 5), "paused", "coaching")
    move(anna, utc(10, 17, 20), "offline")
    move(ben, utc(10, 15, 50), "ready")
    move(ben, utc(10, 16), "reserved")
    move(ben, utc(10, 16, 0, 2), "on_call")
    move(ben, utc(10, 16, 1, 2), "wrap_up")
    move(ben, utc(10, 16, 1, 22), "ready")
    move(ben, utc(10, 16, 10), "paused", "break")  # never ends: cut at the end of the day
    session.add(AgentStateChange(agent_id=ben.id, campaign_id=insurance.id, state="ready", at=utc(10, 15)))
    session.commit()
    return Seed(solar.id, insurance.id, north.id, south.id, brokers.id, anna.id, ben.id)


@pytest.fixture
def seeded(engine: Engine) -> tuple[Engine, Seed]:
    with make_session_factory(engine)() as session:
        ids = seed(session)
    return engine, ids


def day_filter(**kwargs: Any) -> ReportFilter:
    start, end = reports.local_range(DAY, DAY, NY)
    return ReportFilter(start=start, end=end, zone=NY, **kwargs)


# ------------------------------------------------------------------------------ counting the rows in Python


def sale_codes(conn: Connection, campaign_id: int, flag: str = "sale") -> set[str]:
    codes: dict[str, bool] = {}
    for row in conn.execute(select(DispositionCode).order_by(DispositionCode.campaign_id.is_not(None))).mappings():
        if row["campaign_id"] in (None, campaign_id):
            codes[row["code"]] = bool(row[flag] or (flag == "final" and row["adds_to_dnc"]))
    return {code for code, on in codes.items() if on}


def counted_by_hand(conn: Connection, f: ReportFilter) -> dict[str, Any]:
    """The totals from every raw row, the slow way, to hold the SQL to."""
    list_of = dict(conn.execute(select(Contact.id, Contact.list_id)).all())
    rows = [r for r in conn.execute(select(CallAttempt)).mappings()
            if r["placed_at"] is not None and f.start <= r["placed_at"] < f.end
            and (f.campaign_id is None or r["campaign_id"] == f.campaign_id)
            and (f.agent_id is None or r["agent_id"] == f.agent_id)
            and (f.list_id is None or list_of[r["contact_id"]] == f.list_id)]
    live = [r for r in rows if r["answer_class"] in ("human", "unknown")]
    connected = [r for r in rows if r["connected_at"] is not None]
    answered = [r for r in rows if r["answered_at"] is not None]
    sums = {
        "placed": len(rows),
        "answered": len(answered),
        "live": len(live),
        "machine": sum(1 for r in rows if r["answer_class"] == "machine"),
        "connected": len(connected),
        "abandoned": sum(1 for r in rows
                         if r["abandoned_at"] is not None and r["answer_class"] not in ("machine", "fax")),
        "within_sl": sum(1 for r in live if r["connected_at"] is not None
                         and (r["connected_at"] - r["answered_at"]).total_seconds() <= 2.0),
        "sales": sum(1 for r in connected if r["disposition"] in sale_codes(conn, r["campaign_id"])),
        "handle_s": sum((r["talk_s"] or 0.0) + (r["wrap_s"] or 0.0) for r in connected),
        "talk_s": sum(r["talk_s"] or 0.0 for r in connected),
        "wrap_s": sum(r["wrap_s"] or 0.0 for r in connected),
    }
    return reports.derive(sums)


def same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert found[key] == pytest.approx(value), key
        else:
            assert found[key] == value, key


# ------------------------------------------------------------------------------------------------ the figures


def test_the_days_totals_count_each_call_as_the_definitions_say(seeded):
    engine, ids = seeded
    with engine.connect() as conn:
        totals = reports.call_timeline(conn, day_filter(campaign_id=ids.solar)).totals
    same(totals, {
        "placed": 9, "answered": 7, "live": 4, "machine": 1, "connected": 3, "abandoned": 2, "within_sl": 2,
        "sales": 2, "answer_rate": 7 / 9, "contact_rate": 3 / 9, "amd_rate": 1 / 7, "abandon_rate": 2 / 4,
        "service_level": 2 / 4, "conversion": 2 / 3, "aht_s": 260 / 3, "avg_talk_s": 210 / 3, "avg_wrap_s": 50 / 3,
    })


@pytest.mark.parametrize("scope", ["every campaign", "solar", "insurance", "anna", "ben", "north", "south"])
def test_the_totals_equal_counting_the_raw_rows_for_each_filter(seeded, scope):
    engine, ids = seeded
    kwargs = {"every campaign": {}, "solar": {"campaign_id": ids.solar}, "insurance": {"campaign_id": ids.insurance},
              "anna": {"agent_id": ids.anna}, "ben": {"agent_id": ids.ben}, "north": {"list_id": ids.north},
              "south": {"list_id": ids.south}}[scope]
    f = day_filter(**kwargs)
    with engine.connect() as conn:
        same(reports.call_timeline(conn, f).totals, counted_by_hand(conn, f))


def test_a_campaigns_own_code_overrides_the_default_sale_flag(seeded):
    engine, ids = seeded
    with engine.connect() as conn:
        insurance = reports.call_timeline(conn, day_filter(campaign_id=ids.insurance)).totals
        solar = reports.call_timeline(conn, day_filter(campaign_id=ids.solar)).totals
    assert (insurance["connected"], insurance["sales"]) == (1, 0)  # its SALE code is not a sale
    assert solar["sales"] == 2  # the default SALE and its own UPSELL


def test_days_and_hours_are_read_on_the_chosen_zones_clock(seeded):
    engine, ids = seeded
    with engine.connect() as conn:
        in_new_york = reports.call_timeline(conn, day_filter(campaign_id=ids.solar))
        start, end = reports.local_range(DAY, DAY, ZoneInfo("UTC"))
        in_utc = reports.call_timeline(conn, ReportFilter(start, end, ZoneInfo("UTC"), campaign_id=ids.solar))
    placed_by_hour = {row["hour"]: row["placed"] for row in in_new_york.by_hour.rows if row["placed"]}
    assert placed_by_hour == {9: 2, 10: 1, 11: 2, 12: 1, 13: 1, 14: 1, 22: 1}
    assert [(row["day"], row["placed"]) for row in in_new_york.by_day.rows] == [(DAY, 9)]
    assert in_utc.totals["placed"] == 8  # 03:30 UTC on the 11th is the next UTC day
    assert len(in_new_york.by_hour.rows) == 24


def test_a_day_when_the_clocks_go_back_keeps_its_hours_on_the_local_clock(engine):
    with make_session_factory(engine)() as session:
        campaign = Campaign(name="Fall back", caller_id=X, drop_message="Sorry")
        session.add(campaign)
        session.flush()
        lst = ContactList(campaign_id=campaign.id, name="L")
        session.add(lst)
        session.flush()
        # 2026-11-01 in New York: 01:00-02:00 happens twice (05:00-06:00 UTC in EDT, 06:00-07:00 UTC in EST).
        for n, placed in enumerate((utc(1, 5, 30), utc(1, 6, 30), utc(1, 7, 30), utc(2, 4, 59))):
            person = Contact(campaign_id=campaign.id, list_id=lst.id)
            session.add(person)
            session.flush()
            session.add(CallAttempt(campaign_id=campaign.id, contact_id=person.id, e164=f"+1201555000{n}",
                                    attempt_number=1, placed_at=placed))
        session.commit()
    start, end = reports.local_range(date(2026, 11, 1), date(2026, 11, 1), NY)
    assert (end - start) == timedelta(hours=25)
    with engine.connect() as conn:
        timeline = reports.call_timeline(conn, ReportFilter(start, end, NY))
    assert {row["hour"]: row["placed"] for row in timeline.by_hour.rows if row["placed"]} == {1: 2, 2: 1, 23: 1}
    assert [row["placed"] for row in timeline.by_day.rows] == [4]


def test_a_zone_half_an_hour_off_utc_gets_its_own_hours(engine):
    with make_session_factory(engine)() as session:
        campaign = Campaign(name="Pune", caller_id=X, drop_message="Sorry")
        session.add(campaign)
        session.flush()
        lst = ContactList(campaign_id=campaign.id, name="L")
        session.add(lst)
        session.flush()
        # India is UTC+05:30: 03:45 and 04:15 UTC are 09:15 and 09:45 there, 04:35 UTC is 10:05.
        for n, placed in enumerate((utc(10, 3, 45), utc(10, 4, 15), utc(10, 4, 35))):
            person = Contact(campaign_id=campaign.id, list_id=lst.id)
            session.add(person)
            session.flush()
            session.add(CallAttempt(campaign_id=campaign.id, contact_id=person.id, e164=f"+1201555000{n}",
                                    attempt_number=1, placed_at=placed))
        session.commit()
    kolkata = ZoneInfo("Asia/Kolkata")
    start, end = reports.local_range(DAY, DAY, kolkata)
    with engine.connect() as conn:
        timeline = reports.call_timeline(conn, ReportFilter(start, end, kolkata))
    assert {row["hour"]: row["placed"] for row in timeline.by_hour.rows if row["placed"]} == {9: 2, 10: 1}


def test_calls_by_campaign_list_and_agent_equal_counting_the_raw_rows(seeded):
    engine, ids = seeded
    f = day_filter()
    with engine.connect() as conn:
        by_campaign = {row["name"]: row for row in reports.calls_by(conn, f, "campaign").rows}
        by_list = {row["id"]: row for row in reports.calls_by(conn, f, "list").rows}
        by_agent = {row["id"]: row for row in reports.calls_by(conn, f, "agent").rows}
        same(by_campaign["Solar"], counted_by_hand(conn, day_filter(campaign_id=ids.solar)))
        same(by_campaign["Insurance"], counted_by_hand(conn, day_filter(campaign_id=ids.insurance)))
        for list_id in (ids.north, ids.south, ids.brokers):
            same(by_list[list_id], counted_by_hand(conn, day_filter(list_id=list_id)))
        for agent_id in (ids.anna, ids.ben):
            same(by_agent[agent_id], counted_by_hand(conn, day_filter(agent_id=agent_id)))
    assert by_list[ids.north]["name"] == "North (Solar)"
    assert (by_agent[ids.anna]["name"], by_agent[ids.ben]["name"]) == ("Anna Li (anna)", "ben")
    assert by_agent[None]["placed"] == 10 - 4 and by_agent[None]["connected"] == 0
    assert sum(row["placed"] for row in by_agent.values()) == 10


def test_agent_time_splits_ready_talk_wrap_and_paused_by_reason(seeded):
    engine, ids = seeded
    with engine.connect() as conn:
        result = reports.agent_time(conn, day_filter(campaign_id=ids.solar), now=LATER)
    rows = {row["agent_id"]: row for row in result.table.rows}
    anna, ben = rows[ids.anna], rows[ids.ben]
    # Anna was ready before midnight: that counts from midnight (05:00 UTC) on.
    assert anna["ready_s"] == pytest.approx(36010 + 1639 + 3600, abs=0.01)
    assert anna["talk_s"] == pytest.approx(1 + 120 + 30, abs=0.01)
    assert anna["wrap_s"] == pytest.approx(30 + 270, abs=0.01)
    assert (anna["paused:lunch"], anna["paused:coaching"], anna["paused:break"]) == pytest.approx((1800, 900, 0))
    assert anna["calls"] == 2 and anna["wait_s"] == pytest.approx((36010 + 1639 + 3600) / 2, abs=0.01)
    # Ben's break never ended: it is cut at the end of the day (05:00 UTC on the 11th).
    assert ben["paused:break"] == pytest.approx(12 * 3600 + 50 * 60, abs=0.01)
    assert (ben["ready_s"], ben["talk_s"], ben["wrap_s"], ben["calls"]) == pytest.approx((1118, 62, 20, 1), abs=0.01)
    assert ben["occupancy"] == pytest.approx(82 / (82 + 1118))
    assert result.on_calls == 3 and result.wait_s == pytest.approx((anna["ready_s"] + 1118) / 3)
    labels = [column.label for column in result.table.columns]
    assert [x for x in labels if x.startswith("Paused:")] == ["Paused: break", "Paused: coaching", "Paused: lunch"]


def test_agent_time_while_the_day_is_still_running_stops_at_now(seeded):
    engine, ids = seeded
    with engine.connect() as conn:
        result = reports.agent_time(conn, day_filter(campaign_id=ids.solar, agent_id=ids.ben), now=utc(10, 16, 20))
    (ben,) = result.table.rows
    assert ben["paused:break"] == pytest.approx(600, abs=0.01)


def test_agent_time_says_the_list_filter_does_not_apply_to_it(seeded):
    engine, ids = seeded
    with engine.connect() as conn:
        with_list = reports.agent_time(conn, day_filter(campaign_id=ids.solar, list_id=ids.north), now=LATER)
        without = reports.agent_time(conn, day_filter(campaign_id=ids.solar), now=LATER)
    assert "list filter does not apply" in with_list.table.note
    assert "list filter" not in without.table.note
    assert with_list.table.rows == without.table.rows


def test_list_penetration_counts_contacts_in_total_and_by_attempt_number(seeded):
    engine, ids = seeded
    with engine.connect() as conn:
        result = reports.list_penetration(conn, day_filter(campaign_id=ids.solar))
    lists = {row["list_id"]: row for row in result.lists.rows}
    assert set(lists) == {ids.north, ids.south}
    same(lists[ids.north], {"contacts": 3, "dialed": 3, "penetration": 1.0, "closed": 2, "attempted": 6,
                            "reached": 2, "finished": 2})
    same(lists[ids.south], {"contacts": 4, "dialed": 3, "penetration": 0.75, "closed": 0, "attempted": 3,
                            "reached": 1, "finished": 0})
    attempts = {(row["list_id"], row["attempt_number"]): (row["attempted"], row["reached"], row["finished"])
                for row in result.by_attempt.rows}
    assert attempts == {(ids.north, 1): (3, 0, 0), (ids.north, 2): (3, 2, 2), (ids.south, 1): (3, 1, 0)}


def test_answer_rates_per_caller_id_are_counted_per_day(seeded):
    engine, _ids = seeded
    start, end = reports.local_range(date(2026, 11, 9), DAY, NY)
    with engine.connect() as conn:
        result = reports.caller_id_answer_rates(conn, ReportFilter(start, end, NY))
    summary = {row["caller_id"]: row for row in result.summary.rows}
    same(summary[X], {"placed": 5, "answered": 3, "answer_rate": 3 / 5, "live": 2})
    same(summary[Y], {"placed": 4, "answered": 4, "answer_rate": 1.0, "live": 2})
    same(summary[Z], {"placed": 2, "answered": 2, "last_day": DAY, "last_day_rate": 1.0, "change": 0.0})
    days = {(row["day"], row["caller_id"]): row["placed"] for row in result.by_day.rows}
    assert days == {(DAY, X): 5, (DAY, Y): 4, (DAY, Z): 1, (date(2026, 11, 9), Z): 1}


def test_a_filter_that_cannot_be_read_is_refused_naming_the_field():
    start = datetime(2026, 11, 10, tzinfo=UTC)
    with pytest.raises(ReportError) as backwards:
        ReportFilter(start, start - timedelta(days=1))
    assert backwards.value.field == "end"
    with pytest.raises(ReportError) as naive:
        ReportFilter(datetime(2026, 11, 10), start)
    assert naive.value.field == "start"
    with pytest.raises(ReportError) as campaign:
        ReportFilter(start, start + timedelta(days=1), campaign_id=0)
    assert campaign.value.field == "campaign_id"
    with pytest.raises(ReportError) as too_long:
        ReportFilter(start, start + timedelta(days=reports.MAX_RANGE_DAYS + 1))
    assert too_long.value.field == "end"


def test_an_unknown_table_is_refused_naming_the_field(seeded):
    engine, _ = seeded
    with engine.connect() as conn, pytest.raises(ReportError) as error:
        reports.build_table(conn, day_filter(), "by_moon")
    assert error.value.field == "table"


def test_an_extension_adds_its_table_to_the_report_and_to_the_export(seeded, monkeypatch):
    engine, _ = seeded
    monkeypatch.setattr(reports, "_EXTENSIONS", [])

    class NotesTaken:
        name = "notes"
        tables = ("notes",)

        def run(self, conn: Connection, f: ReportFilter) -> list[ReportTable]:
            count = conn.execute(select(CallAttempt.id).where(CallAttempt.placed_at >= f.start,
                                                              CallAttempt.placed_at < f.end)).all()
            return [ReportTable("notes", "Calls", (reports.Column("calls", "Calls"),), [{"calls": len(count)}])]

    reports.register_extension(NotesTaken())
    with pytest.raises(ReportError):
        reports.register_extension(NotesTaken())  # its key is taken now
    with engine.connect() as conn:
        assert reports.run_all(conn, day_filter(), now=LATER).tables["notes"].rows == [{"calls": 10}]
        assert reports.build_table(conn, day_filter(), "notes").csv_rows() == [["Calls"], [10]]


# ------------------------------------------------------------------------------------------------- the page


@pytest.fixture
def page(web):
    with web.sessions()() as session:
        ids = seed(session)
    return web, ids


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_supervisor_sees_tiles_charts_and_every_table_with_its_definitions(page):
    web, ids = page
    client = web.client("supervisor")
    response = client.get(f"/reports?campaign={ids.solar}&from=2026-11-10&to=2026-11-10")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-metric="placed"><div class="label">Calls placed</div><div class="value">9<' in html
    assert 'data-metric="conversion"><div class="label">Conversion</div><div class="value">66.7%<' in html
    assert 'data-metric="abandon_rate"' in html and ">50.0%<" in html
    assert "America/New_York" in html  # the campaign's zone, said on the page
    assert html.count("<svg") >= 5
    for key in reports.TABLES:
        assert f'data-table="{key}"' in html
        assert f"format=csv&amp;table={key}" in html
    assert "How each figure is counted" in html


def test_the_csv_export_is_the_table_on_the_page(page):
    web, ids = page
    client = web.client("compliance")
    query = f"campaign={ids.solar}&from=2026-11-10&to=2026-11-10"
    exported = read_csv(client.get(f"/reports?{query}&format=csv&table=by_hour").get_data(as_text=True))
    with web.sessions()() as session:
        start, end = reports.local_range(DAY, DAY, NY)
        table = reports.call_timeline(session.connection(), ReportFilter(start, end, NY, campaign_id=ids.solar)).by_hour
    assert exported[0] == [column.label for column in table.columns]
    assert len(exported) == 25
    nine = exported[1 + 9]
    assert nine[:4] == ["09:00", "2", "1", "0.5"]
    assert [[str(cell) for cell in row] for row in table.csv_rows()] == exported
    html = client.get(f"/reports?{query}").get_data(as_text=True)
    assert ">09:00<" in html and ">50.0%<" in html


def page_table(html_text: str, key: str) -> list[list[str]]:
    """The header and cells of one table of the page, as text."""
    section = re.search(rf'<section[^>]*data-table="{key}".*?</section>', html_text, re.S)
    assert section, key
    rows = re.findall(r"<tr>(.*?)</tr>", section.group(0), re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def from_csv(text: str, kind: str) -> Any:
    if text == "":
        return None
    if kind == "count":
        return int(text)
    if kind in ("rate", "delta", "seconds"):
        return float(text)
    if kind == "day":
        return date.fromisoformat(text)
    if kind == "hour":
        return int(text[:2])
    if text.startswith("'") and text[1:2] in FORMULA_TRIGGERS:
        return text[1:]  # a caller ID such as +1201... is written as text, not as a formula
    return text


def test_each_csv_export_holds_the_very_cells_of_its_table_on_the_page(page):
    web, _ = page
    client = web.client("supervisor")
    query = "from=2026-11-09&to=2026-11-10&tz=America/New_York"
    html_text = client.get(f"/reports?{query}").get_data(as_text=True)
    with web.sessions()() as session:
        start, end = reports.local_range(date(2026, 11, 9), DAY, NY)
        tables = reports.run_all(session.connection(), ReportFilter(start, end, NY)).tables
    for key in reports.TABLES:
        kinds = [column.kind for column in tables[key].columns]
        exported = read_csv(client.get(f"/reports?{query}&format=csv&table={key}").get_data(as_text=True))
        shown = page_table(html_text, key)
        assert shown[0] == exported[0], key
        assert len(shown) == len(exported) >= 2, key
        for shown_row, exported_row in zip(shown[1:], exported[1:], strict=True):
            assert shown_row == [cell(from_csv(text, kind), kind) for text, kind in zip(exported_row, kinds,
                                                                                         strict=True)], key


def test_every_table_exports_as_csv_with_its_header(page):
    web, _ids = page
    client = web.client("admin")
    for key in reports.TABLES:
        response = client.get(f"/reports?from=2026-11-09&to=2026-11-10&tz=America/New_York&format=csv&table={key}")
        assert response.status_code == 200, key
        assert response.mimetype == "text/csv"
        assert f"{key}_all-campaigns_2026-11-09_2026-11-10.csv" in response.headers["Content-Disposition"]
        assert len(read_csv(response.get_data(as_text=True))) >= 2, key


def test_exported_cells_cannot_run_as_spreadsheet_formulas(page):
    web, ids = page
    with web.sessions()() as session:
        session.get(Campaign, ids.insurance).name = "=HYPERLINK(\"http://x\")"
        session.commit()
    client = web.client("supervisor")
    rows = read_csv(client.get("/reports?from=2026-11-10&to=2026-11-10&tz=America/New_York&format=csv"
                               "&table=by_campaign").get_data(as_text=True))
    assert [row[0] for row in rows if "HYPERLINK" in row[0]] == ["'=HYPERLINK(\"http://x\")"]


def test_an_agent_is_refused_the_reports(page):
    web, _ = page
    response = web.client("agent").get("/reports")
    assert response.status_code == 403
    assert web.client("agent").get("/reports?format=csv&table=by_day").status_code == 403


@pytest.mark.parametrize(("query", "field"), [
    ("campaign=abc", "campaign"), ("campaign=999", "campaign"), ("list=999", "list"), ("agent=-1", "agent"),
    ("from=yesterday", "from"), ("from=2026-11-10&to=2026-11-01", "to"), ("tz=Mars/Base", "tz"),
    ("from=2020-01-01&to=2026-01-01", "from"),
])
def test_a_filter_that_cannot_be_read_is_answered_400_naming_the_field(page, query, field):
    web, _ = page
    client = web.client("supervisor")
    response = client.get(f"/reports?{query}")
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.get_data(as_text=True)
    as_csv = client.get(f"/reports?{query}&format=csv&table=by_day", headers={"Accept": "application/json"})
    assert as_csv.status_code == 400 and as_csv.get_json()["field"] == field


def test_a_list_of_another_campaign_and_an_unknown_table_are_refused(page):
    web, ids = page
    client = web.client("supervisor")
    wrong = client.get(f"/reports?campaign={ids.solar}&list={ids.brokers}")
    assert wrong.status_code == 400 and 'data-field="list"' in wrong.get_data(as_text=True)
    unknown = client.get("/reports?format=csv&table=by_moon", headers={"Accept": "application/json"})
    assert unknown.status_code == 400 and unknown.get_json()["field"] == "table"
    missing = client.get("/reports?format=csv", headers={"Accept": "application/json"})
    assert missing.status_code == 400 and missing.get_json()["field"] == "table"
    odd = client.get("/reports?format=pdf", headers={"Accept": "application/json"})
    assert odd.status_code == 400 and odd.get_json()["field"] == "format"


def test_the_default_page_shows_the_last_seven_days_in_utc(page):
    web, _ = page
    html = web.client("supervisor").get("/reports").get_data(as_text=True)
    today = datetime.now(UTC).date()
    assert f'name="from" value="{(today - timedelta(days=6)).isoformat()}"' in html
    assert f'name="to" value="{today.isoformat()}"' in html
    assert "<strong>UTC</strong>" in html


# ------------------------------------------------------------------------------------------------ PostgreSQL


def test_postgresql_gives_the_same_figures_as_sqlite(seeded, pg_url):
    engine, _ = seeded
    ensure_schema(pg_url)
    pg = make_engine(pg_url)
    try:
        with make_session_factory(pg)() as session:
            seed(session)
        for zone in (NY, ZoneInfo("Asia/Kolkata")):  # hour buckets, and quarter-hour ones
            start, end = reports.local_range(date(2026, 11, 9), DAY, zone)
            f = ReportFilter(start, end, zone)
            with engine.connect() as lite, pg.connect() as conn:
                on_sqlite = reports.run_all(lite, f, now=LATER)
                on_pg = reports.run_all(conn, f, now=LATER)
                same(on_pg.totals, counted_by_hand(conn, f))
            same(on_pg.totals, on_sqlite.totals)
            for key in reports.TABLES:
                assert on_pg.tables[key].csv_rows() == on_sqlite.tables[key].csv_rows(), (zone, key)
    finally:
        pg.dispose()
