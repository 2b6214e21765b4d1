from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from campaigns import db
from campaigns.cli import main
from campaigns.settings import get_settings


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run ``dialer`` in an empty directory whose database is ``dialer.db`` there."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "DIALER_CARRIER", "DIALER_LOG_LEVEL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        get_settings.cache_clear()
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


def test_the_top_level_help_says_what_the_tool_is_and_lists_settings_and_commands(cli):
    result = cli("--help")

    assert result.exit_code == 0
    assert "predictive outbound dialer" in result.output
    for variable in (
        "DATABASE_URL",
        "REDIS_URL",
        "DIALER_CARRIER",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_URL",
        "PUBLIC_BASE_URL",
        "SECRET_KEY",
        "DIALER_LOG_LEVEL",
    ):
        assert variable in result.output
    for command in ("campaign", "db", "import", "simulate", "demo"):
        assert f"  {command} " in result.output
    assert "Examples:" in result.output


def test_every_command_answers_help_without_touching_the_database(cli, tmp_path):
    for path, _command in all_commands(main):
        result = cli(*path, "--help")
        assert result.exit_code == 0, path
        assert "Usage: " in result.output and len(result.output.splitlines()) > 3, path
    assert not (tmp_path / "dialer.db").exists()


@pytest.mark.parametrize("group", ["campaign", "db"])
def test_each_campaign_and_db_command_describes_itself_with_an_example(cli, group):
    commands = [path for path, _ in all_commands(main) if path[0] == group]
    assert len(commands) >= 2
    for path in commands:
        assert "Example" in cli(*path, "--help").output, path


def test_the_create_command_offers_an_option_for_every_campaign_setting(cli):
    from campaigns.services import SETTINGS

    create = main.commands["campaign"].commands["create"]  # type: ignore[attr-defined]
    offered = {param.name for param in create.params}

    assert set(SETTINGS) <= offered


def test_a_campaign_is_created_listed_shown_started_and_paused(cli, tmp_path):
    created = cli(
        "campaign",
        "create",
        "Spring renewals",
        "--caller-id",
        "201 555 0123",
        "--pacer",
        "ratio:1.8",
        "--retry-delays",
        "30,90",
        "--no-amd",
        "--json",
    )
    assert created.exit_code == 0, created.output
    campaign = json.loads(created.stdout)
    assert campaign["caller_id"] == "+12015550123"
    assert campaign["dial_mode"] == "power"
    assert campaign["retry_delays_min"] == [30, 90]
    assert campaign["amd_enabled"] is False
    assert (tmp_path / "dialer.db").exists()

    listed = cli("campaign", "list")
    assert "Spring renewals" in listed.output and "draft" in listed.output
    assert [c["name"] for c in json.loads(cli("campaign", "list", "--json").stdout)] == ["Spring renewals"]

    shown = json.loads(cli("campaign", "show", "Spring renewals", "--json").stdout)
    assert shown["id"] == campaign["id"]
    assert shown["summary"]["contacts"] == 0
    assert "drop_message" in cli("campaign", "show", str(campaign["id"])).output

    assert "is active" in cli("campaign", "start", "Spring renewals").output
    assert json.loads(cli("campaign", "pause", str(campaign["id"]), "--json").stdout)["status"] == "paused"
    assert json.loads(cli("campaign", "show", "1", "--json").stdout)["status"] == "paused"


def test_an_empty_campaign_list_says_how_to_create_one(cli):
    assert "dialer campaign create" in cli("campaign", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["campaign", "create", "X", "--caller-id", "2015550123", "--ring-timeout", "10"],
            "--ring-timeout: must be at least 15",
        ),
        (["campaign", "create", "X", "--caller-id", "555"], "--caller-id: "),
        (
            ["campaign", "create", "X", "--caller-id", "2015550123", "--target-abandon", "0.05"],
            "--target-abandon: ",
        ),
        (["campaign", "show", "Nowhere"], "no campaign has the id or name 'Nowhere'"),
        (["campaign", "pause", "Nowhere"], "no campaign"),
    ],
)
def test_a_refused_command_prints_one_clear_error_and_no_traceback(cli, args, message):
    result = cli(*args)

    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output


