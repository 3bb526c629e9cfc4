"""The importer: one e-conomic document, of any kind with `ImportRules`, into Rackbeat.

The steps of the template (`tasks.sync.synchronizer`), the other way round:

    may the kind move? -> lock -> read e-conomic's document (its `sources` in order) -> gone? retire;
         not ready? leave -> dependencies first -> map -> where in Rackbeat (binding, else `find_existing`)
         -> unchanged since our last write? stop -> may it be updated? -> write to Rackbeat -> bind

Decisions, and why:
- The key of an import is e-conomic's (the task is `import_record(kind, economic_key)`), and so is its
  lock (`lock:{kind}:{economic key}`): for the kinds whose number is the same on both sides (customers,
  products, groups) an import and an export of one record also exclude each other.
- Exactly once in Rackbeat, which has no Idempotency-Key: a document is written where its binding says;
  unbound, `find_existing` looks for it in Rackbeat first (by number, or by the e-conomic number a
  document carries) and a found record is adopted. A create whose answer was lost is therefore found by
  the retry instead of being created twice.
- No echo. Rackbeat is written with `suppress_webhooks`, so our own write fires no Rackbeat event. The
  binding is shared with the export direction, and an import leaves it as an export would have: `hash`
  is what the exporter would send for the Rackbeat record as written (so a Rackbeat event, poll or
  resend that reads it finds it unchanged) and `seen_version` its `updated_at` (so the Rackbeat poll does
  not queue it). The e-conomic version read (`economic_seen`) lets the e-conomic polls skip a document
  already in step, including one whose change mapped to nothing (a secondary e-mail).
- Ownership (`tasks.sync.direction`): a kind e-conomic owns is imported and kept in step. A kind Rackbeat
  owns is only ever imported as a dependency (an order's customer when Rackbeat owns customers), and only
  when Rackbeat lacks it: an existing Rackbeat record is bound as it is, never updated.
- A document e-conomic no longer has (404): its Rackbeat record gets the kind's `when_gone` body (barred)
  when e-conomic owns the kind; otherwise, and for kinds without `when_gone`, Rackbeat keeps it as it is
  (logged, `ignored`): Rackbeat's orders, stock and history may refer to it, so nothing is deleted.
- `may_update` refuses an update of a record Rackbeat has moved on with (a booked order): the transfer is
  dead-lettered (`UpdateRefused`, permanent) in the rule's words; Rackbeat's record is never overwritten.
  An unchanged document is never refused (nothing would be written).
- A bound Rackbeat record that was deleted in Rackbeat is created again (logged), its old binding dropped.

Nothing here knows a kind by name: everything comes from the `EntitySpec`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clients.errors import NotFoundError
from tasks.entities import REGISTRY
from tasks.entities.base import (
    EntitySpec,
    MappingContext,
    MappingDefaults,
    Record,
    RecordRef,
)
from tasks.errors import MappingError, SyncError
from tasks.sync.direction import Directions
from tasks.sync.economic_sources import read_document
from tasks.sync.ports import ApiClients, SyncStore
from tasks.sync.refs import payload_hash
from tasks.sync.results import TransferResult
from tasks.sync.synchronizer import Synchronizer, Target, Written

logger = logging.getLogger(__name__)


class UpdateRefused(SyncError):
    """The Rackbeat record may not be updated any more (`ImportRules.may_update` gave the reason): the
    e-conomic change is not copied. Permanent: an operator decides (the dead letter says why)."""

    def __init__(self, kind: str, key: str, reason: str, *, resource: str, field_name: str) -> None:
        problem = f"{reason}; e-conomic's change to {kind} {key} is not copied"
        super().__init__(
            f"{problem} (refused before calling Rackbeat)",
            api="rackbeat",
            resource=resource,
            field_errors={field_name: [problem]},
        )
        self.reason = reason


@dataclass
class ImportTarget(Target):
    """Where an import writes (`key`: the Rackbeat key, None to create), plus what the import read on the
    way: the e-conomic document's typed key and version, when it was read, the key a new record is
    created at, and the Rackbeat record `find_existing` found."""

    economic_key: Any = None
    economic_version: str | None = None
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    create_key: Any = None
    existing: Record | None = None


@dataclass(frozen=True)
class ImportWritten(Written):
    """A Rackbeat write: the record as Rackbeat answered, and when the write was sent."""

    record: Record = field(default_factory=dict)
    sent_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    target: ImportTarget | None = None


class Importer(Synchronizer):
    """e-conomic -> Rackbeat."""

    target_api = "rackbeat"

    def __init__(
        self,
        clients: ApiClients,
        store: SyncStore,
        defaults: MappingDefaults | None = None,
        directions: Directions | None = None,
        *,
        suppress_webhooks: bool = True,
    ) -> None:
        super().__init__(clients, store, defaults, directions)
        self.suppress_webhooks = suppress_webhooks
        self._as_dependency: list[bool] = []
        self._read_at: dict[RecordRef, datetime] = {}
        """When each document being imported was read (before the read), for the version it brought."""

    def transfer(self, kind: str, key: str, chain: tuple[RecordRef, ...] = ()) -> TransferResult:
        """Bring Rackbeat in step with e-conomic's document `kind`/`key` (its e-conomic key) as it is now;
        inside another import (`chain`), as that import's dependency."""
        self._as_dependency.append(bool(chain))
        try:
            return super().transfer(kind, key, chain)
        finally:
            self._as_dependency.pop()
            self._read_at.pop((kind, str(key)), None)

    def owns(self, kind: str) -> bool:
        """Whether e-conomic owns the kind (then its changes are copied; else Rackbeat's record stands)."""
        return self.directions is None or kind in self.directions.imported

    # --- the steps --------------------------------------------------------------------------------

    def moves(self, spec: EntitySpec) -> bool:
        if spec.imports is None:
            return False
        return self._as_dependency[-1] or self.owns(spec.kind)

    def target_resource(self, spec: EntitySpec) -> str:
        return spec.rackbeat.resource

    def read(self, spec: EntitySpec, key: str) -> Record | None:
        read_at = datetime.now(UTC)  # before the read: what we read is at least this recent
        for source in spec.import_sources():
            document = read_document(source, key, self.clients.economic)
            if document is not None:
                self._read_at[(spec.kind, key)] = read_at
                return document
        return None

    def ready(self, spec: EntitySpec, source: Record) -> bool:
        return spec.import_rules.ready(source)

    def retire(self, spec: EntitySpec, key: str) -> TransferResult:
        binding = self.store.bindings.bound_to_economic(spec.kind, key)
        when_gone = spec.import_rules.when_gone
        if binding is None:
            logger.info("%s %r is gone from e-conomic and was never in Rackbeat", spec.kind, key)
            return TransferResult(spec.kind, key, "ignored")
        if when_gone is None or not self.owns(spec.kind):
            logger.info(
                "%s %r is gone from e-conomic; Rackbeat's %s %r is left as it is",
                spec.kind,
                key,
                spec.rackbeat.singular,
                binding.rackbeat_key,
            )
            return TransferResult(spec.kind, key, "ignored", binding.economic_key)
        document = dict(when_gone)
        try:
            record = self._update(spec, binding.rackbeat_key, document)
        except NotFoundError:
            logger.info("%s %r is gone from both e-conomic and Rackbeat", spec.kind, key)
            return TransferResult(spec.kind, key, "ignored", binding.economic_key)
        self.store.bindings.put_import(
            spec.kind,
            binding.rackbeat_key,
            economic_key=binding.economic_key,
            economic_resource=binding.economic_resource or spec.economic.resource,
            rackbeat_hash=payload_hash(document),
            economic_hash=self.export_hash(spec, record),
            rackbeat_seen=self._rackbeat_seen(record, datetime.now(UTC)),
        )
        logger.info("%s %r is gone from e-conomic: Rackbeat's record %r retired", spec.kind, key, document)
        return TransferResult(spec.kind, key, "barred", binding.economic_key)

    def resolve(
        self, spec: EntitySpec, key: str, source: Record, chain: tuple[RecordRef, ...]
    ) -> tuple[list[TransferResult], MappingContext]:
        """Each dependency's Rackbeat key: a bound one from its binding (no call); an unbound one of a kind
        with import rules is imported first; any other only if bound (the mapper decides if optional)."""
        bindings = self.store.bindings
        results: list[TransferResult] = []
        refs: dict[RecordRef, Any] = {}
        for dep_kind, dep_key in spec.import_rules.dependencies(source):
            dep_key = str(dep_key)
            rackbeat_key = bindings.rackbeat_key_for(dep_kind, dep_key)
            dep_spec = REGISTRY.get(dep_kind)
            if rackbeat_key is None and dep_spec is not None and dep_spec.imports is not None:
                results.append(self.transfer(dep_kind, dep_key, chain))
                rackbeat_key = bindings.rackbeat_key_for(dep_kind, dep_key)
            if rackbeat_key is not None:
                refs[(dep_kind, dep_key)] = rackbeat_key
        return results, MappingContext(refs=refs, defaults=self.defaults)

    def map(self, spec: EntitySpec, source: Record, context: MappingContext) -> dict[str, Any]:
        return spec.import_rules.to_rackbeat(source, context)

    def target(self, spec: EntitySpec, key: str, source: Record, document: dict[str, Any]) -> ImportTarget:
        """The bound Rackbeat record, else the one `find_existing` finds, else a new one."""
        rules = spec.import_rules
        read_at = self._read_at.get((spec.kind, key))
        common: dict[str, Any] = {
            "economic_key": spec.economic_key_of(source),
            "economic_version": rules.version(source),
            "create_key": rules.rackbeat_key(source),
        }
        if read_at is not None:
            common["read_at"] = read_at
        binding = self.store.bindings.bound_to_economic(spec.kind, key)
        if binding is not None:
            return ImportTarget(binding.rackbeat_key, binding, **common)
        if rules.find_existing is not None:
            found = rules.find_existing(self.clients.rackbeat, source)
            if found is not None:
                found_key = spec.rackbeat.key_of(found)
                logger.info(
                    "%s %r is already in Rackbeat as %r; bound to it instead of creating another",
                    spec.kind,
                    key,
                    found_key,
                )
                return ImportTarget(found_key, None, adopted=True, existing=found, **common)
        return ImportTarget(None, None, **common)

    def validate(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> None:
        """The mappers refuse what Rackbeat would (naming the Rackbeat field); Rackbeat's own 422 is
        dead-lettered in its words."""

    def unchanged(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> bool:
        binding = target.binding
        return (
            binding is not None
            and binding.rackbeat_hash is not None
            and binding.rackbeat_hash == payload_hash(document)
            and str(binding.rackbeat_key) == str(target.key)
        )

    def bring_across(
        self, spec: EntitySpec, key: str, source: Record, chain: tuple[RecordRef, ...]
    ) -> TransferResult:
        """The template's steps, plus the import's own case: a record Rackbeat owns and already has is
        bound as it is, never written."""
        dependencies, context = self.resolve(spec, key, source, chain)
        document = self.map(spec, source, context)
        target = self.target(spec, key, source, document)
        self.validate(spec, key, document, target)
        if self.unchanged(spec, key, document, target):
            self._note_version(spec, target)
            result = TransferResult(spec.kind, key, "unchanged", target.economic_key)
        elif target.key is not None and not self.owns(spec.kind):
            if target.binding is None:
                self._bind_as_found(spec, target)
            logger.info(
                "%s %r: Rackbeat owns this kind and has it as %r; not updated", spec.kind, key, target.key
            )
            result = TransferResult(spec.kind, key, "unchanged", target.economic_key)
        else:
            written = self.write(spec, key, document, target)
            self.bind(spec, key, document, written)
            result = TransferResult(
                spec.kind, key, "created" if written.created else "replaced", target.economic_key
            )
        result.dependencies = dependencies
        result.source_version = target.economic_version
        return result

    def write(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> ImportWritten:
        assert isinstance(target, ImportTarget)
        rules = spec.import_rules
        sent_at = datetime.now(UTC)
        if target.key is not None:
            if rules.may_update is not None:
                existing = target.existing or self._current(spec, target.key)
                reason = rules.may_update(existing) if existing is not None else None
                if reason:
                    raise UpdateRefused(
                        spec.kind,
                        key,
                        reason,
                        resource=spec.rackbeat.resource,
                        field_name=spec.rackbeat.key_field,
                    )
            try:
                record = self._update(spec, target.key, document)
                return ImportWritten(spec.rackbeat.key_of(record), False, record, sent_at, target)
            except NotFoundError:
                if target.binding is None:
                    raise
                logger.warning(
                    "%s %r: Rackbeat's %s %r bound to it is gone; created again",
                    spec.kind,
                    key,
                    spec.rackbeat.singular,
                    target.key,
                )
                self.store.bindings.delete(spec.kind, str(target.key))
        body = dict(document)
        if target.create_key is not None:
            body[spec.rackbeat.key_field] = target.create_key
        record = self._create(spec, body)
        return ImportWritten(spec.rackbeat.key_of(record), True, record, sent_at, target)

    def bind(self, spec: EntitySpec, key: str, document: dict[str, Any], written: Written) -> None:
        assert isinstance(written, ImportWritten) and written.target is not None
        target = written.target
        self.store.bindings.put_import(
            spec.kind,
            str(written.key),
            economic_key=target.economic_key,
            economic_resource=spec.economic.resource,
            rackbeat_hash=payload_hash(document),
            economic_hash=self.export_hash(spec, written.record),
            rackbeat_seen=self._rackbeat_seen(written.record, written.sent_at),
            economic_seen=self._economic_seen(target),
        )

    def after(
        self,
        spec: EntitySpec,
        ref: RecordRef,
        source: Record | None,
        result: TransferResult,
        chain: tuple[RecordRef, ...],
    ) -> None:
        """Nothing reads an imported record the way lots read products: no watchers to queue."""

    # --- helpers ----------------------------------------------------------------------------------

    def export_hash(self, spec: EntitySpec, record: Record) -> str | None:
        """What the exporter would send e-conomic for this Rackbeat record (its hash), so the export
        direction finds the imported record in step; None for kinds that are never exported, or when the
        record cannot be mapped (then an export would say why)."""
        rules = spec.exports
        if rules is None:
            return None
        refs: dict[RecordRef, Any] = {}
        for dep_kind, dep_key in rules.depends_on(record):
            binding = self.store.bindings.get(dep_kind, str(dep_key))
            if binding is not None:
                refs[(dep_kind, str(dep_key))] = binding.economic_key
        try:
            payload = rules.to_economic(record, MappingContext(refs=refs, defaults=self.defaults))
        except (MappingError, KeyError, TypeError, ValueError) as error:
            logger.info("%s %r: no export hash kept (%s)", spec.kind, spec.rackbeat.key_of(record), error)
            return None
        return payload_hash(payload)

    def _body(self, document: dict[str, Any]) -> dict[str, Any]:
        """The written body: with `suppress_webhooks`, so our own write fires no Rackbeat event
        (rackbeat-api.md §1.4, §3.2: a query or body flag of every write)."""
        return {**document, "suppress_webhooks": True} if self.suppress_webhooks else dict(document)

    def _create(self, spec: EntitySpec, document: dict[str, Any]) -> dict[str, Any]:
        rackbeat, side, rules = self.clients.rackbeat, spec.rackbeat, spec.import_rules
        path = rules.upsert_path or rules.create_path or side.resource
        return rackbeat.create(path, side.singular, self._body(document))

    def _update(self, spec: EntitySpec, rackbeat_key: Any, document: dict[str, Any]) -> dict[str, Any]:
        rackbeat, side = self.clients.rackbeat, spec.rackbeat
        upsert = spec.import_rules.upsert_path
        if upsert is not None:
            return rackbeat.create(
                upsert, side.singular, self._body({**document, side.key_field: rackbeat_key})
            )
        return rackbeat.update(side.resource, rackbeat_key, side.singular, self._body(document))

    def _current(self, spec: EntitySpec, rackbeat_key: Any) -> Record | None:
        try:
            return self.clients.rackbeat.get(spec.rackbeat.resource, rackbeat_key, spec.rackbeat.singular)
        except NotFoundError:
            return None

    @staticmethod
    def _rackbeat_seen(record: Record, at: datetime) -> tuple[str, datetime] | None:
        version = record.get("updated_at")
        return (str(version), at) if version else None

    @staticmethod
    def _economic_seen(target: ImportTarget) -> tuple[str, datetime] | None:
        return (target.economic_version, target.read_at) if target.economic_version else None

    def _note_version(self, spec: EntitySpec, target: ImportTarget) -> None:
        if target.economic_version and target.key is not None:
            self.store.bindings.mark_economic_seen(
                spec.kind, str(target.key), target.economic_version, target.read_at
            )

    def _bind_as_found(self, spec: EntitySpec, target: ImportTarget) -> None:
        """Bind a record Rackbeat owns and already has, without writing it (no `rackbeat_hash`)."""
        self.store.bindings.put_import(
            spec.kind,
            str(target.key),
            economic_key=target.economic_key,
            economic_resource=spec.economic.resource,
            rackbeat_hash=None,
            economic_seen=self._economic_seen(target),
        )


def import_record(
    kind: str,
    economic_key: str,
    *,
    clients: ApiClients,
    store: SyncStore,
    defaults: MappingDefaults | None = None,
    directions: Directions | None = None,
    suppress_webhooks: bool = True,
) -> TransferResult:
    """Bring Rackbeat in step with e-conomic's document `kind`/`economic_key` as it is now."""
    importer = Importer(clients, store, defaults, directions, suppress_webhooks=suppress_webhooks)
    return importer.transfer(kind, economic_key)
