"""Campaign leases: exactly one dialer process paces a campaign at a time.

Several ``dialer run`` processes share the floor.  Each campaign is paced by
the holder of its lease, a Redis key set with NX and an expiry, so a process
that dies (kill -9, a lost machine) lets its campaigns go within the lease
time without anyone noticing the death.

A lease alone is not enough: a process paused longer than its lease (a long
garbage collection, a frozen VM) wakes up believing it still holds the
campaign while another process already paces it.  So each grant carries a
*fencing token* from a counter that only grows (``INCR``); the lease's value
is ``owner:token``, and every write that matters is made only after a compare
against that exact value, in one Lua script on the server, so a holder with
an old token is refused.  A check also demands some lease time left
(``safety_s``), so a write that starts after a passing check finishes before
the lease could lapse unless the database stalls for that long.

The in-process stand-in (``memory://``, fakeredis without Lua) gets the same
operations as optimistic WATCH/MULTI transactions: only one process ever
sees that Redis, so the semantics are what matters there, not the speed.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import redis
    from redis.client import Pipeline

log = logging.getLogger(__name__)

T = TypeVar("T")


def lease_key(campaign_id: int) -> str:
    return f"dialer:lease:{campaign_id}"


def fence_key(campaign_id: int) -> str:
    return f"dialer:lease:{campaign_id}:fence"


DIALERS_KEY = "dialer:dialers"  # sorted set: owner id -> when its heartbeat runs out (epoch ms)
UNLEASED_REPORT_KEY = "dialer:report:unleased"


def new_owner_id() -> str:
    """Unique per process start, and readable: which host and pid hold a campaign."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseLost(RuntimeError):
    """This process no longer holds the campaign: stop pacing it at once."""


# KEYS[1] lease, KEYS[2] fence counter; ARGV[1] owner, ARGV[2] lease ms.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'NX', 'PX', ARGV[2])
return token
"""
# KEYS[1] lease; ARGV[1] owner:token, ARGV[2] lease ms.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS[1] lease; ARGV[1] owner:token.  The lease time left in ms, or -3 when not held.
_CHECK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PTTL', KEYS[1]) end
return -3
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] lease, KEYS[2] the key to write; ARGV[1] owner:token, ARGV[2] value.
_FENCED_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2]) return 1 end
return 0
"""


