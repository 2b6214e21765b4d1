"""``dialer jobs``: see and queue the background jobs the RQ workers run.

The jobs themselves are ``campaigns.jobs``'s; this module only finds
campaigns, fixes times, and prints what the queues hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from campaigns import jobs, services
from campaigns.commands.dnc import parse_when
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.importer import ListImportError, parse_mapping
from campaigns.settings import get_settings

_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _redis() -> Any:
    from campaigns.redis_conn import connect_redis

    settings = get_settings()
    if settings.redis_in_process:
        raise click.ClickException(
            "REDIS_URL is memory:// (the in-process stand-in): no worker could see the jobs; "
            "set REDIS_URL=redis://... to queue background work"
        )
    return connect_redis(settings.redis_url)


def campaign_id_of(ref: str) -> int:
    """The id of a campaign given by id or name, from DATABASE_URL."""
    url = get_settings().database_url
    ensure_schema(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return services.get_campaign(session, ref).id
    finally:
        engine.dispose()


def _queued(job_id: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"job_id": job_id}))
    else:
        click.echo(f"Queued job {job_id}; follow it with `dialer jobs show {job_id}`.")


def queue_import(
    file: str,
    campaign_ref: str,
    mapping: dict[str, str],
    *,
    region: str | None,
    list_name: str | None,
    rejects: str | None,
    encoding: str | None,
    as_json: bool,
) -> None:
    """Queue an import and say how to follow it: `dialer import --background` and `dialer jobs enqueue-import`."""
    try:
        job_id = jobs.enqueue_import(
            _redis(), campaign_id_of(campaign_ref), file, mapping=mapping or None, region=region,
            list_name=list_name, rejects=rejects, encoding=encoding,
        )  # fmt: skip
    except ListImportError as error:
        raise click.ClickException(str(error)) from None
    _queued(job_id, as_json)


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: imports, DNC scrubs, registry loads, exports and reports run by `python worker.py`.

    \b
    Every job is retried 3 times (after 10, 30 and 60 s) and may run twice
    safely: an import resumes where it stopped, an export rewrites its file.
    Files named here must be readable (writable) by the workers too.

    \b
    Examples:
      dialer jobs list
      dialer jobs enqueue-import leads.csv --campaign Spring
      dialer jobs enqueue-report abandonment --campaign Spring --out abandonment.csv
      dialer jobs show import-3-4f1c...
    """


@jobs_group.command("list")
@_json_option
def list_command(as_json: bool) -> None:
    """The jobs Redis holds: queued, running, scheduled (a retry waiting), failed, finished."""
    found = jobs.list_jobs(_redis())
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("No jobs.")
        return
    for job in found:
        progress = job["progress"] or {}
        done = f" {progress.get('phase', '')} {progress.get('done', 0)}/{progress.get('total', 0)}" if progress else ""
        error = f"  {job['error']}" if job["error"] else ""
        click.echo(f"{job['state']:<9} {job['id']:<40} {job['kind'] or '':<16} retries {job['retries']}{done}{error}")


@jobs_group.command("show")
@click.argument("job_id")
@_json_option
def show_command(job_id: str, as_json: bool) -> None:
    """One job: state, progress, retries, and its result or the last line of its error."""
    job = jobs.get_job(_redis(), job_id)
    if job is None:
        raise click.ClickException(f"no job {job_id} (finished jobs are kept 7 days, failed ones 30)")
    if as_json:
        click.echo(json.dumps(job, indent=2))
        return
    for key, value in job.items():
        if value is not None:
            click.echo(f"{key:<12} {json.dumps(value) if isinstance(value, dict | list) else value}")


@jobs_group.command("enqueue-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--campaign", "campaign_ref", required=True, metavar="ID_OR_NAME", help="The campaign to add to.")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=FIELD", help="Map a column to a field.")
@click.option("--region", metavar="CODE", help="Region for numbers without a country code.")
@click.option("--list-name", metavar="NAME", help="Name of the new contact list.")
@click.option("--rejects", type=click.Path(dir_okay=False), metavar="OUT.csv", help="Write rejected rows here.")
@click.option("--encoding", metavar="NAME", help="Text encoding of FILE.")
@_json_option
def enqueue_import_command(
    file: str,
    campaign_ref: str,
    mappings: tuple[str, ...],
    region: str | None,
    list_name: str | None,
    rejects: str | None,
    encoding: str | None,
    as_json: bool,
) -> None:
    """Queue an import of FILE (see `dialer import --help`); the same file and options are one job."""
    try:
        mapping = parse_mapping(mappings)
    except ListImportError as error:
        raise click.BadParameter(str(error), param_hint="--map") from None
    queue_import(file, campaign_ref, mapping, region=region, list_name=list_name, rejects=rejects, encoding=encoding,
                 as_json=as_json)


