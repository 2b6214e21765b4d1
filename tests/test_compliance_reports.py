"""Compliance reports over a simulated campaign: counts checked against call_attempts directly."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from campaigns import compliance_reports as reports
from campaigns.cli import main
from campaigns.db import make_engine
from campaigns.settings import get_settings
from campaigns.simulate import run_simulation
from dialer.simulation.scenario import parse_scenario

WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A 30-minute simulated ratio:2 run; returns (db file, campaign id). Read-only: copy it to change it."""
    path = tmp_path_factory.mktemp("reports") / "r.db"
    result = run_simulation(
        parse_scenario({"name": "r", "agents": 3, "hours": 0.5}), "ratio:2", 1, database_url=f"sqlite:///{path}"
    )
    return path, result["campaign_id"]


@pytest.fixture
def db(simulated, tmp_path):
    """A private copy of the simulated database, for tests that change rows."""
    path, campaign_id = simulated
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    engine = make_engine(f"sqlite:///{copy}")
    yield engine, campaign_id
    engine.dispose()


def _last_placed(conn, campaign_id):
    value = conn.execute(
        text("SELECT max(placed_at) FROM call_attempts WHERE campaign_id = :c"), {"c": campaign_id}
    ).scalar_one()
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def test_abandonment_numerator_and_denominator_equal_counts_taken_from_call_attempts(db):
    engine, campaign_id = db
    with engine.connect() as conn:
        live = conn.execute(text(
            "SELECT count(*) FROM call_attempts WHERE campaign_id = :c AND answer_class IN ('human', 'unknown')"
        ), {"c": campaign_id}).scalar_one()
        dropped = conn.execute(text(
            "SELECT count(*) FROM call_attempts WHERE campaign_id = :c AND abandoned_at IS NOT NULL"
            " AND coalesce(answer_class, '') NOT IN ('machine', 'fax')"
        ), {"c": campaign_id}).scalar_one()
        machine = conn.execute(text(
            "SELECT count(*) FROM call_attempts WHERE campaign_id = :c AND answer_class = 'machine'"
        ), {"c": campaign_id}).scalar_one()
        now = _last_placed(conn, campaign_id) + timedelta(hours=1)
        rows = reports.abandonment_periods(conn, campaign_id, now)

    assert live > 0
    assert [row["period"] for row in rows] == ["period 1", "rolling 30 days"]
    for row in rows:
        assert (row["live_answers"], row["abandoned"], row["machine_answers"]) == (live, dropped, machine)
        assert row["rate"] == pytest.approx(dropped / live, abs=1e-6)
        assert row["over_limit"] is (dropped / live > 0.03)


def test_a_call_placed_31_days_after_the_first_starts_a_second_period_and_leaves_the_rolling_window(db):
    engine, campaign_id = db
    with engine.begin() as conn:
        first = conn.execute(text(
            "SELECT id, placed_at FROM call_attempts WHERE campaign_id = :c AND answer_class = 'human'"
            " ORDER BY placed_at DESC LIMIT 1"
        ), {"c": campaign_id}).one()
        later = datetime.fromisoformat(first.placed_at).replace(tzinfo=UTC) + timedelta(days=31)
        conn.execute(text("UPDATE call_attempts SET placed_at = :at WHERE id = :id"),
                     {"at": later.strftime("%Y-%m-%d %H:%M:%S.%f"), "id": first.id})
        rows = reports.abandonment_periods(conn, campaign_id, later + timedelta(days=1))

    periods = {row["period"]: row for row in rows}
    assert set(periods) == {"period 1", "period 2", "rolling 30 days"}
    assert periods["period 2"]["live_answers"] == 1
    assert periods["rolling 30 days"]["live_answers"] == 1
    assert periods["period 1"]["end"] == periods["period 2"]["start"]


