"""The Celery application: ``celery -A tasks worker`` and ``celery -A tasks beat``.

Configuration comes from :mod:`tasks.settings` and is applied lazily (the first time Celery reads its
configuration), so importing ``tasks`` costs nothing and needs no settings; a process that *uses* the app
without valid settings stops with the one-line settings error. Tests re-apply it with :func:`configure`.

The reliability choices (see docs/ARCHITECTURE.md and the Celery operations notes):
- late acks + prefetch 1 + requeue on a lost worker: a crash never loses a transfer; ``SyncTask`` caps
  the redeliveries so a task that kills its worker cannot loop forever;
- the broker visibility timeout exceeds the longest retry countdown plus the hard time limit, so a
  message held by a live worker (running or waiting for its ETA) is never handed to a second one;
- running late-ack tasks are left running when the broker connection drops (cancelling one lost it; see
  ``worker_cancel_long_running_tasks_on_connection_loss``), and a message put back gets a delivery tag of
  its own (tasks/kombu_fixes.py), so a delivery's late ack never acts on the next delivery's entry;
- JSON only: task arguments are data (kind, key, ids), never pickles or secrets.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from celery import Celery
from celery.schedules import crontab
from kombu import Exchange, Queue

from tasks.redis import CONNECT_TIMEOUT_SECONDS, SOCKET_TIMEOUT_SECONDS
from tasks.settings import StoreSettings, load_settings_or_exit, load_store_settings_or_exit
from tasks.stock_value.periods import crontab_fields

QUEUES = ("transfers", "polls", "bulk", "dlq")

# Connections one worker process may open to the broker (kombu's default is 10): above the greenlets of a
# gevent transfers worker (tasks/harness/workers.py), each of which acks its own message. A ceiling, not
# a pool opened up front.
BROKER_MAX_CONNECTIONS = 500

# Task names decide their queue; keep new tasks inside these name families (first match wins).
TASK_ROUTES: dict[str, dict[str, str]] = {
    "rbsync.retry_dead_letter": {"queue": "dlq"},
    "rbsync.dlq*": {"queue": "dlq"},
    "rbsync.poll*": {"queue": "polls"},
    "rbsync.bulk*": {"queue": "bulk"},
    "rbsync.startup*": {"queue": "bulk"},
    "rbsync.stock_value_schedule": {"queue": "polls"},
    "rbsync.*": {"queue": "transfers"},
}

# Task modules of the service. One is included when its file exists; an existing module that fails to
# import stops the worker loudly (Celery imports ``include`` at start-up).
TASK_MODULES = (
    "tasks.transfer",
    "tasks.dlq_tasks",
    "tasks.polls",
    "tasks.imports",
    "tasks.economic_polls",
    "tasks.startup_tasks",
    "tasks.stock_value.jobs",
)


# Flower's task list (``celery -A tasks flower``), passed by every start of Flower: tasks/harness/stack.py,
# docker-compose.yml (its copy checked by tests/tasks/test_worker_flower.py). A transfer task's arguments are
# exactly ``(kind, key)``, so ``args`` is the record; ``exception`` is a dead-lettered failure's reason and
# entry, and ``result`` a transfer's outcome or, on a failed task whose dead letter was closed since,
# ``resolved: ...`` (tasks/base.py). Flower's default shows neither args nor exception nor result.
FLOWER_TASKS_COLUMNS = (
    "name",
    "args",
    "state",
    "exception",
    "result",
    "retries",
    "received",
    "runtime",
    "worker",
    "uuid",
)


def flower_options() -> list[str]:
    """The Flower command-line options of this service (after ``celery -A tasks flower``)."""
    return [f"--tasks_columns={','.join(FLOWER_TASKS_COLUMNS)}"]


def beat_schedule(settings: StoreSettings) -> dict[str, dict[str, Any]]:
    """Periodic tasks, run by RedBeat (one active beat per connection thanks to its Redis lock).

    Each expires after its own interval: a poll that waited that long behind a backlog is superseded by
    the next one."""
    schedule: dict[str, dict[str, Any]] = {}
    for name, task, interval in (
        ("poll-rackbeat-changes", "rbsync.poll_rackbeat_changes", settings.poll_interval_seconds),
        (
            "poll-rackbeat-deletions",
            "rbsync.poll_rackbeat_deletions",
            settings.deletion_sweep_interval_seconds,
        ),
        # e-conomic -> Rackbeat (tasks/economic_polls.py): orders, the master data e-conomic owns (the
        # master settings are the worker's: with none owned the poll costs nothing), projects when on.
        ("poll-economic-orders", "rbsync.poll_economic_orders", settings.economic_orders_poll_seconds),
        ("poll-economic-master", "rbsync.poll_economic_master", settings.economic_master_poll_seconds),
        (
            "poll-economic-projects",
            "rbsync.poll_economic_projects",
            settings.economic_projects_poll_seconds if settings.project_management_enabled else 0,
        ),
    ):
        if interval > 0:
            schedule[name] = {"task": task, "schedule": float(interval), "options": {"expires": interval}}
    if settings.stock_value_enabled:
        # At 23:59 in the app's time zone (the company's): a crontab, so RedBeat fires it once at start-up
        # when it was due while beat was down (the missed run, tasks/stock_value/jobs.py).
        schedule["stock-value"] = {
            "task": "rbsync.stock_value_schedule",
            "schedule": crontab(**crontab_fields(settings.stock_value_frequency)),
        }
    return schedule


_applied_settings: StoreSettings | None = None


def present_task_modules() -> list[str]:
    """The task modules whose source exists in this checkout."""
    return [name for name in TASK_MODULES if importlib.util.find_spec(name) is not None]


def queue_for(task_name: str) -> str:
    """The queue a task name is routed to (the default queue when no route matches)."""
    for pattern, route in TASK_ROUTES.items():
        if fnmatch.fnmatchcase(task_name, pattern):
            return route["queue"]
    return QUEUES[0]


UNACKED_MUTEX_EXPIRE_SECONDS = 15


def restore_interval(visibility_timeout: int) -> int:
    """Seconds between kombu's scans for unacked messages past the visibility timeout: a tenth of it,
    between 1 and 10 s."""
    return max(1, min(10, visibility_timeout // 10))


def redbeat_key_prefix(settings: StoreSettings) -> str:
    return f"rbsync:{settings.connection_id}:redbeat:"


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its user and password, and those as redis-py client options (decoded as redis-py
    decodes them from a URL)."""
    parts = urlsplit(url)
    credentials = {
        name: unquote(value)
        for name, value in (("username", parts.username), ("password", parts.password))
        if value
    }
    if "@" not in parts.netloc:
        return url, credentials
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), credentials


