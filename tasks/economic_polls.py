"""Beat's polls of e-conomic, e-conomic -> Rackbeat: what changed there since the last poll, one import each.

Three polls, each a named task on the `polls` queue (beat schedules them, `tasks.celery.beat_schedule`):

- ``rbsync.poll_economic_orders`` (every ``economic_orders_poll_seconds``): the kinds whose import rules
  say ``poll="orders"`` (sales orders);
- ``rbsync.poll_economic_master`` (every ``economic_master_poll_seconds``): ``poll="master"``, only the kinds
  e-conomic owns under the settings (``RBSYNC_CUSTOMERS_MASTER`` / ``RBSYNC_PRODUCTS_MASTER=economic``);
- ``rbsync.poll_economic_projects`` (every ``economic_projects_poll_seconds``, only with
  ``project_management_enabled``): ``poll="projects"``.

Each reads, per kind and per collection the kind lives in (`EntitySpec.import_sources()`), only what changed
since that collection's watermark: e-conomic's ``lastUpdated`` filter (``lastUpdated$gte:<watermark -
economic_poll_overlap_seconds>``, economic-api.md §9.3 and §10: customers, products, draft and sent orders
and the Projects API have it, and the sandbox's filter takes it in the same ``YYYY-MM-DDTHH:MM:SSZ`` form),
1,000 per page, streamed. With nothing changed a collection costs one call. A kind whose collection has no
``lastUpdated`` cannot be polled this way (none of the polled ones lacks it); such a kind is imported as a
dependency or by webhook only.

Per listed document, the import is queued (``tasks.imports.enqueue_import``, coalesced) unless the binding
says an import already brought that very version across (``economic_seen``: e-conomic's ``lastUpdated`` and
when we read it). So the overlap window reads as "unchanged", and a record we wrote to Rackbeat ourselves
is not queued again. ``lastUpdated`` has whole seconds, so a version counts as settled only once it was
read two seconds past its second (``tasks.polls.needs_transfer``, the rule the Rackbeat poll uses); until
then it is queued once more, and that import reads the later state.

The watermark (``economic-poll:watermark:{kind}:{collection}``, ISO UTC) is the time the poll started, set
only after every import of that collection was queued, and never moved back: a poll that dies re-reads,
never skips. It is our clock; the overlap absorbs the skew to e-conomic's. With no watermark yet (the
first poll) the poll reads ``poll_first_lookback_seconds`` back; everything older is the start-up sync's.

A poll still running when the next is due is not started twice: each poll holds the Redis lock
``lock:economic-poll:{group}`` while it runs (expiring past the task's hard time limit, so a killed
worker's lock goes by itself); a poll that finds it taken returns at once, costing no call.

Known limit: e-conomic pages by offset, so a record deleted while a poll pages through many changes can
shift a changed record onto a page already read; the next poll's overlap, or e-conomic's webhook for that
record, brings it. Polls are the safety net under the webhooks, not the only way in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from clients.economic import EconomicClient
from tasks.celery import app
from tasks.entities.base import EconomicTarget, EntitySpec, PollGroup
from tasks.metrics import record_poll_success
from tasks.polls import PAGE, batched, needs_transfer
from tasks.redis import get_redis, text
from tasks.redis import key as namespaced_key
from tasks.settings import Settings, get_settings
from tasks.sync.bindings import BindingStore
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions
from tasks.sync.economic_sources import changed_since
from tasks.sync.locks import RecordLock
from tasks.timestamps import parse_iso

logger = logging.getLogger(__name__)

Enqueue = Callable[[str, str], bool]

POLL_TASKS: dict[PollGroup, str] = {
    "orders": "rbsync.poll_economic_orders",
    "master": "rbsync.poll_economic_master",
    "projects": "rbsync.poll_economic_projects",
}
LOCK_MARGIN_SECONDS = 5


@dataclass
class SourcePoll:
    """What one poll found in one collection of one kind."""

    kind: str
    source: str
    seen: int = 0
    queued: int = 0
    in_step: int = 0


@dataclass
class EconomicPollReport:
    group: PollGroup
    sources: list[SourcePoll] = field(default_factory=list)
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        kinds: dict[str, dict[str, int]] = {}
        for polled in self.sources:
            totals = kinds.setdefault(polled.kind, {"seen": 0, "queued": 0, "in_step": 0})
            totals["seen"] += polled.seen
            totals["queued"] += polled.queued
            totals["in_step"] += polled.in_step
        summary: dict[str, Any] = {
            "group": self.group,
            "kinds": kinds,
            "sources": {f"{p.kind}:{p.source}": p.seen for p in self.sources},
            "queued": sum(p.queued for p in self.sources),
        }
        if self.skipped:
            summary["skipped"] = self.skipped
        return summary


class EconomicWatermarks:
    """Per kind and collection, the time up to which e-conomic's changes have been read."""

    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def name(self, kind: str, source: str) -> str:
        return namespaced_key("economic-poll", "watermark", kind, source, connection_id=self.connection_id)

    def get(self, kind: str, source: str) -> datetime | None:
        raw = text(self.client.get(self.name(kind, source)))
        return parse_iso(raw) if raw else None

    def advance(self, kind: str, source: str, moment: datetime) -> None:
        """Move the watermark to `moment`, never back (a late poll cannot undo a later one's progress)."""
        self.client.eval(_SET_IF_LATER, 1, self.name(kind, source), moment.astimezone(UTC).isoformat())


