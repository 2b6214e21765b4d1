"""The scenario loader: every README key with its default and meaning, and loud errors."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from dialer.simulation.scenario import (
    AgentGroup,
    Breaks,
    Lunch,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
)

SCENARIOS = Path(__file__).resolve().parents[1].parent / "shared" / "scenarios"

README_DEFAULTS: dict[str, Any] = {
    "name": None,
    "title": None,
    "exposes": None,
    "note": None,
    "hours": 8,
    "days": 1,
    "day_gap_s": 120,
    "tick_s": 1,
    "target_abandon": 0.03,
    "agents": 10,
    "cps": 1,
    "p_human": 0.2,
    "p_daily_range": None,
    "p_machine": 0.20,
    "p_busy": 0.05,
    "p_invalid": 0.05,
    "setup_s": [0.5, 2.0],
    "ring_median_s": 8,
    "ring_p90_s": 18,
    "ring_timeout_s": 25,
    "busy_s": [2, 6],
    "invalid_s": [1, 3],
    "amd_s": [2.5, 4.0],
    "amd_human_as_machine": 0.05,
    "amd_machine_as_human": 0.15,
    "machine_heard_s": 10,
    "patience_mean_s": 6,
    "safe_harbour_s": 2,
    "abandon_window_s": 2,
    "talk_mean_s": 120,
    "talk_cv": 1.0,
    "agent_talk_sigma": 0.3,
    "wrap_fixed_s": 5,
    "wrap_exp_mean_s": 15,
    "connect_latency_s": 0.5,
    "breaks": None,
    "lunch": None,
    "abrupt_logouts_h": [],
}


def _error(data: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value


def _split_top_level(text: str) -> list[str]:
    """Split "[2, 6], [1, 3]" into its comma-separated parts, ignoring commas inside brackets."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += ch == "["
        depth -= ch == "]"
        current += ch
    parts.append(current.strip())
    return parts


def _readme_table() -> dict[str, Any]:
    readme = SCENARIOS / "README.md"
    if not readme.is_file():
        pytest.skip(f"the shared scenario README is not at {readme}")
    table: dict[str, Any] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        keys = re.findall(r"`([a-z_0-9]+)`", cells[0])
        default = cells[1]
        if default == "-":
            values: list[Any] = [None] * len(keys)
        else:
            values = [json.loads(part) for part in _split_top_level(default)]
        assert len(values) == len(keys), line
        table.update(zip(keys, values, strict=True))
    return table


# -- defaults ------------------------------------------------------------------------------


def test_an_empty_file_gives_the_readme_defaults() -> None:
    s = parse_scenario({})
    assert s == Scenario()
    assert s.hours == 8 and s.days == 1 and s.day_gap_s == 120 and s.tick_s == 1
    assert s.target_abandon == 0.03
    assert s.agents == (AgentGroup(n=10, login_h=0.0, logout_h=None),)
    assert s.cps == ((0.0, 1.0),)
    assert s.p_human == ((0.0, 0.2),)
    assert s.p_daily_range is None
    assert (s.p_machine, s.p_busy, s.p_invalid) == (0.20, 0.05, 0.05)
    assert s.setup_s == (0.5, 2.0)
    assert (s.ring_median_s, s.ring_p90_s, s.ring_timeout_s) == (8, 18, 25)
    assert (s.busy_s, s.invalid_s, s.amd_s) == ((2, 6), (1, 3), (2.5, 4.0))
    assert (s.amd_human_as_machine, s.amd_machine_as_human, s.machine_heard_s) == (0.05, 0.15, 10)
    assert (s.patience_mean_s, s.safe_harbour_s, s.abandon_window_s) == (6, 2, 2)
    assert (s.talk_mean_s, s.talk_cv, s.agent_talk_sigma) == (120, 1.0, 0.3)
    assert (s.wrap_fixed_s, s.wrap_exp_mean_s, s.connect_latency_s) == (5, 15, 0.5)
    assert s.breaks is None and s.lunch is None and s.abrupt_logouts_h == ()
    assert s.name is None and s.title is None and s.exposes is None and s.note is None


def test_the_effective_settings_list_every_readme_key_with_its_default() -> None:
    settings = Scenario().to_dict()
    assert list(settings) == list(README_DEFAULTS)
    for key, default in README_DEFAULTS.items():
        if key == "agents":
            assert settings[key] == [{"n": default, "login_h": 0, "logout_h": None}]
        else:
            assert settings[key] == default, key


def test_every_default_in_the_readme_table_is_the_loaders_default() -> None:
    """Reads the table itself, so the README and the code cannot drift apart unnoticed."""
    table = _readme_table()
    assert table == README_DEFAULTS
    for key, default in table.items():
        assert parse_scenario({key: default}) == Scenario(), key


# -- the shared scenario files -------------------------------------------------------------


def test_every_shared_scenario_file_loads_and_round_trips() -> None:
    if not SCENARIOS.is_dir():
        pytest.skip(f"the shared scenarios folder is not at {SCENARIOS}")
    files = sorted(SCENARIOS.glob("*.json"))
    if not files:
        pytest.skip(f"no scenario files in {SCENARIOS}")
    for path in files:
        s = load_scenario(path)
        assert s.name == path.stem
        settings = s.to_dict()
        assert parse_scenario(json.loads(json.dumps(settings))) == s, path.name


def test_the_daily_curve_steps_apply_from_their_hour() -> None:
    s = parse_scenario({"hours": 11, "p_human": [[8, 0.3], [0, 0.1], [5, 0.08], [3, 0.25]]})
    assert s.p_human == ((0, 0.1), (3, 0.25), (5, 0.08), (8, 0.3))
    assert s.p_human_at(0) == 0.1
    assert s.p_human_at(2.999) == 0.1
    assert s.p_human_at(3) == 0.25
    assert s.p_human_at(7.5) == 0.08
    assert s.p_human_at(10.9) == 0.3


def test_before_the_first_step_the_first_value_applies() -> None:
    s = parse_scenario({"cps": [[1, 3], [2, 5]]})
    assert s.cps_at(0) == 3
    assert s.cps_at(1.5) == 3
    assert s.cps_at(2) == 5


def test_a_number_is_a_constant_step_function() -> None:
    s = parse_scenario({"cps": 3, "p_human": 0.15})
    assert s.cps == ((0.0, 3.0),) and s.cps_at(7.9) == 3
    assert s.p_human_at(5) == 0.15


def test_agent_groups_keep_fixed_and_ranged_login_times() -> None:
    s = parse_scenario(
        {
            "agents": [
                {"n": 5},
                {"n": 20, "login_h": [0.5, 1.0], "logout_h": [5, 6]},
                {"n": 7, "login_h": 2, "logout_h": 8},
                {"n": 1, "logout_h": None},
            ]
        }
    )
    assert s.agents == (
        AgentGroup(5, 0.0, None),
        AgentGroup(20, (0.5, 1.0), (5.0, 6.0)),
        AgentGroup(7, 2.0, 8.0),
        AgentGroup(1, 0.0, None),
    )
    assert s.total_agents == 33


def test_breaks_lunch_and_abrupt_logouts_are_read() -> None:
    s = parse_scenario(
        {
            "breaks": {"per_hour": 2, "min_s": 300, "max_s": 600},
            "lunch": {"at_h": 3.5, "frac": 0.5, "within_s": 900, "dur_s": 1800},
            "abrupt_logouts_h": [6, 2.5],
        }
    )
    assert s.breaks == Breaks(per_hour=2, min_s=300, max_s=600)
    assert s.lunch == Lunch(at_h=3.5, frac=0.5, within_s=900, dur_s=1800)
    assert s.abrupt_logouts_h == (2.5, 6)


def test_a_full_scenario_round_trips_through_its_effective_settings() -> None:
    data = {
        "name": "churn",
        "note": "S9",
        "hours": 8,
        "days": 2,
        "agents": [{"n": 5}, {"n": 20, "login_h": [0.5, 1.0], "logout_h": [5, 6]}],
        "cps": [[0, 1], [4, 3]],
        "p_human": [[1, 0.15]],
        "p_daily_range": [0.12, 0.24],
        "setup_s": 1,
        "breaks": {"per_hour": 2, "min_s": 300, "max_s": 600},
        "lunch": {"at_h": 3.5, "frac": 0.5, "within_s": 900, "dur_s": 1800},
        "abrupt_logouts_h": [2.5, 6],
    }
    s = parse_scenario(data)
    assert s.setup_s == (1.0, 1.0)
    assert parse_scenario(json.loads(json.dumps(s.to_dict()))) == s


def test_a_scenario_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Scenario().hours = 4  # type: ignore[misc]


def test_replacing_a_setting_is_checked_too() -> None:
    with pytest.raises(ScenarioError, match="ring_timeout_s"):
        dataclasses.replace(Scenario(), ring_timeout_s=10)


# -- unknown keys --------------------------------------------------------------------------


def test_an_unknown_key_is_rejected_with_its_name_and_the_nearest_known_key() -> None:
    error = _error({"p_humen": 0.3})
    assert str(error) == "unknown key 'p_humen' (did you mean 'p_human'?)"
    assert error.key == "p_humen"


def test_an_unknown_key_unlike_any_known_key_is_rejected_without_a_guess() -> None:
    error = _error({"colour": "blue"})
    assert "'colour'" in str(error) and "did you mean" not in str(error)


def test_every_unknown_key_is_named_at_once() -> None:
    message = str(_error({"talk_mean": 100, "wrap_s": 3}))
    assert "'talk_mean'" in message and "'talk_mean_s'" in message and "'wrap_s'" in message


@pytest.mark.parametrize(
    ("data", "key", "suggestion"),
    [
        ({"agents": [{"n": 3, "login": 1}]}, "agents[0].login", "agents[0].login_h"),
        ({"breaks": {"per_hour": 2, "min_s": 1, "max": 5}}, "breaks.max", "breaks.max_s"),
        ({"lunch": {"at_h": 3, "frak": 0.5, "within_s": 9, "dur_s": 9}}, "lunch.frak", "lunch.frac"),
    ],
)
def test_an_unknown_key_inside_a_nested_object_is_rejected_with_its_path(
    data: dict[str, Any], key: str, suggestion: str
) -> None:
    error = _error(data)
    assert error.key == key
    assert f"unknown key {key!r} (did you mean {suggestion!r}?)" in str(error)


def test_a_missing_key_of_breaks_or_lunch_is_named() -> None:
    assert _error({"breaks": {"per_hour": 2, "min_s": 300}}).key == "breaks.max_s"
    assert _error({"lunch": {"at_h": 3, "frac": 0.5, "within_s": 9}}).key == "lunch.dur_s"
    assert _error({"agents": [{"login_h": 1}]}).key == "agents[0].n"


# -- wrong types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"hours": True}, "hours"),
        ({"p_human": False}, "p_human"),
        ({"talk_mean_s": "120"}, "talk_mean_s"),
        ({"tick_s": None}, "tick_s"),
        ({"agents": 2.5}, "agents"),
        ({"agents": True}, "agents"),
        ({"agents": {"n": 3}}, "agents"),
        ({"days": 1.5}, "days"),
        ({"agents": [{"n": "3"}]}, "agents[0].n"),
        ({"setup_s": [1, 2, 3]}, "setup_s"),
        ({"setup_s": [1, "2"]}, "setup_s[1]"),
        ({"p_daily_range": 0.2}, "p_daily_range"),
        ({"p_human": [[0, 0.2], ["9:00", 0.3]]}, "p_human[1][0]"),
        ({"p_human": [[0, 0.2], [1]]}, "p_human[1]"),
        ({"cps": [[0, "fast"]]}, "cps[0][1]"),
        ({"breaks": [2, 300, 600]}, "breaks"),
        ({"breaks": {"per_hour": "2", "min_s": 300, "max_s": 600}}, "breaks.per_hour"),
        ({"abrupt_logouts_h": 3}, "abrupt_logouts_h"),
        ({"abrupt_logouts_h": [1, None]}, "abrupt_logouts_h[1]"),
        ({"name": 3}, "name"),
        ({"hours": float("nan")}, "hours"),
        ({"ring_p90_s": float("inf")}, "ring_p90_s"),
    ],
)
def test_a_value_of_the_wrong_type_is_rejected_with_its_key(data: dict[str, Any], key: str) -> None:
    error = _error(data)
    assert error.key == key
    assert repr(key) in str(error)


