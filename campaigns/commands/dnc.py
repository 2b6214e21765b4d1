"""``dialer dnc``: the company and campaign do-not-call lists, and the national registry copy.

The work is in ``campaigns.dnc_store`` and ``compliance.registry``; these
commands find the campaign, take the options, and print what was done.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from campaigns import dnc_store, services
from campaigns.csv_safety import safe_csv_writer
from campaigns.db import session_scope
from campaigns.settings import get_settings
from compliance.registry import MALFORMED_REASONS, REGISTRY_MAX_AGE_DAYS, Registry, RegistryError, load_registry_files

_SHOWN_PROBLEMS = 10


@contextmanager
def _session() -> Iterator[Session]:
    try:
        with session_scope(get_settings().database_url) as session:
            yield session
    except dnc_store.DncError as error:
        raise click.ClickException(str(error)) from error


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _campaign_id(session: Session, ref: str | None) -> int | None:
    return None if ref is None else services.get_campaign(session, ref).id


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC; the next midnight with ``end_of_day``) or an ISO date-time (naive: UTC)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from error
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _when_option(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    return None if value is None else parse_when(value)


_campaign_option = click.option(
    "--campaign",
    "campaign_ref",
    metavar="ID_OR_NAME",
    help="The campaign's own list instead of the company-wide list.",
)
_by_option = click.option(
    "--by",
    "actor",
    default=_who,
    show_default="your login name",
    metavar="NAME",
    help="Who makes the change; kept in the change log.",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")


@click.group("dnc")
def dnc_group() -> None:
    """Do-not-call lists: company-wide, per campaign, and the national registry.

    \b
    The dialer checks three lists before every call:
      company   numbers nobody in the company may call; kept until removed
                (with a reason) - honour requests within 10 business days
                and keep them 5 years (47 CFR 64.1200(d)(3), (d)(6))
      campaign  numbers one campaign may not call
      national  the national Do Not Call Registry, from the files you
                download (telemarketing campaigns; the copy must be at most
                31 days old, or those campaigns cannot dial)
    Every addition and removal is logged with who, when, why and the source,
    and takes effect at once.

    \b
    Examples:
      dialer dnc add +12015550123 --reason "asked on the phone" --source phone
      dialer dnc add 2015550123 --campaign Spring --reason "not for this offer"
      dialer dnc remove +12015550123 --reason "entered by mistake"
      dialer dnc list --changes --phone +12015550123
      dialer dnc upload optouts.csv --reason "web unsubscribe form"
      dialer dnc load-registry 201.txt 202.txt --downloaded 2026-11-30
      dialer dnc scrub --campaign Spring
    """


@dnc_group.command("add")
@click.argument("phones", nargs=-1, required=True, metavar="PHONE...")
@_campaign_option
@click.option("--reason", default="", metavar="TEXT", help="Why the number may not be called.")
@click.option(
    "--source",
    type=click.Choice(dnc_store.DNC_SOURCES),
    default="manual",
    show_default=True,
    help="How the request came in.",
)
@click.option(
    "--received",
    "received_at",
    callback=_when_option,
    metavar="WHEN",
    help="When the request was received, if earlier than now (YYYY-MM-DD or ISO date-time, UTC).",
)
@click.option("--evidence", default="", metavar="TEXT", help="Where the proof is: a recording, an email, a form id.")
@click.option("--region", default="US", show_default=True, metavar="CC", help="Region of numbers without +country.")
@_by_option
@_json_option
def add_command(
    phones: tuple[str, ...],
    campaign_ref: str | None,
    reason: str,
    source: str,
    received_at: datetime | None,
    evidence: str,
    region: str,
    actor: str,
    as_json: bool,
) -> None:
    """Put one or more numbers on the company list (or a campaign's with --campaign).

    Numbers are read in --region when written without a country code and
    stored as E.164.  A number already listed stays as it is; the request is
    still logged.

    \b
    Examples:
      dialer dnc add "(201) 555-0123" --reason "asked by email" --source email --received 2026-11-28
      dialer dnc add +12015550123 +12015550124 --campaign Spring --reason "complaint"
    """
    with _session() as session:
        campaign_id = _campaign_id(session, campaign_ref)
        done = []
        for phone in phones:
            change = dnc_store.add_number(
                session,
                phone,
                reason=reason,
                source=source,
                actor=actor,
                campaign_id=campaign_id,
                received_at=received_at,
                evidence=evidence,
                region=region,
            )
            done.append({"e164": change.e164, "changed": change.changed, "change_id": change.id})
    scope = "company" if campaign_id is None else f"campaign {campaign_id}"
    if as_json:
        click.echo(json.dumps({"list": scope, "numbers": done}, indent=2))
        return
    for item in done:
        what = "added to" if item["changed"] else "already on"
        click.echo(f"{item['e164']} {what} the {scope} do-not-call list (change {item['change_id']}).")


@dnc_group.command("remove")
@click.argument("phone")
@_campaign_option
@click.option("--reason", required=True, metavar="TEXT", help="Why the number may be called again (required).")
@click.option("--evidence", default="", metavar="TEXT", help="Where the proof is, e.g. a signed consent.")
@click.option("--region", default="US", show_default=True, metavar="CC", help="Region of numbers without +country.")
@_by_option
@_json_option
def remove_command(
    phone: str, campaign_ref: str | None, reason: str, evidence: str, region: str, actor: str, as_json: bool
) -> None:
    """Take PHONE off the company list (or a campaign's with --campaign).

    Needs a reason; the removal is logged with who made it.  A company DNC
    request is normally honoured for 5 years: remove only on the person's
    own word, or to fix a mistake.

    \b
    Example:
      dialer dnc remove +12015550123 --reason "typed the wrong number" --by alice
    """
    with _session() as session:
        campaign_id = _campaign_id(session, campaign_ref)
        change = dnc_store.remove_number(
            session, phone, reason=reason, actor=actor, campaign_id=campaign_id, evidence=evidence, region=region
        )
        data = {"e164": change.e164, "change_id": change.id}
    scope = "company" if campaign_id is None else f"campaign {campaign_id}"
    if as_json:
        click.echo(json.dumps({"list": scope, **data}, indent=2))
    else:
        click.echo(f"{data['e164']} removed from the {scope} do-not-call list (change {data['change_id']}).")


@dnc_group.command("list")
@_campaign_option
@click.option("--all", "every_list", is_flag=True, help="Every list: the company's and every campaign's.")
@click.option("--phone", metavar="PHONE", help="Only this number.")
@click.option("--changes", "show_changes", is_flag=True, help="Show the change log (adds and removals) instead.")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many rows (0: all).")
@click.option("--region", default="US", show_default=True, metavar="CC", help="Region of --phone without +country.")
@_json_option
def list_command(
    campaign_ref: str | None,
    every_list: bool,
    phone: str | None,
    show_changes: bool,
    limit: int,
    region: str,
    as_json: bool,
) -> None:
    """Show the company list (or a campaign's, or --all), newest first; or its change log with --changes.

    \b
    Examples:
      dialer dnc list
      dialer dnc list --campaign Spring --json
      dialer dnc list --changes --phone 2015550123
    """
    with _session() as session:
        campaign_id = _campaign_id(session, campaign_ref)
        e164 = dnc_store.normalize_number(phone, region) if phone else None
        if show_changes:
            rows = [
                {
                    "id": c.id,
                    "effective_at": c.effective_at.isoformat(),
                    "received_at": c.received_at.isoformat(),
                    "action": c.action,
                    "changed": c.changed,
                    "e164": c.e164,
                    "list": "company" if c.campaign_id is None else f"campaign {c.campaign_id}",
                    "source": c.source,
                    "actor": c.actor,
                    "reason": c.reason,
                }
                for c in dnc_store.changes(
                    session,
                    phone=e164,
                    campaign_id=campaign_id,
                    every_list=every_list or (campaign_ref is None and e164 is not None),
                )
            ]
            rows = rows[-limit:] if limit else rows
        else:
            rows = [
                entry.to_dict()
                for entry in dnc_store.list_entries(
                    session, campaign_id=campaign_id, every_list=every_list, phone=e164, limit=limit or None
                )
            ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("Nothing listed." if not show_changes else "No changes.")
        return
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        click.echo("  ".join(str(r[c]).ljust(widths[c]) for c in columns).rstrip())


@dnc_group.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_campaign_option
@click.option("--reason", default="", metavar="TEXT", help="Reason for rows without a reason column of their own.")
@click.option(
    "--source",
    type=click.Choice(dnc_store.DNC_SOURCES),
    default="bulk",
    show_default=True,
    help="Where the list came from.",
)
@click.option(
    "--received",
    "received_at",
    callback=_when_option,
    metavar="WHEN",
    help="When the requests were received, if earlier than now.",
)
@click.option("--region", default="US", show_default=True, metavar="CC", help="Region of numbers without +country.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="OUT.csv",
    help="Write every row's outcome (row, status, e164, detail, text) to this CSV file.",
)
@_by_option
@_json_option
def upload_command(
    file: str,
    campaign_ref: str | None,
    reason: str,
    source: str,
    received_at: datetime | None,
    region: str,
    report_path: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Add every number of a CSV FILE to the company list (or a campaign's).

    \b
    The phone column is the one headed phone, number, e164, telephone,
    mobile or cell (or the first column when the file has no header); a
    column headed reason or note gives a row its own reason.  Every row gets
    an outcome: added, already_listed, duplicate (earlier in the file) or
    rejected (with the reason); bad rows never stop the others.  Rows are
    numbered as a spreadsheet shows them (the header is row 1).

    \b
    Examples:
      dialer dnc upload optouts.csv --reason "unsubscribe page" --source web
      dialer dnc upload complaints.csv --campaign Spring --report outcome.csv
    """
    with _session() as session:
        campaign_id = _campaign_id(session, campaign_ref)
        report = dnc_store.upload_csv(
            session,
            file,
            actor=actor,
            reason=reason,
            campaign_id=campaign_id,
            source=source,
            region=region,
            received_at=received_at,
        )
    if report_path:
        with open(report_path, "w", newline="", encoding="utf-8") as out:
            report.write_csv(out)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    counts = report.counts
    click.echo(
        f"{file}: {counts.get('added', 0):,} added to the {report.list_name} list, "
        f"{counts.get('already_listed', 0):,} already listed, {counts.get('duplicate', 0):,} duplicates, "
        f"{counts.get('rejected', 0):,} rejected."
    )
    rejected = [r for r in report.rows if r.status == "rejected"]
    for r in rejected[:_SHOWN_PROBLEMS]:
        click.echo(f"  row {r.row}: {r.detail}: {r.text!r}")
    if len(rejected) > _SHOWN_PROBLEMS and not report_path:
        click.echo(f"  ... add --report OUT.csv for all {len(rejected):,} rejected rows.")


@dnc_group.command("load-registry")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE...")
@click.option(
    "--downloaded",
    required=True,
    metavar="DATE",
    help="When these files were downloaded from the registry (YYYY-MM-DD or ISO date-time, UTC). "
    f"Telemarketing stops when the copy is more than {REGISTRY_MAX_AGE_DAYS} days old.",
)
@click.option(
    "--out",
    "out_path",
    default="dnc-registry.bin",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the registry file every dialer process maps (a shared disk for several hosts).",
)
@click.option(
    "--problems", "problems_kept", type=int, default=100, show_default=True, help="Malformed lines kept in full."
)
@_by_option
@_json_option
def load_registry_command(
    files: tuple[str, ...], downloaded: str, out_path: str, problems_kept: int, actor: str, as_json: bool
) -> None:
    """Load the national Do Not Call Registry from its downloaded FILE(s) (text, or .zip of text).

    \b
    A line is a number when it is exactly
      2015550123      ten digits: area code, then the number, or
      201,5550123     area code, comma, seven digits
    (spaces around it and Windows line ends are fine).  Any other line is
    malformed: counted and reported with its file and line number, never
    fatal, and never read as some other number.  Blank lines are skipped.

    Reasons a line is malformed: {reasons}.

    \b
    Give every file of one download together: the new copy replaces the old
    one whole (numbers in no file given are no longer listed).  Area codes in
    no file are "not covered": a scrub reports them.  The copy is written to
    --out (about 1.25 MB per dense area code, 500 MB for the whole country),
    memory-mapped by every process, and recorded in the database with its
    download date and digest.  A load that reads no number at all changes nothing.

    \b
    Examples:
      dialer dnc load-registry ftc-2026-11-30/*.txt --downloaded 2026-11-30
      dialer dnc load-registry full.zip --downloaded 2026-11-30T06:00 --out /srv/dialer/registry.bin
    """
    downloaded_at = parse_when(downloaded)
    try:
        info, report = load_registry_files(
            list(files), out_path, downloaded_at=downloaded_at, problems_kept=problems_kept
        )
    except RegistryError as error:
        if error.report is not None and error.report.problems:
            for problem in error.report.problems[:_SHOWN_PROBLEMS]:
                click.echo(f"  {problem}", err=True)
        raise click.ClickException(str(error)) from error
    with _session() as session:
        load = dnc_store.record_registry_load(session, info, report, loaded_by=actor)
        load_id = load.id
    data = {
        "load_id": load_id,
        "path": str(Path(info.path).resolve()),
        "version": info.version,
        "downloaded_at": info.downloaded_at.isoformat(),
        "numbers": info.numbers,
        "area_codes": len(info.area_codes),
        "size_bytes": info.size_bytes,
        **report.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"Loaded {info.numbers:,} numbers in {len(info.area_codes)} area codes from {report.lines:,} lines "
        f"into {data['path']} ({info.size_bytes / 1e6:,.1f} MB), downloaded {info.downloaded_at:%Y-%m-%d}."
    )
    click.echo(f"{report.duplicates:,} duplicates, {report.blank:,} blank lines, {report.malformed:,} malformed.")
    for reason, count in sorted(report.malformed_by_reason.items()):
        click.echo(f"  {reason:<14} {count:>10,}")
    for problem in report.problems[:_SHOWN_PROBLEMS]:
        click.echo(f"  {problem}")


load_registry_command.help = (load_registry_command.help or "").replace("{reasons}", ", ".join(MALFORMED_REASONS))


@dnc_group.command("scrub")
@click.option("--campaign", "campaign_ref", required=True, metavar="ID_OR_NAME", help="The campaign to scrub.")
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A registry file to scrub against.  [default: the copy loaded last]",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="HITS.csv",
    help="Write every listed phone (e164, contact_id, lists) to this CSV file.",
)
@_json_option
def scrub_command(campaign_ref: str, registry_path: str | None, out_path: str | None, as_json: bool) -> None:
    """Count a campaign's phones on the company, campaign and national lists.

    A report: nothing is changed, since the dialer checks every list again
    before each call.  A phone on two lists counts in both.

    \b
    Examples:
      dialer dnc scrub --campaign Spring
      dialer dnc scrub --campaign 3 --out listed.csv --json
    """
    registry: Registry | None = None
    try:
        with _session() as session:
            campaign_id = services.get_campaign(session, campaign_ref).id
            path = registry_path
            if path is None:
                load = dnc_store.current_registry_load(session)
                path = load.path if load is not None else None
            if path is not None:
                try:
                    registry = Registry(path)
                except RegistryError as error:
                    raise click.ClickException(f"cannot scrub against the national registry: {error}") from error
            report = dnc_store.scrub_campaign(session, campaign_id, registry=registry, keep_hits=out_path is not None)
    finally:
        if registry is not None:
            registry.close()
    if out_path:
        with open(out_path, "w", newline="", encoding="utf-8") as out:
            writer = safe_csv_writer(out)
            writer.writerow(["e164", "contact_id", "lists"])
            for e164, contact_id, lists in report.hits:
                writer.writerow([e164, contact_id, " ".join(lists)])
    data: dict[str, Any] = report.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"Campaign {campaign_id}: {report.phones:,} phones, {report.on_any:,} on at least one list.")
    click.echo(f"  company   {report.company:>10,}")
    click.echo(f"  campaign  {report.campaign:>10,}")
    if report.national is None:
        click.echo("  national  (no registry copy loaded: dialer dnc load-registry)")
    else:
        click.echo(
            f"  national  {report.national:>10,}   copy {report.registry_version}, "
            f"{report.registry_age_days:.1f} days old"
        )
        if report.registry_stale:
            click.echo(
                f"  The registry copy is more than {REGISTRY_MAX_AGE_DAYS} days old: "
                "telemarketing campaigns cannot dial until a newer one is loaded."
            )
        if report.not_covered:
            click.echo(f"  {report.not_covered:,} phones are in area codes the copy does not cover.")
