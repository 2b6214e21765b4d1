"""``dialer run`` as a real process: killed with SIGKILL mid-campaign, taken over, nothing dialed twice, nothing lost.

The processes share a real Redis (a lease means nothing inside one process)
and PostgreSQL when it is reachable, else a SQLite file; under CI=true an
unreachable server fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import Engine

from campaigns.cli import main
from campaigns.commands.scheduler import JOBS, enqueue_periodic
from campaigns.db import ensure_schema, make_engine
from campaigns.leases import current_holder, fence_key, lease_key
from campaigns.live_dialer import agents_key, commands_offset_key, events_offset_key, live_key
from campaigns.redis_conn import connect_redis
from tests.test_live_dialer import FAST_WORLD, attempts, make_campaign

REPO = Path(__file__).resolve().parent.parent
LEASE_S = 2.0


def test_run_and_scheduler_explain_themselves_with_examples() -> None:
    runner = CliRunner()
    for command in ("run", "scheduler"):
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Examples:" in result.output
    result = runner.invoke(main, ["run", "--help"])
    for option in ("--campaign", "--bot-agents", "--for", "--lease-s"):
        assert option in result.output


def test_the_procfile_names_every_process_of_the_production_topology() -> None:
    lines = dict(
        line.split(":", 1) for line in (REPO / "Procfile").read_text().splitlines() if line and not line.startswith("#")
    )
    assert {name: command.strip() for name, command in lines.items()} == {
        "release": "alembic upgrade head",
        "web": "gunicorn --worker-class gthread --threads 16 --timeout 60 'web:create_app()'",
        "dialer": "dialer run",
        "worker": "python worker.py",
        "scheduler": "dialer scheduler",
    }


def test_the_scheduler_only_enqueues_jobs_the_worker_can_import() -> None:
    from rq import Queue

    queue = Queue("default", connection=connect_redis("memory://scheduler-test"))
    ids = enqueue_periodic(queue)
    assert len(ids) == len(JOBS)
    assert sorted(job.func_name for job in queue.jobs) == sorted(JOBS.values())
    for job in queue.jobs:
        assert callable(job.func)  # the import path resolves


# ---------------------------------------------------------------------------------- the fault test


@pytest.fixture
def shared_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """PostgreSQL in a schema of its own when reachable (CI=true demands it), else a SQLite file."""
    try:
        return str(request.getfixturevalue("pg_url"))
    except pytest.skip.Exception:
        return f"sqlite:///{tmp_path / 'fault.db'}"


@pytest.fixture
def campaign_keys(redis_url: str) -> Iterator[tuple[redis.Redis, int]]:
    """A campaign id nobody else on the shared Redis uses, and its keys removed afterwards."""
    client = connect_redis(redis_url)
    cid = random.randrange(100_000_000, 2_000_000_000)
    yield client, cid
    client.delete(lease_key(cid), fence_key(cid), live_key(cid), agents_key(cid), events_offset_key(cid),
                  commands_offset_key(cid), f"dialer:events:{cid}", f"dialer:commands:{cid}")
    client.close()


def start_dialer(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from campaigns.cli import main; main()", "run", *args],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.integration
@pytest.mark.slow
def test_a_dialer_killed_mid_campaign_is_taken_over_and_no_attempt_is_dialed_twice_or_lost(
    shared_db_url: str, redis_url: str, campaign_keys: tuple[redis.Redis, int], tmp_path: Path
) -> None:
    client, cid = campaign_keys
    ensure_schema(shared_db_url)
    db: Engine = make_engine(shared_db_url)
    make_campaign(db, 200, campaign_id=cid)
    world = tmp_path / "world.json"
    world.write_text(json.dumps(FAST_WORLD))
    env = {**os.environ, "DATABASE_URL": shared_db_url, "REDIS_URL": redis_url, "DIALER_CARRIER": "simulated",
           "DIALER_LOG_LEVEL": "WARNING"}
    args = ("--campaign", str(cid), "--lease-s", str(LEASE_S), "--scenario", str(world))
    first = start_dialer(env, *args, "--bot-agents", "3")
    survivors: list[subprocess.Popen[bytes]] = [first]
    try:
        wait_for(lambda: current_holder(client, cid) is not None, 15, "the first dialer to take the campaign")
        holder = current_holder(client, cid)
        assert holder is not None and f":{first.pid}:" in holder.owner
        # Mid-campaign: calls placed, some finished, some still in flight.
        wait_for(lambda: (rows := attempts(db, cid)) != [] and len(rows) >= 4
                 and any(r.ended_at is None for r in rows) and any(r.ended_at is not None for r in rows),
                 15, "calls in flight")
        first.send_signal(signal.SIGKILL)
        first.wait(5)
        killed_at = time.monotonic()
        before = {r.id: r for r in attempts(db, cid)}
        open_at_kill = {i for i, r in before.items() if r.ended_at is None}
        assert open_at_kill

        second = start_dialer(env, *args, "--bot-agents", "3")
        survivors.append(second)
        took_over = wait_for(
            lambda: (h := current_holder(client, cid)) is not None and f":{second.pid}:" in h.owner,
            LEASE_S + 10, "the second dialer to take over",
        )
        # Python start-up of the new process included: the lease time plus a margin.
        assert took_over - killed_at < LEASE_S + 8
        wait_for(lambda: sum(1 for r in attempts(db, cid) if r.id not in before) >= 3, 15,
                 "the second dialer to dial")
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0, second.stderr.read().decode() if second.stderr else ""
        assert current_holder(client, cid) is None  # released at once on SIGTERM
        assert second.stderr is not None and b"Traceback" not in second.stderr.read()

        # A third process only takes over (no agents: the bots were the second's), closing what it left open.
        third = start_dialer(env, "--campaign", str(cid), "--lease-s", str(LEASE_S), "--for", "1")
        survivors.append(third)
        assert third.wait(30) == 0, third.stderr.read().decode() if third.stderr else ""
        assert third.stderr is not None and b"Traceback" not in third.stderr.read()
    finally:
        for process in survivors:
            if process.poll() is None:
                process.kill()
                process.wait(5)

    rows = attempts(db, cid)
    db.dispose()
    # No contact attempt twice, no call placed twice.
    assert len({(r.contact_id, r.attempt_number) for r in rows}) == len(rows)
    sids = [r.carrier_call_id for r in rows if r.carrier_call_id]
    assert len(sids) == len(set(sids))
    for attempt_id in before:
        # What the dead dialer claimed stays its own: nobody placed those attempts again.
        assert next(r for r in rows if r.id == attempt_id).carrier_call_id == before[attempt_id].carrier_call_id
    # Nothing lost: every attempt is closed, with an outcome or as interrupted.
    assert all(r.ended_at is not None and r.end_reason for r in rows)
    for r in rows:
        if r.id in open_at_kill:
            assert r.end_reason == "interrupted"
    by_contact: dict[int, list[int]] = {}
    for r in rows:
        by_contact.setdefault(r.contact_id, []).append(r.attempt_number)
    assert all(sorted(numbers) == list(range(1, len(numbers) + 1)) for numbers in by_contact.values())
