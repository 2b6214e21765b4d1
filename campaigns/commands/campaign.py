"""``dialer campaign``: create, list, show, start and pause campaigns from a shell.

Every setting a campaign has is an option here, so nothing needs the web UI;
the rules themselves live in ``campaigns.services`` and are the same for every door.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from campaigns import services
from campaigns.db import session_scope
from campaigns.models import Campaign
from campaigns.settings import get_settings

_DEFAULTS = services.campaign_defaults()

# Errors name the option the user typed, not the column behind it.
_OPTION_FOR_SETTING = {
    "name": "NAME",
    "default_region": "--region",
    "ring_timeout_s": "--ring-timeout",
    "retry_delays_min": "--retry-delays",
    "safe_harbour_s": "--safe-harbour",
    "amd_enabled": "--amd/--no-amd",
    "requires_consent": "--requires-consent/--no-requires-consent",
    "prerecorded": "--prerecorded/--no-prerecorded",
} | {
    setting: "--" + setting.replace("_", "-")
    for setting in (
        "caller_id",
        "description",
        "purpose",
        "dial_mode",
        "pacer",
        "max_attempts",
        "target_abandon",
        "machine_action",
        "voicemail_message",
        "drop_message",
        "calling_window",
        "max_dial_level",
    )
}


def _default(name: str) -> str:
    value = _DEFAULTS[name]
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    return f"[default: {value}]"


@contextmanager
def _session() -> Iterator[Session]:
    with session_scope(get_settings().database_url) as session:
        yield session


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _parse_delays(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError as error:
        raise click.BadParameter("give whole minutes separated by commas, e.g. 60,240,1440") from error


@click.group("campaign")
def campaign_group() -> None:
    """Create and run calling campaigns.

    A campaign holds the dialing rules (mode, pacer, caller ID, ring time,
    attempts, retry delays, abandonment target, messages, calling hours) and
    the contact lists imported into it.  It starts as a draft; `start` lets the
    dialer call it, `pause` stops new calls.

    \b
    Examples:
      dialer campaign create "Spring renewals" --caller-id "+1 201 555 0123"
      dialer campaign list
      dialer campaign show "Spring renewals"
      dialer campaign start 1
    """


@campaign_group.command("create")
@click.argument("name")
@click.option(
    "--caller-id",
    required=True,
    metavar="NUMBER",
    help="Number shown to the people called; they must reach you on it. Any format; stored as E.164.",
)
@click.option("--description", metavar="TEXT", help="Free text for supervisors.")
@click.option(
    "--purpose",
    type=click.Choice(services.PURPOSES, case_sensitive=False),
    help=f"Why the calls are made; picks the rules that apply. {_default('purpose')}",
)
@click.option(
    "--dial-mode",
    type=click.Choice(services.DIAL_MODES, case_sensitive=False),
    help="preview: agent sees the contact first; progressive: one call per free agent; "
    "power: a fixed ratio; predictive: a model picks the ratio. "
    f"{_default('dial_mode')}",
)
@click.option(
    "--pacer",
    metavar="NAME",
    help="preview, progressive, ratio:X (X >= 1.0, power mode) or predictive. [default: follows --dial-mode]",
)
@click.option(
    "--region",
    "default_region",
    metavar="CC",
    help=f"Region for numbers written without a country code. {_default('default_region')}",
)
@click.option(
    "--ring-timeout",
    "ring_timeout_s",
    type=int,
    metavar="SECONDS",
    help=f"How long a call rings before giving up; at least 15 by law. {_default('ring_timeout_s')}",
)
@click.option(
    "--max-attempts", type=int, metavar="N", help=f"Calls per contact at most. {_default('max_attempts')}"
)
@click.option(
    "--retry-delays",
    "retry_delays_min",
    callback=_parse_delays,
    metavar="MINUTES,...",
    help=f"Minutes to wait before the 2nd, 3rd... attempt; the last repeats. {_default('retry_delays_min')}",
)
@click.option(
    "--target-abandon",
    type=float,
    metavar="RATE",
    help="Share of live answers the pacer may abandon, above 0 and at most 0.03. "
    f"{_default('target_abandon')}",
)
@click.option(
    "--safe-harbour",
    "safe_harbour_s",
    type=float,
    metavar="SECONDS",
    help="Seconds after a person answers within which an agent must be on the line "
    f"(at most 2). {_default('safe_harbour_s')}",
)
@click.option(
    "--amd/--no-amd", "amd_enabled", default=None, help="Detect answering machines. [default: --amd]"
)
@click.option(
    "--machine-action",
    type=click.Choice(services.MACHINE_ACTIONS, case_sensitive=False),
    help=f"What to do when a machine answers. {_default('machine_action')}",
)
@click.option(
    "--voicemail-message", metavar="TEXT", help="Message left on machines when --machine-action is voicemail."
)
@click.option(
    "--drop-message",
    metavar="TEXT",
    help="Message a person hears when no agent is free. [default: names the campaign, says it "
    "was a telemarketing call, gives the caller ID to call back and offers 9 to opt out]",
)
@click.option(
    "--calling-window",
    metavar="HH:MM-HH:MM",
    help="Hours to call in, on the called person's clock; the law's own hours apply too. "
    f"{_default('calling_window')}",
)
@click.option(
    "--requires-consent/--no-requires-consent",
    "requires_consent",
    default=None,
    help="Dial only numbers with prior express written consent on record (e.g. autodialed calls to "
    "mobiles). [default: --no-requires-consent]",
)
@click.option(
    "--prerecorded/--no-prerecorded",
    "prerecorded",
    default=None,
    help="The campaign plays a prerecorded or artificial-voice message. [default: --no-prerecorded]",
)
@click.option(
    "--max-dial-level",
    "max_dial_level",
    type=float,
    metavar="LINES",
    help="Lines (dialing, ringing, waiting or connected) per working agent that no pacer may pass; "
    f"1.0 is progressive. {_default('max_dial_level')}",
)
@click.option("--json", "as_json", is_flag=True, help="Print the new campaign as JSON.")
def create_command(as_json: bool, **options: Any) -> None:
    """Create a campaign (as a draft) named NAME.

    Only NAME and --caller-id are needed; every other setting has a lawful
    default shown below.

    \b
    Examples:
      dialer campaign create "Spring renewals" --caller-id 2015550123
      dialer campaign create Survey --caller-id +12015550123 --purpose survey \\
          --dial-mode power --pacer ratio:1.8 --ring-timeout 20 --calling-window 09:00-20:00
    """
    try:
        with _session() as session:
            campaign = services.create_campaign(session, **options)
            data = services.campaign_to_dict(campaign)
    except services.CampaignError as error:
        where = _OPTION_FOR_SETTING.get(error.field, error.field)
        raise click.ClickException(f"{where}: {error.message}") from error
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"Created campaign {data['id']} {data['name']!r} (draft).")
        click.echo(f"Start it with: dialer campaign start {data['id']}")


@campaign_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["draft", "active", "paused", "finished"]),
    help="Only campaigns in this status.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_command(status: str | None, as_json: bool) -> None:
    """List campaigns, oldest first.

    \b
    Examples:
      dialer campaign list
      dialer campaign list --status active --json
    """
    with _session() as session:
        rows = [services.campaign_to_dict(c) for c in services.list_campaigns(session, status)]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("No campaigns yet. Create one with: dialer campaign create NAME --caller-id NUMBER")
        return
    columns = ("id", "name", "status", "dial_mode", "pacer", "caller_id", "calling_window")
    click.echo(_table(columns, [[str(row[c]) for c in columns] for row in rows]))


@campaign_group.command("show")
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print settings and summary as one JSON object.")
def show_command(campaign: str, as_json: bool) -> None:
    """Show a campaign's settings and progress; CAMPAIGN is its id or name.

    \b
    Examples:
      dialer campaign show 1
      dialer campaign show "Spring renewals" --json
    """
    with _session() as session:
        found = services.get_campaign(session, campaign)
        data = services.campaign_to_dict(found)
        summary = services.campaign_summary(session, found)
    if as_json:
        _echo_json({**data, "summary": summary})
        return
    width = max(len(key) for key in data)
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        click.echo(f"{key:<{width}}  {value}")
    click.echo("")
    click.echo(
        f"lists {summary['lists']}, contacts {summary['contacts']}, attempts {summary['attempts']}, "
        f"connected {summary['connected']}, abandoned {summary['abandoned']}"
    )
    click.echo("contacts by status: " + _pairs(summary["contacts_by_status"]))
    click.echo("calls by answer:    " + _pairs(summary["calls_by_answer_class"]))


@campaign_group.command("start")
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print the campaign as JSON.")
def start_command(campaign: str, as_json: bool) -> None:
    """Let the dialer call CAMPAIGN (id or name): a draft or paused campaign becomes active.

    A finished campaign cannot start again.

    \b
    Example:
      dialer campaign start "Spring renewals"
    """
    _change_status(campaign, services.start_campaign, as_json)


@campaign_group.command("pause")
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print the campaign as JSON.")
def pause_command(campaign: str, as_json: bool) -> None:
    """Stop placing new calls for CAMPAIGN (id or name); calls in progress finish.

    \b
    Example:
      dialer campaign pause 1
    """
    _change_status(campaign, services.pause_campaign, as_json)


def _change_status(ref: str, action: Callable[[Session, Campaign], Campaign], as_json: bool) -> None:
    with _session() as session:
        campaign = action(session, services.get_campaign(session, ref))
        data = services.campaign_to_dict(campaign)
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"Campaign {data['id']} {data['name']!r} is {data['status']}.")


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items())


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(col), *(len(row[i]) for row in rows)) for i, col in enumerate(columns)]
    lines = ["  ".join(col.upper().ljust(w) for col, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)