def test_an_integral_float_is_accepted_where_a_count_is_expected() -> None:
    assert parse_scenario({"agents": 3.0, "days": 2.0}).agents == (AgentGroup(3, 0.0, None),)


# -- values out of range -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"p_machine": 1.2}, "p_machine"),
        ({"p_busy": -0.01}, "p_busy"),
        ({"p_invalid": 2}, "p_invalid"),
        ({"target_abandon": 1.5}, "target_abandon"),
        ({"amd_human_as_machine": -0.1}, "amd_human_as_machine"),
        ({"amd_machine_as_human": 1.01}, "amd_machine_as_human"),
        ({"p_human": 1.1}, "p_human"),
        ({"p_human": [[0, 0.2], [2, -0.1]]}, "p_human"),
        ({"p_daily_range": [0.1, 1.2]}, "p_daily_range"),
        ({"p_daily_range": [-0.1, 0.2]}, "p_daily_range"),
        ({"lunch": {"at_h": 3, "frac": 1.5, "within_s": 9, "dur_s": 9}}, "lunch.frac"),
    ],
)
def test_a_probability_outside_zero_and_one_is_rejected(data: dict[str, Any], key: str) -> None:
    assert _error(data).key == key


def test_outcome_probabilities_adding_to_more_than_one_at_any_step_are_rejected() -> None:
    error = _error({"p_human": [[0, 0.2], [4, 0.75]]})
    assert error.key == "p_human"
    assert "hour 4" in str(error) and "1.05" in str(error)
    assert _error({"p_human": 0.2, "p_machine": 0.75}).key == "p_human"


