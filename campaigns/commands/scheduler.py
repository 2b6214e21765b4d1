"""``dialer scheduler``: the one process that enqueues periodic work for the RQ workers.

It only enqueues: the work itself runs in ``python worker.py``, so a slow
job never delays the schedule, and there is exactly one scheduler so each
job is enqueued once per period however many workers run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from campaigns.settings import get_settings

if TYPE_CHECKING:
    import redis
    from apscheduler.schedulers.blocking import BlockingScheduler
    from rq import Queue

log = logging.getLogger(__name__)

QUEUE = "default"
HEARTBEAT_KEY = "dialer:scheduler:heartbeat"
# What the scheduler enqueues, by import path, so the worker resolves the same function.
JOBS: dict[str, str] = {
    "lease_report": "campaigns.leases.lease_report_job",
    "worker_heartbeat": "campaigns.commands.scheduler.worker_heartbeat_job",
}


def worker_heartbeat_job(enqueued_at: str) -> str:
    """RQ job: write when the scheduler enqueued it and when a worker ran it, so a stuck queue shows."""
    from campaigns.redis_conn import connect_redis

    ran_at = datetime.now(UTC).isoformat()
    connect_redis(get_settings().redis_url).hset(HEARTBEAT_KEY, mapping={"enqueued_at": enqueued_at,
                                                                        "ran_at": ran_at})
    return ran_at


def enqueue_periodic(queue: Queue) -> list[str]:
    """Enqueue one round of the periodic jobs; returns their job ids."""
    now = datetime.now(UTC).isoformat()
    jobs = [
        queue.enqueue(JOBS["lease_report"], result_ttl=3600, ttl=120),
        queue.enqueue(JOBS["worker_heartbeat"], now, result_ttl=3600, ttl=120),
    ]
    return [job.id for job in jobs]


def build_scheduler(connection: redis.Redis, *, every_s: float = 60.0) -> BlockingScheduler:
    """A blocking scheduler whose only job is to enqueue the periodic jobs every ``every_s``."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from rq import Queue

    queue = Queue(QUEUE, connection=connection)
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(enqueue_periodic, "interval", seconds=every_s, args=[queue], id="periodic",
                      next_run_time=datetime.now(UTC), coalesce=True, max_instances=1)
    return scheduler


@click.command("scheduler")
@click.option("--every", "every_s", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              metavar="SECONDS", help="How often the periodic jobs are enqueued.")
def scheduler_command(every_s: float) -> None:
    """Enqueue the periodic jobs for the RQ workers, every minute, until stopped.

    Jobs: a report of the active campaigns no dialer process holds (in Redis
    under dialer:report:unleased, and a warning in the worker's log), and a
    heartbeat that shows the queue is being worked (dialer:scheduler:heartbeat).
    Run exactly one scheduler; run the work with `python worker.py`.

    \b
    Examples:
      dialer scheduler
      dialer scheduler --every 30
    """
    from campaigns.redis_conn import connect_redis

    settings = get_settings()
    if settings.redis_in_process:
        raise click.ClickException(
            "REDIS_URL is memory:// (the in-process stand-in): no worker could see the jobs; "
            "set REDIS_URL=redis://... to run the scheduler"
        )
    scheduler = build_scheduler(connect_redis(settings.redis_url), every_s=every_s)
    click.echo(f"scheduler: enqueuing {', '.join(JOBS)} every {every_s:g} s on queue {QUEUE!r}", err=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