def build_config(settings: StoreSettings) -> dict[str, Any]:
    """Celery configuration for these settings (pure: no connection is made)."""
    visibility = settings.effective_visibility_timeout
    transport: dict[str, Any] = {
        "visibility_timeout": visibility,
        # kombu scans for unacked messages past the visibility timeout every interval x throttle seconds
        # (100 s by default): scan every few seconds instead (one ZRANGE), so a message whose worker lost
        # Redis comes back soon after its timeout rather than up to 100 s later.
        "unacked_restore_interval": restore_interval(visibility),
        "unacked_restore_throttle": 1,
        # The scan runs under a Redis mutex that expires after 5 minutes by default: a worker that lost
        # Redis mid-scan could not release it, and no worker restored anything for those 5 minutes (the
        # invoice chaos run with Redis restarts: messages left unacked long past their timeout). Each
        # restore is its own Redis transaction, so two scans at once are safe; the mutex only spares work.
        "unacked_mutex_expire": UNACKED_MUTEX_EXPIRE_SECONDS,
        # A Redis that vanishes without closing the connection must not hang a publish forever.
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        # kombu's Redis channel allows 10 connections by default; a gevent worker acks (and publishes
        # retries) from up to WORKER_GREENLETS transfers at once, and past 10 an ack failed with "Too many
        # connections": the message stayed unacked until the visibility timeout and ran again (issue 14).
        "max_connections": BROKER_MAX_CONNECTIONS,
    }
    if settings.broker_key_prefix:
        transport["global_keyprefix"] = settings.broker_key_prefix
    # `celery inspect conf`, Flower's worker Config tab and /api/workers show this configuration through
    # Celery's filter (celery.app.utils.filter_hidden_settings), which masks the password of broker_url and
    # *backend* URLs and any setting named like a secret (PASS, KEY, TOKEN...), also inside a mapping, but
    # shows every other URL as it is. RedBeat's URL therefore goes without its credentials, which travel as
    # redis-py options in redbeat_redis_options (RedBeat passes them to the client; Celery masks
    # "password"). A new setting holding a URL must do the same (tests/ops/test_config_masking.py).
    redbeat_url, redbeat_credentials = split_credentials(settings.redis_url)
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": dict(transport),
        "broker_connection_retry_on_startup": True,
        "result_backend": settings.redis_url,
        "result_backend_transport_options": dict(transport),
        "redis_socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "redis_socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "result_expires": 86400,
        "result_extended": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # Crontabs (the stock value's 23:59) are read in this zone; everything else is kept in UTC.
        "timezone": settings.company_timezone,
        "enable_utc": True,
        "task_queues": [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        "task_default_queue": QUEUES[0],
        "task_routes": dict(TASK_ROUTES),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # Off, against Celery's planned default: cancelling a late-ack transfer at a broker connection loss
        # interrupted it mid-way (inside its retry's publish, before it could hand the message back), and
        # Celery then acknowledged the message once Redis was back: the record was lost (the redis-kill
        # chaos scenario lost one in three runs). Left running, the transfer finishes or hands its message
        # back, and a message it could not acknowledge is redelivered: a transfer may run twice, which
        # bindings, record locks and idempotency keys make harmless. Losing one is not.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_soft_shutdown_timeout": settings.worker_soft_shutdown_seconds,
        "worker_enable_soft_shutdown_on_idle": settings.worker_soft_shutdown_seconds > 0,
        "task_time_limit": settings.transfer_time_limit_seconds,
        "task_soft_time_limit": settings.soft_time_limit_seconds,
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "beat_scheduler": "redbeat.RedBeatScheduler",
        "beat_schedule": beat_schedule(settings),
        "beat_max_loop_interval": settings.beat_max_loop_interval_seconds,
        "redbeat_redis_url": redbeat_url,
        "redbeat_redis_options": redbeat_credentials,
        "redbeat_key_prefix": redbeat_key_prefix(settings),
        "redbeat_lock_key": redbeat_key_prefix(settings) + "lock",
        "redbeat_lock_timeout": settings.redbeat_lock_timeout_seconds,
    }


