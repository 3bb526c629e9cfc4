"""The declarative description of one kind of record that moves from Rackbeat to e-conomic.

A kind is data plus two pure functions: the generic engine (`tasks.sync.export`) reads an `EntitySpec`
and never branches on the kind's name. How the record is written in e-conomic is declared too
(`economic_writer`): most kinds live in the legacy REST API, a few (product groups, supplier groups,
employees) can only be written through one of e-conomic's OpenAPI services, which behave differently
(PUT at collection level, `objectVersion` required, 204 answers). The engine picks the write strategy
from the type of that field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tasks.sync.validation import FieldRule

Record = Mapping[str, Any]
"""A Rackbeat record as the API returns it, unwrapped from its envelope."""

RecordRef = tuple[str, str]
"""(kind, rackbeat_key) of a record another record refers to."""

Refs = Mapping[RecordRef, Any]
"""e-conomic keys of the dependencies, by (kind, rackbeat_key). Unbound optional ones are absent."""

Related = Mapping[RecordRef, Record]
"""The current Rackbeat version of the records a mapper reads, by (kind, rackbeat_key); gone ones absent."""

Mapper = Callable[..., dict[str, Any]]
"""`(record, refs) -> payload`, or `(record, refs, related) -> payload` for a kind that declares `related`."""

Action = Literal["upsert", "delete"]


@dataclass(frozen=True)
class LegacyResource:
    """A resource of e-conomic's legacy REST API (`restapi.e-conomic.com/<path>`).

    PUT at the resource address is a full replace, and creates the record when the number is new, so a
    kind whose e-conomic key is caller-supplied is always written with PUT: a lost binding can never
    lead to a second record. Kinds with server-assigned numbers POST to the collection when unbound.
    """

    path: str

    @property
    def resource_id(self) -> str:
        return self.path


@dataclass(frozen=True)
class OpenApiRoute:
    """A collection of one of e-conomic's OpenAPI services (`apis.e-conomic.com/<service>/<version>/<route>`).

    There, a create is POST to the collection, an update is PUT *to the collection* with the key in the
    body and the record's current `objectVersion` (so an update costs a read first), and GET/DELETE
    address `<route>/<key>`.
    """

    service: str
    version: str
    route: str

    @property
    def resource_id(self) -> str:
        return f"{self.service}/{self.route}"


EconomicWriter = LegacyResource | OpenApiRoute


def _no_dependencies(record: Record) -> list[RecordRef]:
    return []


def _server_assigned(record: Record) -> None:
    return None


def _nothing_embedded(record: Record) -> dict[RecordRef, Record]:
    return {}


@dataclass(frozen=True)
class EntitySpec:
    """Everything the engine needs to move one kind from Rackbeat to e-conomic.

    `depends_on(record)` names the records this one refers to. Dependencies of a registered kind are
    exported first in the same transfer; for a kind not (yet) registered the engine only looks up its
    binding, so a mapper must treat such a ref as optional (a product's unit, for instance).
    `economic_key(record)` returns the e-conomic key when the caller chooses it (product numbers,
    product group numbers) and None when e-conomic assigns it on create.
    `embedded(record)` returns the views of dependencies Rackbeat embeds in the record (a product's
    `group`): when a dependency mapped from its view hashes to what its binding says was written, it
    is current and the engine spares the fetch; otherwise it is exported in full.
    `related(record)`, when declared, names Rackbeat records whose CURRENT version the mapper reads
    (a lot's component products, for their cost price). They are not exported: the engine fetches each
    before mapping and hands them to the mapper, and re-exports this record when one of them is written
    to e-conomic later (`tasks.sync.watchers`). Such a kind's `to_economic` takes `related` as a third
    argument; `map()` is the one place that choice is made.
    """

    kind: str
    rackbeat_resource: str
    rackbeat_singular: str
    rackbeat_key_field: str
    economic_writer: EconomicWriter
    economic_key_field: str
    to_economic: Mapper
    events: frozenset[str] = frozenset()
    delete_events: frozenset[str] = frozenset()
    depends_on: Callable[[Record], list[RecordRef]] = _no_dependencies
    embedded: Callable[[Record], dict[RecordRef, Record]] = _nothing_embedded
    economic_key: Callable[[Record], Any] = _server_assigned
    barrable: bool = False
    # e-conomic's limits on the written document (from its published schemas): checked before every
    # call, and what a barring replace may send back. Kinds writing a resource the engine already has a
    # table for (products) leave it empty.
    constraints: tuple[FieldRule, ...] = ()
    # For kinds whose key e-conomic assigns: the mapped fields that identify a record e-conomic already
    # has (an agreement comes with its own units and payment terms). An unbound record matching one is
    # bound to it and replaced, instead of being created a second time.
    adopt_by: tuple[str, ...] = ()
    # The e-conomic field that bars the record (legacy REST says `barred`, projectsapi `isBarred`).
    barred_field: str = "barred"
    # The Settings field naming which side is master for this kind ("rackbeat" | "economic"); None when
    # Rackbeat always is. When e-conomic is master, Rackbeat events for the kind are not pushed.
    master_setting: str | None = None
    # e-conomic fields whose current value wins over the mapped one when the record already exists
    # (settings a bookkeeper owns, such as a product group's sales account). Honoured by writers that
    # read before they write (OpenAPI routes, which need the objectVersion anyway).
    keep_on_update: tuple[str, ...] = field(default=())
    related: Callable[[Record], list[RecordRef]] | None = None

    def map(self, record: Record, refs: Refs, related: Related | None = None) -> dict[str, Any]:
        """The e-conomic document for `record`: `to_economic` called with the arguments this kind declares."""
        if self.related is None:
            return self.to_economic(record, refs)
        return self.to_economic(record, refs, related or {})

    def related_refs(self, record: Record) -> list[RecordRef]:
        """The records `related` names, keys as strings, each once, in order; [] for kinds without it."""
        if self.related is None:
            return []
        refs = ((kind, str(key)) for kind, key in self.related(record))
        return list(dict.fromkeys(refs))

    @property
    def economic_resource(self) -> str:
        """The legacy path or `<service>/<route>` of the OpenAPI collection this kind is written to."""
        return self.economic_writer.resource_id

    def rackbeat_key(self, record: Record) -> str:
        """The record's Rackbeat key as a string (Rackbeat sends numbers as ints or strings)."""
        return str(record[self.rackbeat_key_field])

    def action_for(self, event: str) -> Action | None:
        if event in self.delete_events:
            return "delete"
        if event in self.events:
            return "upsert"
        return None
