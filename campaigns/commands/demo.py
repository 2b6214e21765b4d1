"""``dialer demo``: the main job on embedded defaults."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from campaigns.settings import get_settings

SERVER_AGENTS = 6
REPORT_AGENTS = 8


@click.command("demo")
@click.option("--report", "report_only", is_flag=True,
              help="Instead of serving the app: dial a whole campaign in virtual time and print its results.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web app listens on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port of the web app (0: any free port).")
@click.option("--agents", type=click.IntRange(0, 500), default=None,
              help=f"Simulated agents [{SERVER_AGENTS} next to you; {REPORT_AGENTS} with --report].")
@click.option("--for", "for_s", type=click.FloatRange(0, None), default=None, metavar="SECONDS",
              help="Stop the served demo cleanly after this many seconds. Default: until Ctrl-C.")
@click.option("--scenario", "scenario_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The served demo's simulated world (answer rates, talk and wrap times) as a scenario "
                   "JSON file.")
@click.option("--contacts", type=click.IntRange(10, 1_000_000), default=1500, show_default=True,
              help="Contacts in the generated list.")
@click.option("--hours", type=click.FloatRange(0.25, 12), default=3.0, show_default=True,
              help="With --report: length of the simulated working session, from 10:00 New York time.")
@click.option("--pacer", default="predictive", show_default=True,
              help="predictive, progressive, preview, ratio:X, or any registered pacer.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the simulated world.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Where the generated list and its reject report are written.")
@click.option("--json", "as_json", is_flag=True, help="With --report: print one JSON object instead of the report.")
def demo_command(
    report_only: bool, host: str, port: int, agents: int | None, for_s: float | None, scenario_path: Path | None,
    contacts: int, hours: float, pacer: str, seed: int, workdir: Path, as_json: bool,
) -> None:
    """Try the dialer: the web app with a campaign dialing live, on embedded defaults.

    One process serves the web app at http://127.0.0.1:8000, runs the live
    dialer on the simulated carrier and starts a demo campaign whose list
    holds only places where calling is lawful right now. Simulated agents
    take calls; sign in as the demo agent to take calls next to them, and as
    the supervisor or compliance officer to watch and check. The accounts
    and their password are printed at start.

    The database is DATABASE_URL (default: the SQLite file dialer.db); Redis
    is the in-process stand-in unless REDIS_URL names a server. Nothing to
    install or sign up for.

    With --report, nothing is served: a whole campaign is dialed in virtual
    time (hours in seconds) and its results are printed.

    \b
    Examples:
      dialer demo
      dialer demo --port 8080 --agents 10
      dialer demo --report
      dialer demo --report --agents 20 --contacts 5000 --hours 6 --pacer ratio:1.4
      dialer campaign show 1        (a campaign the demo left behind)
    """
    if report_only:
        _run_report(contacts, agents if agents is not None else REPORT_AGENTS, hours, pacer, seed, workdir, as_json)
    else:
        _serve(host, port, agents if agents is not None else SERVER_AGENTS, for_s, scenario_path, contacts, pacer,
               seed, workdir)


def _serve(host: str, port: int, agents: int, for_s: float | None, scenario_path: Path | None, contacts: int,
           pacer: str, seed: int, workdir: Path) -> None:
    from campaigns.demo_server import DemoError, DemoServer, DemoServerOptions, welcome
    from dialer.simulation.scenario import ScenarioError, load_scenario

    settings = get_settings()
    if not os.environ.get("DIALER_LOG_LEVEL"):
        # What the demo prints is for a newcomer: the floor's routine news only when asked for.
        for name in ("campaigns", "dialer", "web", "werkzeug"):  # werkzeug: a line per request otherwise
            logging.getLogger(name).setLevel(logging.WARNING)
    scenario = None
    if scenario_path is not None:
        try:
            scenario = load_scenario(scenario_path)
        except ScenarioError as error:
            raise click.BadParameter(str(error), param_hint="--scenario") from error
    options = DemoServerOptions(host=host, port=port, bot_agents=agents, contacts=contacts, seed=seed, pacer=pacer,
                                scenario=scenario, workdir=workdir)
    try:
        server = DemoServer(settings, options)
    except DemoError as error:
        raise click.ClickException(str(error)) from error
    # From here on Ctrl-C (or SIGTERM) asks for a clean stop: the preparation finishes, then everything stops.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: server.request_stop())
    try:
        click.echo("Preparing the demo campaign (accounts, a generated list, its import)...", err=True)
        campaign = server.prepare()
        if not server.stopping:
            server.start()
            click.echo(welcome(server, campaign, for_s=for_s))
            server.wait(for_s)
        click.echo("Stopping: the dialer lets its campaign go and the campaign is paused...", err=True)
    except DemoError as error:
        raise click.ClickException(str(error)) from error
    finally:
        server.close()
    click.echo("Demo stopped.", err=True)


def _run_report(contacts: int, agents: int, hours: float, pacer: str, seed: int, workdir: Path,
                as_json: bool) -> None:
    from campaigns.db import ensure_schema, make_engine
    from campaigns.demo import DemoOptions, run_demo

    url = get_settings().database_url
    ensure_schema(url)
    db = make_engine(url)
    workdir.mkdir(parents=True, exist_ok=True)
    options = DemoOptions(contacts=contacts, agents=max(1, agents), hours=hours, pacer=pacer, seed=seed)
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
