"""``dialer audit``: check the hash-chained audit trail, and export it for a date range.

The chain rules are ``compliance.audit``'s; reading and writing the table is
``campaigns.audit_store``'s.
"""

from __future__ import annotations

import json
import sys

import click

from campaigns import audit_store
from campaigns.commands.database import campaign_database
from campaigns.commands.dnc import parse_when
from compliance.audit import chain_for


@click.group("audit")
def audit_group() -> None:
    """The audit trail: every gate decision, call event, DNC and consent change, hash-chained.

    \b
    Each campaign's events form one chain (company-wide events, such as the
    company DNC list's changes, another): every row holds the SHA-256 of its
    content and of the row before it, so editing, deleting, inserting or
    reordering any row breaks the chain at that row.  The layout and the
    hashing rule are in compliance/audit.py, so anyone can re-check an export.

    \b
    Examples:
      dialer audit verify
      dialer audit verify --campaign Spring --json
      dialer audit export --from 2026-11-01 --to 2026-11-30 --campaign Spring --out nov.csv
    """


@audit_group.command("verify")
@click.option("--campaign", "campaign_ref", metavar="ID_OR_NAME", help="Only this campaign's chain.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def verify_command(campaign_ref: str | None, as_json: bool) -> None:
    """Check that no row of the trail was edited, deleted, inserted or reordered.

    Exits with status 0 when every chain checks, 1 otherwise, naming the first
    bad row (its id, chain and place in the chain) and what is wrong with it.

    \b
    Examples:
      dialer audit verify
      dialer audit verify --campaign 3 --json
    """
    with campaign_database(campaign_ref) as (engine, campaign_id):
        result = audit_store.verify_trail(engine, campaign_id=campaign_id)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif result.ok:
        chains = ", ".join(f"{name} ({head.seq:,} rows)" for name, head in sorted(result.heads.items()))
        scope = chain_for(campaign_id) if campaign_id is not None else "every chain"
        click.echo(f"OK: {result.rows:,} rows checked in {scope}. {chains}".rstrip())
    else:
        bad = result.bad
        where = f"row id {bad.id} ({result.bad_chain} #{bad.seq})" if bad is not None else f"chain {result.bad_chain}"
        click.echo(f"FAILED at {where}: {result.problem}.")
        click.echo(f"{result.rows:,} rows checked before it.")
    if not result.ok:
        sys.exit(1)


@audit_group.command("export")
@click.option(
    "--from", "start", required=True, metavar="DATE", help="First day (YYYY-MM-DD, UTC) or instant, included."
)
@click.option(
    "--to", "end", required=True, metavar="DATE", help="Last day (YYYY-MM-DD, UTC, included) or instant (excluded)."
)
@click.option("--campaign", "campaign_ref", metavar="ID_OR_NAME", help="Only this campaign's events.")
@click.option("--phone", metavar="E164", help="Only events about this number (a per-number dossier).")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    metavar="FILE.csv",
    help="The CSV file to write ('-' for standard output).",
)
def export_command(start: str, end: str, campaign_ref: str | None, phone: str | None, out_path: str) -> None:
    """Export the trail's rows for a date range to CSV, in time order.

    \b
    Columns: id, chain, seq, at, kind, campaign_id, e164, attempt_id,
    call_id, payload (canonical JSON), prev_hash, hash.  Cells a spreadsheet
    would run as a formula get a leading apostrophe (an E.164 number starts
    with "+"); strip it before re-hashing a row.

    \b
    Examples:
      dialer audit export --from 2026-11-01 --to 2026-11-30 --out november.csv
      dialer audit export --from 2026-11-01 --to 2026-11-30 --campaign Spring --out spring.csv
      dialer audit export --from 2021-01-01 --to 2026-12-31 --phone +12015550123 --out dossier.csv
    """
    begin, finish = parse_when(start), parse_when(end, end_of_day=True)
    if finish <= begin:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    with campaign_database(campaign_ref) as (engine, campaign_id), engine.connect() as conn:
        if out_path == "-":
            count = audit_store.export_csv(
                conn, sys.stdout, start=begin, end=finish, campaign_id=campaign_id, e164=phone
            )
        else:
            with open(out_path, "w", encoding="utf-8", newline="") as out:
                count = audit_store.export_csv(
                    conn, out, start=begin, end=finish, campaign_id=campaign_id, e164=phone
                )
    if out_path != "-":
        click.echo(f"Wrote {count:,} rows from {begin:%Y-%m-%d %H:%M} to {finish:%Y-%m-%d %H:%M} UTC to {out_path}.")
