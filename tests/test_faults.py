"""Faults the background jobs must survive: a killed worker, a Redis restart, a dropped database connection.

The servers are real: PostgreSQL from ``pg_url`` (conftest), and a private
``redis-server`` per test on a free port, so killing and restarting it touches
nobody else's queues.  Without PostgreSQL or the ``redis-server`` binary the
tests are skipped, and fail under ``CI=true``, like conftest's.

Webhooks delivered twice or out of order, and a webhook for a call whose dialer
died, are covered by tests/test_twilio_webhooks.py and tests/test_live_dialer.py.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from campaigns import accounts, jobs, services
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.importer import import_contacts
from campaigns.live_events import publish_carrier_event, read_carrier_events
from campaigns.models import Contact, ContactList, ContactPhone
from dialer.events import CarrierEvent, CarrierEventKind
from tests.conftest import unavailable
from tests.web_support import PASSWORD, sign_in

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_list(path: Path, rows: int, *, seed: int = 7) -> Path:
    """A list with good rows, duplicates inside the file, bad numbers and missing phones."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "Phone", "Mobile", "State"])
        for i in range(rows):
            phone = f"(201) 555-{i % 10000:04d}" if i < 10000 else f"(973) 555-{i % 10000:04d}"
            mobile = f"862-555-{rng.randrange(10000):04d}" if i % 3 == 0 else ""
            if i % 97 == 5:
                phone, mobile = "12", ""  # bad number
            elif i % 89 == 7:
                phone, mobile = "", ""  # missing phone
            elif i % 53 == 11 and i > 20:
                phone = f"(201) 555-{(i - 13) % 10000:04d}"  # repeats an earlier row
            writer.writerow([f"First{i}", f"Last{i}", phone, mobile, "NJ"])
    return path


def counts(db: Engine, campaign_id: int) -> dict[str, int]:
    """What landed in a campaign: lists, contacts, phones, and the lists' counters."""
    with db.connect() as conn:
        lists = conn.execute(
            select(
                func.count(ContactList.id),
                func.coalesce(func.sum(ContactList.rows_total), 0),
                func.coalesce(func.sum(ContactList.rows_imported), 0),
                func.coalesce(func.sum(ContactList.rows_rejected), 0),
            ).where(ContactList.campaign_id == campaign_id)
        ).one()
        contacts = conn.scalar(select(func.count(Contact.id)).where(Contact.campaign_id == campaign_id))
        phones = conn.scalar(select(func.count(ContactPhone.id)).where(ContactPhone.campaign_id == campaign_id))
    return {
        "lists": lists[0],
        "rows_total": lists[1],
        "rows_imported": lists[2],
        "rows_rejected": lists[3],
        "contacts": contacts or 0,
        "phones": phones or 0,
    }


def new_campaign(db: Engine, name: str) -> int:
    with make_session_factory(db)() as session:
        campaign = services.create_campaign(session, name=name, caller_id="2015550100")
        session.commit()
        return campaign.id


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def descendants(root: int) -> list[int]:
    """Every process below ``root``, from /proc (children first found, grandchildren after)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found.extend(children)
        frontier.extend(children)
    return found


class Processes:
    """Subprocesses a test starts, each in its own process group, all killed in teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: list[str], *, env: dict[str, str] | None = None, log: Path | None = None
    ) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append(process)
        return process

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and everything it forked: an RQ work horse runs in a session of its own."""
        for pid in [*descendants(process.pid), process.pid]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def kill_all(self) -> None:
        for process in self.started:
            for pid in descendants(process.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


@pytest.fixture
def processes() -> Iterator[Processes]:
    running = Processes()
    try:
        yield running
    finally:
        running.kill_all()


class PrivateRedis:
    """A redis-server of the test's own, with no persistence: a restart loses every key, as a new server would."""

    def __init__(self, processes: Processes, log: Path) -> None:
        self.processes = processes
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = self.processes.start(args, log=self.log)
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)

        def up() -> bool:
            try:
                return bool(probe.ping())
            except redis.RedisError:
                return False

        wait_for(up, timeout=15, what="redis-server to answer")
        probe.close()

    def kill(self) -> None:
        assert self.process is not None
        Processes.kill(self.process)


