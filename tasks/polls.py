"""The safety net under the webhooks: beat-scheduled polls of Rackbeat, Rackbeat -> e-conomic.

Webhooks get lost (Rackbeat gives up after its retries, the receiver was down, a record was stuck behind
a marker), so whatever the cause, a change or a deletion reaches e-conomic within one interval:

- ``rbsync.poll_rackbeat_changes`` (every ``poll_interval_seconds``): per pushed kind, one paged list of
  what changed since the kind's watermark (``updated_at_from``, rackbeat-api.md §1.4, with
  ``poll_overlap_seconds`` of overlap for clock skew and late commits; only the key and ``updated_at``
  fields), queueing a transfer for each record e-conomic is not known to match since that change. With
  nothing changed a kind costs one call. The same run re-queues the records of stale pending markers
  (below).
- ``rbsync.poll_rackbeat_deletions`` (every ``deletion_sweep_interval_seconds``): deletions leave no
  ``updated_at``, so per kind the bound keys are compared with Rackbeat's current keys (paged, numbers
  only) and a transfer is queued for each bound record Rackbeat no longer has; the transfer bars or
  retires it as a delete event would. Each is queued once (``gone_at`` on its binding).

A pending marker is stale when no live task stands behind it: it is older than `STALE_MARKER_SECONDS` (or
the visibility timeout, when that is shorter) and its task id is in no queue and in no worker's hands (the
broker's unacked set, which also holds the countdowns a worker is waiting out). Its message vanished after
it was published, before any worker received it: seen in the invoice chaos run with Redis restarts, cause
not proven (kombu's Redis transport pops a message before it records it as unacked, so a Redis that stops
between the two would lose it; no exchange binding was missing, see tasks/kombu_fixes.py). The sweep
clears such a marker and queues the record's transfer (or import) again at once: waiting for the next
event or poll would not do, as the poll's watermark has already moved past the record's change and an
invoice never changes again. A message that was only slow to be seen costs one transfer too many, which
bindings, record locks and idempotency keys make harmless.

Each of the three (change poll, deletion sweep, stale-marker sweep) notes when it last ran to its end
(``tasks.metrics.record_poll_success``), for ``/metrics``.

Whether a listed record needs a transfer is decided by its version: each transfer keeps Rackbeat's
``updated_at`` of what it read on the binding (and when it read it), and a listed record whose
``updated_at`` differs is queued (see ``needs_transfer`` for the same-second case). The watermark only
narrows the list; it is sent as UTC, and were Rackbeat to mean local time the window would only grow.
Naive timestamps are read as UTC; were they local, a fresh version would look unsettled for longer and be
re-checked by a few more polls (a transfer that writes nothing), never missed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import redis

from clients.rackbeat import RackbeatClient
from tasks.celery import QUEUES, app
from tasks.entities import EntitySpec
from tasks.metrics import record_poll_success
from tasks.redis import get_redis, text, texts
from tasks.redis import key as namespaced_key
from tasks.settings import Settings, get_settings
from tasks.sync.bindings import BindingStore
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions
from tasks.sync.pending import CLAIM_PREFIX, DEFAULT_TTL_SECONDS, PendingMarkers
from tasks.timestamps import parse_iso
from tasks.transfer import enqueue_export

logger = logging.getLogger(__name__)

RACKBEAT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # rackbeat-api.md §1.4, date filters
PAGE = 1000
SETTLED_AFTER = timedelta(seconds=2)  # one whole-second tick of updated_at plus a second of clock skew
STALE_MARKER_SECONDS = 120
"""A marker this old whose task is in no queue and no worker's hands has lost its message (a live one is
always in one of them, but for the instant between kombu's pop and its unacked write, when a re-queue costs
one transfer too many)."""

Enqueue = Callable[[str, str], bool]


@dataclass
class KindPoll:
    kind: str
    seen: int = 0
    queued: int = 0
    in_step: int = 0


@dataclass
class PollReport:
    kinds: list[KindPoll] = field(default_factory=list)
    stale_markers_requeued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": {k.kind: {"seen": k.seen, "queued": k.queued, "in_step": k.in_step} for k in self.kinds},
            "queued": sum(k.queued for k in self.kinds),
            "stale_markers_requeued": self.stale_markers_requeued,
        }


# --- pure helpers ------------------------------------------------------------------------------------


def list_key(spec: EntitySpec) -> str:
    """The envelope key of a Rackbeat list (``customer-groups`` -> ``customer_groups``)."""
    return spec.rackbeat.resource.replace("-", "_")


def listed(spec: EntitySpec, rackbeat: RackbeatClient, params: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Every record of ``spec``'s Rackbeat list that has a key, streamed (1,000 per page)."""
    for record in rackbeat.iter(spec.rackbeat.resource, list_key(spec), params=params):
        if record.get(spec.rackbeat.key_field) is not None:
            yield record


