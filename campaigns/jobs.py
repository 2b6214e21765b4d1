"""Background jobs for the RQ workers: list imports, DNC scrubs, registry loads, exports, reports.

Why jobs at all: a million-row import or a national registry load takes
minutes, longer than a web request may live, and a worker that dies must not
leave half a result.  So every job here is

* **idempotent**: running it twice gives the same result.  An import is keyed
  by (campaign, ``import_key``) where the key is the SHA-256 of the file and
  the import options; the list it fills remembers, per commit, the last row
  whose outcome is durable (``contact_lists.rows_through``), and a re-run
  resumes after it (``campaigns.importer``, "Resuming").  A registry load that
  finds the same copy (download date and digest) already current records
  nothing new.  Exports and reports take absolute times (fixed at enqueue)
  and replace their output file atomically; scrubs only read;
* **retried**: enqueued with ``Retry(max=3, interval=[10, 30, 60])``.  A job
  whose worker was killed is found by the workers' registry maintenance once
  its heartbeat lapses and retried the same way (RQ's ``StartedJobRegistry``
  cleanup).  A job that cannot succeed (a file that is not a CSV, an unknown
  campaign) raises ``PermanentJobError`` and is not retried;
* **reporting progress** in ``job.meta["progress"]`` (``done``, ``total``,
  ``phase``, and for imports ``rows_read``, ``landed``, ``rejected``), saved at
  most once a second and at every import commit;
* **leaving its result where the web app finds it**: ``job.meta["result"]``
  (and the job's return value), kept ``RESULT_TTL`` after success and
  ``FAILURE_TTL`` after failure.  What must outlive Redis is in the database
  already (the import's ``contact_lists`` row, the ``registry_loads`` row) or
  in the output file; no separate jobs table is kept.

Queues: imports go to ``imports`` (worked first: a waiting list blocks a
campaign), everything else to ``default``; ``worker.py`` works both.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus, get_current_job
from sqlalchemy import Engine, select, text

from campaigns import compliance_reports, dnc_store
from campaigns.audit_store import export_csv
from campaigns.csv_safety import safe_csv_writer
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.importer import ImportReport, ListImportError, import_contacts
from campaigns.models import CallAttempt, Campaign
from campaigns.settings import get_settings
from compliance.registry import RegistryError, load_registry_files

if TYPE_CHECKING:
    import redis

__all__ = [
    "FAILURE_TTL",
    "IMPORTS_QUEUE",
    "OTHER_QUEUE",
    "QUEUES",
    "REPORT_KINDS",
    "RESULT_TTL",
    "RETRY_INTERVALS",
    "RETRY_MAX",
    "PermanentJobError",
    "enqueue_audit_export",
    "enqueue_call_log_export",
    "enqueue_import",
    "enqueue_registry_load",
    "enqueue_report",
    "enqueue_scrub",
    "export_audit_job",
    "export_call_log_job",
    "import_key",
    "import_list_job",
    "job_summary",
    "list_jobs",
    "registry_load_job",
    "report_job",
    "scrub_job",
]

log = logging.getLogger(__name__)

IMPORTS_QUEUE = "imports"
OTHER_QUEUE = "default"
QUEUES = (IMPORTS_QUEUE, OTHER_QUEUE)
RETRY_MAX = 3
RETRY_INTERVALS = [10, 30, 60]
RESULT_TTL = 7 * 24 * 3600
FAILURE_TTL = 30 * 24 * 3600
IMPORT_TIMEOUT = 6 * 3600
JOB_TIMEOUT = 2 * 3600
_PROGRESS_EVERY_S = 1.0
# Statuses in which a job with the same id is still going to run: enqueueing again returns it.
_LIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


class PermanentJobError(Exception):
    """The job cannot succeed however often it runs (bad file, unknown campaign): it is not retried."""


class JobBusyError(Exception):
    """Another run of the same import holds its lock; the retry runs once that one is gone."""


# --------------------------------------------------------------------------- helpers


def _permanent(message: str) -> PermanentJobError:
    """Stop RQ from retrying this run: retrying a bad file only delays the message people need."""
    job = get_current_job()
    if job is not None:
        job.retries_left = 0
    return PermanentJobError(message)


class _Progress:
    """Writes ``job.meta["progress"]`` at most once a second (and when forced); a no-op outside RQ."""

    def __init__(self) -> None:
        self.job = get_current_job()
        self.last = 0.0
        if self.job is not None:
            # Runs are counted here: RQ's own retries_left is not kept when a retry succeeds.
            self.job.meta["runs"] = int(self.job.meta.get("runs", 0)) + 1
            with contextlib.suppress(Exception):
                self.job.save_meta()

    def __call__(self, phase: str, done: int, total: int, *, force: bool = False, **extra: Any) -> None:
        if self.job is None:
            return
        now = time.monotonic()
        if not force and now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        self.job.meta["progress"] = {"done": done, "total": total, "phase": phase, **extra}
        try:
            self.job.save_meta()
        except Exception as error:  # a progress write must never fail the work it reports on
            log.warning("job %s: progress not saved: %s", self.job.id, error)

    def result(self, result: dict[str, Any]) -> None:
        if self.job is None:
            return
        self.job.meta["result"] = result
        with contextlib.suppress(Exception):  # the return value carries it too
            self.job.save_meta()


@contextlib.contextmanager
def _database() -> Iterator[Engine]:
    url = get_settings().database_url
    ensure_schema(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _check_campaign(engine: Engine, campaign_id: int) -> None:
    with engine.connect() as conn:
        if conn.scalar(select(Campaign.id).where(Campaign.id == campaign_id)) is None:
            raise _permanent(f"campaign {campaign_id} does not exist")


@contextlib.contextmanager
def _atomic_output(path: str) -> Iterator[TextIO]:
    """A text file that appears at ``path`` whole or not at all, so a re-run never leaves half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("give aware datetimes (UTC)")
    return value.astimezone(UTC).isoformat()


