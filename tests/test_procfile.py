"""The Procfile under honcho, as an operator brings the stack up on one machine.

Honcho starts each line with ``/bin/sh -c``.  Debian's sh (dash) does not
replace itself with the command, so honcho would see, and report, the exit of
the shell, which dies of the SIGTERM at once, not of the process behind it.
The test therefore runs each line of the Procfile as ``exec <line>``: the same
command, with the shell out of the way, so that the exit status honcho prints
is the process's own.

Redis is a private ``redis-server`` on a free port when the binary is there:
the RQ worker of the stack takes jobs from the ``imports`` and ``default``
queues of whatever database it is given, and must not take another test's.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from campaigns.db import make_engine
from campaigns.redis_conn import connect_redis

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
LONG_RUNNING = ("web", "dialer", "worker", "scheduler")


def procfile_lines() -> dict[str, str]:
    lines: dict[str, str] = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            lines[name.strip()] = command.strip()
    return lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def honcho() -> str:
    pytest.importorskip("honcho")
    found = shutil.which("honcho", path=str(Path(sys.executable).parent)) or shutil.which("honcho")
    if found is None:
        pytest.skip("the honcho command is not on PATH")
    return found


@pytest.fixture
def stack_redis(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own (its queues are nobody else's); the shared one if redis-server is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield redis_url
        return
    port = free_port()
    with (tmp_path / "redis.log").open("wb") as log:
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = connect_redis(url)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(10)


def wait_until(condition: Callable[[], object], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}; honcho's output:\n{log.read_text()[-4000:]}")


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return int(answer.status)


def descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def still_running(pids: list[int]) -> list[int]:
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_honcho_start_brings_the_procfile_stack_up_on_postgresql_and_redis_and_sigterm_stops_every_process_cleanly(
    pg_url: str, stack_redis: str, tmp_path: Path
) -> None:
    pytest.importorskip("psutil")
    runner = honcho()
    lines = procfile_lines()
    assert {"release", *LONG_RUNNING} <= set(lines), f"the Procfile lacks a line: {sorted(lines)}"
    procfile = tmp_path / "Procfile"
    procfile.write_text("".join(f"{name}: exec {command}\n" for name, command in lines.items()))
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": pg_url,
        "REDIS_URL": stack_redis,
        "SECRET_KEY": secrets.token_hex(16),
        "DIALER_CARRIER": "simulated",
        "DIALER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PORT", None)
    start = [runner, "start", "-f", str(procfile), "-e", str(empty_env), "--no-colour"]

    # The release line first, on its own: honcho stops every process as soon as one ends.
    release = subprocess.run([*start, "release"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert release.returncode == 0, release.stdout + release.stderr
    assert "release.1 stopped (rc=0)" in release.stdout
    db = make_engine(pg_url)
    try:
        with db.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        db.dispose()

    port = free_port()
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        stack = subprocess.Popen([*start, "-p", str(port), *LONG_RUNNING], cwd=REPO, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    seen: list[int] = []
    client = connect_redis(stack_redis)
    try:
        wait_until(lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200, 90, "/healthz on the web port",
                   log)
        wait_until(lambda: re.search(r"dialer\.1\s*\| dialer \S+: pacing", log.read_text()) is not None, 60,
                   "the dialer to say it runs", log)
        wait_until(lambda: client.zcard("dialer:dialers") == 1, 30, "the dialer's heartbeat in Redis", log)
        wait_until(lambda: "Listening on" in log.read_text(), 60, "the RQ worker to listen", log)
        wait_until(lambda: "scheduler.1" in log.read_text() and "enqueuing" in log.read_text(), 60,
                   "the scheduler to start", log)
        wait_until(lambda: client.hget("dialer:scheduler:heartbeat", "ran_at") is not None, 60,
                   "a job enqueued by the scheduler to be run by the worker", log)
        seen = descendants(stack.pid)
        assert stack.poll() is None, log.read_text()

        stack.send_signal(signal.SIGTERM)
        stack.wait(60)
        output = log.read_text()
        statuses = dict(re.findall(r"(\w+)\.1 stopped \(rc=(-?\d+)\)", output))
        assert statuses == {name: "0" for name in LONG_RUNNING}, output[-4000:]
        assert "Traceback" not in output, output[-4000:]
        wait_until(lambda: not still_running(seen), 15, "every process of the stack to be gone", log)
        # What each process hands back on the way out: the dialer leaves the list of live dialers,
        # the RQ worker unregisters.
        assert client.zcard("dialer:dialers") == 0
        assert client.scard("rq:workers") == 0
    finally:
        client.close()
        if stack.poll() is None:
            stack.kill()
            stack.wait(10)
        for pid in still_running(seen):
            os.kill(pid, signal.SIGKILL)