def test_a_daily_range_whose_top_overflows_the_outcome_mix_is_rejected() -> None:
    assert _error({"p_daily_range": [0.1, 0.75]}).key == "p_daily_range"


def test_outcome_probabilities_adding_to_exactly_one_are_accepted_despite_rounding() -> None:
    s = parse_scenario({"p_human": 0.7, "p_machine": 0.2, "p_busy": 0.05, "p_invalid": 0.05})
    assert s.p_human_at(0) == 0.7


def test_a_ring_timeout_below_the_legal_fifteen_seconds_is_rejected() -> None:
    error = _error({"ring_timeout_s": 14.9})
    assert error.key == "ring_timeout_s" and "15" in str(error)
    assert parse_scenario({"ring_timeout_s": 15}).ring_timeout_s == 15


@pytest.mark.parametrize(
    "key",
    [
        "day_gap_s",
        "machine_heard_s",
        "patience_mean_s",
        "safe_harbour_s",
        "abandon_window_s",
        "talk_mean_s",
        "talk_cv",
        "agent_talk_sigma",
        "wrap_fixed_s",
        "wrap_exp_mean_s",
        "connect_latency_s",
        "ring_median_s",
    ],
)
def test_a_negative_duration_is_rejected(key: str) -> None:
    assert _error({key: -1}).key == key