# --------------------------------------------------------------------------- imports


def import_key(path: str | os.PathLike[str], options: dict[str, Any]) -> str:
    """SHA-256 of the file's bytes and the options that change what lands: the import's identity."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as source:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise ListImportError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    digest.update(b"\0" + json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()


def _import_options(
    mapping: dict[str, str] | None, region: str | None, encoding: str | None, delimiter: str | None
) -> dict[str, Any]:
    return {"mapping": mapping or {}, "region": region, "encoding": encoding, "delimiter": delimiter}


@contextlib.contextmanager
def _import_lock(engine: Engine, campaign_id: int, key: str) -> Iterator[None]:
    """One run at a time per import: on PostgreSQL a session advisory lock on a connection of its own.

    The lock dies with the connection, so a killed worker never leaves it
    held.  SQLite (a single host, one writer at a time) goes without.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    number = int.from_bytes(hashlib.sha256(f"import:{campaign_id}:{key}".encode()).digest()[:8], "big", signed=True)
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": number}):
            raise JobBusyError(f"another run of import {key[:12]} into campaign {campaign_id} is in progress")
        conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # a dropped connection released it already
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": number})
                conn.commit()


def import_list_job(
    campaign_id: int,
    path: str,
    *,
    mapping: dict[str, str] | None = None,
    region: str | None = None,
    list_name: str | None = None,
    rejects: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_size: int = 5000,
    throttle_s: float = 0.0,
) -> dict[str, Any]:
    """RQ job: import a CSV file into a campaign, resuming a run that was interrupted.

    ``path`` (and ``rejects``) must be where the worker can read (write) them:
    a disk shared with the process that enqueued.  ``throttle_s`` pauses after
    every committed batch, to spare a busy database (tests use it to kill an
    import half-way); with it every batch is its own commit.
    """
    progress = _Progress()
    options = _import_options(mapping, region, encoding, delimiter)
    try:
        key = import_key(path, options)
    except ListImportError as error:
        raise _permanent(str(error)) from None
    with _database() as engine:
        _check_campaign(engine, campaign_id)
        total = os.path.getsize(path)
        progress("starting", 0, total, force=True, rows_read=0, landed=0, rejected=0)

        def on_bytes(done: int, size: int) -> None:
            progress("reading", done, size or total)

        def on_commit(report: ImportReport) -> None:
            progress(
                "importing", report.bytes_read, total, force=True,
                rows_read=report.rows_read, landed=report.imported, rejected=report.rejected,
            )  # fmt: skip
            if throttle_s > 0:
                time.sleep(throttle_s)

        with _import_lock(engine, campaign_id, key):
            try:
                report = import_contacts(
                    make_session_factory(engine),
                    campaign_id,
                    path,
                    mapping=mapping,
                    region=region,
                    list_name=list_name,
                    rejects=rejects,
                    progress=on_bytes,
                    batch_size=batch_size,
                    encoding=encoding,
                    delimiter=delimiter,
                    commit_interval_s=0.0 if throttle_s > 0 else 1.0,
                    import_key=key,
                    on_commit=on_commit,
                )
            except ListImportError as error:
                raise _permanent(f"{path}: {error}") from None
    result = {"kind": "import", "import_key": key, "path": path, **report.to_dict()}
    progress(
        "done", total, total, force=True,
        rows_read=report.rows_read, landed=report.imported, rejected=report.rejected,
    )  # fmt: skip
    progress.result(result)
    return result


