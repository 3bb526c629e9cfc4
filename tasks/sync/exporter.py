"""The exporter: one Rackbeat record, of any registered kind, into e-conomic.

The binding is written only after e-conomic confirmed the write. A transfer that dies in between
(worker killed, answer lost) runs again with the same previous hash and maps the same record, so it
sends the same Idempotency-Key and e-conomic replays instead of writing twice; where the e-conomic key
is ours to choose, the write is a PUT at that key, so even a lost binding cannot make a duplicate.

Records a kind reads without exporting them (`ExportRules.related`) are handled by `tasks.sync.related`;
an "unchanged" export queues nothing, so a chain of readers ends where nothing is written.

The record a transfer was queued for is read through `SyncStore.reads` (`tasks.sync.readahead`: from a batch
read when one started after its latest event); its dependencies are read by themselves, or not at all when
`SyncStore.lookups` knows them in step (`tasks.sync.lookups`, noted here after each transfer).
Nothing here knows a kind by name: everything comes from the `EntitySpec`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from tasks.entities.base import EntitySpec, MappingContext, MappingDefaults, Record, RecordRef
from tasks.errors import MappingError
from tasks.sync.adoption import matching_record, refuse_a_record_another_owns
from tasks.sync.dependencies import resolve_dependencies
from tasks.sync.direction import Directions
from tasks.sync.ports import ApiClients, SyncStore
from tasks.sync.readahead import Read
from tasks.sync.refs import idempotency_key, payload_hash
from tasks.sync.related import notify_watchers, read_related
from tasks.sync.results import WRITTEN, TransferResult
from tasks.sync.retiring import retire_in_economic
from tasks.sync.sources import current_rackbeat
from tasks.sync.synchronizer import Synchronizer, Target, Written
from tasks.sync.validation import validate_payload
from tasks.sync.watchers import fingerprint
from tasks.sync.writers import EconomicWriter, writer_for

logger = logging.getLogger(__name__)


class Exporter(Synchronizer):
    """Rackbeat -> e-conomic."""

    target_api = "economic"

    def __init__(
        self,
        clients: ApiClients,
        store: SyncStore,
        defaults: MappingDefaults | None = None,
        directions: Directions | None = None,
    ) -> None:
        super().__init__(clients, store, defaults, directions)
        self._queued_for: RecordRef | None = None  # the record the transfer was queued for
        self._reads: dict[RecordRef, Read] = {}

    def transfer(self, kind: str, key: str, chain: tuple[RecordRef, ...] = ()) -> TransferResult:
        if not chain:
            self._queued_for = (kind, str(key))
        return super().transfer(kind, key, chain)

    def writer(self, spec: EntitySpec) -> EconomicWriter:
        return writer_for(spec.economic, self.clients.economic)

    def moves(self, spec: EntitySpec) -> bool:
        return spec.exports is not None and (self.directions is None or self.directions.exports(spec.kind))

    def target_resource(self, spec: EntitySpec) -> str:
        return spec.economic.resource

    def read(self, spec: EntitySpec, key: str) -> Record | None:
        reads, rackbeat = self.store.reads, self.clients.rackbeat
        if reads is None:
            done = Read(current_rackbeat(spec, key, rackbeat), 0, datetime.now(UTC))
        elif (spec.kind, key) == self._queued_for:
            done = reads.read(spec, key, rackbeat)
        else:  # a dependency: no event queued this transfer of it, so it is read as it is now
            done = reads.single(spec, key, rackbeat)
        self._reads[(spec.kind, key)] = done
        return done.record

    def retire(self, spec: EntitySpec, key: str) -> TransferResult:
        result = retire_in_economic(spec, key, self.writer(spec), self.store)
        if spec.export_rules.related is not None:
            self.store.watchers.forget((spec.kind, key))
        return result

    def resolve(
        self, spec: EntitySpec, key: str, source: Record, chain: tuple[RecordRef, ...]
    ) -> tuple[list[TransferResult], MappingContext]:
        dependencies, refs = resolve_dependencies(
            spec, source, self.store, self.defaults, self.transfer, chain
        )
        related = read_related(spec, (spec.kind, key), source, self.clients.rackbeat, self.store)
        return dependencies, MappingContext(refs=refs, related=related, defaults=self.defaults)

    def map(self, spec: EntitySpec, source: Record, context: MappingContext) -> dict[str, Any]:
        return spec.export_rules.to_economic(source, context)

    def target(self, spec: EntitySpec, key: str, source: Record, document: dict[str, Any]) -> Target:
        """The key we choose, else the bound one, else (for `adopt_by` kinds) a matching e-conomic record."""
        binding = self.store.bindings.get(spec.kind, key)
        chosen = spec.export_rules.economic_key(source)
        if chosen is not None:
            return Target(chosen, binding, renamed=str(chosen) != key)
        economic_key = binding.economic_key if binding else None
        if economic_key is None and spec.export_rules.adopt_by:
            economic_key = matching_record(spec, key, document, self.writer(spec))
            return Target(economic_key, binding, adopted=economic_key is not None)
        return Target(economic_key, binding)

    def validate(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> None:
        validate_payload(spec.economic, document)
        if target.key is not None:
            refuse_a_record_another_owns(spec, key, target.key, self.store)

    def unchanged(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> bool:
        binding = target.binding
        return (
            binding is not None
            and binding.hash == payload_hash(document)
            and str(binding.economic_key) == str(target.key)
        )

    def write(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> Written:
        binding = target.binding
        if target.renamed:
            logger.info(
                "%s %r is written to e-conomic as %r: e-conomic cannot take the Rackbeat key as it is",
                spec.kind,
                key,
                target.key,
            )
        outcome = self.writer(spec).write(
            target.key,
            document,
            idempotency_key=idempotency_key(
                self.store.connection_id,
                spec.kind,
                key,
                binding.hash if binding is not None else None,
                payload_hash(document),
                binding.written_at if binding is not None else None,
            ),
            bound=binding is not None or target.adopted,
        )
        if outcome.economic_key is None:
            raise MappingError(
                spec.economic.key_field,
                "e-conomic did not return the key of the record it created",
                api="economic",
                resource=spec.economic.resource,
            )
        if binding is None and target.key is None and outcome.created:
            logger.info(
                "%s %r became e-conomic %r (e-conomic assigns the number; bound)",
                spec.kind,
                key,
                outcome.economic_key,
            )
        return Written(outcome.economic_key, outcome.created)

    def bind(self, spec: EntitySpec, key: str, document: dict[str, Any], written: Written) -> None:
        self.store.bindings.put(
            spec.kind,
            key,
            economic_key=written.key,
            payload_hash=payload_hash(document),
            economic_resource=spec.economic.resource,
        )

    def after(
        self,
        spec: EntitySpec,
        ref: RecordRef,
        source: Record | None,
        result: TransferResult,
        chain: tuple[RecordRef, ...],
    ) -> None:
        read = self._reads.pop(ref, None)
        if read is not None:
            result.read_at = read.at
            if self.store.lookups is not None and self.store.reads is not None:
                self.store.lookups.note(result, source, read.clock)
        if result.outcome in WRITTEN:
            result.notified = notify_watchers(ref, fingerprint(source), self.store, chain)


def export_record(
    kind: str,
    rackbeat_key: str,
    *,
    clients: ApiClients,
    store: SyncStore,
    defaults: MappingDefaults | None = None,
    directions: Directions | None = None,
) -> TransferResult:
    """Bring e-conomic in step with the Rackbeat record `kind`/`rackbeat_key` as it is now."""
    return Exporter(clients, store, defaults, directions).transfer(kind, rackbeat_key)
