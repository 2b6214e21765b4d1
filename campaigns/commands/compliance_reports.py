"""``dialer report``: compliance exports for an officer, as CSV or JSON.

The queries are ``campaigns.compliance_reports``'s; this module only parses
options and writes rows (CSV through ``campaigns.csv_safety.safe_csv_writer``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from sqlalchemy import Connection

from campaigns import compliance_reports
from campaigns.commands.database import campaign_database
from campaigns.commands.dnc import parse_when
from campaigns.csv_safety import safe_csv_writer

_out_option = click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    metavar="FILE.csv",
    help="Write a CSV file ('-' or nothing: standard output).",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of CSV.")
_campaign_option = click.option(
    "--campaign", "campaign_ref", required=True, metavar="ID_OR_NAME", help="The campaign (id or name)."
)
_from_option = click.option(
    "--from", "start", metavar="DATE", help="First day (YYYY-MM-DD, UTC) or instant, included. [30 days ago]"
)
_to_option = click.option(
    "--to", "end", metavar="DATE", help="Last day (YYYY-MM-DD, UTC, included) or instant (excluded). [now]"
)


@click.group("report")
def report_group() -> None:
    """Compliance exports: abandonment, calling hours, DNC latency, cap hits, one number's dossier.

    \b
    Every report writes CSV (cells a spreadsheet would run as a formula get a
    leading apostrophe, so "+1201..." shows as "'+1201...") to --out or to
    standard output, or a JSON list with --json.  Times are UTC.

    \b
    Examples:
      dialer report abandonment --campaign Spring --out abandonment.csv
      dialer report outside-window --campaign Spring --from 2026-11-01 --to 2026-11-30 --out hours.csv
      dialer report dnc-latency --from 2026-11-01 --to 2026-11-30 --json
      dialer report cap-hits --campaign Spring --from 2026-11-01 --to 2026-11-30
      dialer report dossier --phone +12015550123 --out dossier.csv
    """


def _range(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    finish = parse_when(end, end_of_day=True) if end else datetime.now(UTC)
    begin = parse_when(start) if start else finish - timedelta(days=30)
    if finish <= begin:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    return begin, finish


def _run(
    campaign_ref: str | None, query: Callable[[Connection, int | None], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    with campaign_database(campaign_ref) as (engine, campaign_id), engine.connect() as conn:
        return query(conn, campaign_id)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _emit(rows: list[dict[str, Any]], columns: tuple[str, ...], out_path: str | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([{key: _cell(row.get(key)) for key in columns} for row in rows], indent=2))
        return
    if out_path in (None, "-"):
        writer = safe_csv_writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([_cell(row.get(key)) for key in columns] for row in rows)
        return
    assert out_path is not None
    with open(out_path, "w", encoding="utf-8", newline="") as out:
        writer = safe_csv_writer(out)
        writer.writerow(columns)
        writer.writerows([_cell(row.get(key)) for key in columns] for row in rows)
    click.echo(f"Wrote {len(rows):,} rows to {out_path}.", err=True)


ABANDONMENT_COLUMNS = (
    "campaign_id", "period", "start", "end", "placed", "live_answers", "live_human", "live_unknown",
    "abandoned", "abandoned_human", "abandoned_unknown", "abandoned_unclassified", "machine_answers",
    "fax_answers", "machine_fax_dropped", "rate", "over_limit",
)
OUTSIDE_COLUMNS = (
    "attempt_id", "campaign_id", "contact_id", "e164", "placed_at", "zone", "local_time", "window", "rule",
)
LATENCY_COLUMNS = (
    "change_id", "e164", "list", "source", "actor", "changed", "received_at", "effective_at", "latency_s",
    "removed_at", "calls_after_effective",
)
CAP_COLUMNS = ("campaign_id", "rule", "code", "blocked", "numbers", "first_at", "last_at")
DOSSIER_COLUMNS = ("at", "record", "kind", "campaign_id", "ref_id", "detail")


@report_group.command("abandonment")
@_campaign_option
@_from_option
@click.option("--to", "end", metavar="DATE", help="The report's 'now': the rolling 30 days end here. [now]")
@_out_option
@_json_option
def abandonment_command(
    campaign_ref: str, start: str | None, end: str | None, out_path: str | None, as_json: bool
) -> None:
    """Abandoned calls over live answers per 30-day period, and the rolling 30 days.

    \b
    One row per successive 30-day period from the campaign's first call (the
    last one may still be running), then a "rolling 30 days" row ending at
    --to.  Denominator: live answers (human + unknown); numerator: abandoned
    calls that were not machine or fax answers.  over_limit is true above 3%
    (47 CFR 64.1200(a)(7)).  With --from, periods ending before it are left out.

    \b
    Examples:
      dialer report abandonment --campaign Spring
      dialer report abandonment --campaign 3 --to 2026-11-30 --out abandonment.csv
    """
    now = parse_when(end, end_of_day=True) if end else datetime.now(UTC)
    rows = _run(campaign_ref, lambda conn, cid: compliance_reports.abandonment_periods(conn, _id(cid), now))
    if start:
        begin = parse_when(start)
        rows = [row for row in rows if row["end"] > begin]
    _emit(rows, ABANDONMENT_COLUMNS, out_path, as_json)


def _id(campaign_id: int | None) -> int:
    assert campaign_id is not None
    return campaign_id


@report_group.command("outside-window")
@_campaign_option
@_from_option
@_to_option
@_out_option
@_json_option
def outside_window_command(
    campaign_ref: str, start: str | None, end: str | None, out_path: str | None, as_json: bool
) -> None:
    """Calls placed outside the calling window in some candidate zone: must be empty.

    \b
    Each placed call is re-checked in every candidate zone of its phone
    against the campaign's window and the federal 08:00-21:00 (start
    included, end excluded).  One row per call and zone outside.  Exits with
    status 1 when any row is found.

    \b
    Examples:
      dialer report outside-window --campaign Spring --from 2026-11-01 --to 2026-11-30
      dialer report outside-window --campaign 3 --out outside.csv
    """
    begin, finish = _range(start, end)
    rows = _run(
        campaign_ref, lambda conn, cid: compliance_reports.calls_outside_window(conn, _id(cid), begin, finish)
    )
    _emit(rows, OUTSIDE_COLUMNS, out_path, as_json)
    if rows:
        click.echo(f"{len(rows):,} call-zone pairs outside the calling window.", err=True)
        sys.exit(1)


@report_group.command("dnc-latency")
@click.option("--campaign", "campaign_ref", metavar="ID_OR_NAME",
              help="Only the company list's and this campaign's changes, and this campaign's calls.")
@_from_option
@_to_option
@_out_option
@_json_option
def dnc_latency_command(
    campaign_ref: str | None, start: str | None, end: str | None, out_path: str | None, as_json: bool
) -> None:
    """How fast each DNC addition took effect, and calls placed to the number after (must be 0).

    \b
    One row per addition received in the range: received_at, effective_at,
    latency_s, and calls_after_effective (calls placed to the number once the
    change was in force, until a later removal).  Exits with status 1 when any
    call was placed after a change took effect.

    \b
    Examples:
      dialer report dnc-latency --from 2026-11-01 --to 2026-11-30 --out dnc.csv
      dialer report dnc-latency --campaign Spring --json
    """
    begin, finish = _range(start, end)
    rows = _run(
        campaign_ref,
        lambda conn, cid: compliance_reports.dnc_honor_latency(conn, begin, finish, campaign_id=cid),
    )
    _emit(rows, LATENCY_COLUMNS, out_path, as_json)
    late = sum(row["calls_after_effective"] for row in rows)
    if late:
        click.echo(f"{late:,} calls placed to numbers after their DNC addition took effect.", err=True)
        sys.exit(1)


@report_group.command("cap-hits")
@_campaign_option
@_from_option
@_to_option
@_out_option
@_json_option
def cap_hits_command(
    campaign_ref: str, start: str | None, end: str | None, out_path: str | None, as_json: bool
) -> None:
    """Dial attempts the gate refused, counted per rule id and reason code.

    \b
    Columns: rule, code, blocked (refusals; a decision blocked by two rules
    counts for each), numbers (distinct numbers blocked), first_at, last_at.

    \b
    Examples:
      dialer report cap-hits --campaign Spring --from 2026-11-01 --to 2026-11-30
      dialer report cap-hits --campaign 3 --json
    """
    begin, finish = _range(start, end)
    rows = _run(campaign_ref, lambda conn, cid: compliance_reports.cap_hits(conn, _id(cid), begin, finish))
    _emit(rows, CAP_COLUMNS, out_path, as_json)


@report_group.command("dossier")
@click.option("--phone", required=True, metavar="E164", help="The number, as stored (E.164, e.g. +12015550123).")
@_out_option
@_json_option
def dossier_command(phone: str, out_path: str | None, as_json: bool) -> None:
    """Everything on record about one number: attempts, DNC changes, consent, audit events.

    \b
    In time order, across every campaign.  Columns: at, record (attempt,
    dnc_change, consent, audit), kind, campaign_id, ref_id, detail (JSON).

    \b
    Examples:
      dialer report dossier --phone +12015550123
      dialer report dossier --phone +12015550123 --out dossier.csv
    """
    rows = _run(None, lambda conn, _cid: compliance_reports.number_dossier(conn, phone.strip()))
    _emit(rows, DOSSIER_COLUMNS, out_path, as_json)
