"""API clients and the engine's store, built from settings once per worker process.

Each prefork child builds its own HTTP clients (connections must not cross a fork) on first use, but
every process draws from the same Redis token buckets, so the rate budget is shared per credential.
Clients are also kept per thread, so a threads pool never mixes two transfers' call counts.
"""

from __future__ import annotations

import os
import threading

from clients.economic import EconomicClient
from clients.rackbeat import RackbeatClient
from clients.ratelimit import RedisTokenBucket
from tasks.redis import get_redis
from tasks.settings import Settings, get_settings
from tasks.sync.ports import ApiClients

_local = threading.local()


def usable_budget(published: int, headroom: float) -> int:
    """The calls per window we allow ourselves out of an API's published budget."""
    return max(1, int(published * (1 - headroom)))


def build_clients(settings: Settings) -> ApiClients:
    """Fresh clients for these settings, each metered by the shared bucket of its credential."""
    redis = get_redis(settings.redis_url)
    rackbeat_bucket = RedisTokenBucket(
        redis,
        "rackbeat",
        settings.rackbeat_token,
        capacity=usable_budget(settings.rackbeat_requests_per_minute, settings.rate_limit_headroom),
        window_seconds=60,
        namespace=settings.connection_id,
    )
    economic_bucket = RedisTokenBucket(
        redis,
        "economic",
        settings.economic_agreement_grant_token,
        capacity=usable_budget(settings.economic_bucket_size, settings.rate_limit_headroom),
        window_seconds=settings.economic_bucket_window_seconds,
        namespace=settings.connection_id,
    )
    return ApiClients(
        rackbeat=RackbeatClient(
            settings.rackbeat_base_url,
            settings.rackbeat_token,
            limiter=rackbeat_bucket,
            timeout=settings.http_timeout_seconds,
            call_retries=settings.http_call_retries,
        ),
        economic=EconomicClient(
            settings.economic_base_url,
            settings.economic_openapi_base_url,
            settings.economic_app_secret_token,
            settings.economic_agreement_grant_token,
            limiter=economic_bucket,
            timeout=settings.http_timeout_seconds,
            call_retries=settings.http_call_retries,
        ),
    )


def cached_clients() -> ApiClients | None:
    """This process's clients if they are built already (for this settings object), else None; never
    builds them, so it costs nothing and cannot fail."""
    settings = get_settings()
    cached: tuple[int, Settings, ApiClients] | None = getattr(_local, "cached", None)
    if cached is None or cached[0] != os.getpid() or cached[1] is not settings:
        return None
    return cached[2]


def process_clients() -> ApiClients:
    """This process's clients, built on first use (again after a fork or a settings reset)."""
    settings = get_settings()
    cached: tuple[int, Settings, ApiClients] | None = getattr(_local, "cached", None)
    if cached is None or cached[0] != os.getpid() or cached[1] is not settings:
        if cached is not None and cached[0] == os.getpid():
            _close(cached[2])
        cached = _local.cached = (os.getpid(), settings, build_clients(settings))
    return cached[2]


def _close(clients: ApiClients) -> None:
    clients.rackbeat.close()
    clients.economic.close()
