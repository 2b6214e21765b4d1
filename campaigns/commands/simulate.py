"""``dialer simulate``: run the engine on a scenario in virtual time and print the figures."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import click

from dialer.pacing import PacerError, make_pacer, pacer_names
from dialer.simulation.scenario import ScenarioError, load_scenario

# What the text report shows, in order: (key, label, format).
_LINES: tuple[tuple[str, str, str], ...] = (
    ("occupancy", "occupancy (talk / working time)", "{:.1%}"),
    ("oracle_occupancy", "oracle bound talk/(talk+wrap)", "{:.1%}"),
    ("abandonment_rate", "abandonment (FTC, people)", "{:.2%}"),
    ("worst_hour_abandonment_rate", "worst hour abandonment", "{:.2%}"),
    ("human_answers", "people answered", "{:,}"),
    ("abandoned", "abandoned", "{:,}"),
    ("lost_to_detector", "people cut off by the detector", "{:,}"),
    ("agent_wait_p50_s", "agent wait p50 (s)", "{:.1f}"),
    ("agent_wait_p90_s", "agent wait p90 (s)", "{:.1f}"),
    ("connects_per_agent_hour", "connects per agent-hour", "{:.1f}"),
    ("dials_per_agent_hour", "dials per agent-hour", "{:.1f}"),
    ("dials", "dials", "{:,}"),
    ("dials_without_agents", "dials with no agent working", "{:,}"),
    ("agent_hours", "agent working hours", "{:.1f}"),
    ("wall_s", "simulated in (s)", "{:.1f}"),
)


@click.command("simulate")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pacer", "pacer_spec", default="progressive", show_default=True,
              help="preview, progressive, ratio:X (e.g. ratio:1.8), or any registered pacer.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed; same seed, same figures.")
@click.option("--seeds", "n_seeds", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Run this many seeds from --seed on and report each and their mean.")
@click.option("--db", "database_url", default=None,
              help="Keep the run's records in this database URL (default: a throwaway SQLite file).")
@click.option("--no-safety-net", "no_safety_net", is_flag=True,
              help="Let the pacer dial past the abandonment target (to measure other dialers' pacers as they are).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (one per line with --seeds).")
def simulate_command(
    scenario_file: Path, pacer_spec: str, seed: int, n_seeds: int, database_url: str | None, no_safety_net: bool,
    as_json: bool,
) -> None:
    """Run a pacing SCENARIO_FILE on the real engine with a simulated carrier and agents.

    The scenario (format: a JSON object, every key optional, see the scenarios
    README) describes the agents, the list and the carrier; the run uses the
    real hopper, dial gate, state machines and a real SQLite database, in
    virtual time: an 8-hour day takes seconds. A run is a pure function of
    (scenario, pacer, seed).

    \b
    Measures (as in the scenarios README):
      occupancy          talk time / (ready + on-call + wrap-up time)
      abandonment_rate   people not connected to an agent within 2 s / people answered
      worst hour         highest hourly abandonment among hours with >= 10 people answered
      agent wait         how long an agent had been ready before each connect

    \b
    Examples:
      dialer simulate mid-team.json
      dialer simulate mid-team.json --pacer ratio:1.6 --seeds 5
      dialer simulate mid-team.json --json | jq .occupancy
    """
    from campaigns.simulate import run_simulation

    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as error:
        raise click.ClickException(str(error)) from error
    try:
        make_pacer(pacer_spec)
    except PacerError as error:
        raise click.ClickException(f"{error} (known: {', '.join(pacer_names())})") from error

    results = []
    for s in range(seed, seed + n_seeds):
        result = run_simulation(scenario, pacer_spec, s, database_url=database_url,
                                hold_over_budget=not no_safety_net)
        results.append(result)
        if as_json:
            click.echo(json.dumps(result, sort_keys=True))
        else:
            _print(result, scenario.name or scenario_file.stem)
    if n_seeds > 1 and not as_json:
        _print_mean(results)


def _print(result: dict[str, Any], name: str) -> None:
    click.echo(f"scenario {name}  pacer {result['pacer']}  seed {result['seed']}")
    for key, label, fmt in _LINES:
        click.echo(f"  {label:<34} {fmt.format(result[key])}")
    sys.stdout.flush()


def _print_mean(results: list[dict[str, Any]]) -> None:
    click.echo(f"mean of {len(results)} seeds")
    for key in ("occupancy", "abandonment_rate", "worst_hour_abandonment_rate", "agent_wait_p50_s"):
        values = [float(r[key]) for r in results]
        click.echo(f"  {key:<34} {statistics.mean(values):.4f}  (min {min(values):.4f}, max {max(values):.4f})")
