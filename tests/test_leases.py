"""Campaign leases: one holder at a time, renewed while alive, lost on expiry, fenced against old holders.

Every test runs twice: on the in-process stand-in (WATCH transactions) and on
the real Redis server (the Lua scripts), so both code paths keep one meaning.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from campaigns.leases import (
    UNLEASED_REPORT_KEY,
    CampaignLease,
    Holder,
    current_holder,
    fence_key,
    heartbeat,
    lease_key,
    leave,
    unleased_campaigns,
)
from campaigns.redis_conn import connect_redis


@pytest.fixture(params=["memory", pytest.param("server", marks=pytest.mark.integration)])
def client(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    if request.param == "memory":
        yield connect_redis(f"memory://leases-{uuid.uuid4().hex}")
        return
    url = request.getfixturevalue("redis_url")
    real = connect_redis(url)
    yield real
    real.close()


@pytest.fixture
def campaign_id(client: redis.Redis) -> Iterator[int]:
    """A campaign id nobody else on a shared server uses; its keys are removed afterwards."""
    cid = int(uuid.uuid4().int % 10**12) + 10**12
    yield cid
    client.delete(lease_key(cid), fence_key(cid), f"dialer:bus:{cid}:events_offset")


def test_only_one_process_acquires_a_free_campaign_and_its_token_grows_with_each_grant(
    client: redis.Redis, campaign_id: int
) -> None:
    first = CampaignLease(client, campaign_id, "dialer-a", 5.0)
    second = CampaignLease(client, campaign_id, "dialer-b", 5.0)
    assert first.acquire()
    assert not second.acquire()
    assert current_holder(client, campaign_id) == Holder("dialer-a", first.token or 0)
    token = first.token
    assert first.release()
    assert second.acquire()
    assert second.token is not None and token is not None and second.token > token


def test_a_renewed_lease_outlives_its_first_term_and_an_unrenewed_one_expires(
    client: redis.Redis, campaign_id: int
) -> None:
    lease = CampaignLease(client, campaign_id, "dialer-a", 0.4)
    assert lease.acquire()
    for _ in range(4):
        time.sleep(0.2)
        assert lease.renew()
    assert lease.remaining_ms() > 0
    time.sleep(0.6)
    assert not lease.check()
    assert not lease.renew()
    assert not lease.held


def test_a_thief_takes_an_expired_lease_and_the_old_holder_can_no_longer_write(
    client: redis.Redis, campaign_id: int
) -> None:
    old = CampaignLease(client, campaign_id, "dialer-a", 0.3)
    assert old.acquire()
    offset_key = f"dialer:bus:{campaign_id}:events_offset"
    assert old.fenced_set(offset_key, "1-0")
    time.sleep(0.45)  # the old holder froze past its lease
    new = CampaignLease(client, campaign_id, "dialer-b", 5.0)
    assert new.acquire()
    assert new.fenced_set(offset_key, "7-0")
    # The old holder wakes up believing it holds the campaign: every fenced operation is refused.
    assert old.held
    assert not old.check()
    assert not old.fenced_set(offset_key, "2-0")
    assert not old.renew()
    assert client.get(offset_key) == b"7-0"
    assert new.check()


def test_the_same_owner_name_with_an_old_token_is_refused(client: redis.Redis, campaign_id: int) -> None:
    """The token, not the name, is what fences: a restarted process reusing a name gains nothing."""
    first = CampaignLease(client, campaign_id, "dialer-a", 0.3)
    assert first.acquire()
    stale_token = first.token
    time.sleep(0.45)
    again = CampaignLease(client, campaign_id, "dialer-a", 5.0)
    assert again.acquire()
    stale = CampaignLease(client, campaign_id, "dialer-a", 5.0)
    stale.token = stale_token
    assert not stale.check()
    assert not stale.fenced_set(f"dialer:bus:{campaign_id}:events_offset", "3-0")
    assert not stale.release()
    assert again.check()


def test_a_check_demands_enough_lease_left_for_one_write(client: redis.Redis, campaign_id: int) -> None:
    lease = CampaignLease(client, campaign_id, "dialer-a", 1.0, safety_s=0.8)
    assert lease.acquire()
    assert lease.check()
    time.sleep(0.3)
    assert lease.remaining_ms() > 0
    assert not lease.check()


def test_dialers_alive_are_counted_and_leave_when_they_stop_or_fall_silent(client: redis.Redis) -> None:
    a, b = f"dialer-{uuid.uuid4().hex}", f"dialer-{uuid.uuid4().hex}"
    now = time.time()
    try:
        before = heartbeat(client, a, 5.0, now)
        assert heartbeat(client, b, 0.1, now) == before + 1
        assert heartbeat(client, a, 5.0, now + 1.0) == before
    finally:
        leave(client, a)
        leave(client, b)


def test_the_report_names_active_campaigns_nobody_holds(client: redis.Redis, campaign_id: int) -> None:
    lease = CampaignLease(client, campaign_id, "dialer-a", 5.0)
    other = campaign_id + 1
    assert lease.acquire()
    assert unleased_campaigns(client, [campaign_id, other]) == [other]
    assert UNLEASED_REPORT_KEY.startswith("dialer:")