@jobs_group.command("enqueue-scrub")
@click.option("--campaign", "campaign_ref", required=True, metavar="ID_OR_NAME", help="The campaign to scrub.")
@click.option("--out", type=click.Path(dir_okay=False), metavar="HITS.csv", help="Write every listed phone here.")
@_json_option
def enqueue_scrub_command(campaign_ref: str, out: str | None, as_json: bool) -> None:
    """Queue a DNC scrub of a campaign's phones (see `dialer dnc scrub`)."""
    _queued(jobs.enqueue_scrub(_redis(), campaign_id_of(campaign_ref), out=out), as_json)


@jobs_group.command("enqueue-registry")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE...")
@click.option("--downloaded", required=True, metavar="DATE", help="When the files were downloaded (UTC).")
@click.option("--out", default="dnc-registry.bin", show_default=True, type=click.Path(dir_okay=False))
@click.option("--by", "actor", default="cli", show_default=True, metavar="WHO", help="Who loads it, for the audit.")
@_json_option
def enqueue_registry_command(files: tuple[str, ...], downloaded: str, out: str, actor: str, as_json: bool) -> None:
    """Queue a national registry load (see `dialer dnc load-registry`)."""
    job_id = jobs.enqueue_registry_load(_redis(), list(files), out, parse_when(downloaded), loaded_by=actor)
    _queued(job_id, as_json)


def _when(value: str | None, *, end: bool = False) -> datetime | None:
    return parse_when(value, end_of_day=end) if value else None


@jobs_group.command("enqueue-export")
@click.argument("what", type=click.Choice(["audit", "calls"]))
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE.csv", help="Where to write.")
@click.option("--campaign", "campaign_ref", metavar="ID_OR_NAME", help="The campaign (required for calls).")
@click.option("--from", "start", metavar="DATE", help="First day or instant (UTC), included.")
@click.option("--to", "end", metavar="DATE", help="Last day (included) or instant (excluded). [now]")
@_json_option
def enqueue_export_command(
    what: str, out: str, campaign_ref: str | None, start: str | None, end: str | None, as_json: bool
) -> None:
    """Queue a CSV export: the audit trail (audit) or a campaign's call log (calls)."""
    connection = _redis()
    campaign_id = campaign_id_of(campaign_ref) if campaign_ref else None
    finish = _when(end, end=True) or datetime.now(UTC)
    if what == "calls":
        if campaign_id is None:
            raise click.BadParameter("the call log needs --campaign", param_hint="--campaign")
        job_id = jobs.enqueue_call_log_export(connection, out, campaign_id, start=_when(start), end=finish)
    else:
        job_id = jobs.enqueue_audit_export(connection, out, start=_when(start), end=finish, campaign_id=campaign_id)
    _queued(job_id, as_json)


@jobs_group.command("enqueue-report")
@click.argument("kind", type=click.Choice(list(jobs.REPORT_KINDS)))
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE.csv", help="Where to write.")
@click.option("--campaign", "campaign_ref", metavar="ID_OR_NAME", help="The campaign.")
@click.option("--from", "start", metavar="DATE", help="First day or instant (UTC), included. [30 days before --to]")
@click.option("--to", "end", metavar="DATE", help="Last day (included) or instant (excluded). [now]")
@click.option("--phone", metavar="E164", help="The number, for the dossier.")
@_json_option
def enqueue_report_command(
    kind: str, out: str, campaign_ref: str | None, start: str | None, end: str | None, phone: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Queue a compliance report (see `dialer report --help`) written as CSV to --out."""
    from datetime import timedelta

    finish = _when(end, end=True) or datetime.now(UTC)
    begin = _when(start) or finish - timedelta(days=30)
    campaign_id = campaign_id_of(campaign_ref) if campaign_ref else None
    job_id = jobs.enqueue_report(_redis(), kind, out, campaign_id=campaign_id, start=begin, end=finish, phone=phone)
    _queued(job_id, as_json)
