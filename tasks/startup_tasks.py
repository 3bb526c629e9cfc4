"""The start-up sync as a Celery task: ``rbsync.startup_sync(update_existing=False)`` on the ``bulk`` queue
(`tasks.celery.TASK_ROUTES`: ``rbsync.startup*``), so it shows in Flower and never holds up the real-time
transfers. ``rbsync startup-sync --queue`` sends it and follows its progress from Redis.

- One run at a time: a start while another run holds the lock returns ``{"state": "already running"}``,
  after waiting as long as a dead run's lock can last (a redelivery of this very task after its worker
  died then continues the run from its checkpoints).
- Late ack, requeued when the worker is lost: a SIGKILLed run is started again by the next worker and
  continues where it was. A worker that shuts down (a redeploy) stops a run in its own process (threads
  or gevent pool) at the next document and puts the message back (`Reject(requeue=True)`), so the new
  worker continues it; a prefork child does not hear the shutdown and ends as a lost worker's task does
  (requeued, continued by the next worker).
- A run longer than the broker's visibility timeout is delivered a second time while it runs; that
  delivery finds the run's lock and returns "already running".
- No time limit worth the name: a 100,000-product company takes hours at Rackbeat's budget.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.exceptions import Reject
from celery.signals import worker_shutting_down

from tasks.base import SyncTask
from tasks.celery import app
from tasks.entities.base import MappingDefaults
from tasks.redis import get_redis
from tasks.settings import get_settings
from tasks.startup.importer import StartupImporter
from tasks.startup.index import RackbeatIndex
from tasks.startup.runner import AlreadyRunning
from tasks.startup.state import INTERRUPTED, LOCK_TTL_SECONDS
from tasks.startup.wiring import build_runner, options_from

logger = logging.getLogger(__name__)

STARTUP_TASK_NAME = "rbsync.startup_sync"
STARTUP_IMPORT_TASK_NAME = "rbsync.startup_import_record"
TIME_LIMIT_SECONDS = 14 * 24 * 3600
ALREADY_RUNNING = "already running"

_running: set[threading.Event] = set()
_running_lock = threading.Lock()
_shutting_down = threading.Event()


@worker_shutting_down.connect
def _stop_runs(**_: Any) -> None:
    """A worker going down stops its start-up sync at the next document (checkpoint kept)."""
    _shutting_down.set()
    with _running_lock:
        for stop in _running:
            stop.set()


@app.task(
    bind=True,
    name=STARTUP_TASK_NAME,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=TIME_LIMIT_SECONDS,
    soft_time_limit=TIME_LIMIT_SECONDS - 60,
    ignore_result=False,
)
def startup_sync(self: Any, update_existing: bool = False) -> dict[str, Any]:
    """Copy e-conomic's master data into Rackbeat (or continue the run that stopped); the run's status."""
    settings = get_settings()
    # A redelivery after the worker died finds the dead run's lock until it expires: wait that long.
    options = options_from(settings, update_existing=update_existing, lock_wait_seconds=LOCK_TTL_SECONDS + 5)
    stop = threading.Event()
    with _running_lock:
        _running.add(stop)
    try:
        report = build_runner(settings, options, task_id=self.request.id, stop=stop).run()
    except AlreadyRunning:
        logger.info("start-up sync not started: another run holds the lock")
        return {"state": ALREADY_RUNNING}
    finally:
        with _running_lock:
            _running.discard(stop)
    if report.state == INTERRUPTED and _shutting_down.is_set():
        raise Reject("the worker is shutting down; the start-up sync continues on the next", requeue=True)
    return {
        "state": report.state,
        "run_id": report.run_id,
        "refused": report.refused,
        "error": report.error,
        "kinds": report.status.get("kinds", []),
    }


class StartupImportTask(SyncTask):
    """The import's failure policy (retries, dead letters in Rackbeat's words, superseded on success);
    no pending marker: only a dead letter's retry or an operator queues it."""

    clears_pending = False


@app.task(bind=True, base=StartupImportTask, name=STARTUP_IMPORT_TASK_NAME)
def startup_import_record(
    self: StartupImportTask, kind: str, key: str, update_existing: bool = False
) -> dict[str, Any]:
    """One record as the start-up sync brings it across: what a refused record's dead letter names, so
    `rbsync dlq retry` imports it after the fix whichever side owns the kind (`rbsync.import_record` would
    leave a kind Rackbeat owns alone). It reads the document itself and looks Rackbeat up with the kind's
    `find_existing` (no index outside a run); a success supersedes the record's older dead letters."""
    from tasks.imports import record_import_events
    from tasks.sync.connections import process_clients
    from tasks.sync.direction import Directions
    from tasks.transfer import build_store

    settings = get_settings()
    store = build_store()
    importer = StartupImporter(
        process_clients(),
        store,
        RackbeatIndex(get_redis(), settings.connection_id),
        MappingDefaults.from_settings(settings),
        Directions.of(settings),
        update_existing=update_existing,
    )
    result = importer.transfer(kind, str(key))
    return record_import_events(result, self.request.id, store)
