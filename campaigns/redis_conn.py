"""Redis connections, real or the in-process stand-in.

``memory://`` lets a newcomer run the whole dialer in one process with no
server: every client made for the same ``memory://`` URL in a process shares
one fake server, so the engine, the RQ queue and the worker see the same keys.
Nothing connects until the first command is sent.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import fakeredis
    import redis

MEMORY_SCHEME = "memory://"

_fake_servers: dict[str, fakeredis.FakeServer] = {}
_fake_servers_lock = threading.Lock()


def connect_redis(url: str) -> redis.Redis:
    """A client for ``url``: a fake server for ``memory://[name]``, else redis-py.

    Responses stay as bytes because RQ needs ``decode_responses=False``.
    """
    if url.startswith(MEMORY_SCHEME):
        import fakeredis

        name = url[len(MEMORY_SCHEME) :]
        with _fake_servers_lock:
            server = _fake_servers.get(name)
            if server is None:
                server = _fake_servers[name] = fakeredis.FakeServer()
        return fakeredis.FakeStrictRedis(server=server)

    import redis

    # A black-holed host should fail a health check, not hang it; the URL's
    # own ``socket_connect_timeout`` still wins.
    return redis.Redis.from_url(url, socket_connect_timeout=5)