def test_pausing_a_draft_is_refused_with_the_reason(cli):
    cli("campaign", "create", "Draft", "--caller-id", "2015550123")

    result = cli("campaign", "pause", "Draft")

    assert result.exit_code == 1
    assert "has not started" in result.output


def test_a_bad_environment_variable_is_reported_by_name(cli):
    result = cli("campaign", "list", env={"DIALER_CARRIER": "asterisk"})

    assert result.exit_code == 1
    assert "Error: DIALER_CARRIER must be one of" in result.output


def test_an_unreachable_database_is_reported_without_a_traceback(cli):
    result = cli("campaign", "list", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})

    assert result.exit_code == 1
    assert result.output.startswith("Error: database problem at postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_db_upgrade_brings_a_new_database_to_the_newest_migration(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"

    result = cli("db", "upgrade", env={"DATABASE_URL": url})

    assert result.exit_code == 0, result.output
    head = db.head_revision()
    assert f"is at revision {head} (newest: {head})" in result.output
    assert (tmp_path / "other.db").exists()


def test_the_console_script_is_declared_for_this_group():
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()

    assert 'dialer = "campaigns.cli:main"' in pyproject
    assert os.path.basename(main.name or "") in ("main", "dialer")


def test_campaign_create_takes_the_consent_and_prerecorded_flags_and_defaults_them_off(cli):
    flagged = cli(
        "campaign", "create", "Mobiles", "--caller-id", "2015550123", "--requires-consent", "--prerecorded", "--json"
    )
    assert flagged.exit_code == 0, flagged.output
    assert (json.loads(flagged.stdout)["requires_consent"], json.loads(flagged.stdout)["prerecorded"]) == (True, True)

    plain = cli("campaign", "create", "Landlines", "--caller-id", "2015550123", "--no-prerecorded", "--json")
    assert plain.exit_code == 0, plain.output
    assert (json.loads(plain.stdout)["requires_consent"], json.loads(plain.stdout)["prerecorded"]) == (False, False)


def test_a_supervisor_changes_pacing_controls_and_the_audit_chain_records_who(cli):
    created = cli("campaign", "create", "Controls", "--caller-id", "+12015550123", "--pacer", "predictive")
    assert created.exit_code == 0, created.output

    changed = cli("campaign", "set", "Controls", "--target-abandon", "0.02", "--max-dial-level", "2.5",
                  "--by", "supervisor.ann", "--json")
    assert changed.exit_code == 0, changed.output
    assert json.loads(changed.output) == {
        "target_abandon": {"from": 0.03, "to": 0.02},
        "max_dial_level": {"from": 3.0, "to": 2.5},
    }
    shown = json.loads(cli("campaign", "show", "Controls", "--json").output)
    assert shown["target_abandon"] == 0.02
    assert shown["max_dial_level"] == 2.5

    exported = cli("audit", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--campaign", "Controls",
                   "--out", "-")
    assert "campaign.pacing_changed" in exported.output
    assert "supervisor.ann" in exported.output


def test_the_target_abandonment_can_never_be_set_above_the_legal_limit(cli):
    cli("campaign", "create", "Capped", "--caller-id", "+12015550123")

    result = cli("campaign", "set", "Capped", "--target-abandon", "0.05")

    assert result.exit_code != 0
    assert "target-abandon" in result.output or "target_abandon" in result.output
    shown = json.loads(cli("campaign", "show", "Capped", "--json").output)
    assert shown["target_abandon"] == 0.03


def test_setting_nothing_is_a_usage_error_that_names_the_options(cli):
    cli("campaign", "create", "Idle", "--caller-id", "+12015550123")

    result = cli("campaign", "set", "Idle")

    assert result.exit_code == 2
    assert "--target-abandon" in result.output


def test_a_recorded_campaign_needs_the_announcement_its_customers_will_hear(cli):
    refused = cli("campaign", "create", "Taped", "--caller-id", "+12015550123", "--record")
    assert refused.exit_code != 0
    assert "--recording-announcement" in refused.output

    created = cli("campaign", "create", "Taped", "--caller-id", "+12015550123", "--record",
                  "--recording-announcement", "This call is recorded for quality.", "--json")
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["record_calls"] is True
    assert data["recording_announcement"] == "This call is recorded for quality."
