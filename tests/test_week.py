"""A simulated week of a sales and a survey campaign: every report table recomputed from the raw rows.

The week runs once for the module (a small team, short shifts, small lists);
each report table is then worked out again here, in plain Python, from the
call attempts, agent state changes, disposition codes, contacts and survey
responses, and compared figure by figure.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from campaigns import reports, survey_reports
from campaigns.commands.week import ANSWERS_FILE, CODEBOOK_FILE, simulate_week_command
from campaigns.db import make_engine, make_session_factory
from campaigns.models import (
    Agent,
    AgentStateChange,
    CallAttempt,
    Campaign,
    Contact,
    ContactList,
    DispositionCode,
)
from campaigns.reports import FullReport, ReportFilter, ReportTable
from campaigns.survey_models import SurveyAnswer, SurveyResponse
from campaigns.surveys import export_codebook, export_responses
from campaigns.week import WeekError, WeekPlan, WeekResult, run_week, week_range

pytestmark = pytest.mark.slow

NY = ZoneInfo("America/New_York")
# The week on SQLite; PostgreSQL (whose report SQL differs: date_trunc, intervals) gets a shorter one.
PLANS = {
    "sqlite": WeekPlan(days=5, seed=3, agents=2, shift_hours=1.0, sales_contacts=250, survey_contacts=250,
                       young_target=10, senior_target=6),
    "postgresql": WeekPlan(days=3, seed=5, agents=2, shift_hours=0.75, sales_contacts=100, survey_contacts=100,
                           young_target=5, senior_target=3),
}
LIVE = ("human", "unknown")
CLOSED = ("done", "dnc", "bad_number", "exhausted")
SL_S = 2.0005  # the law's two seconds, to the half millisecond
# SQLite subtracts timestamps as julian days, exact to some tens of microseconds each: a sum of n spans
# may drift by n times that (PostgreSQL subtracts exactly).
JULIANDAY_S = 1e-4


@dataclass
class Week:
    db: Engine
    plan: WeekPlan
    result: WeekResult
    report: FullReport
    start: datetime
    end: datetime
    attempts: list[CallAttempt]
    changes: list[AgentStateChange]
    contacts: list[Contact]
    codes: list[DispositionCode]
    campaigns: dict[int, Campaign]
    lists: dict[int, ContactList]
    agents: dict[int, Agent]
    responses: list[SurveyResponse]
    answers: list[SurveyAnswer]

    def table(self, key: str) -> ReportTable:
        return self.report.tables[key]

    def in_range(self) -> list[CallAttempt]:
        return [a for a in self.attempts if a.placed_at is not None and self.start <= a.placed_at < self.end]

    def list_of(self, attempt: CallAttempt) -> int:
        return self.contact(attempt.contact_id).list_id

    def contact(self, contact_id: int) -> Contact:
        return next(c for c in self.contacts if c.id == contact_id)

    def flagged(self, campaign_id: int, flag: Callable[[DispositionCode], bool]) -> set[str]:
        """The campaign's codes with ``flag``: its own codes override the default set's, code by code."""
        merged = {c.code: c for c in self.codes if c.campaign_id is None}
        merged.update({c.code: c for c in self.codes if c.campaign_id == campaign_id})
        return {code for code, row in merged.items() if flag(row)}


@pytest.fixture(scope="module", params=list(PLANS))
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of its own for the module's week: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        db = make_engine(f"sqlite:///{tmp_path_factory.mktemp('week') / 'week.db'}")
        yield db
        db.dispose()
        return
    server = request.getfixturevalue("pg_server_url")
    schema = f"test_week_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in server else "?"
    db = make_engine(f"{server}{separator}options={quote(f'-csearch_path={schema}')}")
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def week(database: Engine) -> Week:
    db = database
    plan = PLANS[db.dialect.name]
    result = run_week(db, plan)
    survey_reports.install()
    start, end = week_range(plan)
    with db.connect() as conn:
        report = reports.run_all(conn, ReportFilter(start, end, zone=NY), now=end)
    with make_session_factory(db)() as session:
        session.expire_on_commit = False
        loaded = Week(
            db, plan, result, report, start, end,
            attempts=list(session.scalars(select(CallAttempt))),
            changes=list(session.scalars(select(AgentStateChange))),
            contacts=list(session.scalars(select(Contact))),
            codes=list(session.scalars(select(DispositionCode))),
            campaigns={c.id: c for c in session.scalars(select(Campaign))},
            lists={c.id: c for c in session.scalars(select(ContactList))},
            agents={a.id: a for a in session.scalars(select(Agent))},
            responses=list(session.scalars(select(SurveyResponse))),
            answers=list(session.scalars(select(SurveyAnswer))),
        )
        session.expunge_all()
    return loaded


# ---------------------------------------------------------------------------------------------- the raw sums


def seconds(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds()


def call_sums(week: Week, attempts: list[CallAttempt]) -> dict[str, Any]:
    """The call columns of a group of attempts, by the definitions, from the rows alone."""
    sales = {cid: week.flagged(cid, lambda c: c.sale) for cid in week.campaigns}
    placed = len(attempts)
    answered = sum(a.answered_at is not None for a in attempts)
    live = sum(a.answer_class in LIVE for a in attempts)
    machine = sum(a.answer_class == "machine" for a in attempts)
    connected_calls = [a for a in attempts if a.connected_at is not None]
    connected = len(connected_calls)
    abandoned = sum(a.abandoned_at is not None and (a.answer_class or "") not in ("machine", "fax") for a in attempts)
    within = sum(a.answer_class in LIVE and seconds(a.answered_at, a.connected_at) <= SL_S for a in connected_calls)
    sold = sum(a.disposition in sales[a.campaign_id] for a in connected_calls)
    handle = sum((a.talk_s or 0.0) + (a.wrap_s or 0.0) for a in connected_calls)
    talk = sum(a.talk_s or 0.0 for a in connected_calls)
    wrap = sum(a.wrap_s or 0.0 for a in connected_calls)

    def ratio(part: float, whole: float) -> float | None:
        return part / whole if whole else None

    return {
        "placed": placed, "answered": answered, "live": live, "machine": machine, "connected": connected,
        "abandoned": abandoned, "sales": sold,
        "answer_rate": ratio(answered, placed), "amd_rate": ratio(machine, answered),
        "contact_rate": ratio(connected, placed), "abandon_rate": ratio(abandoned, live),
        "service_level": ratio(within, live), "conversion": ratio(sold, connected),
        "aht_s": ratio(handle, connected), "avg_talk_s": ratio(talk, connected), "avg_wrap_s": ratio(wrap, connected),
    }


def assert_same(row: dict[str, Any], expected: dict[str, Any], where: str, *, rel: float = 1e-9,
                abs_s: float = 1e-6) -> None:
    """Counts exactly; seconds to ``abs_s`` and rates to ``rel`` (what the database's arithmetic rounds)."""
    for key, value in expected.items():
        got = row.get(key)
        if value is None or isinstance(value, str | date):
            assert got == value, f"{where}: {key} is {got!r}, the raw rows say {value!r}"
        elif isinstance(value, int) and not isinstance(value, bool):
            assert got == value, f"{where}: {key} is {got!r}, the raw rows say {value}"
        else:
            tolerance = pytest.approx(value, rel=rel, abs=abs_s if key.endswith("_s") or ":" in key else 1e-9)
            assert got == tolerance, f"{where}: {key} is {got!r}, the raw rows say {value!r}"


def assert_grouped(week: Week, key: str, group: Callable[[CallAttempt], Any], row_key: str) -> None:
    groups: dict[Any, list[CallAttempt]] = defaultdict(list)
    for attempt in week.in_range():
        groups[group(attempt)].append(attempt)
    rows = {row[row_key]: row for row in week.table(key).rows}
    non_empty = {k for k, r in rows.items() if r["placed"]}
    assert non_empty == set(groups), f"{key}: the groups with calls differ from the raw rows'"
    for value, attempts in groups.items():
        assert_same(rows[value], call_sums(week, attempts), f"{key} {value}")


# ---------------------------------------------------------------------------------------------- one check a table


def check_by_day(week: Week) -> None:
    assert_grouped(week, "by_day", lambda a: a.placed_at.astimezone(NY).date(), "day")
    days = [row["day"] for row in week.table("by_day").rows]
    assert days == [week.plan.first_day + timedelta(days=i) for i in range(week.plan.days)]


def check_by_hour(week: Week) -> None:
    assert_grouped(week, "by_hour", lambda a: a.placed_at.astimezone(NY).hour, "hour")
    assert [row["hour"] for row in week.table("by_hour").rows] == list(range(24))


def check_by_campaign(week: Week) -> None:
    assert_grouped(week, "by_campaign", lambda a: a.campaign_id, "id")
    for row in week.table("by_campaign").rows:
        assert row["name"] == week.campaigns[row["id"]].name


def check_by_list(week: Week) -> None:
    assert_grouped(week, "by_list", week.list_of, "id")


def check_by_agent(week: Week) -> None:
    assert_grouped(week, "by_agent", lambda a: a.agent_id, "id")
    for row in week.table("by_agent").rows:
        if row["id"] is not None:
            agent = week.agents[row["id"]]
            assert row["name"] == f"{agent.name} ({agent.login})"


def check_agent_time(week: Week) -> None:
    """Each change lasts until the agent's next one in the same campaign (the last one until the range ends)."""
    spent: dict[int, Counter[str]] = defaultdict(Counter)
    calls: Counter[int] = Counter()
    by_pair: dict[tuple[int, int], list[AgentStateChange]] = defaultdict(list)
    for change in week.changes:
        if week.start <= change.at < week.end:
            by_pair[(change.campaign_id, change.agent_id)].append(change)
    changed: Counter[int] = Counter()
    for (_, agent_id), changes in by_pair.items():
        changed[agent_id] += len(changes)
        changes.sort(key=lambda c: (c.at, c.id))
        for change, after in zip(changes, [*changes[1:], None], strict=True):
            lasted = max(0.0, seconds(change.at, after.at if after else week.end))
            if change.state in ("reserved", "on_call"):
                spent[agent_id]["talk_s"] += lasted
            elif change.state in ("ready", "wrap_up"):
                spent[agent_id]["ready_s" if change.state == "ready" else "wrap_s"] += lasted
            elif change.state == "paused":
                spent[agent_id]["paused_s"] += lasted
                spent[agent_id][f"paused:{change.reason or 'no reason given'}"] += lasted
            calls[agent_id] += change.state == "on_call"
    rows = {row["agent_id"]: row for row in week.table("agent_time").rows}
    assert set(rows) == {a for a, s in spent.items() if sum(s[k] for k in ("ready_s", "talk_s", "wrap_s", "paused_s"))}
    for agent_id, time_by in spent.items():
        logged_in = time_by["ready_s"] + time_by["talk_s"] + time_by["wrap_s"] + time_by["paused_s"]
        working = time_by["ready_s"] + time_by["talk_s"] + time_by["wrap_s"]
        assert_same(rows[agent_id], {
            **{k: v for k, v in time_by.items()}, "logged_in_s": logged_in, "calls": calls[agent_id],
            "wait_s": time_by["ready_s"] / calls[agent_id] if calls[agent_id] else None,
            "occupancy": (time_by["talk_s"] + time_by["wrap_s"]) / working if working else None,
        }, f"agent time of {week.agents[agent_id].login}", rel=1e-6, abs_s=JULIANDAY_S * changed[agent_id])
    # Taken calls are the calls bridged to the agent: the same count the call records give.
    bridged = Counter(a.agent_id for a in week.in_range() if a.connected_at is not None)
    assert {a: r["calls"] for a, r in rows.items()} == dict(bridged)
    ready = sum(row["ready_s"] for row in rows.values())
    assert week.report.wait_s == pytest.approx(ready / sum(calls.values()))


def finished_codes(week: Week, campaign_id: int) -> set[str]:
    return week.flagged(campaign_id, lambda c: c.final or c.adds_to_dnc)


def check_penetration(week: Week) -> None:
    rows = {row["list_id"]: row for row in week.table("penetration").rows}
    assert set(rows) == set(week.lists)
    dialed_by_calls = {a.contact_id for a in week.attempts}
    for list_id, contact_list in week.lists.items():
        members = [c for c in week.contacts if c.list_id == list_id]
        dialed = [c for c in members if c.attempts > 0]
        assert {c.id for c in dialed} == {c.id for c in members if c.id in dialed_by_calls}
        attempts = [a for a in week.in_range() if week.list_of(a) == list_id]
        finished = finished_codes(week, contact_list.campaign_id)
        reached = sum(a.connected_at is not None for a in attempts)
        assert_same(rows[list_id], {
            "contacts": len(members), "dialed": len(dialed), "penetration": len(dialed) / len(members),
            "closed": sum(c.status in CLOSED for c in members), "attempted": len(attempts), "reached": reached,
            "reach_rate": reached / len(attempts) if attempts else None,
            "finished": sum(a.disposition in finished for a in attempts),
        }, f"penetration of {contact_list.name}")


def check_penetration_attempts(week: Week) -> None:
    groups: dict[tuple[int, int], list[CallAttempt]] = defaultdict(list)
    for attempt in week.in_range():
        groups[(week.list_of(attempt), attempt.attempt_number)].append(attempt)
    rows = {(row["list_id"], row["attempt_number"]): row for row in week.table("penetration_attempts").rows}
    assert set(rows) == set(groups)
    for (list_id, number), attempts in groups.items():
        finished = finished_codes(week, week.lists[list_id].campaign_id)
        reached = sum(a.connected_at is not None for a in attempts)
        size = sum(c.list_id == list_id for c in week.contacts)
        assert_same(rows[(list_id, number)], {
            "attempted": len(attempts), "reached": reached, "reach_rate": reached / len(attempts),
            "finished": sum(a.disposition in finished for a in attempts), "share_of_list": len(attempts) / size,
        }, f"attempt {number} of list {list_id}")
        # Each contact is attempted once per attempt number.
        assert len({a.contact_id for a in attempts}) == len(attempts)


def caller_days(week: Week) -> dict[tuple[date, str], list[int]]:
    days: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for a in week.in_range():
        counts = days[(a.placed_at.astimezone(NY).date(), a.caller_id or "(not recorded)")]
        counts[0] += 1
        counts[1] += a.answered_at is not None
        counts[2] += a.answer_class in LIVE
    return days


def check_caller_id_days(week: Week) -> None:
    rows = {(row["day"], row["caller_id"]): row for row in week.table("caller_id_days").rows}
    days = caller_days(week)
    assert set(rows) == set(days)
    for key, (placed, answered, live) in days.items():
        assert_same(rows[key], {"placed": placed, "answered": answered, "live": live,
                                "answer_rate": answered / placed}, f"caller ID {key}")


def check_caller_ids(week: Week) -> None:
    rows = {row["caller_id"]: row for row in week.table("caller_ids").rows}
    by_caller: dict[str, dict[date, list[int]]] = defaultdict(dict)
    for (day, caller), counts in caller_days(week).items():
        by_caller[caller][day] = counts
    assert set(rows) == set(by_caller)
    configured = {n for c in week.campaigns.values() for n in (c.caller_ids or [c.caller_id])}
    assert set(rows) == configured, "every number the campaigns rotate through was used"
    for caller, days in by_caller.items():
        placed, answered, live = (sum(c[i] for c in days.values()) for i in range(3))
        last = max(days)
        last_rate = days[last][1] / days[last][0]
        assert_same(rows[caller], {"placed": placed, "answered": answered, "live": live,
                                   "answer_rate": answered / placed, "last_day": last, "last_day_rate": last_rate,
                                   "change": last_rate - answered / placed}, f"caller ID {caller}")


def survey_campaign(week: Week) -> int:
    return week.result.survey_campaign_id


def calls_of(week: Week, response: SurveyResponse) -> set[int | None]:
    return {a.attempt_id for a in week.answers if a.response_id == response.id}


def check_survey_completion(week: Week) -> None:
    by_id = {a.id: a for a in week.attempts}
    groups: dict[date, Counter[str]] = defaultdict(Counter)
    for response in week.responses:
        day = by_id[response.attempt_id].placed_at.astimezone(NY).date()
        counts = groups[day]
        counts["started"] += 1
        counts[response.status] += 1
        counts["by_quota"] += response.end_reason.startswith("quota ")
        counts["resumed"] += len(calls_of(week, response)) > 1
    rows = {row["day"]: row for row in week.table("survey_completion").rows}
    assert set(rows) == set(groups)
    for day, counts in groups.items():
        row = rows[day]
        assert row["campaign_id"] == survey_campaign(week)
        assert_same(row, {
            "started": counts["started"], "partial": counts["partial"], "complete": counts["complete"],
            "screened_out": counts["screened_out"], "by_quota": counts["by_quota"], "resumed": counts["resumed"],
            "completion_rate": counts["complete"] / counts["started"],
        }, f"survey completion on {day}")
        assert row["started"] == row["partial"] + row["complete"] + row["screened_out"]


def age_of(week: Week, response: SurveyResponse) -> int | None:
    return next((a.value for a in week.answers if a.response_id == response.id and a.question_id == "age"), None)


def check_survey_quotas(week: Week) -> None:
    """A cell's complete count is the completed interviews whose answers put them in it."""
    complete = [r for r in week.responses if r.status == "complete"]
    ages = [age_of(week, r) for r in complete]
    expected = {
        "young": (week.plan.young_target, sum(a is not None and a < 35 for a in ages)),
        "senior": (week.plan.senior_target, sum(a is not None and a >= 65 for a in ages)),
    }
    rows = {row["cell"]: row for row in week.table("survey_quotas").rows}
    assert set(rows) == set(expected)
    for cell, (target, done) in expected.items():
        assert_same(rows[cell], {"target": target, "complete": done, "open": max(0, target - done)}, f"cell {cell}")


CHECKS: dict[str, Callable[[Week], None]] = {
    "by_day": check_by_day, "by_hour": check_by_hour, "by_campaign": check_by_campaign, "by_list": check_by_list,
    "by_agent": check_by_agent, "agent_time": check_agent_time, "penetration": check_penetration,
    "penetration_attempts": check_penetration_attempts, "caller_ids": check_caller_ids,
    "caller_id_days": check_caller_id_days, "survey_completion": check_survey_completion,
    "survey_quotas": check_survey_quotas,
}


# ---------------------------------------------------------------------------------------------- the tests


def test_the_week_gives_every_report_something_to_count(week: Week) -> None:
    attempts = week.in_range()
    by_campaign = Counter(a.campaign_id for a in attempts)
    assert by_campaign[week.result.sales_campaign_id] > 150 and by_campaign[survey_campaign(week)] > 150
    assert {a.placed_at.astimezone(NY).date() for a in attempts} >= {week.plan.first_day}
    codes = Counter(a.disposition for a in attempts)
    assert codes["SALE"] and codes["CB"] and codes["NI"] and codes["COMPLETE"] and codes["BROKE_OFF"]
    assert codes["AM"], "machines answered"
    statuses = Counter(r.status for r in week.responses)
    assert statuses["complete"] and statuses["screened_out"] and statuses["partial"]
    assert any(r.end_reason.startswith("quota ") for r in week.responses), "a quota filled during the week"
    assert any(len(calls_of(week, r)) > 1 for r in week.responses), "a broken-off interview was resumed"
    assert any(c.state == "paused" for c in week.changes)


@pytest.mark.parametrize("key", list(reports.table_keys()))
def test_every_report_table_equals_the_same_figures_recomputed_from_the_raw_rows(week: Week, key: str) -> None:
    assert key in CHECKS, f"the report table {key} has no cross-check in this test"
    CHECKS[key](week)


def test_every_table_is_cross_checked_including_the_survey_tables(week: Week) -> None:
    assert set(week.report.tables) == set(CHECKS) == set(reports.table_keys())


def test_the_survey_tables_follow_the_reports_campaign_list_and_agent_filters(week: Week) -> None:
    def tables(**narrowed: int) -> dict[str, list[dict[str, Any]]]:
        with week.db.connect() as conn:
            found = survey_reports.SurveyReports().run(conn, ReportFilter(week.start, week.end, zone=NY, **narrowed))
        return {table.key: table.rows for table in found}

    whole = {key: week.table(key).rows for key in survey_reports.SurveyReports.tables}
    survey = survey_campaign(week)
    assert tables(campaign_id=week.result.sales_campaign_id) == {"survey_completion": [], "survey_quotas": []}
    assert tables(campaign_id=survey) == whole
    assert tables(list_id=week.result.survey_list_id)["survey_completion"] == whole["survey_completion"]
    assert tables(list_id=week.result.sales_list_id)["survey_completion"] == []
    # Every interview started on a call an agent took: the agents' rows add up to the whole.
    by_agent: Counter[tuple[date, str]] = Counter()
    for agent_id in week.agents:
        for row in tables(agent_id=agent_id)["survey_completion"]:
            for column in ("started", "partial", "complete", "screened_out", "by_quota", "resumed"):
                by_agent[(row["day"], column)] += row[column]
    assert by_agent == Counter({(row["day"], column): row[column] for row in whole["survey_completion"]
                                for column in ("started", "partial", "complete", "screened_out", "by_quota",
                                               "resumed") if row[column]})


def test_the_weeks_totals_equal_the_raw_call_records(week: Week) -> None:
    assert_same(week.report.totals, call_sums(week, week.in_range()), "totals")


def test_each_survey_calls_disposition_says_how_its_interview_stood_after_it(week: Week) -> None:
    by_id = {a.id: a for a in week.attempts}
    expected = {"complete": "COMPLETE", "screened_out": "SCREENED", "partial": "BROKE_OFF"}
    for response in week.responses:
        last_call = max(a for a in calls_of(week, response) if a is not None)
        assert by_id[last_call].disposition == expected[response.status], f"response {response.id}"
    interviewed = {a for r in week.responses for a in calls_of(week, r)}
    for attempt in week.in_range():
        if attempt.campaign_id == survey_campaign(week) and attempt.disposition in expected.values():
            assert attempt.id in interviewed, f"call {attempt.id} was dispositioned without an interview"


def read_export(week: Week) -> tuple[list[list[str]], list[list[str]]]:
    answers, codebook = io.StringIO(newline=""), io.StringIO(newline="")
    with Session(week.db) as session:
        export_responses(session, survey_campaign(week), answers)
        export_codebook(session, survey_campaign(week), codebook)
    return list(csv.reader(io.StringIO(answers.getvalue()))), list(csv.reader(io.StringIO(codebook.getvalue())))


def test_the_survey_export_has_one_row_per_respondent_and_the_codebooks_columns(week: Week) -> None:
    rows, codebook = read_export(week)
    header, body = rows[0], rows[1:]
    assert header == [line[0] for line in codebook[1:]]
    assert all(len(row) == len(header) for row in body)
    respondents = {r.contact_id for r in week.responses if r.campaign_id == survey_campaign(week)}
    assert len(body) == len(respondents)
    assert {int(row[header.index("contact_id")]) for row in body} == respondents
    by_contact = {r.contact_id: r for r in week.responses}
    for row in body:
        response = by_contact[int(row[header.index("contact_id")])]
        assert row[header.index("status")] == response.status
        age = age_of(week, response)
        assert row[header.index("age")] == ("" if age is None else str(age))
        assert row[header.index("phone")].startswith("'+1"), "phone numbers are kept as text in a spreadsheet"
        started = datetime.fromisoformat(row[header.index("started")])
        assert week.start <= started < week.end, "the export reads the simulated week's times"


def test_the_same_plan_gives_the_same_week(tmp_path: Path) -> None:
    plan = WeekPlan(days=1, seed=9, agents=2, shift_hours=0.25, sales_contacts=60, survey_contacts=60)

    def records(name: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        db = make_engine(f"sqlite:///{tmp_path / name}")
        try:
            run_week(db, plan)
            with db.connect() as conn:
                calls = [tuple(r) for r in conn.execute(select(
                    CallAttempt.contact_id, CallAttempt.placed_at, CallAttempt.answer_class, CallAttempt.disposition,
                    CallAttempt.agent_id).order_by(CallAttempt.id))]
                interviews = [tuple(r) for r in conn.execute(select(
                    SurveyResponse.contact_id, SurveyResponse.status, SurveyResponse.end_reason,
                    SurveyResponse.completed_at).order_by(SurveyResponse.id))]
        finally:
            db.dispose()
        return calls, interviews

    first = records("one.db")
    assert first[0] and first == records("two.db")


@pytest.mark.parametrize(("setting", "value"), [
    ("days", 0), ("agents", 0), ("shift_hours", 9.0), ("sales_contacts", 1), ("young_target", -1), ("seed", True),
])
def test_a_week_plan_refuses_a_bad_setting_naming_it(setting: str, value: Any) -> None:
    with pytest.raises(WeekError) as refused:
        WeekPlan(**{setting: value})
    assert refused.value.field == setting


def test_the_command_writes_every_report_table_and_the_survey_export(tmp_path: Path) -> None:
    out = tmp_path / "week"
    result = CliRunner().invoke(simulate_week_command, [
        "--out", str(out), "--days", "1", "--seed", "4", "--agents", "2", "--hours", "0.25", "--contacts", "60",
    ])
    assert result.exit_code == 0, result.output
    survey_reports.install()
    for key in reports.table_keys():
        with (out / f"{key}.csv").open(newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
        assert table and table[0], f"{key}.csv has a header"
    with (out / ANSWERS_FILE).open(newline="", encoding="utf-8") as f:
        answers = list(csv.reader(f))
    with (out / CODEBOOK_FILE).open(newline="", encoding="utf-8") as f:
        codebook = list(csv.reader(f))
    assert answers[0] == [line[0] for line in codebook[1:]]
    by_day = list(csv.reader((out / "by_day.csv").open(newline="", encoding="utf-8")))
    db = make_engine(f"sqlite:///{out / 'week.db'}")
    try:
        with db.connect() as conn:
            placed = len(conn.execute(select(CallAttempt.id)).all())
    finally:
        db.dispose()
    assert int(by_day[1][1]) == placed > 0
    assert "wrote" in result.output


def test_the_command_names_the_option_at_fault(tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate_week_command, ["--out", str(tmp_path / "w"), "--hours", "12"])
    assert result.exit_code != 0
    assert "--hours" in result.output
