"""``dialer scheduler``: the one process that enqueues periodic work for the RQ workers.

It only enqueues: the work itself runs in ``python worker.py``, so a slow
job never delays the schedule, and there is exactly one scheduler so each
job is enqueued once per period however many workers run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from campaigns.settings import get_settings

if TYPE_CHECKING:
    import redis
    from apscheduler.schedulers.blocking import BlockingScheduler
    from rq import Queue
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

QUEUE = "default"
HEARTBEAT_KEY = "dialer:scheduler:heartbeat"
# The schedule's last answer per campaign ("1" running, "0" not): kept in Redis so a restart does not
# undo a supervisor's pause by hand inside a window.
SCHEDULE_SEEN_KEY = "dialer:scheduler:schedule-seen"
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


@dataclass(frozen=True)
class ScheduleChange:
    """One start or pause the schedule made (or tried: ``error`` says why the services refused it)."""

    campaign_id: int
    name: str
    action: str
    before: str
    after: str
    error: str | None = None


def apply_schedules(session: Session, now: datetime, seen: dict[int, bool]) -> list[ScheduleChange]:
    """Start or pause the campaigns with a schedule whose answer changed since ``seen`` (updated in place).

    Goes through ``campaigns.services`` (a campaign whose drop message is not
    lawful is not started) and writes each change to the campaign's audit
    chain; the caller commits.
    """
    from sqlalchemy import select

    from campaigns import services
    from campaigns.audit_store import append_event
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.schedule import ScheduleError, action_for, parse_zone, schedule_state, windows_of

    changes: list[ScheduleChange] = []
    rows = session.scalars(select(Campaign).where(Campaign.status != CampaignStatus.FINISHED.value)
                           .order_by(Campaign.id))  # fmt: skip
    for campaign in rows:
        try:
            windows = windows_of(campaign.schedule)
            zone = parse_zone(campaign.schedule_tz)
        except ScheduleError as error:
            log.warning("campaign %s (%s): schedule ignored: %s", campaign.id, campaign.name, error)
            continue
        if not windows:
            seen.pop(campaign.id, None)
            continue
        running = schedule_state(windows, zone, now).running
        action = action_for(campaign.status, running, seen.get(campaign.id))
        seen[campaign.id] = running
        if action is None:
            continue
        before = campaign.status
        try:
            with session.begin_nested():
                if action == "start":
                    services.start_campaign(session, campaign)
                else:
                    services.pause_campaign(session, campaign)
                append_event(session.connection(), "campaign.status_changed",
                             {"actor": "scheduler", "from": before, "to": campaign.status, "by": "schedule"},
                             campaign_id=campaign.id)  # fmt: skip
        except services.CampaignError as error:
            session.refresh(campaign)
            log.warning("campaign %s (%s): the schedule could not %s it: %s",
                        campaign.id, campaign.name, action, error.message)  # fmt: skip
            changes.append(ScheduleChange(campaign.id, campaign.name, action, before, before, error.message))
            continue
        log.info("campaign %s (%s): %s by its schedule (%s -> %s)",
                 campaign.id, campaign.name, "started" if action == "start" else "paused", before, campaign.status)
        changes.append(ScheduleChange(campaign.id, campaign.name, action, before, campaign.status))
    return changes


def schedule_tick(engine: Engine, connection: redis.Redis) -> list[ScheduleChange]:
    """One round of the schedule job: read what was seen from Redis, apply, commit, write it back."""
    from campaigns.db import make_session_factory

    try:
        raw = connection.hgetall(SCHEDULE_SEEN_KEY)
        seen = {int(key): value in (b"1", "1") for key, value in raw.items()}
    except Exception as error:  # Redis down: act on the clock alone rather than not at all
        log.warning("schedule: Redis unreadable (%s): acting on the schedule alone", error)
        seen = {}
    with make_session_factory(engine)() as session:
        changes = apply_schedules(session, datetime.now(UTC), seen)
        session.commit()
    try:
        pipe = connection.pipeline()
        pipe.delete(SCHEDULE_SEEN_KEY)
        if seen:
            pipe.hset(SCHEDULE_SEEN_KEY, mapping={str(cid): "1" if running else "0" for cid, running in seen.items()})
        pipe.execute()
    except Exception as error:
        log.warning("schedule: what was seen not saved to Redis: %s", error)
    return changes


def callbacks_tick(engine: Engine) -> int:
    """Bring the callback records up to date with what the dialers did (served, missed, held by the gate)."""
    from campaigns.callbacks import sync_callbacks
    from campaigns.db import make_session_factory

    with make_session_factory(engine)() as session:
        changed = sync_callbacks(session, datetime.now(UTC))
        session.commit()
    if changed:
        log.info("callbacks: %d records brought up to date", changed)
    return changed


def build_scheduler(
    connection: redis.Redis, *, every_s: float = 60.0, engine: Engine | None = None
) -> BlockingScheduler:
    """A blocking scheduler that enqueues the periodic jobs every ``every_s``.

    With ``engine`` it also applies the campaigns' dialing schedules every
    minute itself: a start or pause is one quick update, and a worker busy with
    a long import must not hold a campaign's opening back.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler
    from rq import Queue

    queue = Queue(QUEUE, connection=connection)
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(enqueue_periodic, "interval", seconds=every_s, args=[queue], id="periodic",
                      next_run_time=datetime.now(UTC), coalesce=True, max_instances=1)
    if engine is not None:
        scheduler.add_job(schedule_tick, "interval", seconds=60, args=[engine, connection], id="schedule",
                          next_run_time=datetime.now(UTC), coalesce=True, max_instances=1)
        scheduler.add_job(callbacks_tick, "interval", seconds=30, args=[engine], id="callbacks",
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
    Every minute it also starts and pauses the campaigns that have a dialing
    schedule when a window opens or closes (itself, not through the queue),
    logging each change.  Run exactly one scheduler; run the work with
    `python worker.py`.

    \b
    Examples:
      dialer scheduler
      dialer scheduler --every 30
    """
    from campaigns.db import ensure_schema, make_engine
    from campaigns.redis_conn import connect_redis

    settings = get_settings()
    if settings.redis_in_process:
        raise click.ClickException(
            "REDIS_URL is memory:// (the in-process stand-in): no worker could see the jobs; "
            "set REDIS_URL=redis://... to run the scheduler"
        )
    ensure_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    scheduler = build_scheduler(connect_redis(settings.redis_url), every_s=every_s, engine=engine)
    click.echo(f"scheduler: enqueuing {', '.join(JOBS)} every {every_s:g} s on queue {QUEUE!r}; "
               "applying campaign schedules every 60 s", err=True)
    import signal

    def stop(signum: int, frame: object) -> None:  # SIGTERM (honcho, systemd, a platform's restart)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
    finally:
        engine.dispose()