class _Server:
    """Runs the lease operations as Lua scripts, or as WATCH transactions where Lua is missing."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._lua: bool | None = None

    @property
    def lua(self) -> bool:
        if self._lua is None:
            import redis as redis_module

            try:
                self.client.eval("return 1", 0)
                self._lua = True
            except redis_module.ResponseError:
                self._lua = False
        return self._lua

    def script(self, source: str, keys: Sequence[str], args: Sequence[Any]) -> int:
        return int(self.client.eval(source, len(keys), *keys, *args))

    def transaction(self, keys: Sequence[str], body: Callable[[Pipeline], T]) -> T:
        import redis as redis_module

        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(*keys)
                    return body(pipe)
                except redis_module.WatchError:
                    continue


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Holder:
    owner: str
    token: int

    @classmethod
    def parse(cls, value: bytes | str | None) -> Holder | None:
        text = _text(value)
        if not text or ":" not in text:
            return None
        owner, _, token = text.rpartition(":")
        return cls(owner, int(token)) if token.isdigit() else None


def current_holder(client: redis.Redis, campaign_id: int) -> Holder | None:
    """Who holds a campaign now (for reports and tests); None when nobody does."""
    return Holder.parse(client.get(lease_key(campaign_id)))


class CampaignLease:
    """One process's claim on one campaign, with the fencing token of its grant."""

    def __init__(
        self, client: redis.Redis, campaign_id: int, owner: str, lease_s: float, *, safety_s: float | None = None
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.client = client
        self.campaign_id = campaign_id
        self.owner = owner
        self.lease_ms = max(1, round(lease_s * 1000))
        # Demand this much lease time left at a check: a write that begins then ends in time.
        self.safety_ms = round(1000 * (safety_s if safety_s is not None else min(1.0, lease_s / 4)))
        self.token: int | None = None
        self.key = lease_key(campaign_id)
        self.fence = fence_key(campaign_id)
        self._server = _Server(client)

    @property
    def value(self) -> str:
        return f"{self.owner}:{self.token}"

    @property
    def held(self) -> bool:
        """What this process believes; ``check`` asks Redis."""
        return self.token is not None

    def acquire(self) -> bool:
        """Take the campaign if nobody holds it; a new grant gets a new, larger token."""
        server = self._server
        if server.lua:
            token = server.script(_ACQUIRE, [self.key, self.fence], [self.owner, self.lease_ms])
        else:

            def body(pipe: Pipeline) -> int:
                if pipe.exists(self.key):
                    pipe.unwatch()
                    return 0
                new = int(pipe.get(self.fence) or 0) + 1
                pipe.multi()
                pipe.set(self.fence, new)
                pipe.set(self.key, f"{self.owner}:{new}", px=self.lease_ms)
                pipe.execute()
                return new

            token = server.transaction([self.key, self.fence], body)
        if token <= 0:
            return False
        self.token = token
        return True

    def renew(self) -> bool:
        """Push the expiry out again; False (and the lease forgotten) when it was lost meanwhile."""
        if self.token is None:
            return False
        server = self._server
        if server.lua:
            ok = server.script(_RENEW, [self.key], [self.value, self.lease_ms]) == 1
        else:

            def body(pipe: Pipeline) -> bool:
                if _text(pipe.get(self.key)) != self.value:
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.pexpire(self.key, self.lease_ms)
                return bool(pipe.execute()[0])

            ok = server.transaction([self.key], body)
        if not ok:
            self.token = None
        return ok

    def remaining_ms(self) -> int:
        """Lease time left for this exact grant in ms; negative when this process does not hold it."""
        if self.token is None:
            return -3
        if self._server.lua:
            return self._server.script(_CHECK, [self.key], [self.value])
        pipe = self.client.pipeline()
        pipe.get(self.key)
        pipe.pttl(self.key)
        value, ttl = pipe.execute()
        return int(ttl) if _text(value) == self.value else -3

    def check(self) -> bool:
        """Still ours, with the same token and enough time left for one write."""
        return self.remaining_ms() > self.safety_ms

    def release(self) -> bool:
        """Give the campaign up at once (a clean exit), only if still ours."""
        if self.token is None:
            return False
        server = self._server
        if server.lua:
            ok = server.script(_RELEASE, [self.key], [self.value]) == 1
        else:

            def body(pipe: Pipeline) -> bool:
                if _text(pipe.get(self.key)) != self.value:
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.delete(self.key)
                return bool(pipe.execute()[0])

            ok = server.transaction([self.key], body)
        self.token = None
        return ok

    def fenced_set(self, key: str, value: str) -> bool:
        """Write ``key`` only while this grant holds the lease; an old token is refused."""
        if self.token is None:
            return False
        server = self._server
        if server.lua:
            return server.script(_FENCED_SET, [self.key, key], [self.value, value]) == 1

        def body(pipe: Pipeline) -> bool:
            if _text(pipe.get(self.key)) != self.value:
                pipe.unwatch()
                return False
            pipe.multi()
            pipe.set(key, value)
            pipe.execute()
            return True

        return server.transaction([self.key], body)


# ---------------------------------------------------------------------------------- dialers alive


def heartbeat(client: redis.Redis, owner: str, ttl_s: float, now: float) -> int:
    """Say this dialer is alive for ``ttl_s``; return how many dialers are alive (for fair shares)."""
    now_ms = int(now * 1000)
    pipe = client.pipeline()
    pipe.zremrangebyscore(DIALERS_KEY, "-inf", now_ms)
    pipe.zadd(DIALERS_KEY, {owner: now_ms + int(ttl_s * 1000)})
    pipe.zcard(DIALERS_KEY)
    return int(pipe.execute()[-1])


def leave(client: redis.Redis, owner: str) -> None:
    client.zrem(DIALERS_KEY, owner)


# ---------------------------------------------------------------------------------- the report job


def unleased_campaigns(client: redis.Redis, campaign_ids: Sequence[int]) -> list[int]:
    """Active campaigns that no dialer holds: nobody paces them, so someone should look."""
    if not campaign_ids:
        return []
    values = client.mget([lease_key(cid) for cid in campaign_ids])
    return [cid for cid, value in zip(campaign_ids, values, strict=True) if Holder.parse(value) is None]


def lease_report_job() -> list[int]:
    """RQ job (enqueued by ``dialer scheduler``): record and log the active campaigns nobody paces.

    A campaign can be active with no dialer holding it when every dialer
    process is down or busy with its fair share; the supervisor sees it
    under ``dialer:report:unleased``.
    """
    from sqlalchemy import select

    from campaigns.db import make_engine
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.redis_conn import connect_redis
    from campaigns.settings import get_settings

    settings = get_settings()
    db = make_engine(settings.database_url)
    try:
        with db.connect() as conn:
            active = [int(i) for i in conn.scalars(
                select(Campaign.id).where(Campaign.status == CampaignStatus.ACTIVE.value).order_by(Campaign.id)
            )]
    finally:
        db.dispose()
    client = connect_redis(settings.redis_url)
    nobody = unleased_campaigns(client, active)
    client.hset(UNLEASED_REPORT_KEY, mapping={
        "at": datetime.now(UTC).isoformat(),
        "active": ",".join(map(str, active)),
        "unleased": ",".join(map(str, nobody)),
    })
    if nobody:
        log.warning("active campaigns no dialer holds: %s", nobody)
    return nobody
