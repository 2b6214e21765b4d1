"""The main job on embedded defaults: a whole campaign from a generated list to its results."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaigns.cli import main
from campaigns.demo import WIDE_PLACES, lawful_places, write_demo_list
from campaigns.settings import get_settings
from compliance.gate import CallingWindow, CampaignPolicy
from compliance.phones import analyze_phone


def test_the_demo_imports_dials_and_reports_a_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(
            main, ["demo", "--report", "--contacts", "300", "--agents", "4", "--hours", "1", "--json",
                   "--workdir", "out"]
        )
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert result["import"]["imported"] == 301  # 300 generated + the formula row, stored as text
    assert result["import"]["rejected"] == 3
    assert result["run"]["dials"] > 50
    assert result["run"]["dials_without_agents"] == 0
    assert result["run"]["abandonment_rate"] <= 0.03
    assert sum(result["dispositions"].values()) == result["run"]["dials"]
    with open(result["import"]["rejects_file"], newline="") as rejects:
        rows = list(csv.DictReader(rejects))
    assert {row["reason"] for row in rows} == {"bad_number", "missing_phone", "duplicate_in_list"}
    assert all(int(row["row"]) >= 2 for row in rows)


def test_the_demo_list_holds_only_places_the_gate_lets_a_campaign_call_now_and_an_hour_later() -> None:
    policy = CampaignPolicy(1, CallingWindow.parse("08:00-21:00"), "telemarketing")
    # 11:30 UTC on a December Tuesday: night or early morning in every US zone, late morning in Britain.
    morning_in_britain = datetime(2026, 12, 1, 11, 30, tzinfo=UTC)
    chosen = lawful_places(WIDE_PLACES, policy, morning_in_britain, minutes=60)
    assert chosen and {place.country for place in chosen} == {"44"}
    # 06:30 UTC: only Guam is between 08:00 and 21:00 for the next hour.
    assert [place.where for place in lawful_places(WIDE_PLACES, policy, datetime(2026, 12, 1, 6, 30, tzinfo=UTC),
                                                   minutes=60)] == ["Guam"]
    # 17:00 UTC: the mainland is open, Guam (03:00) is not.
    afternoon = {place.where for place in lawful_places(WIDE_PLACES, policy, datetime(2026, 12, 1, 17, tzinfo=UTC),
                                                        minutes=60)}
    assert {"New York", "Seattle"} <= afternoon and "Guam" not in afternoon


def test_a_demo_list_of_guam_numbers_imports_every_generated_row(tmp_path: Path) -> None:
    """Most Guam exchanges do not exist: the writer draws again until the number is dialable."""
    guam = [place for place in WIDE_PLACES if place.where == "Guam"]
    written = write_demo_list(tmp_path / "guam.csv", 200, 3, guam)
    with open(tmp_path / "guam.csv", newline="") as listed:
        rows = list(csv.DictReader(listed))
    assert written == len(rows) == 204
    generated = [row["Phone Number"] for row in rows[:200]]
    assert all(analyze_phone(phone, "US").timezones == ("Pacific/Guam",) for phone in generated)


def test_a_demo_list_bigger_than_its_places_can_hold_is_refused_naming_the_contacts(tmp_path: Path) -> None:
    london = [place for place in WIDE_PLACES if place.where == "London"]
    with pytest.raises(ValueError, match="contacts"):
        write_demo_list(tmp_path / "london.csv", 600, 1, london)
