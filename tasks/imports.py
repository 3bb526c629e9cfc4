"""The import task, e-conomic -> Rackbeat, and the one way to queue it.

`rbsync.import_record(kind, key)` takes only the document's identity (its e-conomic key): the task reads
the document as it is when it runs. Polls (`tasks.economic_polls`) and e-conomic's webhooks queue it with
`enqueue_import`. The failure policy is the export's (`SyncTask`: retries with backoff, dead letters in
the API's own words, a redelivery cap), and a dead letter keeps the task name and arguments, so `rbsync
dlq retry` replays it through this task.

Coalescing: a burst of changes to one document queues one import, behind the pending marker
`pending:import:{kind}:{key}`. The marker kind is prefixed, so an import and an export of the same kind and
key (customer 5 both ways) never coalesce into each other; the stale-marker sweep of `tasks.polls` reads
it back as kind `import`, key `{kind}:{key}`, which names the same marker.
"""

from __future__ import annotations

import logging
from typing import Any

from tasks.base import SyncTask
from tasks.celery import app
from tasks.entities import get_spec
from tasks.entities.base import MappingDefaults
from tasks.redis import get_redis
from tasks.settings import get_settings
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions
from tasks.sync.importer import Importer
from tasks.sync.pending import PendingMarkers, queue_once
from tasks.sync.ports import SyncStore
from tasks.sync.results import TransferResult
from tasks.transfer import build_store, record_dependency_events

logger = logging.getLogger(__name__)

IMPORT_TASK_NAME = "rbsync.import_record"
MARKER_PREFIX = "import"


def marker_kind(kind: str) -> str:
    """The kind part of an import's pending marker (`import:customer`), apart from the export's."""
    return f"{MARKER_PREFIX}:{kind}"


class ImportTask(SyncTask):
    """The export's policy; the pending marker is the import's own, cleared when the task starts."""

    clears_pending = False


@app.task(bind=True, base=ImportTask, name=IMPORT_TASK_NAME)
def import_record(self: ImportTask, kind: str, key: str) -> dict[str, Any]:
    """Bring Rackbeat in step with one e-conomic document; the result is the import's event fields."""
    PendingMarkers(get_redis()).clear(marker_kind(kind), str(key), self.request.id)
    settings = get_settings()
    store = build_store()
    importer = Importer(
        process_clients(), store, MappingDefaults.from_settings(settings), Directions.of(settings)
    )
    return record_import_events(importer.transfer(kind, key), self.request.id, store)


def record_import_events(result: TransferResult, task_id: str, store: SyncStore) -> dict[str, Any]:
    """The events of an import's dependencies, and the import's own event fields (the task's result)."""
    record_dependency_events(result, task_id, direction="import")
    return {
        "outcome": result.outcome,
        "economic_key": result.economic_key,
        "rackbeat_key": store.bindings.rackbeat_key_for(result.kind, str(result.key)),
        "api_calls": result.api_calls,
    }


def enqueue_import(kind: str, key: str) -> bool:
    """Queue an import of e-conomic's document `kind`/`key` unless one is already queued; True when this
    call queued it. A kind that is not imported (no import rules, or not registered) raises LookupError:
    a caller bug, found here rather than in a worker.

    Like `tasks.transfer.enqueue_export`: the marker is claimed, the task published, then the marker
    confirmed; a claim left by a call whose publish may have failed is not trusted (a second import of a
    document is harmless, a lost one is not)."""
    get_spec(kind).import_rules  # noqa: B018  (raises LookupError for a kind that is not imported)
    key = str(key)
    return queue_once(
        PendingMarkers(get_redis()),
        marker_kind(kind),
        key,
        lambda task_id: import_record.apply_async(args=(kind, key), task_id=task_id),
        claim_seconds=get_settings().pending_claim_seconds,
    )
