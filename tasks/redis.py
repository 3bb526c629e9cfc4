"""The one way to reach our Redis store, and the key namespace every part writes under.

All keys are ``rbsync:{connection_id}:...`` so one Redis can serve several deployments (and test runs)
without them seeing each other's data.

Every client we build decodes replies (``decode_responses=True``), but redis-py types a string reply as
``bytes | str`` whatever the client. ``text``, ``texts``, ``text_map``, ``stream_entries`` and
``read_entries`` state, and check, that a reply is decoded (``bytes`` is a ``TypeError``); ``field_map``
gives a ``str`` mapping the type redis-py's ``hset`` and ``xadd`` take. The stores read their replies
through them instead of casting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import overload

import redis
from redis.typing import EncodableT, XReadResponse

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


# --- typed replies ------------------------------------------------------------------------------------


def _decoded(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(
        f"expected a decoded Redis reply (str), got {type(value).__name__}: "
        "the client must be built with decode_responses=True (get_redis does)"
    )


@overload
def text(value: bytes | str) -> str: ...
@overload
def text(value: bytes | str | None) -> str | None: ...
def text(value: bytes | str | None) -> str | None:
    """A string reply of one of our (decoding) clients as the ``str`` it is; None stays None.

    A ``bytes`` value means a client built without ``decode_responses``: a ``TypeError``, not a
    silent mismatch.
    """
    return None if value is None else _decoded(value)


def texts(values: Iterable[object]) -> list[str]:
    """The members of a list or set reply (``SMEMBERS``, ``ZRANGEBYSCORE`` without scores), as ``str``."""
    return [_decoded(value) for value in values]


def text_map(values: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash reply (``HGETALL``) or stream entry's fields as ``{str: str}``."""
    return {_decoded(name): _decoded(value) for name, value in values.items()}


def stream_entries(
    rows: Iterable[tuple[bytes | str | None, Mapping[bytes | str, bytes | str] | None]] | None,
) -> list[tuple[str, dict[str, str]]]:
    """``(id, fields)`` of each entry of an ``XRANGE``/``XREVRANGE`` reply or of one stream of ``XREAD``."""
    return [(_decoded(entry_id), text_map(fields or {})) for entry_id, fields in rows or ()]


def read_entries(reply: XReadResponse) -> list[tuple[str, dict[str, str]]]:
    """``(id, fields)`` of the entries of an ``XREAD`` reply, stream after stream.

    Our clients speak RESP2, whose reply is ``[[stream name, [(id, fields), ...]], ...]``; the RESP3
    map form is refused like an undecoded reply.
    """
    if isinstance(reply, dict):
        raise TypeError("expected a RESP2 XREAD reply (a list); the client must not use protocol=3")
    return [entry for _name, rows in reply for entry in stream_entries(rows)]


def field_map(values: Mapping[str, str]) -> dict[EncodableT, EncodableT]:
    """``values`` as the mapping ``hset(mapping=...)`` and ``xadd`` are typed to take (redis-py's
    parameter is a ``dict`` over its own key union, which a ``dict[str, str]`` is not)."""
    return dict(values.items())