@pytest.fixture
def private_redis(processes: Processes, tmp_path: Path) -> PrivateRedis:
    if shutil.which("redis-server") is None:
        unavailable("the redis-server binary is not installed")
    server = PrivateRedis(processes, tmp_path / "redis.log")
    server.start()
    return server


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    ensure_schema(pg_url)
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def worker_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DIALER_LOG_LEVEL": "INFO"}


def start_worker(processes: Processes, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return processes.start([sys.executable, str(REPO / "worker.py")], env=env, log=log)


def landed(db: Engine, campaign_id: int) -> int:
    with db.connect() as conn:
        return conn.scalar(select(func.count(Contact.id)).where(Contact.campaign_id == campaign_id)) or 0


def uninterrupted(db: Engine, path: Path, *, batch_size: int) -> dict[str, int]:
    """The counts of the same file imported in one go into a campaign of its own."""
    baseline = new_campaign(db, f"baseline {path.name}")
    import_contacts(make_session_factory(db), baseline, path, batch_size=batch_size)
    return counts(db, baseline)


def job_status(client: redis.Redis, job_id: str) -> JobStatus | None:
    return Job.fetch(job_id, connection=client).get_status()


def expire_running_jobs(client: redis.Redis) -> int:
    """Move the running-jobs registry's deadlines to the past, as if the dead horse's heartbeat had lapsed.

    In production that takes job_monitoring_interval + 60 s (90 s); the next
    worker maintenance (every minute in worker.py) then retries the job.  The
    test skips the wait, not the mechanism.
    """
    moved = 0
    for name in jobs.QUEUES:
        client.delete(f"rq:scheduler-lock:{name}")  # the dead worker's scheduler lock (61 s) lapses too
        key = Queue(name, connection=client).started_job_registry.key
        for member in client.zrange(key, 0, -1):
            client.zadd(key, {member: 1})
            moved += 1
    return moved


# --------------------------------------------------------------------------- resuming, without servers


def test_an_import_interrupted_after_some_batches_and_run_again_lands_exactly_what_one_run_would(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_list(tmp_path / "leads.csv", 1500)
    expected = uninterrupted(engine, path, batch_size=100)
    campaign = new_campaign(engine, "resumed")
    commits = 0

    def crash_after_three(report: Any) -> None:
        nonlocal commits
        commits += 1
        if commits == 3:
            raise RuntimeError("worker lost")

    factory = make_session_factory(engine)
    with pytest.raises(RuntimeError):
        import_contacts(
            factory, campaign, path, batch_size=100, commit_interval_s=0, import_key="k1",
            rejects=tmp_path / "first.csv", on_commit=crash_after_three,
        )  # fmt: skip
    partial = counts(engine, campaign)
    assert 0 < partial["contacts"] < expected["contacts"]

    report = import_contacts(factory, campaign, path, batch_size=100, import_key="k1", rejects=tmp_path / "rejects.csv")
    again = import_contacts(factory, campaign, path, batch_size=100, import_key="k1", rejects=tmp_path / "again.csv")

    assert counts(engine, campaign) == expected
    assert report.imported == again.imported == expected["rows_imported"]
    assert report.rejected == again.rejected == expected["rows_rejected"]
    assert report.rejected_by_reason == again.rejected_by_reason
    assert (tmp_path / "rejects.csv").read_text() == (tmp_path / "again.csv").read_text()
    with Session(engine) as session:
        finished = session.scalars(select(ContactList.finished_at).where(ContactList.campaign_id == campaign)).one()
    assert finished is not None


def test_the_jobs_api_lists_a_finished_import_with_its_counts_and_progress(tmp_path: Path) -> None:
    from web import create_app

    url = f"memory://jobs-api-{os.getpid()}"
    db_url = f"sqlite:///{tmp_path / 'dialer.db'}"
    ensure_schema(db_url)
    db = make_engine(db_url)
    campaign = new_campaign(db, "api")
    path = write_list(tmp_path / "api.csv", 200)
    app = create_app({"TESTING": True, "DATABASE_URL": db_url, "REDIS_URL": url})
    client_redis = app.extensions["dialer"].redis
    os.environ["DATABASE_URL"] = db_url
    from campaigns.settings import get_settings

    get_settings.cache_clear()
    try:
        job_id = jobs.enqueue_import(client_redis, campaign, path)
        assert jobs.enqueue_import(client_redis, campaign, path) == job_id  # one file, one job
        import worker
        from campaigns.settings import Settings

        worker.run(Settings(redis_url=url, database_url=db_url, log_level="WARNING"))
    finally:
        del os.environ["DATABASE_URL"]
        get_settings.cache_clear()
        db.dispose()
    with Session(make_engine(db_url)) as session, session.begin():
        accounts.create_user(session, "sam", PASSWORD, "supervisor")
    web = app.test_client()
    sign_in(web, "sam")

    listed = web.get("/api/jobs").get_json()["jobs"]
    one = web.get(f"/api/jobs/{job_id}").get_json()
    page = web.get("/jobs")

    assert [job["id"] for job in listed] == [job_id]
    assert one["state"] == "finished" and one["retries"] == 0
    assert one["result"]["imported"] == one["progress"]["landed"] > 0
    assert one["progress"]["phase"] == "done"
    assert page.status_code == 200 and job_id in page.get_data(as_text=True)
    assert web.get("/api/jobs/no-such-job").status_code == 404


# --------------------------------------------------------------------------- a killed worker


@pytest.mark.integration
def test_a_worker_killed_mid_import_is_replaced_and_the_retry_lands_the_same_rows_as_one_run(
    pg_url: str, pg_engine: Engine, private_redis: PrivateRedis, processes: Processes, tmp_path: Path
) -> None:
    path = write_list(tmp_path / "leads.csv", 3000)
    expected = uninterrupted(pg_engine, path, batch_size=250)
    campaign = new_campaign(pg_engine, "killed")
    client = redis.Redis.from_url(private_redis.url)
    env = worker_env(pg_url, private_redis.url)
    first = start_worker(processes, env, tmp_path / "worker1.log")

    job_id = jobs.enqueue_import(client, campaign, path, batch_size=250, throttle_s=0.5)
    wait_for(lambda: landed(pg_engine, campaign) >= 500, timeout=90, what="the first batches to land")
    Processes.kill(first)  # the worker and its work horse, as when a machine dies
    partial = counts(pg_engine, campaign)
    assert 0 < partial["contacts"] < expected["contacts"]
    assert job_status(client, job_id) == JobStatus.STARTED  # nobody knows yet

    assert expire_running_jobs(client) == 1
    start_worker(processes, env, tmp_path / "worker2.log")
    wait_for(lambda: job_status(client, job_id) == JobStatus.FINISHED, timeout=120, what="the retried import")

    assert counts(pg_engine, campaign) == {**expected, "lists": 1}
    summary = jobs.get_job(client, job_id)
    assert summary is not None and summary["retries"] == 1
    assert summary["result"]["imported"] == expected["rows_imported"]
    assert any("resumed list" in note for note in summary["result"]["notes"])


# --------------------------------------------------------------------------- a dropped database connection


@pytest.mark.integration
def test_an_import_whose_database_connections_are_terminated_finishes_with_no_row_lost_or_duplicated(
    pg_url: str, pg_engine: Engine, private_redis: PrivateRedis, processes: Processes, tmp_path: Path
) -> None:
    path = write_list(tmp_path / "leads.csv", 2000)
    expected = uninterrupted(pg_engine, path, batch_size=200)
    campaign = new_campaign(pg_engine, "terminated")
    client = redis.Redis.from_url(private_redis.url)
    tag = f"faults{os.getpid()}{int(time.time())}"
    import_url = f"{pg_url}&application_name={tag}"
    start_worker(processes, worker_env(import_url, private_redis.url), tmp_path / "worker.log")

    job_id = jobs.enqueue_import(client, campaign, path, batch_size=200, throttle_s=0.4)
    wait_for(lambda: landed(pg_engine, campaign) >= 400, timeout=90, what="the first batches to land")
    with pg_engine.connect() as conn:
        killed = conn.scalar(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :tag"),
            {"tag": tag},
        )
    assert killed and killed >= 1

    wait_for(lambda: job_status(client, job_id) == JobStatus.FINISHED, timeout=150, what="the retried import")
    assert counts(pg_engine, campaign) == {**expected, "lists": 1}
    # Terminated between commits, a pooled connection is replaced by pool_pre_ping and the run goes on;
    # terminated inside a transaction, the run fails and its retry resumes after the last commit.
    summary = jobs.get_job(client, job_id)
    assert summary is not None and summary["result"]["imported"] == expected["rows_imported"]
    # The engine's pool_pre_ping replaces a terminated pooled connection: the next operation just works.
    fresh = make_engine(import_url)
    try:
        with fresh.connect() as conn:
            conn.execute(text("SELECT 1"))
        with pg_engine.connect() as conn:
            conn.scalar(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :tag"),
                {"tag": tag},
            )
        with fresh.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
    finally:
        fresh.dispose()


# --------------------------------------------------------------------------- a Redis restart


@pytest.mark.integration
def test_when_redis_dies_clients_fail_fast_with_a_connection_error_and_after_a_restart_jobs_run_again(
    pg_url: str, pg_engine: Engine, private_redis: PrivateRedis, processes: Processes, tmp_path: Path
) -> None:
    from campaigns.redis_conn import connect_redis

    campaign = new_campaign(pg_engine, "redis restart")
    path = write_list(tmp_path / "leads.csv", 300)
    client = connect_redis(private_redis.url)
    env = worker_env(pg_url, private_redis.url)
    worker_log = tmp_path / "worker.log"
    worker_process = start_worker(processes, env, worker_log)
    job_id = jobs.enqueue_import(client, campaign, path)
    wait_for(lambda: job_status(client, job_id) == JobStatus.FINISHED, timeout=60, what="the import")
    event = CarrierEvent(call_sid="CA1", kind=CarrierEventKind.RINGING, at=1.0, sequence=1)
    publish_carrier_event(client, campaign, event)
    before = counts(pg_engine, campaign)

    private_redis.kill()
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        publish_carrier_event(client, campaign, event)
    with pytest.raises(redis.ConnectionError):
        jobs.enqueue_import(client, campaign, write_list(tmp_path / "second.csv", 50, seed=3))
    assert time.monotonic() - started < 15  # an error, not a hang
    assert counts(pg_engine, campaign) == before  # the database kept what landed

    private_redis.start()  # same port, empty: no persistence, as a replaced server
    publish_carrier_event(client, campaign, event)  # the same client reconnects by itself
    assert [e.call_sid for _, e in read_carrier_events(client, campaign)] == ["CA1"]
    # RQ's worker rides out a short outage or quits ("cannot reach Redis", exit 1), and then the
    # process manager starts it again, as here.
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker_process.wait(timeout=20)
    if worker_process.poll() is not None:
        assert worker_process.returncode == 1
        worker_process = start_worker(processes, env, worker_log)
    second = jobs.enqueue_import(client, campaign, tmp_path / "second.csv")
    wait_for(lambda: job_status(client, second) == JobStatus.FINISHED, timeout=90, what="a job after the restart")
    assert counts(pg_engine, campaign)["lists"] == 2
    # Redis forgot the first job; running the same import again finds its list landed and adds nothing.
    landed_before = counts(pg_engine, campaign)
    again = jobs.enqueue_import(client, campaign, path)
    wait_for(lambda: job_status(client, again) == JobStatus.FINISHED, timeout=90, what="the repeated import")
    assert counts(pg_engine, campaign) == landed_before
