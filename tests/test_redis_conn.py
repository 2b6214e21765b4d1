from __future__ import annotations

import uuid

import pytest
import redis

from campaigns.redis_conn import connect_redis


def test_memory_clients_in_one_process_share_one_stand_in_server():
    key = f"test:{uuid.uuid4().hex}"
    writer, reader = connect_redis("memory://"), connect_redis("memory://")

    writer.set(key, "1")

    assert reader.get(key) == b"1"
    writer.delete(key)


def test_a_named_memory_server_is_kept_apart_from_the_default_one():
    key = f"test:{uuid.uuid4().hex}"
    connect_redis("memory://isolated-test").set(key, "1")

    assert connect_redis("memory://").get(key) is None
    assert connect_redis("memory://isolated-test").get(key) == b"1"


def test_a_real_redis_client_is_made_without_connecting():
    # Port 1 has no server: building the client must still succeed, failing only on use.
    client = connect_redis("redis://127.0.0.1:1/0")

    assert client.connection_pool.connection_kwargs["port"] == 1
    with pytest.raises(redis.exceptions.ConnectionError):
        client.ping()


@pytest.mark.integration
def test_a_real_redis_server_answers_through_connect_redis(redis_url):
    key = f"test:{uuid.uuid4().hex}"
    client = connect_redis(redis_url)
    try:
        assert client.ping()
        client.set(key, "value", ex=60)
        assert connect_redis(redis_url).get(key) == b"value"
    finally:
        client.delete(key)
