"""``dialer demo``: the main job on embedded defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from campaigns.settings import get_settings


@click.command("demo")
@click.option("--contacts", type=click.IntRange(10, 1_000_000), default=1500, show_default=True,
              help="Contacts in the generated list.")
@click.option("--agents", type=click.IntRange(1, 500), default=8, show_default=True, help="Simulated agents.")
@click.option("--hours", type=click.FloatRange(0.25, 12), default=3.0, show_default=True,
              help="Length of the simulated working session, from 10:00 New York time.")
@click.option("--pacer", default="predictive", show_default=True,
              help="predictive, progressive, preview, ratio:X, or any registered pacer.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the simulated world.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Where the generated list and its reject report are written.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the report.")
def demo_command(
    contacts: int, agents: int, hours: float, pacer: str, seed: int, workdir: Path, as_json: bool
) -> None:
    """Run a whole demo campaign on embedded defaults and print its results.

    Creates a campaign in DATABASE_URL (default: the SQLite file dialer.db),
    writes a generated contact list (with a few broken rows) and imports it,
    then dials it with the real engine, dial gate and database while
    simulated agents take the calls on a simulated carrier, in virtual time.
    Nothing to install or sign up for: no account, no server.

    \b
    Examples:
      dialer demo
      dialer demo --agents 20 --contacts 5000 --hours 6 --pacer ratio:1.4
      dialer campaign show 1        (the campaign the demo left behind)
    """
    from campaigns.db import ensure_schema, make_engine
    from campaigns.demo import DemoOptions, run_demo

    url = get_settings().database_url
    ensure_schema(url)
    db = make_engine(url)
    workdir.mkdir(parents=True, exist_ok=True)
    options = DemoOptions(contacts=contacts, agents=agents, hours=hours, pacer=pacer, seed=seed)
    bars: dict[str, tqdm[Any]] = {}

    def import_progress(done: int, total: int) -> None:
        bar = bars.setdefault("import", tqdm(total=max(total, 1), unit="B", unit_scale=True,
                                             desc="importing list", disable=as_json))
        bar.n = done
        bar.refresh()

    def run_progress(fraction: float) -> None:
        if "import" in bars:
            bars.pop("import").close()
        bar = bars.setdefault("run", tqdm(total=100, desc="dialing (virtual time)", unit="%", disable=as_json))
        bar.n = round(100 * fraction)
        bar.refresh()

    try:
        result = run_demo(db, workdir, options, import_progress=import_progress, run_progress=run_progress)
    finally:
        db.dispose()
        for bar in bars.values():
            bar.close()
    if as_json:
        click.echo(json.dumps(result, sort_keys=True, default=str))
    else:
        _report(result)


def _report(result: dict[str, Any]) -> None:
    run, imp = result["run"], result["import"]
    click.echo(f"Campaign {result['campaign_name']!r} (id {result['campaign_id']}), "
               f"session from {result['day_start']}")
    click.echo(f"List: {imp['imported']:,} contacts imported, {imp['rejected']:,} rejected "
               f"{imp['rejected_by_reason']} -> {imp['rejects_file']}")
    click.echo(f"Agents worked {run['agent_hours']:.1f} h; occupancy {run['occupancy']:.1%} "
               f"(the bound for this talk/wrap is {run['oracle_occupancy']:.0%})")
    click.echo(f"Calls: {run['dials']:,} placed, {run['human_answers']:,} people answered, "
               f"{run['connects']:,} put through to agents, {run['abandoned']:,} abandoned "
               f"({run['abandonment_rate']:.2%}; the law allows 3%)")
    click.echo(f"Agent wait before a call: median {run['agent_wait_p50_s']:.0f} s, p90 {run['agent_wait_p90_s']:.0f} s")
    blocked = run["engine"]["blocked_by_gate"]
    if blocked:
        click.echo(f"Held back by the dial gate (each with its reason recorded): {blocked}")
    click.echo(f"Dispositions: {result['dispositions']}")
    click.echo(f"Contacts by status: {result['summary'].get('contacts_by_status', result['summary'])}")
    click.echo(f"See it again: dialer campaign show {result['campaign_id']}")
