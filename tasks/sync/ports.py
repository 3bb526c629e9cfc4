"""What the engine is handed: the two API clients, and its view of our Redis store and queue.

The task module builds both from the process's settings (`tasks.transfer`, `tasks.sync.connections`);
tests and benchmarks build them around sandboxes. The engine itself never imports Celery or reads the
settings.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from clients.economic import EconomicClient
from clients.rackbeat import RackbeatClient
from tasks.errors import SyncError
from tasks.sync.bindings import BindingStore
from tasks.sync.lookups import LookupCache
from tasks.sync.readahead import ReadAhead
from tasks.sync.watchers import WatcherStore


@dataclass(frozen=True)
class ApiClients:
    rackbeat: RackbeatClient
    economic: EconomicClient

    def call_count(self) -> int:
        return self.rackbeat.call_count + self.economic.call_count


@dataclass(frozen=True)
class SyncStore:
    """Whose keys (`connection_id`), the bindings, how to lock a record, who reads which record, and how
    to queue a record's transfer.

    `lock(kind, key)` is a context manager that holds the record's lock or raises `RecordBusy`.
    `enqueue(kind, key)` queues a transfer of the record (coalesced; True when this call queued it); the
    task module passes the Celery one. `dead_letter_part(kind, part_key, error)` records a dead letter for
    a part of a record that could not go along (a too large attachment) while the record itself did; None
    where nobody keeps dead letters (the part is then only logged).
    `reads` reads an exported record, from a batch read when one is fresh enough (`tasks.sync.readahead`);
    `lookups` spares the transfer of a dependency found in step a moment ago (`tasks.sync.lookups`). None:
    every record is read by itself and every dependency transferred.
    """

    connection_id: str
    bindings: BindingStore
    lock: Callable[[str, str], AbstractContextManager[Any]]
    watchers: WatcherStore
    enqueue: Callable[[str, str], bool]
    dead_letter_part: Callable[[str, str, SyncError], None] | None = None
    reads: ReadAhead | None = None
    lookups: LookupCache | None = None
