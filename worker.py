"""The RQ worker process: runs imports, scrubs, exports and reports queued by the other processes.

``python worker.py`` works the ``imports`` and ``default`` queues of REDIS_URL
(``campaigns.jobs.QUEUES``) until stopped.  It also runs RQ's scheduler, which
moves retries (``Retry(max=3, interval=[10, 30, 60])``) back onto their queue
when their time comes, and cleans the job registries every minute, which is
when a job whose worker was killed is found (its heartbeat lapsed) and retried.
With ``REDIS_URL=memory://`` there is no server to share a queue with, so it
works whatever this process queued, in burst mode, and exits.
"""

from __future__ import annotations

import argparse
import sys

import redis
from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from campaigns.jobs import QUEUES
from campaigns.redis_conn import connect_redis
from campaigns.settings import Settings, SettingsError, get_settings

QUEUE_NAMES = QUEUES  # imports first: a waiting list blocks a campaign
# RQ's default is ten minutes: a job abandoned by a killed worker would wait that long for its retry.
MAINTENANCE_INTERVAL_S = 60
WORKER_TTL_S = 75


def build_worker(connection: redis.Redis, *, in_process: bool) -> BaseWorker:
    """A worker on our queues; ``in_process`` runs jobs without forking (needed for memory://)."""
    queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
    worker_class: type[BaseWorker] = SimpleWorker if in_process else Worker
    # An idle worker checks for maintenance between blocking waits of worker_ttl - 15 s: 75 keeps that a minute.
    return worker_class(
        queues, connection=connection, maintenance_interval=MAINTENANCE_INTERVAL_S, worker_ttl=WORKER_TTL_S
    )


def run(settings: Settings, *, burst: bool = False) -> bool:
    """Work the queues; True when at least one job ran (RQ's own answer)."""
    connection = connect_redis(settings.redis_url)
    if settings.redis_in_process:
        print(
            "REDIS_URL is memory:// (the in-process stand-in): no other process can queue jobs here, "
            "so this SimpleWorker works what this process queued, in burst mode, then exits. "
            "Set REDIS_URL=redis://... to run a standing worker.",
            flush=True,
        )
        burst = True
    worker = build_worker(connection, in_process=settings.redis_in_process)
    # The scheduler runs in a process of its own, which cannot see the in-process stand-in.
    return worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=not settings.redis_in_process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python worker.py",
        description=f"Work the dialer's background queues ({', '.join(QUEUE_NAMES)}) from REDIS_URL.",
    )
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(f"worker: {error}", file=sys.stderr)
        return 2
    try:
        run(settings, burst=args.burst)
    except redis.exceptions.ConnectionError as error:
        print(f"worker: cannot reach Redis at REDIS_URL: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
