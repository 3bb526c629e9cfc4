"""API clients and the engine's store, built from settings once per worker process.

Every process draws from the same Redis token buckets, so the rate budget is shared per credential, but
each process keeps its own HTTP clients (connections must not cross a fork): a pool of client sets,
built on first use and again after a fork or a settings reset.

A task is handed one set for itself (`process_clients`, the first time it asks) and gives it back when it
ends (Celery's ``task_postrun``), so the next task reuses the set and its open connections: building a
pair of httpx clients costs ~50 ms of CPU each, and a gevent worker starts a greenlet (which has a
`threading.local` of its own) per task. A set's call counter (`calls`, the ``api_calls`` of an attempt,
`tasks.base`) starts from zero when it is handed out, and no two running tasks (greenlets or threads)
ever hold the same set, so calls are never mixed. Code that is not a task (the CLI, a test, the start-up
sync's threads) holds its thread's set until the thread ends, as before.
"""

from __future__ import annotations

import os
import threading

from celery.signals import task_postrun

from clients.economic import EconomicClient
from clients.rackbeat import RackbeatClient
from clients.ratelimit import RedisTokenBucket
from tasks.redis import get_redis
from tasks.settings import Settings, get_settings
from tasks.sync.ports import ApiClients

_local = threading.local()  # the set this thread (greenlet, under gevent) holds: (pid, settings, clients)
_lock = threading.Lock()
_free: list[ApiClients] = []  # sets given back, for _free_owner's process and settings
_free_owner: tuple[int, Settings | None] = (0, None)
MAX_FREE = 64  # sets kept for reuse beyond this are closed (a worker runs at most its concurrency at once)


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
    """The set this thread (task) holds, if it holds one for this process and settings, else None; never
    builds or hands out one, so it costs nothing and cannot fail."""
    held: tuple[int, Settings, ApiClients] | None = getattr(_local, "held", None)
    if held is None or held[0] != os.getpid() or held[1] is not get_settings():
        return None
    return held[2]


def process_clients() -> ApiClients:
    """The set this thread (task) holds: handed out from the process's pool on first use (its call counter
    from zero), built when none is free."""
    settings = get_settings()
    pid = os.getpid()
    held: tuple[int, Settings, ApiClients] | None = getattr(_local, "held", None)
    if held is not None and held[0] == pid and held[1] is settings:
        return held[2]
    if held is not None and held[0] == pid:  # built for other settings: not reused
        _close(held[2])
    clients = _take(pid, settings)
    _local.held = (pid, settings, clients)
    return clients


def release_clients() -> None:
    """Give the set this thread holds back to the process's pool (the end of a task); nothing if none."""
    held: tuple[int, Settings, ApiClients] | None = getattr(_local, "held", None)
    if held is None:
        return
    _local.held = None
    pid, settings, clients = held
    if pid != os.getpid():  # built before a fork: the parent's connections, never used here
        return
    with _lock:
        if _free_owner == (pid, settings) and len(_free) < MAX_FREE:
            _free.append(clients)
            return
    _close(clients)


def _take(pid: int, settings: Settings) -> ApiClients:
    global _free_owner
    stale: list[ApiClients] = []
    clients: ApiClients | None = None
    with _lock:
        if _free_owner[0] != pid:  # a forked child: the parent's sets are dropped, never closed or reused
            _free.clear()
            _free_owner = (pid, settings)
        elif _free_owner[1] is not settings:
            stale, _free[:] = list(_free), []
            _free_owner = (pid, settings)
        if _free:
            clients = _free.pop()
    for old in stale:
        _close(old)
    if clients is None:
        return build_clients(settings)
    clients.rackbeat.calls.clear()
    clients.economic.calls.clear()
    return clients


@task_postrun.connect(weak=False, dispatch_uid="rbsync-release-clients")
def _release_after_task(**_: object) -> None:
    release_clients()


def _close(clients: ApiClients) -> None:
    clients.rackbeat.close()
    clients.economic.close()
