"""`StartupImporter`: the importer (`tasks.sync.importer.Importer`) as the start-up sync runs it.

The steps are the importer's own (lock, dependencies, map, unchanged?, write, bind: the bindings are
exactly what any import writes, so the exporter and the polls see the records in step). Three differ:

- `read`: the document comes from the page the runner read (no second GET per record); a dependency
  that is not on a page (a product's unit) is read as any import reads it;
- `target`: the binding, else Rackbeat's record the index (`tasks.startup.index`) matches, else a create.
  No per-record `find_existing` call for the kind being brought across and its companions; only a
  dependency of a kind already done (its index dropped), unbound because it was refused then, is looked
  up with it. A candidate already bound to another e-conomic record is passed over;
- ownership: every kind moves, whichever side the settings give it. A record Rackbeat already had (found
  by the index now, or bound "as found" before: a binding without `rackbeat_hash`) is bound and left as it
  is, unless `update_existing`; a record an import wrote (its binding has the hash) is ours, kept in
  step: unchanged -> no write, changed in e-conomic -> updated.

What each record became, for the counts, is kept in `notes` by (kind, e-conomic key) until the runner
takes it (`take_note`). One instance per thread: the importer keeps per-transfer state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tasks.entities.base import EntitySpec, MappingDefaults, Record, RecordRef
from tasks.startup.index import RackbeatIndex, differing_fields
from tasks.sync.direction import Directions
from tasks.sync.importer import Importer, ImportTarget, ImportWritten
from tasks.sync.ports import ApiClients, SyncStore
from tasks.sync.results import TransferResult
from tasks.sync.synchronizer import Target


@dataclass
class Note:
    """What the start-up sync learnt about one record on the way: whether Rackbeat had it before
    (`existing`), bound so already (`bound`), and the fields its record differs in from the mapped
    document (only for existing records)."""

    existing: bool = False
    bound: bool = False
    differs: list[str] = field(default_factory=list)


class StartupImporter(Importer):
    """The importer over pages of documents (see the module docstring)."""

    def __init__(
        self,
        clients: ApiClients,
        store: SyncStore,
        index: RackbeatIndex,
        defaults: MappingDefaults | None = None,
        directions: Directions | None = None,
        *,
        update_existing: bool = False,
        writes: threading.Semaphore | None = None,
    ) -> None:
        super().__init__(clients, store, defaults, directions)
        self.index = index
        self.update_existing = update_existing
        self.writes = writes
        """Shared by a run's importers: how many Rackbeat writes may be in flight at once."""
        self.notes: dict[RecordRef, Note] = {}
        self._given: dict[RecordRef, tuple[Record, datetime]] = {}
        self._leave_alone = True

    def bring(self, spec: EntitySpec, document: Record, read_at: datetime) -> tuple[TransferResult, Note]:
        """Bring one document read from a page across; the import's result and what was noted."""
        key = str(spec.economic_key_of(document))
        ref = (spec.kind, key)
        self._given[ref] = (document, read_at)
        try:
            result = self.transfer(spec.kind, key)
        finally:
            self._given.pop(ref, None)
        return result, self.take_note(spec.kind, key)

    def take_note(self, kind: str, key: str) -> Note:
        return self.notes.pop((kind, str(key)), Note())

    # --- the importer's steps, as the start-up sync takes them --------------------------------------

    def moves(self, spec: EntitySpec) -> bool:
        """Everything with import rules moves, whichever side owns the kind."""
        return spec.imports is not None

    def owns(self, kind: str) -> bool:
        """Whether the record at hand may be written: not when Rackbeat had it before (unless
        `update_existing`). Decided by `target`, which the importer asks just before."""
        return not self._leave_alone

    def read(self, spec: EntitySpec, key: str) -> Record | None:
        self._leave_alone = True  # a document gone from e-conomic leaves Rackbeat's record as it is
        given = self._given.get((spec.kind, key))
        if given is None:
            return super().read(spec, key)
        document, read_at = given
        self._read_at[(spec.kind, key)] = read_at
        return document

    def target(self, spec: EntitySpec, key: str, source: Record, document: dict[str, Any]) -> ImportTarget:
        if spec.kind not in self.index.indexed:
            target = super().target(spec, key, source, document)
        else:
            target = self._indexed_target(spec, key, source, document)
        binding = target.binding
        existing = target.adopted or (binding is not None and binding.rackbeat_hash is None)
        self._leave_alone = existing and not self.update_existing
        if existing and target.key is not None:
            found = self.index.fields(spec.kind, str(target.key)) if spec.kind in self.index.indexed else None
            note = Note(existing=True, bound=binding is not None)
            if found is not None:
                note.differs = differing_fields(document, found)
            self.notes[(spec.kind, key)] = note
        return target

    def write(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> ImportWritten:
        """The importer's write, one of the run's `writes` in flight."""
        if self.writes is None:
            return super().write(spec, key, document, target)
        with self.writes:
            return super().write(spec, key, document, target)

    def _indexed_target(
        self, spec: EntitySpec, key: str, source: Record, document: dict[str, Any]
    ) -> ImportTarget:
        rules = spec.import_rules
        common: dict[str, Any] = {
            "economic_key": spec.economic_key_of(source),
            "economic_version": rules.version(source),
            "create_key": rules.rackbeat_key(source),
        }
        read_at = self._read_at.get((spec.kind, key))
        if read_at is not None:
            common["read_at"] = read_at
        binding = self.store.bindings.bound_to_economic(spec.kind, key)
        if binding is not None:
            return ImportTarget(binding.rackbeat_key, binding, **common)
        body = dict(document)
        if common["create_key"] is not None:
            body[spec.rackbeat.key_field] = common["create_key"]
        for candidate in self.index.candidates(spec, body):
            bound = self.store.bindings.get(spec.kind, candidate)
            if bound is None or str(bound.economic_key) == str(common["economic_key"]):
                return ImportTarget(candidate, None, adopted=True, **common)
        return ImportTarget(None, None, **common)
