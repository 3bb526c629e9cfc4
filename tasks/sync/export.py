"""The export synchronizer: move one Rackbeat record, of any registered kind, to e-conomic.

    lock -> fetch the current record (404: it was deleted) -> export its dependencies first, each
    under its own lock -> fetch the related records it reads -> map -> validate -> hash -> skip if
    unchanged -> write -> bind -> (lock released) queue the records that read this one

The binding is written only after e-conomic confirmed the write. A transfer that dies in between
(worker killed, answer lost) runs again with the same previous hash and maps the same record, so it
sends the same Idempotency-Key and e-conomic replays instead of writing twice; where the e-conomic key
is ours to choose, the write is a PUT at that key, so even a lost binding cannot make a duplicate.

Related records (`EntitySpec.related`) are read, not exported: a record that reads them is re-queued
(`ExportStore.enqueue`) when one of them is later created, replaced or barred in e-conomic, unless it
already mapped that very version (`tasks.sync.watchers`). An "unchanged" export queues nothing, so a
chain of readers ends where nothing is written.

Nothing here knows a kind by name: everything comes from the `EntitySpec`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from clients.economic import EconomicClient
from clients.errors import NotFoundError
from clients.rackbeat import RackbeatClient
from tasks.entities import REGISTRY, get_spec
from tasks.entities.base import EntitySpec, Record, RecordRef, Related
from tasks.sync.errors import DependencyCycle, MappingError
from tasks.sync.refs import idempotency_key, payload_hash
from tasks.sync.validation import validate_payload, writable_projection
from tasks.sync.watchers import WatcherStore, fingerprint
from tasks.sync.writers import EconomicWriter, writer_for

logger = logging.getLogger(__name__)

Outcome = Literal["created", "replaced", "unchanged", "barred", "ignored"]
# Outcomes that changed the e-conomic document, so records reading this one may map differently now.
WRITTEN: frozenset[str] = frozenset({"created", "replaced", "barred"})


class Binding(Protocol):
    economic_key: Any
    hash: str | None


class BindingStore(Protocol):
    def get(self, kind: str, rackbeat_key: str) -> Binding | None: ...

    def owner(self, economic_resource: str, economic_key: Any) -> tuple[str, str] | None: ...

    def put(
        self, kind: str, rackbeat_key: str, *, economic_key: Any, payload_hash: str, economic_resource: str
    ) -> Any: ...


@dataclass(frozen=True)
class ExportClients:
    rackbeat: RackbeatClient
    economic: EconomicClient

    def call_count(self) -> int:
        return self.rackbeat.call_count + self.economic.call_count


@dataclass(frozen=True)
class ExportStore:
    """The engine's view of our Redis store and queue: whose keys, the bindings, how to lock a record,
    who reads which record, and how to queue a record's export.

    `lock(kind, key)` is a context manager that holds the record's lock or raises `RecordBusy`.
    `enqueue(kind, key)` queues an export of the record (coalesced; True when this call queued it); the
    task module passes the Celery one, so the engine never imports Celery.
    """

    connection_id: str
    bindings: BindingStore
    lock: Callable[[str, str], AbstractContextManager[Any]]
    watchers: WatcherStore
    enqueue: Callable[[str, str], bool]


@dataclass
class ExportResult:
    kind: str
    key: str
    outcome: Outcome
    economic_key: Any = None
    api_calls: int = 0
    """Requests to either API made by this transfer, its dependencies' included."""
    dependencies: list[ExportResult] = field(default_factory=list)
    notified: list[RecordRef] = field(default_factory=list)
    """Records that read this one and were queued for export because this transfer wrote it."""
    source_version: str | None = None
    """Rackbeat's ``updated_at`` of the record as this transfer read it (None: gone, or not given)."""

    def all_results(self) -> Iterator[ExportResult]:
        """This result and every dependency's, dependencies first (the order they were exported)."""
        for dependency in self.dependencies:
            yield from dependency.all_results()
        yield self


def export_record(
    kind: str,
    rackbeat_key: str,
    *,
    clients: ExportClients,
    store: ExportStore,
    _chain: tuple[RecordRef, ...] = (),
) -> ExportResult:
    """Bring e-conomic in step with the Rackbeat record `kind`/`rackbeat_key` as it is now."""
    spec = get_spec(kind)
    rackbeat_key = str(rackbeat_key)
    ref = (kind, rackbeat_key)
    if ref in _chain:
        raise DependencyCycle([*_chain, ref], resource=spec.economic_resource)
    calls_before = clients.call_count()
    with store.lock(kind, rackbeat_key):
        record = _fetch_current(spec, rackbeat_key, clients.rackbeat)
        writer = writer_for(spec, clients.economic)
        if record is None:
            result = _retire(spec, rackbeat_key, writer, store)
            if spec.related is not None:
                store.watchers.forget(ref)
        else:
            dependencies, refs = _export_dependencies(spec, record, clients, store, (*_chain, ref))
            related = _fetch_related(spec, ref, record, clients.rackbeat, store)
            result = _upsert(spec, rackbeat_key, record, refs, related, writer, store)
            result.dependencies = dependencies
            result.source_version = str(record["updated_at"]) if record.get("updated_at") else None
    if result.outcome in WRITTEN:
        result.notified = _notify_watchers(ref, fingerprint(record), store, _chain)
    result.api_calls = clients.call_count() - calls_before
    return result


