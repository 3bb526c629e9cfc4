"""The start-up sync wired to this process's settings, clients and store (the Celery task and the
command line both run it so)."""

from __future__ import annotations

import threading

from tasks.entities.base import MappingDefaults
from tasks.redis import get_redis
from tasks.settings import Settings
from tasks.startup.runner import RunOptions, StartupRunner
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions


def options_from(
    settings: Settings, *, update_existing: bool = False, lock_wait_seconds: float = 0
) -> RunOptions:
    return RunOptions(
        update_existing=update_existing,
        concurrency=settings.startup_sync_concurrency,
        lock_wait_seconds=lock_wait_seconds,
    )


def build_runner(
    settings: Settings,
    options: RunOptions,
    *,
    task_id: str | None = None,
    stop: threading.Event | None = None,
) -> StartupRunner:
    """A runner on this thread's clients (`process_clients`, shared by the run's threads) and store."""
    from tasks.transfer import build_store  # the transfer tasks' store: the same locks and bindings

    return StartupRunner(
        redis_client=get_redis(),
        connection_id=settings.connection_id,
        clients=process_clients(),
        store=build_store,
        defaults=MappingDefaults.from_settings(settings),
        directions=Directions.of(settings),
        options=options,
        task_id=task_id,
        stop=stop,
    )
