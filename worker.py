"""The RQ worker process: runs imports, scrubs, exports and reports queued by the other processes.

``python worker.py`` works the ``imports`` and ``default`` queues of REDIS_URL
until stopped.  With ``REDIS_URL=memory://`` there is no server to share a
queue with, so it works whatever this process queued, in burst mode, and exits.
"""

from __future__ import annotations

import argparse
import sys

import redis
from rq import Queue, SimpleWorker, Worker
from rq.worker import BaseWorker

from campaigns.redis_conn import connect_redis
from campaigns.settings import Settings, SettingsError, get_settings

QUEUE_NAMES = ("imports", "default")  # imports first: a waiting list blocks a campaign


def build_worker(connection: redis.Redis, *, in_process: bool) -> BaseWorker:
    """A worker on our queues; ``in_process`` runs jobs without forking (needed for memory://)."""
    queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
    worker_class: type[BaseWorker] = SimpleWorker if in_process else Worker
    return worker_class(queues, connection=connection)


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
    return worker.work(burst=burst, logging_level=settings.log_level)


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
