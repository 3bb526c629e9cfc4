"""The real-time transfer task, Rackbeat -> e-conomic, and the one way to queue it.

`rbsync.export_record(kind, key)` takes only the record's identity: the task fetches the record as it
is when it runs, so a queued transfer never carries stale data, tokens or payloads. The failure policy
(retries, dead letters, redelivery cap, pending-marker clearing, the event of the transfer itself)
lives in `SyncTask`; this module only wires the engine to this process's clients and store.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from celery.signals import worker_init

from tasks.base import SyncTask, failure_details
from tasks.celery import app, queue_for
from tasks.credentials import check_credentials_or_exit
from tasks.deadletter import DeadLetterStore, Failure
from tasks.entities import get_spec
from tasks.entities.base import MappingDefaults
from tasks.errors import SyncError
from tasks.events import record_event
from tasks.redis import get_redis
from tasks.settings import get_settings
from tasks.sync.bindings import BindingStore
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions
from tasks.sync.exporter import Exporter
from tasks.sync.locks import RecordLock, hold_record
from tasks.sync.lookups import LookupCache
from tasks.sync.pending import PendingMarkers, queue_once
from tasks.sync.ports import SyncStore
from tasks.sync.poster import Poster, PostingPolicy
from tasks.sync.readahead import ReadAhead, ReadClock
from tasks.sync.results import TransferResult
from tasks.sync.synchronizer import Synchronizer
from tasks.sync.watchers import WatcherStore

logger = logging.getLogger(__name__)

# How long a transfer waits for a record another worker is exporting (typically a product group many
# products share) before it gives way and is re-queued.
LOCK_WAIT_SECONDS = 5.0
# A lock outlives the task's hard time limit (it is taken after the task started, so it is never older
# than the task), so it only expires by itself when its holder is gone: a killed worker's transfer is
# redelivered, finds the record busy and is re-queued until then, without spending a retry.
LOCK_MARGIN_SECONDS = 5


def build_store() -> SyncStore:
    settings = get_settings()
    client = get_redis()

    def lock(kind: str, key: str) -> AbstractContextManager[RecordLock]:
        return hold_record(
            client,
            kind,
            key,
            ttl_seconds=settings.transfer_time_limit_seconds + LOCK_MARGIN_SECONDS,
            wait_seconds=LOCK_WAIT_SECONDS,
        )

    return SyncStore(
        connection_id=settings.connection_id,
        bindings=BindingStore(client),
        lock=lock,
        watchers=WatcherStore(client),
        enqueue=enqueue_export,
        dead_letter_part=dead_letter_part,
        reads=ReadAhead(
            client,
            min_pending=settings.batch_read_min_pending,
            keep_seconds=settings.batch_read_keep_seconds,
        ),
        lookups=(
            LookupCache(client, ttl_seconds=settings.lookup_cache_seconds)
            if settings.lookup_cache_seconds > 0
            else None
        ),
    )


def dead_letter_part(kind: str, part_key: str, error: SyncError) -> None:
    """A dead letter for a part of a record that could not go along while the record did (a too large
    attachment). Its key names the part (`<record key>:attachment:<id>`), so the record's own success never
    closes it; a retry of it transfers the record again."""
    record_key = part_key.split(":", 1)[0]
    DeadLetterStore(get_redis()).record_failure(
        Failure(
            task_name=export_record.name,
            task_id=str(uuid.uuid4()),
            args=[kind, record_key],
            kwargs={},
            queue=queue_for(export_record.name),
            kind=kind,
            key=part_key,
            classification="permanent",
            **failure_details(error),
        )
    )


def synchronizer_for(kind: str, store: SyncStore) -> Synchronizer:
    """The direction's synchronizer for a kind, wired to this process's clients and settings: documents are
    posted once (`Poster`), master data is exported (`Exporter`)."""
    settings = get_settings()
    clients = process_clients()
    defaults = MappingDefaults.from_settings(settings)
    directions = Directions.of(settings)
    if get_spec(kind).posting is not None:
        return Poster(clients, store, defaults, directions, PostingPolicy.from_settings(settings))
    return Exporter(clients, store, defaults, directions)


def record_dependency_events(result: TransferResult, task_id: str, *, direction: str | None = None) -> None:
    """Dependencies brought across inside this transfer get their own events (the task's own is
    SyncTask's); an import's carry `direction="import"`, an export's no direction field."""
    client = get_redis()
    extra: dict[str, Any] = {"direction": direction} if direction else {}
    for dependency in result.dependencies:
        for done in dependency.all_results():
            record_event(
                client,
                kind=done.kind,
                key=done.key,
                outcome=done.outcome,
                task_id=task_id,
                economic_key=done.economic_key,
                api_calls=done.api_calls,
                via=f"{result.kind}:{result.key}",
                **extra,
            )


class ExportTask(SyncTask):
    clears_pending = True


@app.task(bind=True, base=ExportTask, name="rbsync.export_record")
def export_record(self: ExportTask, kind: str, key: str) -> dict[str, Any]:
    """Bring e-conomic in step with one Rackbeat record; the result is the transfer's event fields."""
    store = build_store()
    read_at = datetime.now(UTC)  # before the read: what we read is at least this recent
    result = synchronizer_for(kind, store).transfer(kind, key)
    # The polls (tasks.polls) compare Rackbeat's updated_at with the version seen here, so a record that
    # is in step is not queued again by every poll, even when its change mapped to no write.
    for done in result.all_results():
        if done.source_version:
            store.bindings.mark_seen(done.kind, done.key, done.source_version, done.read_at or read_at)
    record_dependency_events(result, self.request.id)
    return {"outcome": result.outcome, "economic_key": result.economic_key, "api_calls": result.api_calls}


@worker_init.connect
def _check_credentials(**_: Any) -> None:
    """A worker whose credentials either API refuses stops at start-up with one line (exit 2)."""
    check_credentials_or_exit(get_settings(), "worker")


def enqueue_export(kind: str, key: str) -> bool:
    """Queue a transfer of the record unless one is already queued; True when this call queued it.

    The pending marker coalesces a burst of events for one record into one transfer; the task clears
    it when it starts, so a change made while it runs queues the next one.

    Every event is noted first, coalesced or not (`ReadClock.note_event`): the transfer takes a batch-read
    copy of the record only if that read started after it, the record counts as waiting for a read, and
    its shared look-up is dropped (`tasks.sync.readahead`, `tasks.sync.lookups`).
    """
    get_spec(kind)  # an unknown kind is a caller bug: fail here, not in a worker
    key = str(key)
    client = get_redis()
    ReadClock(client).note_event(kind, key)
    return queue_once(
        PendingMarkers(client),
        kind,
        key,
        lambda task_id: export_record.apply_async(args=(kind, key), task_id=task_id),
        claim_seconds=get_settings().pending_claim_seconds,
    )