def _fetch_current(spec: EntitySpec, key: str, rackbeat: RackbeatClient) -> Record | None:
    try:
        return rackbeat.get(spec.rackbeat_resource, key, spec.rackbeat_singular)
    except NotFoundError:
        return None


def _fetch_related(
    spec: EntitySpec, ref: RecordRef, record: Record, rackbeat: RackbeatClient, store: ExportStore
) -> Related:
    """The current Rackbeat version of every record the mapper reads (one GET each; gone ones absent).

    The record is marked as their watcher BEFORE they are read, so a change written to e-conomic
    between a read and the bookkeeping still re-queues it; right after the reads it is recorded as
    having seen exactly those versions (and stops watching what it no longer reads).
    """
    if spec.related is None:
        return {}
    wanted = spec.related_refs(record)
    store.watchers.begin(ref, wanted)
    related: dict[RecordRef, Record] = {}
    for kind, key in wanted:
        related_spec = REGISTRY.get(kind)
        if related_spec is None:
            logger.debug("%s %r reads %s %r, a kind nobody exports: passed as absent", *ref, kind, key)
            continue
        current = _fetch_current(related_spec, key, rackbeat)
        if current is not None:
            related[(kind, key)] = current
    store.watchers.confirm(ref, {r: fingerprint(related.get(r)) for r in wanted})
    return related


def _notify_watchers(
    ref: RecordRef, current: str, store: ExportStore, chain: tuple[RecordRef, ...]
) -> list[RecordRef]:
    """Queue the export of every record that reads this one and did not map this version of it.

    Records higher up in this very transfer are left out: they read their related records after their
    dependencies were exported, so they map this version anyway.
    """
    notified = [w for w in store.watchers.stale_watchers(ref, current) if w not in chain]
    for kind, key in notified:
        queued = store.enqueue(kind, key)
        logger.info(
            "%s %r was written to e-conomic: %s %r, which reads it, %s",
            *ref,
            kind,
            key,
            "is queued for export" if queued else "already has an export queued",
        )
    return notified


def _export_dependencies(
    spec: EntitySpec,
    record: Record,
    clients: ExportClients,
    store: ExportStore,
    chain: tuple[RecordRef, ...],
) -> tuple[list[ExportResult], dict[RecordRef, Any]]:
    """Export registered dependencies now (so they are current, not merely bound); look up the
    bindings of kinds we do not export. Unresolvable ones are left out of `refs` for the mapper."""
    results: list[ExportResult] = []
    refs: dict[RecordRef, Any] = {}
    views = spec.embedded(record)
    for dep_kind, dep_key in spec.depends_on(record):
        dep_key = str(dep_key)
        if dep_kind in REGISTRY:
            dep_result = _current_by_view(dep_kind, dep_key, views.get((dep_kind, dep_key)), store)
            if dep_result is None:
                dep_result = export_record(dep_kind, dep_key, clients=clients, store=store, _chain=chain)
            results.append(dep_result)
            if dep_result.economic_key is not None:
                refs[(dep_kind, dep_key)] = dep_result.economic_key
        else:
            binding = store.bindings.get(dep_kind, dep_key)
            if binding is not None:
                refs[(dep_kind, dep_key)] = binding.economic_key
    return results, refs


def _current_by_view(kind: str, key: str, view: Record | None, store: ExportStore) -> ExportResult | None:
    """ "unchanged" when the dependency's embedded view maps to exactly what was last written for it.

    Anything else (no view, unbound, a different hash, a dependency with dependencies of its own) returns
    None and the dependency is exported in full. A change the view cannot show still reaches e-conomic
    through the dependency's own webhook.
    """
    spec = REGISTRY[kind]
    if view is None or spec.depends_on(view) or spec.related_refs(view):
        return None
    binding = store.bindings.get(kind, key)
    if binding is None or binding.hash is None:
        return None
    try:
        payload = spec.map(view, {})
    except (KeyError, TypeError, ValueError):
        return None
    if payload_hash(payload) != binding.hash:
        return None
    return ExportResult(kind, key, "unchanged", binding.economic_key)


