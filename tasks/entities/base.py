"""The declarative description of one kind of record the service keeps in step between the two systems.

A kind has two sides, what it is in Rackbeat (`RackbeatSide`) and what it is in e-conomic
(`EconomicSide`), and up to two ways across: how a Rackbeat record becomes an e-conomic document
(`ExportRules`) and how an e-conomic record becomes a Rackbeat one (`ImportRules`). Either way may be
absent. Which side owns a kind, given the settings, is decided in one place (`tasks.sync.direction`)
from `EntitySpec.master`.

The engine reads specs and never branches on a kind's name. Mappers are pure functions of the record and
an explicit `MappingContext` (the e-conomic keys of its dependencies, the records it reads, the
settings-derived defaults): they never read the settings themselves.

This module is the bottom of `tasks`: it imports nothing from the engine, so every kind module can be
read, and tested, on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

from tasks.settings import MasterSide, Settings

Record = Mapping[str, Any]
"""A record as an API returns it, unwrapped from its envelope."""

RecordRef = tuple[str, str]
"""(kind, key) of a record another record refers to: its Rackbeat key when it is exported (`ExportRules`),
its e-conomic key when it is imported (`ImportRules`), the key of the side the record is read from."""

Refs = Mapping[RecordRef, Any]
"""The other side's keys of the dependencies: e-conomic keys by (kind, rackbeat_key) for an export, Rackbeat
keys by (kind, economic_key) for an import. Unbound optional ones are absent."""

Related = Mapping[RecordRef, Record]
"""The current Rackbeat version of the records a mapper reads, by (kind, rackbeat_key); gone ones absent."""

Action = Literal["upsert", "delete"]

MasterData = Literal["customers", "products"]
"""The master-data families whose owner a setting chooses (`RBSYNC_CUSTOMERS_MASTER`, `..._PRODUCTS_...`)."""

JsonType = Literal["string", "integer", "number", "boolean", "object"]


@dataclass(frozen=True)
class FieldRule:
    """One property of a writable document, from the target's published schema. `path` is dotted;
    `required` applies when the parent object is present."""

    path: str
    type: JsonType
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_decimals: int | None = None


def _setting_default(name: str) -> Any:
    """A setting's default, read from `Settings` so it is written down once."""
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class MappingDefaults:
    """What the settings decide for every mapping (built once per transfer, `from_settings`)."""

    home_country: str = _setting_default("company_home_country")
    customer_group_account: int = _setting_default("customer_group_account")
    customer_default_group: int = _setting_default("customer_default_group")
    customer_default_layout: int | None = _setting_default("customer_default_layout")
    supplier_group_creditor_account: int = _setting_default("supplier_group_creditor_account")
    default_supplier_group: int = _setting_default("default_supplier_group")
    employee_group: int = _setting_default("employee_group")
    supplier_invoice_journal: int | None = _setting_default("supplier_invoice_journal")
    supplier_invoice_accounts: Mapping[str, Mapping[str, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> MappingDefaults:
        return cls(
            home_country=settings.company_home_country,
            customer_group_account=settings.customer_group_account,
            customer_default_group=settings.customer_default_group,
            customer_default_layout=settings.customer_default_layout,
            supplier_group_creditor_account=settings.supplier_group_creditor_account,
            default_supplier_group=settings.default_supplier_group,
            employee_group=settings.employee_group,
            supplier_invoice_journal=settings.supplier_invoice_journal,
            supplier_invoice_accounts=MappingProxyType(
                {
                    group: MappingProxyType(dict(zones))
                    for group, zones in settings.supplier_invoice_accounts.items()
                }
            ),
        )


@dataclass(frozen=True)
class MappingContext:
    """Everything a mapper may use beside the record itself."""

    refs: Refs = field(default_factory=dict)
    related: Related = field(default_factory=dict)
    defaults: MappingDefaults = field(default_factory=MappingDefaults)


Mapper = Callable[[Record, MappingContext], dict[str, Any]]
"""`(record, context) -> document for the other side`; pure."""


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


EconomicTarget = LegacyResource | OpenApiRoute


@dataclass(frozen=True)
class RackbeatSide:
    """What the kind is in Rackbeat: its collection, the envelope key of one record, its key field, and
    the webhook events that announce a change (`events`) or a deletion (`delete_events`)."""

    resource: str
    singular: str
    key_field: str = "number"
    events: frozenset[str] = frozenset()
    delete_events: frozenset[str] = frozenset()

    @classmethod
    def with_events(cls, resource: str, singular: str, event_prefix: str | None = None) -> RackbeatSide:
        """The usual shape: `<prefix>.created` and `<prefix>.updated` announce a change, `<prefix>.deleted` a
        deletion; the prefix is the singular unless Rackbeat spells its events otherwise."""
        prefix = event_prefix or singular
        return cls(
            resource=resource,
            singular=singular,
            events=frozenset({f"{prefix}.created", f"{prefix}.updated"}),
            delete_events=frozenset({f"{prefix}.deleted"}),
        )

    def key_of(self, record: Record) -> str:
        """The record's Rackbeat key as a string (Rackbeat sends numbers as ints or strings)."""
        return str(record[self.key_field])

    def action_for(self, event: str) -> Action | None:
        if event in self.delete_events:
            return "delete"
        if event in self.events:
            return "upsert"
        return None


@dataclass(frozen=True)
class EconomicSide:
    """What the kind is in e-conomic.

    `target` is the surface it is written through (legacy REST or an OpenAPI service: the engine picks the
    write strategy from its type). `barred_field` names the field that bars a record (legacy REST says
    `barred`, projectsapi `isBarred`); None for kinds e-conomic cannot bar, which are left alone when
    Rackbeat deletes them. `writable_fields` are e-conomic's limits on the written document, from its
    published schemas: checked before every call, and what a barring replace may send back.
    `keep_on_update` names fields whose current e-conomic value wins over the mapped one when the record
    exists (settings a bookkeeper owns), honoured by writers that read before they write.
    """

    target: EconomicTarget
    key_field: str
    barred_field: str | None = None
    writable_fields: tuple[FieldRule, ...] = ()
    keep_on_update: tuple[str, ...] = ()

    @property
    def resource(self) -> str:
        """The legacy path or `<service>/<route>` of the OpenAPI collection."""
        return self.target.resource_id

    @property
    def barrable(self) -> bool:
        return self.barred_field is not None


def _no_dependencies(record: Record) -> list[RecordRef]:
    return []


def _server_assigned(record: Record) -> None:
    return None


def _nothing_embedded(record: Record) -> dict[RecordRef, Record]:
    return {}


@dataclass(frozen=True)
class ExportRules:
    """How a Rackbeat record of the kind becomes an e-conomic document.

    `to_economic(record, context)` is the mapper. `depends_on(record)` names the records this one refers
    to: dependencies of a registered kind are exported first in the same transfer; for a kind not
    registered the engine only looks up its binding, so a mapper treats such a ref as optional.
    `economic_key(record)` returns the e-conomic key when we choose it (product numbers, group numbers)
    and None when e-conomic assigns it on create.
    `embedded(record)` returns the views of dependencies Rackbeat embeds in the record (a product's
    `group`): when a dependency mapped from its view hashes to what its binding says was written, it is
    current and the engine spares the fetch.
    `related(record)`, when declared, names Rackbeat records whose CURRENT version the mapper reads (a
    lot's components, for their cost price). They are not exported: the engine fetches each before mapping
    (`MappingContext.related`) and exports this record again when one of them is written later.
    `adopt_by`, for kinds whose key e-conomic assigns: the mapped fields that identify a record e-conomic
    already has (an agreement comes with its own units and payment terms); an unbound record matching one
    is bound to it instead of being created a second time.
    """

    to_economic: Mapper
    economic_key: Callable[[Record], Any] = _server_assigned
    depends_on: Callable[[Record], list[RecordRef]] = _no_dependencies
    embedded: Callable[[Record], dict[RecordRef, Record]] = _nothing_embedded
    related: Callable[[Record], list[RecordRef]] | None = None
    adopt_by: tuple[str, ...] = ()

    def related_refs(self, record: Record) -> list[RecordRef]:
        """The records `related` names, keys as strings, each once, in order; [] for kinds without it."""
        if self.related is None:
            return []
        refs = ((kind, str(key)) for kind, key in self.related(record))
        return list(dict.fromkeys(refs))


PollGroup = Literal["orders", "master", "projects"]
"""The beat poll of e-conomic that reads a kind's changes (`tasks.economic_polls`): sales orders every few
minutes, the master data e-conomic owns every hour, projects every hour with Project Management on."""


class RackbeatLookup(Protocol):
    """The reads a `find_existing` may make in Rackbeat (what `clients.rackbeat.RackbeatClient` offers).
    `get` raises the client's `NotFoundError` for a record Rackbeat does not have."""

    def get(self, resource: str, key: str | int, singular: str) -> dict[str, Any]: ...

    def iter(
        self, resource: str, plural: str, params: Mapping[str, Any] | None = None, limit: int = 1000
    ) -> Iterator[dict[str, Any]]: ...


def _always(record: Record) -> bool:
    return True


def _last_updated(document: Record) -> str | None:
    value = document.get("lastUpdated")
    return str(value) if value else None


@dataclass(frozen=True)
class ImportRules:
    """How an e-conomic record of the kind becomes a Rackbeat one (the e-conomic -> Rackbeat direction,
    `tasks.sync.importer`). Everything here is keyed by e-conomic's numbers; the engine keeps the pair.

    `to_rackbeat(document, context)` is the mapper (pure): the body written to Rackbeat. Its
    `context.refs` holds, by (kind, e-conomic key), the Rackbeat key of each dependency it could resolve.
    Every field it does not name is never copied: `never_copied` lists the e-conomic fields the mapper
    leaves out on purpose (seed README, "What is NOT synchronised"), for the docs and the tests.
    `rackbeat_key(document)`: the Rackbeat key a new record is created at (customers, products, groups:
    e-conomic's own number), or None when Rackbeat assigns it.
    `economic_key(document)`: the document's e-conomic key as the binding keeps it (typed: a customer
    number stays an int); None: `document[spec.economic.key_field]`.
    `dependencies(document)`: (kind, e-conomic key) of the records to bring across first, in order (a
    customer's group and payment terms, an order's customer and products). A bound one costs nothing; an
    unbound one of a kind with import rules is imported first, under its own lock, and created in Rackbeat
    only when `find_existing` does not find it there (a kind Rackbeat owns is never updated by an import);
    one of any other kind is looked up in the bindings only, and the mapper decides whether it is optional.
    `find_existing(rackbeat, document)`: the Rackbeat record this document already is, for an unbound
    document (by number, or by the e-conomic number a document carries); what makes a create exactly-once
    in Rackbeat, which has no Idempotency-Key. None: the bindings alone decide.
    `may_update(existing)`: a reason to leave an existing Rackbeat record alone ("Rackbeat has booked
    this order"); the import is then refused (dead-lettered in those words), never overwritten. None: any
    record may be updated.
    `sources`: where e-conomic holds the document, read in this order (the first that has it wins) and each
    polled on its own watermark; empty: the kind's own `economic.target`.
    `poll`: the beat poll that reads the kind's changes; None for kinds only ever imported as a
    dependency (or by e-conomic's webhooks).
    `ready(document)`: whether the document may be imported in its current state (an order state).
    `version(document)`: e-conomic's version of the document (`lastUpdated`): the polls compare it with
    the version an import last brought across, so a record already in step is not queued again.
    `when_gone`: the body that retires the Rackbeat record when e-conomic no longer has the document
    (`{"is_barred": True}`); None leaves Rackbeat's record as it is (logged).
    `upsert_path`: a Rackbeat path that takes creates and updates alike (`projects/upsert`); None: POST to
    the collection, PUT at the record.
    `create_path`: the Rackbeat path a new record is POSTed to when it is not the collection
    (`orders/drafts`: an unbooked order); updates still go to the record.
    `match_on`: how the start-up sync (`tasks.startup`) recognises a record Rackbeat already has, over
    Rackbeat's whole list at once instead of one `find_existing` call per document: each entry names
    Rackbeat fields, compared between a Rackbeat record and the body the mapper would write (with the
    key a new record is created at); entries are tried in order and the first that matches wins (groups:
    number, then name). Text is compared trimmed and without case (`comparable`). Empty: never matched
    (every document is created).
    """

    to_rackbeat: Mapper
    rackbeat_key: Callable[[Record], Any] = _server_assigned
    economic_key: Callable[[Record], Any] | None = None
    dependencies: Callable[[Record], list[RecordRef]] = _no_dependencies
    find_existing: Callable[[RackbeatLookup, Record], Record | None] | None = None
    may_update: Callable[[Record], str | None] | None = None
    never_copied: tuple[str, ...] = ()
    sources: tuple[EconomicTarget, ...] = ()
    poll: PollGroup | None = None
    ready: Callable[[Record], bool] = _always
    version: Callable[[Record], str | None] = _last_updated
    when_gone: Mapping[str, Any] | None = None
    upsert_path: str | None = None
    create_path: str | None = None
    match_on: tuple[tuple[str, ...], ...] = ()


def comparable(value: Any) -> Any:
    """A field value as record matching compares it: text trimmed and without case, numbers as numbers
    (`7` and `7.0` and `"7"` are different kinds of value, but `7` and `7.0` the same)."""
    if isinstance(value, str):
        return value.strip().casefold()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


@dataclass(frozen=True)
class PostingRules:
    """How a Rackbeat document becomes an accounting document in e-conomic, exactly once.

    `ready(record)`: whether the document is final in Rackbeat (booked) and may be posted.
    `channel`: how e-conomic holds it: `invoice` (a draft invoice it prices, booked as an invoice) or
    `voucher` (a journal voucher of entries we price, booked from the journal).
    `reference(record)`: the identity the e-conomic document carries in a field that survives booking; a
    transfer whose outcome was lost finds the document by it instead of posting it again.
    `fingerprint(record)`: the Rackbeat document's own content; a posted document whose fingerprint
    changes is refused (`PostedDocumentChanged`), never posted again.
    `gross_total(record)`: Rackbeat's total, compared to the øre with e-conomic's own pricing.
    `number(record)`: Rackbeat's document number, to book under when e-conomic takes it.
    `electronic(record, context)`: whether it is an e-invoice (EAN), which a setting may keep a draft.
    """

    ready: Callable[[Record], bool]
    channel: Literal["invoice", "voucher"]
    reference: Callable[[Record], str]
    fingerprint: Callable[[Record], Mapping[str, Any]]
    gross_total: Callable[[Record], Any]
    number: Callable[[Record], int | None]
    electronic: Callable[[Record, MappingContext], bool]
    attachments: bool = False
    """Whether a PDF the user attached in Rackbeat goes along (a supplier invoice's, rackbeat-api.md 4.5)."""


@dataclass(frozen=True)
class EntitySpec:
    """One kind: its two sides, its ways across, and whose it is.

    `master` names the master-data family whose setting decides which side owns the kind; None when the
    kind's ways across decide it (export only: Rackbeat owns it; import only: e-conomic does).
    """

    kind: str
    rackbeat: RackbeatSide
    economic: EconomicSide
    exports: ExportRules | None = None
    imports: ImportRules | None = None
    master: MasterData | None = None
    posting: PostingRules | None = None
    """Set for accounting documents: posted once by `tasks.sync.poster`, never replaced or barred."""

    @property
    def export_rules(self) -> ExportRules:
        """The export rules of a kind that has them; a kind without them cannot be exported (a caller bug)."""
        if self.exports is None:
            raise LookupError(f"{self.kind} is not exported to e-conomic")
        return self.exports

    @property
    def import_rules(self) -> ImportRules:
        """The import rules of a kind that has them; a kind without them cannot be imported (a caller bug)."""
        if self.imports is None:
            raise LookupError(f"{self.kind} is not imported from e-conomic")
        return self.imports

    def import_sources(self) -> tuple[EconomicTarget, ...]:
        """Where e-conomic holds an imported document: the rules' `sources`, else the kind's own target."""
        return self.import_rules.sources or (self.economic.target,)

    def economic_key_of(self, document: Record) -> Any:
        """An e-conomic document's key as the binding keeps it (see `ImportRules.economic_key`)."""
        rules = self.import_rules
        if rules.economic_key is not None:
            return rules.economic_key(document)
        return document[self.economic.key_field]

    def owner_choices(self) -> tuple[MasterSide, ...]:
        """The sides that may own this kind, given its ways across."""
        choices: list[MasterSide] = []
        if self.exports is not None:
            choices.append("rackbeat")
        if self.imports is not None:
            choices.append("economic")
        return tuple(choices)
