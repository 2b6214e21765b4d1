"""The what-if replay fits a campaign's recorded world and replays it under other pacers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from campaigns.cli import main
from campaigns.models import Campaign
from campaigns.simulate import run_simulation
from campaigns.whatif import WhatIfError, fit_world, last_activity, what_if
from dialer.simulation.scenario import AgentGroup, Scenario

TRUE_WORLD = Scenario(
    hours=1.0,
    agents=(AgentGroup(4, 0.0, None), AgentGroup(2, 0.25, 0.75)),
    p_human=((0.0, 0.3),),
    p_machine=0.15,
    cps=((0.0, 5.0),),
    talk_mean_s=60.0,
    talk_cv=0.5,
    wrap_fixed_s=4.0,
    wrap_exp_mean_s=6.0,
)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """A campaign that dialed an hour of TRUE_WORLD progressively, left in a database."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('whatif')) / 'history.db'}"
    run_simulation(TRUE_WORLD, "progressive", 3, database_url=url)
    db = create_engine(url)
    with Session(db) as session:
        campaign_id = session.scalars(select(Campaign.id)).one()
    db.dispose()
    return url, campaign_id


def test_the_fitted_world_recovers_what_the_records_show(recorded: tuple[str, int]) -> None:
    url, campaign_id = recorded
    db = create_engine(url)
    end = last_activity(db, campaign_id)
    assert end is not None
    from datetime import timedelta

    with Session(db) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        world, observed = fit_world(session, campaign, end - timedelta(hours=1.2), end + timedelta(seconds=1))
    db.dispose()
    p = world.p_human_at(0.5)
    assert 0.22 <= p <= 0.38, p  # dials answered by people: 0.3 in truth (+- sampling)
    assert 0.08 <= world.p_machine <= 0.26
    assert 45.0 <= world.talk_mean_s <= 80.0
    assert 5.0 <= world.wrap_fixed_s + world.wrap_exp_mean_s <= 16.0
    assert world.total_agents == 6
    assert observed.dials > 100
    assert 0.0 < observed.occupancy < 1.0
    assert observed.abandoned == 0  # progressive never drops while agents stay


def test_a_replay_at_a_higher_dial_level_dials_more_and_the_current_pacer_comes_first(
    recorded: tuple[str, int],
) -> None:
    url, campaign_id = recorded
    db = create_engine(url)
    end = last_activity(db, campaign_id)
    assert end is not None
    from datetime import timedelta

    result = what_if(db, campaign_id, ["ratio:2.5"], hours=1.0, until=end + timedelta(seconds=1), seeds=1)
    db.dispose()
    own, higher = result.replays
    assert own.pacer == "progressive"
    assert higher.pacer == "ratio:2.5"
    # Dialing ahead keeps agents busier and starts to drop people; progressive never drops.
    assert higher.mean("dials_per_agent_hour") > own.mean("dials_per_agent_hour")
    assert higher.mean("occupancy") > own.mean("occupancy")
    assert higher.mean("abandon_rate") > 0.0
    assert own.mean("abandon_rate") == 0.0


def test_a_window_without_calls_is_refused_with_the_reason(recorded: tuple[str, int]) -> None:
    url, campaign_id = recorded
    from datetime import UTC, datetime

    db = create_engine(url)
    with pytest.raises(WhatIfError, match="too few to replay"):
        what_if(db, campaign_id, [], hours=1.0, until=datetime(2001, 1, 1, tzinfo=UTC), seeds=1)
    db.dispose()


def test_the_command_prints_one_row_per_pacer(recorded: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    url, campaign_id = recorded
    monkeypatch.setenv("DATABASE_URL", url)
    from campaigns.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["campaign", "what-if", str(campaign_id), "--hours", "1",
                                           "--dial-level", "1.5", "--seeds", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "progressive (current)" in result.output
    assert "ratio:1.5" in result.output


def test_the_command_refuses_an_unknown_pacer_before_replaying(
    recorded: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, campaign_id = recorded
    monkeypatch.setenv("DATABASE_URL", url)
    from campaigns.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["campaign", "what-if", str(campaign_id), "--pacer", "turbo"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "turbo" in result.output