def listed_keys(spec: EntitySpec, rackbeat: RackbeatClient) -> Iterator[str]:
    """Every key Rackbeat lists for ``spec`` (only the key field is asked for)."""
    for record in listed(spec, rackbeat, {"fields": spec.rackbeat.key_field}):
        yield str(record[spec.rackbeat.key_field])


def batched(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def rackbeat_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(RACKBEAT_TIME_FORMAT)


def parse_rackbeat_time(value: Any) -> datetime | None:
    """A Rackbeat timestamp (ISO with offset, or ``YYYY-MM-DD HH:MM:SS``, read as UTC) or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_iso(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None


def needs_transfer(listed_version: Any, seen: tuple[str, datetime] | None) -> bool:
    """Whether the record as Rackbeat lists it may differ from what a transfer last brought across.

    A different ``updated_at`` is a change. The same one is not proof of none: Rackbeat's timestamps have
    whole seconds, so a change later in the second that a transfer read the record in keeps the same
    ``updated_at``. Such a version counts as settled only once a transfer read it ``SETTLED_AFTER`` past
    its second (which also covers a Rackbeat clock slightly behind ours); until then it is transferred
    again, once: that transfer's read is later. Without any ``updated_at`` a record is always transferred."""
    if not listed_version or seen is None:
        return True
    version, read_at = seen
    if str(listed_version) != version:
        return True
    stamped = parse_rackbeat_time(version)
    return stamped is not None and read_at < stamped + SETTLED_AFTER


# --- the polls -----------------------------------------------------------------------------------------


class Watermarks:
    """Per kind, the time up to which Rackbeat's changes have been read."""

    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def name(self, kind: str) -> str:
        return namespaced_key("poll", "watermark", kind, connection_id=self.connection_id)

    def get(self, kind: str) -> datetime | None:
        raw = text(self.client.get(self.name(kind)))
        return parse_iso(raw) if raw else None

    def set(self, kind: str, moment: datetime) -> None:
        self.client.set(self.name(kind), moment.astimezone(UTC).isoformat())


def poll_changes(
    spec: EntitySpec,
    rackbeat: RackbeatClient,
    bindings: BindingStore,
    watermarks: Watermarks,
    enqueue: Enqueue,
    settings: Settings,
    now: datetime,
) -> KindPoll:
    """Queue a transfer for each record of ``spec`` changed since its watermark; then move the watermark."""
    report = KindPoll(spec.kind)
    overlap = timedelta(seconds=settings.poll_overlap_seconds)
    since = watermarks.get(spec.kind) or now - timedelta(seconds=settings.poll_first_lookback_seconds)
    params = {
        "updated_at_from": rackbeat_time(since - overlap),
        "fields": f"{spec.rackbeat.key_field},updated_at",
    }
    for page in batched(listed(spec, rackbeat, params), PAGE):
        keys = [str(record[spec.rackbeat.key_field]) for record in page]
        for key, record, seen in zip(keys, page, bindings.seen_versions(spec.kind, keys), strict=True):
            report.seen += 1
            if not needs_transfer(record.get("updated_at"), seen):
                report.in_step += 1
            elif enqueue(spec.kind, key):
                report.queued += 1
    watermarks.set(spec.kind, now)
    return report


def sweep_deletions(
    spec: EntitySpec, rackbeat: RackbeatClient, bindings: BindingStore, enqueue: Enqueue
) -> KindPoll:
    """Queue the retirement of each bound record Rackbeat no longer has (once per disappearance)."""
    report = KindPoll(spec.kind)
    current = set(listed_keys(spec, rackbeat))
    for key, already_gone in bindings.bound_keys(spec.kind):
        report.seen += 1
        if key in current:
            if already_gone:  # it came back (recreated with the same number)
                bindings.mark_gone(spec.kind, key, gone=False)
            report.in_step += 1
        elif not already_gone:
            if enqueue(spec.kind, key):
                report.queued += 1
            bindings.mark_gone(spec.kind, key)
    return report


# --- stale pending markers -----------------------------------------------------------------------------


def task_ids_in(messages: Iterable[str]) -> Iterator[str]:
    """Task ids of raw kombu Redis messages (queue entries or unacked ``[message, exchange, key]``)."""
    for raw in messages:
        try:
            payload = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(payload, list) and payload:
            payload = payload[0]
        if isinstance(payload, dict):
            task_id = (payload.get("headers") or {}).get("id")
            if task_id:
                yield str(task_id)


def live_task_ids(broker: redis.Redis, prefix: str) -> set[str]:
    """Every task id that a queue holds or a worker has in hand (unacked, including countdowns)."""
    ids: set[str] = set()
    for queue in QUEUES:
        length = broker.llen(f"{prefix}{queue}")
        for start in range(0, length, 1000):
            ids.update(task_ids_in(texts(broker.lrange(f"{prefix}{queue}", start, start + 999))))
    ids.update(task_ids_in(text(value) for _, value in broker.hscan_iter(f"{prefix}unacked", count=1000)))
    return ids


def requeue_stale_markers(store: redis.Redis, broker: redis.Redis, settings: Settings) -> int:
    """Clear the pending markers whose task vanished (see the module docstring) and queue each record's
    transfer or import again; returns how many."""
    markers = PendingMarkers(store, settings.connection_id)
    pattern = namespaced_key("pending", "*", connection_id=settings.connection_id)
    old_enough = DEFAULT_TTL_SECONDS - min(STALE_MARKER_SECONDS, settings.effective_visibility_timeout)
    prefix = namespaced_key("pending", connection_id=settings.connection_id) + ":"
    suspects: list[tuple[str, str, str]] = []
    for name in store.scan_iter(match=pattern, count=1000):
        ttl = store.ttl(name)
        if 0 <= ttl < old_enough:
            task_id = text(store.get(name))
            marker, key = _marker_and_key(name[len(prefix) :])
            if task_id and not task_id.startswith(CLAIM_PREFIX):  # a claim expires in seconds by itself
                suspects.append((marker, key, task_id))
    if not suspects:
        return 0
    live = live_task_ids(broker, settings.broker_key_prefix)
    requeued = 0
    for marker, key, task_id in suspects:
        if task_id in live or not markers.clear(marker, key, task_id):
            continue  # alive, or it started (and cleared its marker) since it was read
        logger.warning(
            "the task %s of %s %s vanished from the broker; queueing it again", task_id, marker, key
        )
        _queue_again(marker, key)
        requeued += 1
    return requeued


def _marker_and_key(rest: str) -> tuple[str, str]:
    """`customer:K-1` -> (`customer`, `K-1`); an import's `import:customer:K-1` -> (`import:customer`,
    `K-1`). The key is the rest, whatever it holds (a product number may hold a colon)."""
    from tasks.imports import MARKER_PREFIX

    head = f"{MARKER_PREFIX}:"
    if rest.startswith(head):
        kind, _, key = rest[len(head) :].partition(":")
        return head + kind, key
    kind, _, key = rest.partition(":")
    return kind, key


def _queue_again(marker: str, key: str) -> None:
    from tasks.imports import MARKER_PREFIX, enqueue_import

    kind = marker.removeprefix(f"{MARKER_PREFIX}:")
    if kind != marker:
        enqueue_import(kind, key)
    else:
        enqueue_export(kind, key)


# --- the tasks -----------------------------------------------------------------------------------------


def _broker_client(settings: Settings) -> redis.Redis:
    return get_redis(settings.broker_url or settings.redis_url)


@app.task(name="rbsync.poll_rackbeat_changes", acks_late=True, ignore_result=False)
def poll_rackbeat_changes() -> dict[str, Any]:
    settings = get_settings()
    store = get_redis()
    bindings = BindingStore(store)
    watermarks = Watermarks(store)
    rackbeat = process_clients().rackbeat
    now = datetime.now(UTC)
    report = PollReport()
    report.stale_markers_requeued = requeue_stale_markers(store, _broker_client(settings), settings)
    record_poll_success(store, "stale-pending-markers")
    for spec in Directions.of(settings).exported_specs():
        kind_report = poll_changes(spec, rackbeat, bindings, watermarks, enqueue_export, settings, now)
        report.kinds.append(kind_report)
    summary = report.as_dict()
    if summary["queued"] or report.stale_markers_requeued:
        logger.info("poll: %s", summary)
    record_poll_success(store, "poll-rackbeat-changes")
    return summary


@app.task(name="rbsync.poll_rackbeat_deletions", acks_late=True, ignore_result=False)
def poll_rackbeat_deletions() -> dict[str, Any]:
    settings = get_settings()
    store = get_redis()
    bindings = BindingStore(store)
    rackbeat = process_clients().rackbeat
    report = PollReport()
    for spec in Directions.of(settings).exported_specs():
        report.kinds.append(sweep_deletions(spec, rackbeat, bindings, enqueue_export))
    summary = report.as_dict()
    if summary["queued"]:
        logger.info("deletion sweep: %s", summary)
    record_poll_success(store, "poll-rackbeat-deletions")
    return summary