@pytest.mark.parametrize("key", ["setup_s", "busy_s", "invalid_s", "amd_s"])
def test_a_range_is_checked_for_order_and_sign(key: str) -> None:
    assert _error({key: [3, 1]}).key == key
    assert _error({key: [-1, 1]}).key == key
    assert _error({key: -1}).key == key


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"hours": 0}, "hours"),
        ({"hours": -8}, "hours"),
        ({"days": 0}, "days"),
        ({"tick_s": 0}, "tick_s"),
        ({"agents": -1}, "agents[0].n"),
        ({"agents": [{"n": -2}]}, "agents[0].n"),
        ({"cps": 0}, "cps"),
        ({"cps": [[0, 1], [3, -1]]}, "cps"),
        ({"ring_median_s": 0}, "ring_median_s"),
        ({"ring_p90_s": 7}, "ring_p90_s"),
        ({"breaks": {"per_hour": 2, "min_s": 600, "max_s": 300}}, "breaks.max_s"),
        ({"breaks": {"per_hour": -2, "min_s": 300, "max_s": 600}}, "breaks.per_hour"),
        ({"lunch": {"at_h": 3, "frac": 0.5, "within_s": -9, "dur_s": 9}}, "lunch.within_s"),
        ({"lunch": {"at_h": 9, "frac": 0.5, "within_s": 9, "dur_s": 9}}, "lunch.at_h"),
        ({"abrupt_logouts_h": [1, 8.5]}, "abrupt_logouts_h[1]"),
    ],
)
def test_an_impossible_value_is_rejected_with_its_key(data: dict[str, Any], key: str) -> None:
    assert _error(data).key == key