def configure(target: Celery, settings: StoreSettings) -> None:
    """(Re)apply ``settings`` to ``target``.

    The app's connection and producer pools (and its result backend) are only *forgotten*, never
    closed: they live in kombu's global registries keyed by broker URL and transport options, so closing
    one would leave a closed pool there for the next app (or the same app) with the same broker settings
    to pick up. Forgotten, the next send looks the pool up again, by the new settings.
    """
    global _applied_settings
    if target is app:
        _applied_settings = settings
    target.conf.update(build_config(settings))
    target._pool = None
    # The result backend is cached (per thread, or once when thread-safe) with the URL it was built for.
    target._backend_cache = None
    if hasattr(target._local, "backend"):
        del target._local.backend
    if "amqp" in target.__dict__:
        target.amqp._producer_pool = None


# Processes that make no API call: with RBSYNC_PROCESS_ROLE set to one of these they load only the store
# settings, so their containers are given no API token (docker-compose.yml). A worker never is one.
TOKENLESS_ROLES = frozenset({"beat", "flower"})
PROCESS_ROLE_ENV = "RBSYNC_PROCESS_ROLE"


def _lazy_config() -> dict[str, Any]:
    if _applied_settings is not None:
        return build_config(_applied_settings)
    if os.environ.get(PROCESS_ROLE_ENV, "").strip().lower() in TOKENLESS_ROLES:
        return build_config(load_store_settings_or_exit())
    return build_config(load_settings_or_exit())


