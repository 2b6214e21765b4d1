"""The calls-per-second bucket never lets the dialer processes together past the account's rate."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from campaigns.cps_bucket import CpsBucket
from campaigns.redis_conn import connect_redis


def memory_url() -> str:
    return f"memory://cps-{uuid.uuid4().hex}"


def hammer(buckets: list[CpsBucket], seconds: float) -> tuple[int, float]:
    """Every bucket takes tokens one at a time as fast as it can, each in a thread; (granted, elapsed)."""
    granted = [0] * len(buckets)
    start = time.monotonic()

    def run(index: int) -> None:
        while time.monotonic() - start < seconds:
            granted[index] += buckets[index].acquire(1)
            time.sleep(0.002)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(buckets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(granted), time.monotonic() - start


def test_a_full_bucket_grants_one_seconds_worth_at_once_then_says_when_the_next_token_comes() -> None:
    bucket = CpsBucket(connect_redis(memory_url()), rate=5)

    first = bucket.take(8)
    second = bucket.take(1)

    assert first.granted == 5
    assert second.granted == 0
    assert 0 < second.retry_after_s <= 0.2


def test_the_bucket_refills_at_the_accounts_rate() -> None:
    bucket = CpsBucket(connect_redis(memory_url()), rate=10)
    bucket.acquire(10)
    start = time.monotonic()

    time.sleep(0.35)

    got = bucket.acquire(10)
    assert 3 <= got <= 10 * (time.monotonic() - start) + 1


def test_the_default_rate_is_twilios_one_call_per_second() -> None:
    bucket = CpsBucket(connect_redis(memory_url()))

    assert bucket.rate == 1.0
    assert bucket.acquire(3) == 1
    assert bucket.acquire(1) == 0


def test_two_dialer_processes_on_one_fake_redis_get_at_most_the_limit_per_second_between_them() -> None:
    url = memory_url()
    buckets = [CpsBucket(connect_redis(url), rate=10, name="acct"), CpsBucket(connect_redis(url), rate=10, name="acct")]

    granted, elapsed = hammer(buckets, 1.0)

    assert granted <= 10 + 10 * elapsed + 1  # the full bucket, then the rate
    assert granted >= 15  # and the rate is actually given out


def test_separate_accounts_have_separate_buckets() -> None:
    url = memory_url()
    assert CpsBucket(connect_redis(url), rate=1, name="AC1").acquire(1) == 1
    assert CpsBucket(connect_redis(url), rate=1, name="AC2").acquire(1) == 1


def test_a_rate_or_burst_that_allows_no_call_is_refused() -> None:
    client = connect_redis(memory_url())
    with pytest.raises(ValueError):
        CpsBucket(client, rate=0)
    with pytest.raises(ValueError):
        CpsBucket(client, rate=1, burst=0.5)


@pytest.mark.integration
def test_the_lua_script_on_a_real_redis_shares_the_limit_between_two_clients(redis_url: str) -> None:
    name = f"test-{uuid.uuid4().hex}"
    clients = [redis.Redis.from_url(redis_url), redis.Redis.from_url(redis_url)]
    buckets = [CpsBucket(client, rate=10, name=name) for client in clients]
    try:
        first = buckets[0].take(20)
        assert first.granted == 10
        assert buckets[1].take(1).granted == 0
        assert buckets[0]._lua is True  # the script ran, not the fallback

        time.sleep(0.3)
        granted, elapsed = hammer(buckets, 0.7)
        assert granted <= 10 * (elapsed + 0.3) + 1
        assert clients[0].pttl(buckets[0].key) > 0  # an idle bucket leaves no key behind
    finally:
        clients[0].delete(buckets[0].key)
        for client in clients:
            client.close()
