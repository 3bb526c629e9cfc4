"""The one way to reach our Redis store, and the key namespace every part writes under.

All keys are ``rbsync:{connection_id}:...`` so one Redis can serve several deployments (and test runs)
without them seeing each other's data.
"""

from __future__ import annotations

import threading

import redis

from tasks.settings import get_settings

KEY_ROOT = "rbsync"
# A Redis that stops answering without closing the connection fails a call instead of hanging a worker;
# above the longest blocking read we make (events.follow_events blocks for 1 s).
SOCKET_TIMEOUT_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 5

_pools: dict[str, redis.ConnectionPool] = {}
_pools_lock = threading.Lock()


def get_redis(url: str | None = None) -> redis.Redis:
    """A client on a shared connection pool for ``url`` (default: the configured ``redis_url``).

    Strings come back decoded. redis-py pools notice a fork and reconnect, so this is safe in prefork
    pool children.
    """
    url = url or get_settings().redis_url
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            pool = redis.ConnectionPool.from_url(
                url,
                decode_responses=True,
                health_check_interval=30,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            )
            _pools[url] = pool
    return redis.Redis(connection_pool=pool)


def close_pools() -> None:
    """Disconnect and forget every pool (tests that change the Redis URL, clean shutdown)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.disconnect()
        _pools.clear()


def namespace_prefix(connection_id: str | None = None) -> str:
    """``rbsync:{connection_id}:``, the prefix of every key of one connection."""
    return f"{KEY_ROOT}:{connection_id or get_settings().connection_id}:"


def key(*parts: object, connection_id: str | None = None) -> str:
    """``rbsync:{connection_id}:part1:part2...``; parts are str()-ed, the id defaults to the setting."""
    if not parts:
        raise ValueError("key() needs at least one part")
    return namespace_prefix(connection_id) + ":".join(str(part) for part in parts)