# --------------------------------------------------------------------------- DNC


def scrub_job(campaign_id: int, *, out: str | None = None) -> dict[str, Any]:
    """RQ job: count a campaign's phones on each do-not-call list (and write the hits to ``out``).

    Read-only, like ``dialer dnc scrub``: the dial gate checks every list again
    at each dial, so a scrub is a report and a re-run only reports again.
    """
    progress = _Progress()
    with _database() as engine:
        _check_campaign(engine, campaign_id)
        progress("scrubbing", 0, 1, force=True)
        with make_session_factory(engine)() as session:
            registry, problem = dnc_store.open_current_registry(session)
            try:
                report = dnc_store.scrub_campaign(session, campaign_id, registry=registry, keep_hits=out is not None)
            finally:
                if registry is not None:
                    registry.close()
                session.rollback()
    if out is not None:
        with _atomic_output(out) as handle:
            writer = safe_csv_writer(handle)
            writer.writerow(["e164", "contact_id", "lists"])
            for e164, contact_id, lists in report.hits:
                writer.writerow([e164, contact_id, " ".join(lists)])
    result = {"kind": "scrub", **report.to_dict(), "out": out, "registry_problem": problem}
    progress("done", 1, 1, force=True)
    progress.result(result)
    return result


def registry_load_job(files: list[str], out: str, downloaded_at: str, *, loaded_by: str) -> dict[str, Any]:
    """RQ job: build the national registry file from the downloaded lists and record the load.

    The file is written to a temporary name and renamed (``compliance.registry``),
    so a killed run leaves the previous copy in place.  A re-run that builds
    the copy already current (same download date and digest) records nothing.
    """
    progress = _Progress()
    progress("reading", 0, len(files), force=True)
    moment = _parse_time(downloaded_at)
    assert moment is not None
    try:
        info, load_report = load_registry_files(files, out, downloaded_at=moment)
    except RegistryError as error:
        raise _permanent(str(error)) from None
    progress("recording", len(files), len(files), force=True)
    with _database() as engine, make_session_factory(engine)() as session:
        current = dnc_store.current_registry_load(session)
        same = (
            current is not None
            and current.digest == info.digest
            and current.downloaded_at == info.downloaded_at
            and Path(current.path) == Path(info.path).resolve()
        )
        if same and current is not None:
            load_id, recorded = current.id, False
        else:
            load_id = dnc_store.record_registry_load(session, info, load_report, loaded_by=loaded_by).id
            session.commit()
            recorded = True
    result = {
        "kind": "registry_load",
        "load_id": load_id,
        "recorded": recorded,
        "path": str(Path(info.path).resolve()),
        "version": info.version,
        "numbers": info.numbers,
        **load_report.to_dict(),
    }
    progress("done", len(files), len(files), force=True)
    progress.result(result)
    return result


# --------------------------------------------------------------------------- exports and reports


def export_audit_job(
    out: str,
    *,
    start: str | None = None,
    end: str | None = None,
    campaign_id: int | None = None,
    e164: str | None = None,
) -> dict[str, Any]:
    """RQ job: the audit trail of ``[start, end)`` as CSV, every column as stored so it can be re-hashed."""
    progress = _Progress()
    progress("exporting", 0, 1, force=True)
    with _database() as engine, engine.connect() as conn, _atomic_output(out) as handle:
        rows = export_csv(
            conn, handle, start=_parse_time(start), end=_parse_time(end), campaign_id=campaign_id, e164=e164
        )
    result = {"kind": "audit_export", "out": out, "rows": rows}
    progress("done", 1, 1, force=True)
    progress.result(result)
    return result