def _upsert(
    spec: EntitySpec,
    key: str,
    record: Record,
    refs: dict[RecordRef, Any],
    related: Related,
    writer: EconomicWriter,
    store: ExportStore,
) -> ExportResult:
    payload = spec.map(record, refs, related)
    binding = store.bindings.get(spec.kind, key)
    chosen_key = spec.economic_key(record)
    economic_key = chosen_key if chosen_key is not None else (binding.economic_key if binding else None)
    adopted = economic_key is None and bool(spec.adopt_by)
    if adopted:
        economic_key = _matching_record(spec, key, payload, writer)
        adopted = economic_key is not None
    method = "PUT" if economic_key is not None else "POST"
    validate_payload(spec.economic_resource, payload, method=method)
    if economic_key is not None:
        _refuse_a_record_another_owns(spec, key, economic_key, store)
    new_hash = payload_hash(payload)
    if binding is not None and binding.hash == new_hash and str(binding.economic_key) == str(economic_key):
        return ExportResult(spec.kind, key, "unchanged", economic_key)
    if chosen_key is not None and str(chosen_key) != key:
        logger.info(
            "%s %r is written to e-conomic as %r: e-conomic cannot take the Rackbeat key as it is",
            spec.kind,
            key,
            chosen_key,
        )
    previous_hash = binding.hash if binding is not None else None
    previous_written_at = binding.written_at if binding is not None else None
    outcome = writer.write(
        economic_key,
        payload,
        idempotency_key=idempotency_key(
            store.connection_id, spec.kind, key, previous_hash, new_hash, previous_written_at
        ),
        bound=binding is not None or adopted,
    )
    if outcome.economic_key is None:
        raise MappingError(
            spec.economic_key_field,
            "e-conomic did not return the key of the record it created",
            resource=spec.economic_resource,
            method=method,
        )
    if binding is None and chosen_key is None and outcome.created:
        logger.info(
            "%s %r became e-conomic %r (e-conomic assigns the number; bound)",
            spec.kind,
            key,
            outcome.economic_key,
        )
    store.bindings.put(
        spec.kind,
        key,
        economic_key=outcome.economic_key,
        payload_hash=new_hash,
        economic_resource=spec.economic_resource,
    )
    return ExportResult(spec.kind, key, "created" if outcome.created else "replaced", outcome.economic_key)


def _refuse_a_record_another_owns(spec: EntitySpec, key: str, economic_key: Any, store: ExportStore) -> None:
    """Two Rackbeat records must never write one e-conomic record (a product and a lot with the same
    number both become e-conomic products): the second is refused, before any call, naming the first."""
    owner = store.bindings.owner(spec.economic_resource, economic_key)
    if owner is not None and owner != (spec.kind, key):
        raise MappingError(
            spec.economic_key_field,
            f"e-conomic {spec.economic_resource} {economic_key!r} is already {owner[0]} {owner[1]!r} from "
            "Rackbeat; refusing to overwrite it",
            resource=spec.economic_resource,
        )


def _matching_record(spec: EntitySpec, key: str, payload: Mapping[str, Any], writer: EconomicWriter) -> Any:
    """The key of the e-conomic record an unbound record is the same as (by `spec.adopt_by`), or None.

    Reads the collection a page at a time; it happens once per record, since the binding is kept."""
    wanted = {name: payload.get(name) for name in spec.adopt_by}
    for document in writer.existing():
        if all(document.get(name) == value for name, value in wanted.items()):
            found = document.get(spec.economic_key_field)
            logger.info(
                "%s %r matches e-conomic %r by %s; bound to it instead of creating another",
                spec.kind,
                key,
                found,
                ", ".join(spec.adopt_by),
            )
            return found
    return None


def _retire(spec: EntitySpec, key: str, writer: EconomicWriter, store: ExportStore) -> ExportResult:
    """The record is gone from Rackbeat: bar it in e-conomic where the kind can be barred.

    Accounting keeps its history, so nothing is deleted there. A replace is a full document, so the
    e-conomic copy is read, reduced to its writable fields and sent back with `barred` set.
    """
    binding = store.bindings.get(spec.kind, key)
    if binding is None or not spec.barrable:
        logger.info("%s %r is gone from Rackbeat; nothing to do in e-conomic", spec.kind, key)
        return ExportResult(spec.kind, key, "ignored", binding.economic_key if binding else None)
    document = writer.read(binding.economic_key)
    if document is None:
        logger.info("%s %r is gone from both sides", spec.kind, key)
        return ExportResult(spec.kind, key, "ignored", binding.economic_key)
    if document.get(spec.barred_field) is True:
        return ExportResult(spec.kind, key, "unchanged", binding.economic_key)
    body = {**writable_projection(spec.economic_resource, document), spec.barred_field: True}
    validate_payload(spec.economic_resource, body)
    barred_hash = payload_hash(body)
    writer.write(
        binding.economic_key,
        body,
        idempotency_key=idempotency_key(
            store.connection_id, spec.kind, key, binding.hash, barred_hash, binding.written_at
        ),
        bound=True,
        keep_current=False,  # the body is e-conomic's own document already, and the bar must win
    )
    store.bindings.put(
        spec.kind,
        key,
        economic_key=binding.economic_key,
        payload_hash=barred_hash,
        economic_resource=spec.economic_resource,
    )
    return ExportResult(spec.kind, key, "barred", binding.economic_key)