def test_zero_agents_are_allowed() -> None:
    assert parse_scenario({"agents": 0}).total_agents == 0


def test_a_step_at_a_clock_time_outside_the_day_is_rejected() -> None:
    error = _error({"hours": 11, "p_human": [[9, 0.1], [12, 0.25]]})
    assert error.key == "p_human" and "12" in str(error)


def test_two_steps_at_the_same_hour_are_rejected() -> None:
    assert "hour 2" in str(_error({"cps": [[0, 1], [2, 3], [2, 4]]}))


def test_an_empty_step_function_is_rejected() -> None:
    assert _error({"p_human": []}).key == "p_human"


def test_an_agent_who_could_leave_before_arriving_is_rejected() -> None:
    error = _error({"agents": [{"n": 3, "login_h": [1, 3], "logout_h": [2, 6]}]})
    assert error.key == "agents[0].logout_h"
    assert _error({"agents": [{"n": 3, "login_h": [2, 1]}]}).key == "agents[0].login_h"
    assert _error({"agents": [{"n": 3, "logout_h": 9}]}).key == "agents[0].logout_h"


def test_a_top_level_that_is_not_an_object_is_rejected() -> None:
    assert "object" in str(_error([{"hours": 8}]))


# -- files ---------------------------------------------------------------------------------


def test_a_file_that_is_not_json_is_rejected_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "hours": 8,\n  "days": 2,\n}\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "broken.json" in message and "not valid JSON" in message
    assert "line 4" in message and "column 1" in message


def test_a_file_whose_top_level_is_a_list_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ScenarioError, match="top level must be a JSON object"):
        load_scenario(path)


def test_a_key_written_twice_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_text('{"p_human": 0.2, "p_human": 0.3}', encoding="utf-8")
    with pytest.raises(ScenarioError, match="duplicate key 'p_human'"):
        load_scenario(path)


def test_a_file_error_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "typo.json"
    path.write_text('{"agents": 4, "p_humen": 0.3}', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: unknown key 'p_humen' (did you mean 'p_human'?)"
    assert info.value.key == "p_humen"


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.json"):
        load_scenario(tmp_path / "nope.json")


def test_a_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text('{"agents": 4}', encoding="utf-8-sig")
    assert load_scenario(path).total_agents == 4