CALL_LOG_COLUMNS = (
    "id", "campaign_id", "contact_id", "e164", "caller_id", "attempt_number", "carrier_call_id", "state",
    "answer_class", "amd_verdict", "end_reason", "placed_at", "answered_at", "connected_at", "abandoned_at",
    "ended_at", "agent_id", "ring_s", "talk_s", "wrap_s", "disposition",
)  # fmt: skip


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def export_call_log_job(
    out: str, campaign_id: int, *, start: str | None = None, end: str | None = None
) -> dict[str, Any]:
    """RQ job: a campaign's call attempts placed in ``[start, end)``, one CSV row each, oldest first."""
    progress = _Progress()
    with _database() as engine:
        _check_campaign(engine, campaign_id)
        query = select(*(getattr(CallAttempt, name) for name in CALL_LOG_COLUMNS)).where(
            CallAttempt.campaign_id == campaign_id
        )
        begin, finish = _parse_time(start), _parse_time(end)
        if begin is not None:
            query = query.where(CallAttempt.placed_at >= begin)
        if finish is not None:
            query = query.where(CallAttempt.placed_at < finish)
        count = 0
        with engine.connect() as conn, _atomic_output(out) as handle:
            writer = safe_csv_writer(handle)
            writer.writerow(CALL_LOG_COLUMNS)
            for row in conn.execution_options(yield_per=5000).execute(query.order_by(CallAttempt.id)):
                writer.writerow([_cell(value) for value in row])
                count += 1
                progress("exporting", count, 0)
    result = {"kind": "call_log_export", "out": out, "rows": count, "campaign_id": campaign_id}
    progress("done", count, count, force=True)
    progress.result(result)
    return result


def _report_kinds() -> dict[str, tuple[tuple[str, ...], Callable[..., list[dict[str, Any]]]]]:
    from campaigns.commands import compliance_reports as columns

    return {
        "abandonment": (
            columns.ABANDONMENT_COLUMNS,
            lambda conn, cid, begin, finish, phone: compliance_reports.abandonment_periods(conn, cid, finish),
        ),
        "outside-window": (
            columns.OUTSIDE_COLUMNS,
            lambda conn, cid, begin, finish, phone: compliance_reports.calls_outside_window(conn, cid, begin, finish),
        ),
        "dnc-latency": (
            columns.LATENCY_COLUMNS,
            lambda conn, cid, begin, finish, phone: compliance_reports.dnc_honor_latency(
                conn, begin, finish, campaign_id=cid
            ),
        ),
        "cap-hits": (
            columns.CAP_COLUMNS,
            lambda conn, cid, begin, finish, phone: compliance_reports.cap_hits(conn, cid, begin, finish),
        ),
        "dossier": (
            columns.DOSSIER_COLUMNS,
            lambda conn, cid, begin, finish, phone: compliance_reports.number_dossier(conn, phone),
        ),
    }


REPORT_KINDS = ("abandonment", "outside-window", "dnc-latency", "cap-hits", "dossier")