def test_no_simulated_call_is_outside_the_window_but_one_moved_to_3am_local_is(db):
    engine, campaign_id = db
    with engine.connect() as conn:
        assert reports.calls_outside_window(conn, campaign_id, *WIDE) == []
    with engine.begin() as conn:
        attempt_id, zones = conn.execute(text(
            "SELECT a.id, p.timezones FROM call_attempts a JOIN contact_phones p ON p.id = a.phone_id"
            " WHERE a.campaign_id = :c AND a.placed_at IS NOT NULL ORDER BY a.id LIMIT 1"
        ), {"c": campaign_id}).one()
        zone = json.loads(zones)[0]
        from zoneinfo import ZoneInfo

        three_am = datetime(2026, 3, 2, 3, 0, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        conn.execute(text("UPDATE call_attempts SET placed_at = :at WHERE id = :id"),
                     {"at": three_am.strftime("%Y-%m-%d %H:%M:%S.%f"), "id": attempt_id})
        rows = reports.calls_outside_window(conn, campaign_id, *WIDE)

    assert {row["attempt_id"] for row in rows} == {attempt_id}
    assert {row["rule"] for row in rows} == {"federal", "campaign"}
    assert all(row["local_time"].startswith("2026-03-02T03:00:00") for row in rows)


def test_cap_hits_count_every_failed_reason_of_the_blocked_decisions(db):
    engine, campaign_id = db
    at = "2026-03-02 14:00:00.000000"
    reasons = json.dumps([
        {"rule": "us-fl.cap", "code": "frequency_cap", "passed": False, "detail": "3 calls in 24 h"},
        {"rule": "us.fcc.hours", "code": "ok", "passed": True, "detail": "inside"},
    ])
    with engine.begin() as conn:
        for number in ("+13055550100", "+13055550100", "+13055550101"):
            conn.execute(text(
                "INSERT INTO dial_decisions (at, campaign_id, e164, path, allowed, reasons)"
                " VALUES (:at, :c, :e, 'hopper', 0, :r)"
            ), {"at": at, "c": campaign_id, "e": number, "r": reasons})
        blocked = conn.execute(text(
            "SELECT count(*) FROM dial_decisions WHERE campaign_id = :c AND allowed = 0"
        ), {"c": campaign_id}).scalar_one()
        rows = reports.cap_hits(conn, campaign_id, *WIDE)

    assert blocked == 3
    assert [(row["rule"], row["code"], row["blocked"], row["numbers"]) for row in rows] == [
        ("us-fl.cap", "frequency_cap", blocked, 2)
    ]


def test_calls_placed_after_a_dnc_addition_took_effect_are_counted(db):
    engine, _ = db
    with engine.connect() as conn:
        before = reports.dnc_honor_latency(conn, *WIDE)
    assert before and all(row["calls_after_effective"] == 0 for row in before)
    change = before[0]
    with engine.begin() as conn:
        late = (change["effective_at"] + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
        conn.execute(text(
            "UPDATE call_attempts SET placed_at = :at WHERE id = (SELECT min(id) FROM call_attempts WHERE e164 = :e)"
        ), {"at": late, "e": change["e164"]})
        after = {row["change_id"]: row for row in reports.dnc_honor_latency(conn, *WIDE)}

    assert after[change["change_id"]]["calls_after_effective"] == 1
    assert after[change["change_id"]]["latency_s"] >= 0


def test_the_dossier_of_a_dialed_number_lists_each_of_its_attempts_in_time_order(db):
    engine, campaign_id = db
    with engine.connect() as conn:
        e164, attempt_ids = conn.execute(text(
            "SELECT e164, group_concat(id) FROM call_attempts WHERE campaign_id = :c"
            " GROUP BY e164 ORDER BY count(*) DESC, e164 LIMIT 1"
        ), {"c": campaign_id}).one()
        rows = reports.number_dossier(conn, e164)

    attempts = [row["ref_id"] for row in rows if row["record"] == "attempt"]
    assert sorted(attempts) == sorted(int(i) for i in attempt_ids.split(","))
    assert any(row["record"] == "audit" for row in rows)
    times = [row["at"] for row in rows]
    assert times == sorted(times)


@pytest.fixture
def cli(simulated, monkeypatch):
    path, _ = simulated
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    runner = CliRunner()

    def run(*args: str):
        get_settings.cache_clear()
        return runner.invoke(main, list(args), catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def test_report_abandonment_writes_a_csv_with_a_header_row_and_one_row_per_period(cli, simulated, tmp_path):
    _, campaign_id = simulated
    out = tmp_path / "abandonment.csv"

    result = cli("report", "abandonment", "--campaign", str(campaign_id), "--to", "2026-03-03", "--out", str(out))

    assert result.exit_code == 0, result.output
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:4] == ["campaign_id", "period", "start", "end"]
    assert [row[1] for row in rows[1:]] == ["period 1", "rolling 30 days"]


def test_report_dossier_writes_a_csv_header_and_its_json_lists_the_numbers_attempts(cli, simulated, tmp_path):
    path, campaign_id = simulated
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        e164 = conn.execute(text("SELECT e164 FROM call_attempts ORDER BY id LIMIT 1")).scalar_one()
    engine.dispose()
    out = tmp_path / "dossier.csv"

    assert cli("report", "dossier", "--phone", e164, "--out", str(out)).exit_code == 0
    as_json = json.loads(cli("report", "dossier", "--phone", e164, "--json").output)

    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == "at,record,kind,campaign_id,ref_id,detail"
    assert any(row["record"] == "attempt" and row["campaign_id"] == campaign_id for row in as_json)


def test_report_outside_window_exits_0_with_only_a_header_on_a_lawful_run(cli, simulated):
    _, campaign_id = simulated

    result = cli(
        "report", "outside-window", "--campaign", str(campaign_id), "--from", "2026-03-01", "--to", "2026-03-03"
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [",".join(
        ("attempt_id", "campaign_id", "contact_id", "e164", "placed_at", "zone", "local_time", "window", "rule")
    )]
