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
    "record_calls": "--record/--no-record",
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
        "recording_announcement",
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
@click.option(
    "--record/--no-record",
    "record_calls",
    default=None,
    help="Record conversations (needs --recording-announcement). [default: --no-record]",
)
@click.option(
    "--recording-announcement",
    "recording_announcement",
    metavar="TEXT",
    help="What the customer is told about the recording; the agent's script opens with it.",
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


@campaign_group.command("set")
@click.argument("campaign")
@click.option("--target-abandon", type=float, default=None,
              help="Share of live answers the pacer may abandon: above 0, at most 0.03 (the law's limit).")
@click.option("--max-dial-level", type=float, default=None,
              help="Lines per working agent no pacer may pass, 1.0 (progressive) to 10.0.")
@click.option("--pacer", default=None, help="Pacer name: progressive, ratio:X, predictive, vicidial-hard, ...")
@click.option("--by", "actor", default="cli", show_default=True, help="Who made the change, for the audit trail.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def set_command(
    campaign: str,
    target_abandon: float | None,
    max_dial_level: float | None,
    pacer: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Change CAMPAIGN's pacing controls, even while it dials.

    The running dialer picks the change up within a few seconds. Every change is
    written to the campaign's audit chain with --by, so the compliance desk sees
    who moved the target or the dial level and when.

    \b
    Examples:
      dialer campaign set 1 --target-abandon 0.02
      dialer campaign set "Spring renewals" --max-dial-level 2.5 --by supervisor.ann
      dialer campaign set 1 --pacer ratio:1.8
    """
    if target_abandon is None and max_dial_level is None and pacer is None:
        raise click.UsageError("give at least one of --target-abandon, --max-dial-level, --pacer")
    with _session() as session:
        found = services.get_campaign(session, campaign)
        changes = services.update_pacing(
            session, found, actor=actor, target_abandon=target_abandon, max_dial_level=max_dial_level, pacer=pacer
        )
        name = found.name
    if as_json:
        _echo_json({key: {"from": before, "to": after} for key, (before, after) in changes.items()})
    elif not changes:
        click.echo(f"Campaign {name!r}: nothing changed.")
    else:
        for key, (before, after) in changes.items():
            click.echo(f"Campaign {name!r}: {key} {before} -> {after}")


@campaign_group.command("what-if")
@click.argument("campaign")
@click.option("--hours", type=click.FloatRange(min=0.1, max=24 * 7), default=4.0, show_default=True,
              help="How many hours of the campaign's history to replay.")
@click.option("--until", default=None, metavar="ISO-UTC",
              help="End of the replayed window [default: the campaign's last placed call].")
@click.option("--pacer", "pacers", multiple=True, metavar="NAME",
              help="A pacer to try (repeatable): predictive, progressive, vicidial-hard, ...")
@click.option("--dial-level", "levels", multiple=True, type=click.FloatRange(min=1.0, max=10.0), metavar="X",
              help="A fixed dial level to try (repeatable): the same as --pacer ratio:X.")
@click.option("--seeds", type=click.IntRange(1, 20), default=3, show_default=True,
              help="Replays per pacer; the table shows their mean and worst.")
@click.option("--cps", type=click.FloatRange(min=0.1), default=None,
              help="The carrier's calls-per-second limit [default: the busiest 10 s observed].")
@click.option("--json", "as_json", is_flag=True, help="Print the fitted world and every replay as JSON.")
def what_if_command(
    campaign: str,
    hours: float,
    until: str | None,
    pacers: tuple[str, ...],
    levels: tuple[float, ...],
    seeds: int,
    cps: float | None,
    as_json: bool,
) -> None:
    """Replay CAMPAIGN's last hours with another dial level or pacer, in the simulator.

    The campaign's records (answer rate hour by hour, ring, talk and wrap-up
    times, agents' logins and pauses) are fitted into a simulated world; the
    campaign's own pacer and each one asked for are replayed in it on the same
    seeds, so the comparison is like for like. Nobody is called.

    \b
    Examples:
      dialer campaign what-if 1 --hours 4 --dial-level 1.5 --dial-level 2.0
      dialer campaign what-if "Spring renewals" --pacer predictive --pacer vicidial-hard --seeds 5
      dialer campaign what-if 1 --until 2026-11-30T17:00:00Z --pacer progressive --json
    """
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine

    from campaigns.whatif import WhatIfError, last_activity, what_if

    tried = [*pacers, *(f"ratio:{level:g}" for level in levels)]
    for spec in tried:
        services.parse_pacer(spec)  # a typo fails here, before any replay
    url = get_settings().database_url
    with _session() as session:
        campaign_id = services.get_campaign(session, campaign).id
    db = create_engine(url)
    try:
        if until is None:
            last = last_activity(db, campaign_id)
            if last is None:
                raise click.ClickException(f"campaign {campaign_id} has placed no calls yet: nothing to replay")
            end = last + timedelta(seconds=1)
        else:
            try:
                end = datetime.fromisoformat(until.replace("Z", "+00:00"))
            except ValueError as error:
                raise click.BadParameter(f"{until!r} is not an ISO date-time", param_hint="--until") from error
            end = end if end.tzinfo else end.replace(tzinfo=UTC)

        def progress(spec: str, seed: int) -> None:
            if not as_json:
                click.echo(f"  replaying {spec} (seed {seed}/{seeds})...", err=True)

        try:
            result = what_if(db, campaign_id, tried, hours=hours, until=end, seeds=seeds, cps=cps, progress=progress)
        except WhatIfError as error:
            raise click.ClickException(str(error)) from error
    finally:
        db.dispose()
    data = result.to_dict()
    if as_json:
        _echo_json(data)
        return
    seen = data["observed"]
    click.echo(
        f"Campaign {campaign_id}, {data['window']['start']} .. {data['window']['end']} as it happened: "
        f"{seen['dials']} dials, {seen['people']} people answered, abandonment {seen['abandon_rate']:.2%}, "
        f"occupancy {seen['occupancy']:.1%}, {seen['agents']} agents."
    )
    click.echo(f"Replayed in the fitted world ({seeds} seeds; not observable, kept at defaults: "
               f"{', '.join(data['assumed'])}):")
    rows = [
        [
            r["pacer"] + (" (current)" if i == 0 else ""),
            f"{r['occupancy']:.1%}",
            f"{r['abandon_rate']:.2%}",
            f"{r['abandon_rate_max']:.2%}",
            f"{r['worst_hour']:.2%}",
            f"{r['dials_per_agent_hour']:.0f}",
        ]
        for i, r in enumerate(data["replays"])
    ]
    click.echo(_table(["pacer", "occupancy", "abandonment", "worst seed", "worst hour", "dials/agent-h"], rows))


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
