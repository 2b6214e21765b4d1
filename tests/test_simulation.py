"""``dialer simulate`` end to end: the real engine, database and gate against the simulated carrier."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from campaigns.cli import main
from campaigns.db import make_engine
from campaigns.models import AgentStateChange, CallAttempt, Contact, DialDecisionRecord
from campaigns.simulate import run_simulation
from dialer.simulation.analytic import progressive_occupancy
from dialer.simulation.scenario import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"
REQUIRED_KEYS = {
    "occupancy", "abandonment_rate", "worst_hour_abandonment_rate", "human_answers", "abandoned",
    "agent_wait_p50_s", "agent_wait_p90_s", "connects_per_agent_hour", "dials_per_agent_hour",
    "dials_without_agents", "pacer", "seed",
}


def shared_scenarios() -> list[Path]:
    return sorted(SCENARIOS.glob("*.json")) if SCENARIOS.is_dir() else []


def small(**overrides: object) -> Scenario:
    base = {"name": "small", "agents": 4, "hours": 1, "p_human": 0.25}
    base.update(overrides)
    return parse_scenario(base)


def without_figures_of_the_machine(result: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in result.items() if k not in ("wall_s",)}


def test_a_run_is_a_pure_function_of_scenario_pacer_and_seed() -> None:
    first = run_simulation(small(), "ratio:1.5", 7)
    again = run_simulation(small(), "ratio:1.5", 7)
    other = run_simulation(small(), "ratio:1.5", 8)
    assert without_figures_of_the_machine(first) == without_figures_of_the_machine(again)
    assert without_figures_of_the_machine(first) != without_figures_of_the_machine(other)
    assert set(first) >= REQUIRED_KEYS


@pytest.mark.parametrize("path", shared_scenarios(), ids=lambda p: p.stem)
def test_progressive_abandons_nobody_on_every_shared_scenario_without_detector_misreads(path: Path) -> None:
    scenario = load_scenario(path)
    scenario = dataclasses.replace(scenario, amd_human_as_machine=0.0, hours=min(scenario.hours, 2.0),
                                   p_human=tuple((h, p) for h, p in scenario.p_human if h < 2.0) or scenario.p_human)
    result = run_simulation(scenario, "progressive", 1)
    assert result["human_answers"] > 20
    assert result["abandoned"] == 0
    assert result["dials_without_agents"] == 0


def test_progressive_occupancy_matches_the_analytic_value() -> None:
    # The formula knows one talk time for everybody and no detector misreads: so does this world.
    # (With per-agent talk times, occupancy sits about a point lower: fast agents take more calls.)
    scenario = parse_scenario({"name": "analytic", "agents": 20, "hours": 4, "amd_human_as_machine": 0.0,
                               "agent_talk_sigma": 0.0})
    runs = [run_simulation(scenario, "progressive", seed)["occupancy"] for seed in (1, 2)]
    mean = sum(runs) / len(runs)
    assert abs(mean - progressive_occupancy(scenario)) <= 0.02


def test_a_ratio_above_one_with_few_agents_abandons_people_and_says_so() -> None:
    result = run_simulation(small(agents=3, p_human=0.4, amd_human_as_machine=0.0), "ratio:3", 2)
    assert result["abandoned"] > 0
    assert result["abandonment_rate"] == pytest.approx(result["abandoned"] / result["human_answers"])
    assert result["engine"]["abandoned_seen"] > 0  # the engine saw its drops too


def test_the_database_holds_a_closed_record_of_every_dial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    result = run_simulation(small(), "progressive", 3, database_url=url)
    db = make_engine(url)
    with db.connect() as conn:
        attempts = conn.scalar(select(func.count()).select_from(CallAttempt))
        open_attempts = conn.scalar(select(func.count()).select_from(CallAttempt).where(
            CallAttempt.ended_at.is_(None)))
        no_disposition = conn.scalar(select(func.count()).select_from(CallAttempt).where(
            CallAttempt.disposition.is_(None)))
        in_call = conn.scalar(select(func.count()).select_from(Contact).where(Contact.status == "in_call"))
        decisions = conn.scalar(select(func.count()).select_from(DialDecisionRecord))
        moves = conn.scalar(select(func.count()).select_from(AgentStateChange))
        connected = conn.scalar(select(func.count()).select_from(CallAttempt).where(
            CallAttempt.connected_at.is_not(None)))
    db.dispose()
    assert attempts == result["dials"]
    assert open_attempts == 0
    assert no_disposition == 0
    assert in_call == 0
    assert decisions >= attempts
    assert moves > 0
    assert connected == result["engine"]["connected"]


def test_a_busy_day_with_breaks_lunch_churn_and_two_days_runs_and_never_dials_without_agents() -> None:
    scenario = parse_scenario({
        "name": "churn", "hours": 2, "days": 2, "p_daily_range": [0.12, 0.24],
        "agents": [{"n": 3, "login_h": 0}, {"n": 3, "login_h": [0.2, 0.5], "logout_h": [1.2, 1.8]}],
        "breaks": {"per_hour": 2, "min_s": 120, "max_s": 300},
        "lunch": {"at_h": 1.0, "frac": 0.5, "within_s": 300, "dur_s": 600},
        "abrupt_logouts_h": [0.7, 1.5],
    })
    result = run_simulation(scenario, "ratio:1.3", 4)
    assert result["dials_without_agents"] == 0
    assert result["paused_hours"] > 0
    assert result["human_answers"] > 0
    assert 0 < result["occupancy"] < 1


def test_the_simulate_command_prints_one_json_object(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "cli", "agents": 2, "hours": 0.5}))
    out = CliRunner().invoke(main, ["simulate", str(path), "--pacer", "ratio:1.2", "--seed", "3", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert set(result) >= REQUIRED_KEYS
    assert result["pacer"] == "ratio:1.2"
    assert result["seed"] == 3


def test_the_simulate_command_names_a_misspelt_key(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"agnets": 2}))
    out = CliRunner().invoke(main, ["simulate", str(path)])
    assert out.exit_code != 0
    assert "agnets" in out.output and "agents" in out.output
    assert "Traceback" not in out.output


def test_the_simulate_command_rejects_an_unknown_pacer(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{}")
    out = CliRunner().invoke(main, ["simulate", str(path), "--pacer", "psychic"])
    assert out.exit_code != 0
    assert "unknown pacer" in out.output


def test_the_oracle_mode_is_the_ceiling_no_pacer_should_pass() -> None:
    scenario = small(agents=6, hours=1)
    oracle = run_simulation(scenario, "oracle", 2)
    progressive = run_simulation(scenario, "progressive", 2)
    assert oracle["abandoned"] == 0
    assert oracle["oracle_skipped_dials"] > 0  # the dials it knew were useless still cost carrier capacity
    assert oracle["occupancy"] > progressive["occupancy"] + 0.15
    assert oracle["occupancy"] <= scenario.talk_mean_s / (scenario.talk_mean_s + scenario.wrap_fixed_s) + 0.05


def test_a_simulated_campaign_leaves_an_audit_trail_that_verifies_and_a_one_byte_edit_breaks_it(
    tmp_path: Path,
) -> None:
    from sqlalchemy import text

    from campaigns.audit_store import verify_trail

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    result = run_simulation(small(agents=3, hours=0.5), "progressive", 1, database_url=url)
    db = make_engine(url)
    with db.connect() as conn:
        kinds = {k: n for k, n in conn.execute(text("SELECT kind, count(*) FROM audit_events GROUP BY kind"))}
    assert kinds["call_closed"] == result["dials"]
    assert kinds["dial_decision"] >= result["dials"]
    assert verify_trail(db).ok
    with db.begin() as conn:
        row_id, payload = conn.execute(text("SELECT id, payload FROM audit_events ORDER BY id LIMIT 1 OFFSET 5")).one()
        edited = payload.replace('"', "'", 1) if isinstance(payload, str) else payload
        conn.execute(text("UPDATE audit_events SET payload = :p WHERE id = :i"), {"p": edited, "i": row_id})
    verdict = verify_trail(db)
    db.dispose()
    assert not verdict.ok
    assert verdict.bad is not None
