"""The export synchronizer: move one Rackbeat record, of any registered kind, to e-conomic.

    lock -> fetch the current record (404: it was deleted) -> export its dependencies first, each
    under its own lock -> map -> validate -> hash -> skip if unchanged -> write -> bind

The binding is written only after e-conomic confirmed the write. A transfer that dies in between
(worker killed, answer lost) runs again with the same previous hash and maps the same record, so it
sends the same Idempotency-Key and e-conomic replays instead of writing twice; where the e-conomic key
is ours to choose, the write is a PUT at that key, so even a lost binding cannot make a duplicate.

Nothing here knows a kind by name: everything comes from the `EntitySpec`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from clients.economic import EconomicClient
from clients.errors import NotFoundError
from clients.rackbeat import RackbeatClient
from tasks.entities import REGISTRY, get_spec
from tasks.entities.base import EntitySpec, Record, RecordRef
from tasks.sync.errors import DependencyCycle, MappingError
from tasks.sync.refs import idempotency_key, payload_hash
from tasks.sync.validation import validate_payload, writable_projection
from tasks.sync.writers import EconomicWriter, writer_for

logger = logging.getLogger(__name__)

Outcome = Literal["created", "replaced", "unchanged", "barred", "ignored"]


class Binding(Protocol):
    economic_key: Any
    hash: str | None


class BindingStore(Protocol):
    def get(self, kind: str, rackbeat_key: str) -> Binding | None: ...

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
    """The engine's view of our Redis store: whose keys, the bindings, and how to lock a record.

    `lock(kind, key)` is a context manager that holds the record's lock or raises `RecordBusy`.
    """

    connection_id: str
    bindings: BindingStore
    lock: Callable[[str, str], AbstractContextManager[Any]]


@dataclass
class ExportResult:
    kind: str
    key: str
    outcome: Outcome
    economic_key: Any = None
    api_calls: int = 0
    """Requests to either API made by this transfer, its dependencies' included."""
    dependencies: list[ExportResult] = field(default_factory=list)

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
        else:
            dependencies, refs = _export_dependencies(spec, record, clients, store, (*_chain, ref))
            result = _upsert(spec, rackbeat_key, record, refs, writer, store)
            result.dependencies = dependencies
    result.api_calls = clients.call_count() - calls_before
    return result


def _fetch_current(spec: EntitySpec, key: str, rackbeat: RackbeatClient) -> Record | None:
    try:
        return rackbeat.get(spec.rackbeat_resource, key, spec.rackbeat_singular)
    except NotFoundError:
        return None


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
    """"unchanged" when the dependency's embedded view maps to exactly what was last written for it.

    Anything else (no view, unbound, a different hash, a dependency with dependencies of its own) returns
    None and the dependency is exported in full. A change the view cannot show still reaches e-conomic
    through the dependency's own webhook.
    """
    spec = REGISTRY[kind]
    if view is None or spec.depends_on(view):
        return None
    binding = store.bindings.get(kind, key)
    if binding is None or binding.hash is None:
        return None
    try:
        payload = spec.to_economic(view, {})
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
    writer: EconomicWriter,
    store: ExportStore,
) -> ExportResult:
    payload = spec.to_economic(record, refs)
    binding = store.bindings.get(spec.kind, key)
    chosen_key = spec.economic_key(record)
    economic_key = chosen_key if chosen_key is not None else (binding.economic_key if binding else None)
    method = "PUT" if economic_key is not None else "POST"
    validate_payload(spec.economic_resource, payload, method=method)
    new_hash = payload_hash(payload)
    if binding is not None and binding.hash == new_hash and str(binding.economic_key) == str(economic_key):
        return ExportResult(spec.kind, key, "unchanged", economic_key)
    if chosen_key is not None and str(chosen_key) != key:
        logger.info(
            "%s %r is written to e-conomic as %r: e-conomic cannot take the Rackbeat key as it is",
            spec.kind, key, chosen_key,
        )
    previous_hash = binding.hash if binding is not None else None
    previous_written_at = binding.written_at if binding is not None else None
    outcome = writer.write(
        economic_key,
        payload,
        idempotency_key=idempotency_key(
            store.connection_id, spec.kind, key, previous_hash, new_hash, previous_written_at
        ),
        bound=binding is not None,
    )
    if outcome.economic_key is None:
        raise MappingError(
            spec.economic_key_field, "e-conomic did not return the key of the record it created",
            resource=spec.economic_resource, method=method,
        )
    store.bindings.put(
        spec.kind, key,
        economic_key=outcome.economic_key, payload_hash=new_hash, economic_resource=spec.economic_resource,
    )
    return ExportResult(spec.kind, key, "created" if outcome.created else "replaced", outcome.economic_key)


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
        spec.kind, key,
        economic_key=binding.economic_key, payload_hash=barred_hash, economic_resource=spec.economic_resource,
    )
    return ExportResult(spec.kind, key, "barred", binding.economic_key)
