"""The steps every transfer of one record takes, whichever way it moves (OCA connector's synchronizer).

    may this direction move the kind? -> lock -> read the source as it is now -> gone? retire it;
         not final yet (an unbooked document)? leave it
         -> resolve dependencies -> map -> choose the target key -> validate
         -> unchanged? stop -> write -> bind -> (lock released) after the write

`Synchronizer.transfer` is the template; a direction (the exporter today; the importer and the document
poster beside it) fills in the steps. The lock comes before the read because the dependencies are only
known from the record as read, and a record is read, compared and written by one worker at a time; the
dependencies are transferred inside the lock, each under its own.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from clients.errors import Api
from tasks.entities import get_spec
from tasks.entities.base import EntitySpec, MappingContext, MappingDefaults, Record, RecordRef
from tasks.errors import DependencyCycle
from tasks.sync.direction import Directions
from tasks.sync.ports import ApiClients, SyncStore
from tasks.sync.results import TransferResult

logger = logging.getLogger(__name__)


@dataclass
class Target:
    """Where a mapped document goes: the key on the other side (None: the target assigns one), the
    record's current binding, whether the key was found by adopting an existing record, and whether it
    differs from the source's own key because the target cannot hold that one."""

    key: Any
    binding: Any
    adopted: bool = False
    renamed: bool = False


@dataclass(frozen=True)
class Written:
    key: Any
    created: bool


class Synchronizer(ABC):
    """One direction's steps (see the module docstring). Subclasses implement the abstract steps."""

    #: The API records are written to.
    target_api: Api

    def __init__(
        self,
        clients: ApiClients,
        store: SyncStore,
        defaults: MappingDefaults | None = None,
        directions: Directions | None = None,
    ) -> None:
        """`defaults` and `directions` come from the settings (`MappingDefaults.from_settings`,
        `Directions.of`); left out, the settings' own defaults apply and every kind may move."""
        self.clients = clients
        self.store = store
        self.defaults = defaults if defaults is not None else MappingDefaults()
        self.directions = directions

    def transfer(self, kind: str, key: str, chain: tuple[RecordRef, ...] = ()) -> TransferResult:
        """Bring the other side in step with the source record `kind`/`key` as it is now."""
        spec = get_spec(kind)
        key = str(key)
        ref = (kind, key)
        if ref in chain:
            raise DependencyCycle([*chain, ref], api=self.target_api, resource=self.target_resource(spec))
        if not self.moves(spec):
            logger.info(
                "%s %r: the settings give this kind to the other side; nothing is transferred", kind, key
            )
            return TransferResult(kind, key, "ignored")
        calls_before = self.clients.call_count()
        with self.store.lock(kind, key):
            source = self.read(spec, key)
            if source is None:
                result = self.retire(spec, key)
            elif not self.ready(spec, source):
                logger.info("%s %r is not final at its source yet; nothing is transferred", kind, key)
                result = TransferResult(kind, key, "ignored")
            else:
                result = self.bring_across(spec, key, source, (*chain, ref))
                result.source_version = str(source["updated_at"]) if source.get("updated_at") else None
        self.after(spec, ref, source, result, chain)
        result.api_calls = self.clients.call_count() - calls_before
        return result

    def bring_across(
        self, spec: EntitySpec, key: str, source: Record, chain: tuple[RecordRef, ...]
    ) -> TransferResult:
        dependencies, context = self.resolve(spec, key, source, chain)
        document = self.map(spec, source, context)
        target = self.target(spec, key, source, document)
        self.validate(spec, key, document, target)
        if self.unchanged(spec, key, document, target):
            result = TransferResult(spec.kind, key, "unchanged", target.key)
        else:
            written = self.write(spec, key, document, target)
            self.bind(spec, key, document, written)
            result = TransferResult(spec.kind, key, "created" if written.created else "replaced", written.key)
        result.dependencies = dependencies
        return result

    # --- the steps --------------------------------------------------------------------------------

    @abstractmethod
    def moves(self, spec: EntitySpec) -> bool:
        """Whether this direction may move the kind under the settings (`tasks.sync.direction`)."""

    @abstractmethod
    def target_resource(self, spec: EntitySpec) -> str:
        """The collection the kind is written to on the target side."""

    @abstractmethod
    def read(self, spec: EntitySpec, key: str) -> Record | None:
        """The source record as it is now; None when the source no longer has it."""

    def ready(self, spec: EntitySpec, source: Record) -> bool:
        """Whether the source record may move now (a document only once it is booked); master data always."""
        return True

    @abstractmethod
    def retire(self, spec: EntitySpec, key: str) -> TransferResult:
        """The source record is gone: what becomes of its counterpart."""

    @abstractmethod
    def resolve(
        self, spec: EntitySpec, key: str, source: Record, chain: tuple[RecordRef, ...]
    ) -> tuple[list[TransferResult], MappingContext]:
        """Transfer or look up the dependencies; the context the mapper gets."""

    @abstractmethod
    def map(self, spec: EntitySpec, source: Record, context: MappingContext) -> dict[str, Any]:
        """The document for the target side (a pure function of the source and the context)."""

    @abstractmethod
    def target(self, spec: EntitySpec, key: str, source: Record, document: dict[str, Any]) -> Target:
        """Where the document goes."""

    @abstractmethod
    def validate(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> None:
        """Raise a MappingError for a document the target would refuse, before any call."""

    @abstractmethod
    def unchanged(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> bool:
        """Whether the target already holds exactly this document (then nothing is written)."""

    @abstractmethod
    def write(self, spec: EntitySpec, key: str, document: dict[str, Any], target: Target) -> Written:
        """Create or replace the document on the target side."""

    @abstractmethod
    def bind(self, spec: EntitySpec, key: str, document: dict[str, Any], written: Written) -> None:
        """Record the pair of keys (and what was written) once the target confirmed the write."""

    @abstractmethod
    def after(
        self,
        spec: EntitySpec,
        ref: RecordRef,
        source: Record | None,
        result: TransferResult,
        chain: tuple[RecordRef, ...],
    ) -> None:
        """After the lock is released (an exporter queues the records that read this one)."""
