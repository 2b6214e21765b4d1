"""``dialer fake-twilio``: a local stand-in for Twilio's Voice API, for tests and demos offline."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dialer.carriers.fake_twilio import FakeTwilioConfig, serve
from dialer.carriers.fake_twilio.config import DEFAULT_PRESS_SHARE, DEFAULT_SAY_WORDS_PER_S
from dialer.carriers.fake_twilio.validation import is_phone_number
from dialer.simulation.scenario import Scenario, ScenarioError, load_scenario

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


def _numbers(option: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated options or comma-separated lists, every one an E.164 number."""
    numbers = tuple(n.strip() for value in values for n in value.split(",") if n.strip())
    bad = [n for n in numbers if not is_phone_number(n)]
    if bad:
        raise click.BadParameter(f"not E.164 numbers: {', '.join(bad)}", param_hint=option)
    return numbers


@click.command("fake-twilio")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one and prints it).")
@click.option("--account-sid", envvar="TWILIO_ACCOUNT_SID", required=True,
              help="The account the stand-in accepts (AC + 32 hex). [env TWILIO_ACCOUNT_SID]")
@click.option("--auth-token", envvar="TWILIO_AUTH_TOKEN", required=True,
              help="Its auth token: checks Basic auth and signs every webhook. [env TWILIO_AUTH_TOKEN]")
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A pacing scenario (JSON) for answer rates, ring, AMD, patience and talk times. "
                   "Default: the scenario format's defaults.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed for the callers' fates.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Time compression: every delay is divided by this (tests use 20 or more).")
@click.option("--cps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Calls started per second; more wait in a queue. Default: the scenario's (1, like Twilio).")
@click.option("--max-queue", type=click.IntRange(min=0), default=None,
              help="Refuse new calls with HTTP 429 (code 20429) while this many wait in the CPS queue.")
@click.option("--caller-ids", multiple=True,
              help="The account's own numbers (repeat or comma-separate); any other From gets error 21210. "
                   "Default: any E.164 From is accepted.")
@click.option("--agent-numbers", multiple=True,
              help="Numbers that are agents' phones: answered at once, never hang up by themselves "
                   "(client:NAME always is).")
@click.option("--press-share", type=click.FloatRange(0, 1), default=DEFAULT_PRESS_SHARE, show_default=True,
              help="Chance that a person presses 9 at a <Gather>.")
@click.option("--say-words-per-s", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_SAY_WORDS_PER_S,
              show_default=True, help="How fast <Say> speaks.")
def fake_twilio_command(
    port: int, account_sid: str, auth_token: str, scenario_file: Path | None, seed: int, speed: float,
    cps: float | None, max_queue: int | None, caller_ids: tuple[str, ...], agent_numbers: tuple[str, ...],
    press_share: float, say_words_per_s: float,
) -> None:
    """Serve Twilio's Voice REST API on 127.0.0.1, with calls played out from a scenario.

    The official twilio library, pointed here (TWILIO_API_URL, or
    Client(..., http_client=local_http_client(URL)) from
    dialer.carriers.twilio_local), creates, fetches and updates calls as at
    Twilio. Each call queues behind the calls-per-second limit, rings, is
    answered by a person or a machine or not at all, gets an answering-machine
    verdict, follows the TwiML it is given (Say, Play, Pause, Gather, Redirect,
    Hangup, Dial/Conference) and sends status, AMD and conference webhooks
    signed with X-Twilio-Signature exactly as Twilio signs them.

    \b
    Inspection (no auth, this machine only):
      GET /_fake/calls         every call with its timeline and webhooks
      GET /_fake/webhooks      every webhook attempt and its response status
      GET /_fake/conferences   every conference and its participants

    \b
    Examples:
      dialer fake-twilio --account-sid AC0123456789abcdef0123456789abcdef --auth-token secret
      dialer fake-twilio --port 0 --scenario mid-team.json --seed 7 --speed 10
      dialer fake-twilio --caller-ids +12015550123 --agent-numbers +12015550199 --max-queue 100
      TWILIO_API_URL=http://127.0.0.1:8765 DIALER_CARRIER=twilio dialer ...
    """
    if not _ACCOUNT_SID.match(account_sid):
        raise click.BadParameter("must be AC followed by 32 hex digits", param_hint="--account-sid")
    try:
        scenario = Scenario() if scenario_file is None else load_scenario(scenario_file)
    except ScenarioError as error:
        raise click.ClickException(str(error)) from error
    config = FakeTwilioConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        port=port,
        scenario=scenario,
        seed=seed,
        speed=speed,
        cps=cps,
        max_queue=max_queue,
        caller_ids=_numbers("--caller-ids", caller_ids),
        agent_numbers=_numbers("--agent-numbers", agent_numbers),
        press_share=press_share,
        say_words_per_s=say_words_per_s,
    )
    try:
        server, thread = serve(config)
    except OSError as error:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}") from error
    click.echo(f"fake Twilio listening on {server.base_url} (speed x{speed:g}); Ctrl-C stops it")
    try:
        while thread.is_alive():
            thread.join(timeout=0.5)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        server.close()


__all__ = ["fake_twilio_command"]
