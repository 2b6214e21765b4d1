"""The main job on embedded defaults: a whole campaign from a generated list to its results."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from campaigns.cli import main
from campaigns.settings import get_settings


def test_the_demo_imports_dials_and_reports_a_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(
            main, ["demo", "--contacts", "300", "--agents", "4", "--hours", "1", "--json", "--workdir", "out"]
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