# ISO UTC strings of one format compare in time order.
_SET_IF_LATER = """
local current = redis.call('GET', KEYS[1])
if not current or current < ARGV[1] then
    return redis.call('SET', KEYS[1], ARGV[1]) and 1
end
return 0
"""


def polled_specs(group: PollGroup, directions: Directions) -> list[EntitySpec]:
    """The kinds `group` reads: the registered kinds whose import rules name it and that e-conomic owns
    under the settings (orders and projects always; customers and products by their master setting).
    Kinds whose modules arrive later are found through the registry; none is imported by name here."""
    return directions.imported_specs(group)


def poll_source(
    spec: EntitySpec,
    source: EconomicTarget,
    economic: EconomicClient,
    bindings: BindingStore,
    watermarks: EconomicWatermarks,
    enqueue: Enqueue,
    settings: Settings,
    now: datetime,
) -> SourcePoll:
    """Queue an import for each document of `spec` in `source` changed since the watermark (less the
    overlap) and not already in step; then move the watermark to `now`."""
    rules = spec.import_rules
    report = SourcePoll(spec.kind, source.resource_id)
    since = watermarks.get(spec.kind, source.resource_id) or now - timedelta(
        seconds=settings.poll_first_lookback_seconds
    )
    listed = changed_since(
        source, since - timedelta(seconds=settings.economic_poll_overlap_seconds), economic
    )
    for page in batched(listed, PAGE):
        keys = [str(spec.economic_key_of(document)) for document in page]
        seen = bindings.economic_seen_versions(spec.kind, keys)
        for key, document, version_seen in zip(keys, page, seen, strict=True):
            report.seen += 1
            if not needs_transfer(rules.version(document), version_seen):
                report.in_step += 1
            elif enqueue(spec.kind, key):
                report.queued += 1
    watermarks.advance(spec.kind, source.resource_id, now)
    return report


def run_poll(
    group: PollGroup,
    *,
    settings: Settings,
    store: redis.Redis,
    economic: EconomicClient,
    enqueue: Enqueue,
    now: datetime | None = None,
) -> EconomicPollReport:
    """One poll of `group` under its lock (see the module docstring)."""
    report = EconomicPollReport(group)
    lock = RecordLock(
        store,
        "economic-poll",
        group,
        ttl_seconds=settings.transfer_time_limit_seconds + LOCK_MARGIN_SECONDS,
        connection_id=settings.connection_id,
    )
    if not lock.acquire():
        report.skipped = "the previous poll is still running"
        logger.info("poll of e-conomic %s: %s", group, report.skipped)
        return report
    try:
        started = now or datetime.now(UTC)
        bindings = BindingStore(store, settings.connection_id)
        watermarks = EconomicWatermarks(store, settings.connection_id)
        for spec in polled_specs(group, Directions.of(settings)):
            for source in spec.import_sources():
                report.sources.append(
                    poll_source(spec, source, economic, bindings, watermarks, enqueue, settings, started)
                )
    finally:
        lock.release()
    return report


def _poll_task(group: PollGroup) -> dict[str, Any]:
    from tasks.imports import enqueue_import  # the import task module; imported when a poll runs

    settings = get_settings()
    store = get_redis()
    if group == "projects" and not settings.project_management_enabled:
        return {"group": group, "kinds": {}, "queued": 0, "skipped": "project management is off"}
    report = run_poll(
        group, settings=settings, store=store, economic=process_clients().economic, enqueue=enqueue_import
    )
    summary = report.as_dict()
    if summary["queued"]:
        logger.info("poll of e-conomic %s: %s", group, summary)
    if report.skipped is None:
        record_poll_success(store, f"poll-economic-{group}")
    return summary


@app.task(name=POLL_TASKS["orders"], acks_late=True, ignore_result=False)
def poll_economic_orders() -> dict[str, Any]:
    """New and changed sales orders in e-conomic, one import each."""
    return _poll_task("orders")


@app.task(name=POLL_TASKS["master"], acks_late=True, ignore_result=False)
def poll_economic_master() -> dict[str, Any]:
    """New and changed customers and products in e-conomic, for the kinds e-conomic owns."""
    return _poll_task("master")


@app.task(name=POLL_TASKS["projects"], acks_late=True, ignore_result=False)
def poll_economic_projects() -> dict[str, Any]:
    """New and changed projects in e-conomic (Project Management on)."""
    return _poll_task("projects")
