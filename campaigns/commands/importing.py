"""``dialer import``: load a CSV contact list into a campaign from a shell.

The work is ``campaigns.importer.import_contacts``; this command only finds
the campaign, shows progress, and turns the report into lines a person reads
or one JSON object a script reads.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from tqdm import tqdm

from campaigns import services
from campaigns.db import make_engine, make_session_factory
from campaigns.importer import REASONS, ImportReport, ListImportError, import_contacts, parse_mapping
from campaigns.settings import get_settings

_SHOWN_PROBLEMS = 5

_HELP = """Import the contacts of a CSV FILE into a campaign, as a new contact list.

\b
Columns are recognised by their header ("Phone Number", "Mobile", "Cell",
"First Name", "ZIP", "State", "Time Zone", "Priority", "ID"...); columns that
match no field are kept as custom fields. Every phone column becomes one of
the contact's phones, in column order. Fix or add a mapping with --map:
  fields: first_name, last_name, email, phone, state, postal_code,
          timezone, priority, external_id, custom, ignore,
          phone2, phone3... (order of phones), custom:KEY (custom field name)

Numbers are normalised to E.164 (numbers without a country code are read in
--region) and stored with their candidate time zones. Numbers already in the
campaign, or earlier in the file, are skipped as duplicates.

Good rows land even when others are bad: every rejected row is counted by
reason, and --rejects writes them to a CSV with the columns row, reason and
detail followed by the original cells ("row" is the spreadsheet row number:
the header is row 1).  Reasons: {reasons}.

\b
Examples:
  dialer import leads.csv --campaign Spring
  dialer import leads.csv --campaign 3 --map "Cell=phone" --map "Alt=phone2" \\
      --map "Account=external_id" --rejects rejected.csv
  dialer import export.csv --campaign Spring --encoding cp1252 --json
""".replace("{reasons}", ", ".join(reason for reason in REASONS if reason != "phone_dropped"))


@click.command("import", help=_HELP)
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--campaign", "campaign_ref", required=True, metavar="ID_OR_NAME", help="The campaign to add to.")
@click.option(
    "--map",
    "mappings",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Map a header column to a field; repeat for several columns.",
)
@click.option(
    "--region",
    metavar="CODE",
    help="Region for numbers written without a country code, e.g. US, CA.  [default: the campaign's]",
)
@click.option("--list-name", metavar="NAME", help="Name of the new contact list.  [default: the file name]")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, writable=True),
    metavar="OUT.csv",
    help="Write every rejected row, with its row number and reason, to this CSV file.",
)
@click.option(
    "--encoding",
    metavar="NAME",
    help="Text encoding of FILE: cp1252 for lists saved by Excel on Windows, latin-1...  "
    "[default: utf-8, with or without a byte-order mark]",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text; no progress bar.")
@click.option(
    "--background",
    is_flag=True,
    help="Queue the import for `python worker.py` and print the job id (see `dialer jobs`); "
    "FILE and --rejects must be paths the workers can reach.",
)
def import_command(
    file: str,
    campaign_ref: str,
    mappings: tuple[str, ...],
    region: str | None,
    list_name: str | None,
    rejects: str | None,
    encoding: str | None,
    as_json: bool,
    background: bool,
) -> None:
    try:
        mapping = parse_mapping(mappings)
    except ListImportError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    if background:
        _enqueue(file, campaign_ref, mapping, region, list_name, rejects, encoding, as_json)
        return

    engine = make_engine(get_settings().database_url)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            try:
                campaign = services.get_campaign(session, campaign_ref)
            except services.CampaignError as error:
                raise click.ClickException(str(error)) from None
            campaign_id, campaign_name = campaign.id, campaign.name

        source: Any = sys.stdin.buffer if file == "-" else file
        # The bar goes to stderr so stdout stays clean; it hides itself when stderr is not a terminal.
        with tqdm(
            total=_size(file),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            disable=True if as_json else None,
            desc="importing",
            leave=False,
        ) as bar:

            def progress(done: int, total: int) -> None:
                if total and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            try:
                report = import_contacts(
                    factory,
                    campaign_id,
                    source,
                    mapping=mapping or None,
                    region=region,
                    list_name=list_name,
                    rejects=rejects,
                    progress=progress,
                    encoding=encoding,
                )
            except ListImportError as error:
                message = str(error)
                raise click.ClickException(message if file in message else f"{file}: {message}") from None
    finally:
        engine.dispose()

    if as_json:
        click.echo(json.dumps({"campaign": campaign_name, **report.to_dict()}, indent=2))
    else:
        _print_report(report, campaign_name, file)


def _print_report(report: ImportReport, campaign_name: str, file: str) -> None:
    echo = click.echo
    echo(
        f"Imported {report.imported:,} of {_n(report.rows_read, 'row')} into list {report.list_id} "
        f"of campaign {campaign_name!r} in {report.elapsed_s:.1f} s ({_n(report.phones_imported, 'phone')})."
    )
    if report.rejected:
        echo(f"Rejected {_n(report.rejected, 'row')}:")
        width = max(len(reason) for reason in report.rejected_by_reason)
        for reason, count in sorted(report.rejected_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
            echo(f"  {reason:<{width}}  {count:>9,}")
    if report.phones_dropped_by_reason:
        dropped = sum(report.phones_dropped_by_reason.values())
        parts = ", ".join(f"{reason} {count:,}" for reason, count in sorted(report.phones_dropped_by_reason.items()))
        echo(f"Contacts imported without some of their phones: {_n(dropped, 'phone')} left out ({parts}).")
    if report.blank_rows:
        echo(f"Skipped {_n(report.blank_rows, 'blank row')}.")
    if report.on_dnc_by_list:
        parts = ", ".join(f"{name} {count:,}" for name, count in report.on_dnc_by_list.items())
        echo(f"Imported phones on do-not-call lists (imported, blocked at dial time): {parts}.")
    if report.phones_without_timezone:
        echo(
            f"{_n(report.phones_without_timezone, 'phone')} with no known time zone: "
            "they cannot be called until one is known."
        )
    for note in report.notes:
        echo(f"Note: {note}.")
    if report.errors:
        echo("First problems:")
        for line in report.errors[:_SHOWN_PROBLEMS]:
            echo(f"  {line}")
    if "encoding_error" in report.rejected_by_reason:
        echo(
            f"Some rows are not valid {report.encoding}. If the file was saved in another encoding, "
            "import it again with --encoding cp1252 (Excel on Windows) or --encoding latin-1: "
            "rows already imported are skipped as duplicates."
        )
    if report.rejected:
        if report.rejects_file:
            echo(f"Rejected rows, with their row numbers and reasons, are in {report.rejects_file}.")
        else:
            echo(f"Add --rejects OUT.csv to write every rejected row of {file} with its reason.")


def _enqueue(
    file: str,
    campaign_ref: str,
    mapping: dict[str, str],
    region: str | None,
    list_name: str | None,
    rejects: str | None,
    encoding: str | None,
    as_json: bool,
) -> None:
    from campaigns.commands.jobs import queue_import

    if file == "-":
        raise click.BadParameter("a background import needs a file, not standard input", param_hint="FILE")
    queue_import(file, campaign_ref, mapping, region=region, list_name=list_name, rejects=rejects, encoding=encoding,
                 as_json=as_json)


def _size(file: str) -> int | None:
    try:
        return os.path.getsize(file) if file != "-" else None
    except OSError:
        return None  # the importer reports the file as unreadable


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
