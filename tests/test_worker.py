from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker, Worker
from rq.job import JobStatus

import worker
from campaigns.redis_conn import connect_redis
from campaigns.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def test_the_worker_works_the_imports_queue_before_the_default_one():
    built = worker.build_worker(connect_redis("memory://worker-order"), in_process=True)

    assert [queue.name for queue in built.queues] == ["imports", "default"]
    assert isinstance(built, SimpleWorker)


@pytest.mark.integration
def test_a_worker_on_a_real_server_forks_a_work_horse_per_job(redis_url):
    built = worker.build_worker(connect_redis(redis_url), in_process=False)

    assert isinstance(built, Worker)
    assert not isinstance(built, SimpleWorker)


def test_with_the_in_process_stand_in_the_worker_runs_what_this_process_queued_and_exits(capsys):
    url = "memory://worker-tests"
    job = Queue("imports", connection=connect_redis(url)).enqueue("operator.mul", 6, 7)

    worker.run(Settings(redis_url=url, log_level="WARNING"))

    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 42
    assert "burst mode" in capsys.readouterr().out


def test_python_worker_py_on_memory_says_it_runs_in_burst_mode_and_exits_cleanly(tmp_path):
    env = {**os.environ, "REDIS_URL": "memory://", "DIALER_LOG_LEVEL": "WARNING"}

    result = subprocess.run(
        [sys.executable, str(REPO / "worker.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "memory://" in result.stdout and "SimpleWorker" in result.stdout and "burst" in result.stdout


def test_python_worker_py_reports_a_bad_setting_by_name(tmp_path):
    env = {**os.environ, "REDIS_URL": "localhost:6379"}

    result = subprocess.run(
        [sys.executable, str(REPO / "worker.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_the_worker_runs_a_queued_job_on_real_redis(redis_url):
    connection = connect_redis(redis_url)
    job = Queue("default", connection=connection).enqueue("operator.mul", 6, 7)
    try:
        worker.run(Settings(redis_url=redis_url, log_level="WARNING"), burst=True)

        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == 42
    finally:
        job.delete()