app = Celery("rbsync", include=present_task_modules())
app.add_defaults(_lazy_config)


# --- The soft time limit on the gevent pool (issue 14, tasks/harness/workers.py) ---------------------------
# Celery's gevent pool enforces only the hard time limit (celery/concurrency/gevent.py: a gevent.Timeout
# around the task; the soft limit it is given is ignored), so a transfer that hits it is dead-lettered
# ("timeout") where a prefork one would first get SoftTimeLimitExceeded and be retried (tasks/base.py
# RETRYABLE). On a gevent worker each task therefore arms a gevent.Timeout of its own at the soft limit,
# raising billiard's SoftTimeLimitExceeded in the task's greenlet, as prefork's signal does in its process;
# it is disarmed when the task returns. Like the hard limit, it fires only when the task yields to the hub
# (any I/O: every API and Redis call): nothing in a transfer computes for seconds without I/O.
_green_soft_limits: dict[int, Any] = {}


def green_pool_active() -> bool:
    """True in a worker started with ``--pool=gevent`` (Celery monkey-patches the process for it first)."""
    import sys

    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey is not None and monkey.is_module_patched("socket"))


def soft_time_limit_of(task: Any) -> float | None:
    """The soft limit Celery would give this task: the message's, the task's own, or the app's."""
    limits = getattr(task.request, "timelimit", None) or (None, None)
    soft = limits[1] if len(limits) > 1 else None
    return soft or task.soft_time_limit or task.app.conf.task_soft_time_limit or None


def _arm_green_soft_limit(task: Any = None, **_: Any) -> None:
    if task is None or not green_pool_active():
        return
    seconds = soft_time_limit_of(task)
    if not seconds:
        return
    import gevent  # type: ignore[import-untyped]
    from billiard.exceptions import SoftTimeLimitExceeded

    timer = gevent.Timeout(seconds, SoftTimeLimitExceeded(seconds))
    timer.start()
    _green_soft_limits[id(gevent.getcurrent())] = timer


def _disarm_green_soft_limit(**_: Any) -> None:
    if not _green_soft_limits:
        return
    import gevent

    timer = _green_soft_limits.pop(id(gevent.getcurrent()), None)
    if timer is not None:
        timer.close()


def _connect_green_soft_limit() -> None:
    from celery import signals

    signals.task_prerun.connect(_arm_green_soft_limit, weak=False, dispatch_uid="rbsync-green-soft-limit-arm")
    signals.task_postrun.connect(
        _disarm_green_soft_limit, weak=False, dispatch_uid="rbsync-green-soft-limit-disarm"
    )


_connect_green_soft_limit()


def _install_broker_guards() -> None:
    """Corrections to kombu 5.7 / Celery 5.7 that the chaos runs with Redis restarts found (each module
    says what and why): a restored message's fresh delivery tag and a closed channel's connection error,
    wherever the app is imported (every process that can hand a message back); in workers, the prefork
    pool's guards (a pool process that exited during a reconnect, a soft time limit that arrives after
    its task ended)."""
    from celery import signals

    from tasks.kombu_fixes import (
        closed_connection_is_a_connection_error,
        fresh_tag_on_restore,
        no_silent_drop,
    )
    from tasks.pool_guard import guard_child_tracking, guard_soft_limits

    fresh_tag_on_restore()
    closed_connection_is_a_connection_error()
    no_silent_drop(frozenset(QUEUES))
    guard_soft_limits()
    signals.worker_init.connect(
        lambda **_: guard_child_tracking(), weak=False, dispatch_uid="rbsync-pool-guard"
    )


_install_broker_guards()
