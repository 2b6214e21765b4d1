"""``dialer run``: the live dialer process of the Procfile's ``dialer`` line."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from campaigns.settings import get_settings

log = logging.getLogger(__name__)


@click.command("run")
@click.option("--campaign", "campaign_refs", multiple=True, metavar="ID_OR_NAME",
              help="Pace only this campaign (repeatable). Default: every active campaign.")
@click.option("--bot-agents", type=click.IntRange(0, 500), default=0, show_default=True,
              help="Simulated agents per campaign who log in and take calls (on Twilio each gets a client: leg "
                   "in its room).")
@click.option("--for", "for_s", type=click.FloatRange(0, None), default=None, metavar="SECONDS",
              help="Stop cleanly after this many seconds (tests, demos). Default: until SIGTERM.")
@click.option("--lease-s", type=click.FloatRange(1, 600), default=None, metavar="SECONDS",
              help="Campaign lease time; a dead process's campaigns move on after it. Default: DIALER_LEASE_S or 10.")
@click.option("--scenario", "scenario_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The simulated world (answer rates, talk and wrap times) as a scenario JSON file.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the simulated world.")
def run_command(
    campaign_refs: tuple[str, ...], bot_agents: int, for_s: float | None, lease_s: float | None,
    scenario_path: Path | None, seed: int,
) -> None:
    """Run the live dialer: pace active campaigns on the wall clock until stopped.

    Each campaign is paced by one process at a time, the holder of its lease in
    REDIS_URL; start several processes and they share the campaigns, and when
    one dies (even kill -9) another takes its campaigns over within the lease
    time, closes the calls the dead one left open and never dials an attempt
    twice. SIGTERM lets go of every lease at once and hangs up nothing.

    The carrier is DIALER_CARRIER: with ``simulated`` the calls are virtual and
    live in this process; add --bot-agents to have simulated agents take them.
    Real agents log in from the web app (their actions reach this process
    through Redis). REDIS_URL=memory:// works only for a single process.

    \b
    Examples:
      dialer run
      dialer run --campaign Spring --campaign 7
      dialer run --bot-agents 5 --for 60        a minute of live dialing with simulated agents
      DIALER_LEASE_S=5 dialer run --lease-s 5
    """
    from campaigns import services
    from campaigns.db import ensure_schema, make_engine, make_session_factory
    from campaigns.live_dialer import CarrierFactory, DialerOptions, DialerProcess, twilio_carrier_factory
    from campaigns.redis_conn import connect_redis
    from dialer.simulation.scenario import ScenarioError, load_scenario

    settings = get_settings()
    ensure_schema(settings.database_url)
    scenario = None
    if scenario_path is not None:
        try:
            scenario = load_scenario(scenario_path)
        except ScenarioError as error:
            raise click.BadParameter(str(error), param_hint="--scenario") from error
    db = make_engine(settings.database_url)
    try:
        with make_session_factory(db)() as session:
            ids = tuple(services.get_campaign(session, ref).id for ref in campaign_refs)
        client = connect_redis(settings.redis_url)
        if settings.redis_in_process:
            click.echo("REDIS_URL is memory:// (the in-process stand-in): this process cannot share campaigns "
                       "with other dialers or hear the web app. Set REDIS_URL=redis://... in production.", err=True)
        factory: CarrierFactory | None = None
        if settings.carrier == "twilio":
            try:
                factory = twilio_carrier_factory(settings)
            except RuntimeError as error:
                raise click.ClickException(str(error)) from error
        options = DialerOptions(
            campaign_ids=ids, bot_agents=bot_agents, lease_s=lease_s or settings.dialer_lease_s,
            scenario=scenario, seed=seed,
        )
        process = DialerProcess(db, client, options, carrier_factory=factory)
        click.echo(f"dialer {process.owner}: pacing "
                   f"{'campaigns ' + ', '.join(map(str, ids)) if ids else 'every active campaign'} "
                   f"(carrier {settings.carrier}, lease {options.lease_s:g} s)", err=True)
        process.run(for_s)
        click.echo(f"dialer {process.owner}: stopped, leases released", err=True)
    finally:
        db.dispose()
