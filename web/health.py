"""GET /healthz: can we reach our store and the broker? Two PINGs, no API calls, a short timeout each.

A load balancer or compose healthcheck polls this often, so it must stay cheap; it answers 503 naming what
failed (without connection strings, which may carry a password).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

log = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 2.0

Check = Callable[[], None]


def ping_client(client: redis.Redis) -> Check:
    def check() -> None:
        if not client.ping():
            raise ConnectionError("no PONG")

    return check


def broker_ping(broker_url: str, timeout: float = PING_TIMEOUT_SECONDS) -> Check:
    """A PING on the broker. For a Redis broker that is a Redis PING; any other transport gets a kombu
    connection check (open and close), which is what "the broker answers" means there."""
    if broker_url.split("://", 1)[0] in {"redis", "rediss", "unix"}:
        return ping_client(redis_for_health(broker_url, timeout))

    def check() -> None:
        from kombu import Connection

        with Connection(broker_url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1)

    return check


def redis_for_health(url: str, timeout: float = PING_TIMEOUT_SECONDS) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def describe_failure(exc: BaseException) -> str:
    """The exception class and message; redis-py messages name host:port only, never the URL's password."""
    return f"error: {type(exc).__name__}: {exc}"[:300]


def run_check(name: str, check: Check) -> str:
    try:
        check()
    except Exception as exc:
        log.warning("health check %s failed: %s", name, describe_failure(exc))
        return describe_failure(exc)
    return "ok"


class HealthEndpoint:
    def __init__(self, checks: dict[str, Check]) -> None:
        self._checks = checks

    async def endpoint(self, request: Request) -> JSONResponse:
        names = list(self._checks)
        results = await asyncio.gather(
            *(run_in_threadpool(run_check, name, self._checks[name]) for name in names)
        )
        report = dict(zip(names, results, strict=True))
        healthy = all(value == "ok" for value in report.values())
        return JSONResponse(report, status_code=200 if healthy else 503)