def report_job(
    kind: str,
    out: str,
    *,
    campaign_id: int | None = None,
    start: str | None = None,
    end: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """RQ job: one compliance report (``dialer report KIND``) written as CSV to ``out``.

    ``start`` and ``end`` are absolute (the enqueue helper fixes "now"), so a
    re-run writes the same rows.
    """
    kinds = _report_kinds()
    if kind not in kinds:
        raise _permanent(f"unknown report {kind!r}; one of: {', '.join(REPORT_KINDS)}")
    if kind in ("abandonment", "outside-window", "cap-hits") and campaign_id is None:
        raise _permanent(f"the {kind} report needs a campaign")
    if kind == "dossier" and not phone:
        raise _permanent("the dossier report needs a phone number")
    columns, query = kinds[kind]
    progress = _Progress()
    progress("querying", 0, 1, force=True)
    begin, finish = _parse_time(start), _parse_time(end) or datetime.now(UTC)
    with _database() as engine:
        if campaign_id is not None:
            _check_campaign(engine, campaign_id)
        with engine.connect() as conn:
            rows = query(conn, campaign_id, begin, finish, phone)
    with _atomic_output(out) as handle:
        writer = safe_csv_writer(handle)
        writer.writerow(columns)
        writer.writerows([_cell(row.get(key)) for key in columns] for row in rows)
    result = {"kind": f"report:{kind}", "out": out, "rows": len(rows)}
    progress("done", 1, 1, force=True)
    progress.result(result)
    return result


# --------------------------------------------------------------------------- enqueueing


def _job_id(kind: str, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """The same request gets the same id, so enqueueing it twice while it waits or runs adds nothing."""
    blob = json.dumps([kind, list(args), kwargs], sort_keys=True, default=str).encode()
    return f"{kind}-{hashlib.sha256(blob).hexdigest()[:20]}"


def _enqueue(
    connection: redis.Redis,
    queue_name: str,
    func: Callable[..., Any],
    kind: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    job_id: str | None = None,
    timeout: int = JOB_TIMEOUT,
    description: str,
) -> str:
    identity = job_id or _job_id(kind, args, kwargs)
    try:
        existing = Job.fetch(identity, connection=connection)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        if existing.get_status() in _LIVE:
            return identity
        existing.delete()  # finished or failed: run it again (the job finds its work done, or resumes it)
    queue = Queue(queue_name, connection=connection)
    job = queue.enqueue(
        func,
        *args,
        **kwargs,
        job_id=identity,
        retry=Retry(max=RETRY_MAX, interval=list(RETRY_INTERVALS)),
        job_timeout=timeout,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        description=description,
        meta={"kind": kind, "retry_max": RETRY_MAX},
    )
    return job.id


def enqueue_import(
    connection: redis.Redis,
    campaign_id: int,
    path: str | os.PathLike[str],
    *,
    mapping: dict[str, str] | None = None,
    region: str | None = None,
    list_name: str | None = None,
    rejects: str | os.PathLike[str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_size: int = 5000,
    throttle_s: float = 0.0,
) -> str:
    """Queue an import of ``path`` (a path the workers can read); returns the job id.

    The id comes from the campaign and the import key, so the same file with
    the same options is one job: enqueued again while waiting or running, the
    same id comes back.  Raises ListImportError when the file cannot be read.
    """
    source = str(Path(path).resolve())
    key = import_key(source, _import_options(mapping, region, encoding, delimiter))
    kwargs: dict[str, Any] = {
        "mapping": mapping,
        "region": region,
        "list_name": list_name,
        "rejects": str(Path(rejects).resolve()) if rejects is not None else None,
        "encoding": encoding,
        "delimiter": delimiter,
        "batch_size": batch_size,
        "throttle_s": throttle_s,
    }
    return _enqueue(
        connection, IMPORTS_QUEUE, import_list_job, "import", [campaign_id, source], kwargs,
        job_id=f"import-{campaign_id}-{key[:20]}", timeout=IMPORT_TIMEOUT,
        description=f"import {Path(source).name} into campaign {campaign_id}",
    )  # fmt: skip


def enqueue_scrub(connection: redis.Redis, campaign_id: int, *, out: str | None = None) -> str:
    """Queue a DNC scrub of a campaign (hits written to ``out`` when given)."""
    kwargs = {"out": str(Path(out).resolve()) if out else None}
    return _enqueue(
        connection, OTHER_QUEUE, scrub_job, "scrub", [campaign_id], kwargs,
        description=f"DNC scrub of campaign {campaign_id}",
    )  # fmt: skip


def enqueue_registry_load(
    connection: redis.Redis, files: Sequence[str], out: str, downloaded_at: datetime, *, loaded_by: str
) -> str:
    """Queue a national registry load from downloaded files (paths the workers can read)."""
    paths = [str(Path(f).resolve()) for f in files]
    kwargs = {"loaded_by": loaded_by}
    return _enqueue(
        connection, OTHER_QUEUE, registry_load_job, "registry_load",
        [paths, str(Path(out).resolve()), _iso(downloaded_at)], kwargs,
        timeout=IMPORT_TIMEOUT, description=f"national registry load of {len(paths)} file(s)",
    )  # fmt: skip


def enqueue_audit_export(
    connection: redis.Redis,
    out: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    campaign_id: int | None = None,
    e164: str | None = None,
) -> str:
    """Queue an audit trail export; ``end`` defaults to now, fixed here so a retry writes the same rows."""
    kwargs = {
        "start": _iso(start),
        "end": _iso(end or datetime.now(UTC)),
        "campaign_id": campaign_id,
        "e164": e164,
    }
    return _enqueue(
        connection, OTHER_QUEUE, export_audit_job, "audit_export", [str(Path(out).resolve())], kwargs,
        description=f"audit export to {Path(out).name}",
    )  # fmt: skip


def enqueue_call_log_export(
    connection: redis.Redis,
    out: str,
    campaign_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """Queue a call log export of a campaign; ``end`` defaults to now, fixed here."""
    kwargs = {"start": _iso(start), "end": _iso(end or datetime.now(UTC))}
    return _enqueue(
        connection, OTHER_QUEUE, export_call_log_job, "call_log_export",
        [str(Path(out).resolve()), campaign_id], kwargs,
        description=f"call log of campaign {campaign_id} to {Path(out).name}",
    )  # fmt: skip


def enqueue_report(
    connection: redis.Redis,
    kind: str,
    out: str,
    *,
    campaign_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    phone: str | None = None,
) -> str:
    """Queue a compliance report (``REPORT_KINDS``); ``end`` defaults to now, fixed here."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"unknown report {kind!r}; one of: {', '.join(REPORT_KINDS)}")
    kwargs = {
        "campaign_id": campaign_id,
        "start": _iso(start),
        "end": _iso(end or datetime.now(UTC)),
        "phone": phone,
    }
    return _enqueue(
        connection, OTHER_QUEUE, report_job, "report", [kind, str(Path(out).resolve())], kwargs,
        description=f"{kind} report to {Path(out).name}",
    )  # fmt: skip


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Registry:
    state: str
    ids: Callable[[Queue], list[str]]


_REGISTRIES = (
    _Registry("queued", lambda q: q.get_job_ids()),
    _Registry("running", lambda q: q.started_job_registry.get_job_ids()),
    _Registry("scheduled", lambda q: q.scheduled_job_registry.get_job_ids()),
    _Registry("deferred", lambda q: q.deferred_job_registry.get_job_ids()),
    _Registry("failed", lambda q: q.failed_job_registry.get_job_ids()),
    _Registry("finished", lambda q: q.finished_job_registry.get_job_ids()),
)


def _last_line(text_: str | None) -> str | None:
    if not text_:
        return None
    lines = [line.strip() for line in text_.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _stamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def job_summary(job: Job, state: str | None = None) -> dict[str, Any]:
    """What the jobs page and API show of one job: state, progress, retries, result or last error line."""
    status = job.get_status(refresh=False)
    meta = job.meta or {}
    retry_max = int(meta.get("retry_max", RETRY_MAX))
    left = job.retries_left
    try:
        error = _last_line(job.exc_info) if status in (JobStatus.FAILED, JobStatus.SCHEDULED) else None
    except Exception:  # results of another serializer or a pruned result: show no error line
        error = None
    return {
        "id": job.id,
        "kind": meta.get("kind") or job.func_name,
        "description": job.description,
        "queue": job.origin,
        "state": state or (status.value if status is not None else "unknown"),
        "status": status.value if status is not None else None,
        "enqueued_at": _stamp(job.enqueued_at),
        "started_at": _stamp(job.started_at),
        "ended_at": _stamp(job.ended_at),
        "retries": max(int(meta.get("runs", 1)) - 1, retry_max - left if left is not None else 0, 0),
        "retries_left": left,
        "progress": meta.get("progress"),
        "result": meta.get("result"),
        "error": error,
    }


def list_jobs(connection: redis.Redis, *, limit: int = 200) -> list[dict[str, Any]]:
    """Jobs of our queues by state: queued, running, scheduled (retries waiting), deferred, failed, finished."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in QUEUES:
        queue = Queue(name, connection=connection)
        for registry in _REGISTRIES:
            ids = [job_id for job_id in registry.ids(queue) if job_id not in seen][:limit]
            for job in Job.fetch_many(ids, connection=connection):
                if job is None:
                    continue
                seen.add(job.id)
                out.append(job_summary(job, registry.state))
    order = {registry.state: i for i, registry in enumerate(_REGISTRIES)}
    out.sort(key=lambda j: (order.get(j["state"], 99), "" if j["enqueued_at"] is None else j["enqueued_at"]))
    return out


def get_job(connection: redis.Redis, job_id: str) -> dict[str, Any] | None:
    """One job's summary, or None when Redis no longer holds it (or the id cannot be a job's)."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except (NoSuchJobError, ValueError):  # RQ refuses ids with characters other than letters, digits, _ and -
        return None
    return job_summary(job)
