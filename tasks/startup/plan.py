"""The dry run (`rbsync startup-sync --dry-run`): what a run would do, from reads only.

Per kind: how many records e-conomic has, how many Rackbeat has, how many of e-conomic's match one of
them (`ImportRules.match_on`, through the same index a run builds) and how many of those are bound
already, how many will be created, updated or left unchanged, the fields where matched records differ,
and how long the writes and reads take at the configured Rackbeat budget.

Nothing is written to either API. The index and the plan's own answers go to Redis while it plans
(``startup:plan:{kind}``: e-conomic key -> the Rackbeat key the record has or will match, empty for a
create), so a customer's payment terms resolve to the term the plan matched them to; both are dropped at
the end. A dependency that
will only be created by the run maps to a stand-in key, so a matched record's reference to it shows as
differing, as it will.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from clients.rackbeat import MAX_LIMIT
from tasks.entities.base import EntitySpec, MappingContext, MappingDefaults, RecordRef
from tasks.errors import MappingError
from tasks.redis import key as namespaced_key
from tasks.redis import text
from tasks.startup import pages as page_reader
from tasks.startup.index import RackbeatIndex, differing_fields
from tasks.startup.order import choose_kinds, companions
from tasks.sync.bindings import BindingStore
from tasks.sync.ports import ApiClients
from tasks.sync.refs import payload_hash

NOT_YET = -1
"""The stand-in Rackbeat key of a dependency the run will create (no record has it)."""


@dataclass
class KindPlan:
    kind: str
    total: int | None = None
    in_rackbeat: int = 0
    matched: int = 0
    already_bound: int = 0
    create: int = 0
    update: int = 0
    unchanged: int = 0
    refused: int = 0
    differing_fields: dict[str, int] = field(default_factory=dict)
    note: str | None = None
    rackbeat_reads: int = 0


@dataclass
class Plan:
    kinds: list[KindPlan]
    requests_per_minute: int
    update_existing: bool

    @property
    def rackbeat_writes(self) -> int:
        return sum(kind.create + kind.update for kind in self.kinds)

    @property
    def rackbeat_reads(self) -> int:
        return sum(kind.rackbeat_reads for kind in self.kinds)

    @property
    def estimated_seconds(self) -> float:
        """The writes and reads at the budget (requests per minute) the clients keep to."""
        return (self.rackbeat_writes + self.rackbeat_reads) * 60.0 / max(1, self.requests_per_minute)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": [asdict(kind) for kind in self.kinds],
            "update_existing": self.update_existing,
            "rackbeat_writes": self.rackbeat_writes,
            "rackbeat_reads": self.rackbeat_reads,
            "requests_per_minute": self.requests_per_minute,
            "estimated_seconds": round(self.estimated_seconds, 1),
        }


@dataclass
class _Fate:
    """What the run will do with one document: the counts it adds to (`KindPlan` fields), the Rackbeat
    key it has or will match ("" for a create, None when refused) and the fields it differs in."""

    counts: tuple[str, ...]
    rackbeat_key: str | None = None
    differs: list[str] = field(default_factory=list)

    def count(self, row: KindPlan, differs: Counter[str]) -> None:
        for name in self.counts:
            setattr(row, name, getattr(row, name) + 1)
        differs.update(self.differs)


class Planner:
    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        connection_id: str,
        clients: ApiClients,
        defaults: MappingDefaults,
        registry: Mapping[str, EntitySpec],
        requests_per_minute: int,
        update_existing: bool = False,
    ) -> None:
        self.redis = redis_client
        self.connection_id = connection_id
        self.clients = clients
        self.defaults = defaults
        self.registry = registry
        self.requests_per_minute = requests_per_minute
        self.update_existing = update_existing
        self.index = RackbeatIndex(redis_client, connection_id)
        self.bindings = BindingStore(redis_client, connection_id)

    def _answers(self, kind: str) -> str:
        return namespaced_key("startup", "plan", kind, connection_id=self.connection_id)

    def plan(self) -> Plan:
        rows: list[KindPlan] = []
        self._waiting: dict[str, dict[str, _Fate]] = {}
        self._rows: dict[str, KindPlan] = {}
        for choice in choose_kinds(self.registry):
            if choice.spec is None:
                rows.append(KindPlan(choice.kind, note=choice.note))
                continue
            for companion in companions(choice.kind, self.registry):
                note = f"comes along with the {choice.kind}s that use it"
                rows.append(self._kind(companion, note, companion=True))
            rows.append(self._kind(choice.spec))
        for choice in choose_kinds(self.registry):  # nothing of the plan stays in Redis
            for spec in (choice.spec, *companions(choice.kind, self.registry)) if choice.spec else ():
                self.index.clear(spec)
                self.redis.delete(self._answers(spec.kind))
        return Plan(rows, self.requests_per_minute, self.update_existing)

    def _kind(self, spec: EntitySpec, note: str | None = None, *, companion: bool = False) -> KindPlan:
        """A kind's row. A companion's records are only planned here; each is counted once a record of
        the kind it comes with uses it (`_page`), as the run creates only the units products use."""
        economic, rackbeat = self.clients.economic, self.clients.rackbeat
        row = KindPlan(spec.kind, note=note)
        self._rows[spec.kind] = row
        waiting: dict[str, _Fate] | None = None
        if companion:
            waiting = self._waiting[spec.kind] = {}
        row.total = sum(page_reader.count(economic, source) or 0 for source in spec.import_sources())
        row.in_rackbeat = self.index.build(spec, rackbeat)
        row.rackbeat_reads = max(1, math.ceil(row.in_rackbeat / MAX_LIMIT))
        self.redis.delete(self._answers(spec.kind))
        differs: Counter[str] = Counter()
        for source in spec.import_sources():
            position = page_reader.first_position(source)
            while True:
                page = page_reader.read_page(economic, source, position)
                self._page(spec, page.documents, row, differs, waiting)
                if page.next is None:
                    break
                position = page.next
        row.differing_fields = dict(sorted(differs.items(), key=lambda item: (-item[1], item[0])))
        return row

    def _page(
        self,
        spec: EntitySpec,
        documents: list[dict[str, Any]],
        row: KindPlan,
        differs: Counter[str],
        waiting: dict[str, _Fate] | None,
    ) -> None:
        """Plan a page's documents: counted in `row`, or for a companion kept in `waiting` by key."""
        rules = spec.import_rules
        keys = [str(spec.economic_key_of(document)) for document in documents]
        bound = self._bound(spec.kind, keys)
        refs = self._refs(spec, documents)
        answers: dict[str, str] = {}
        for key, document, binding in zip(keys, documents, bound, strict=True):
            fate = self._fate(spec, key, document, binding, refs)
            if fate.rackbeat_key is not None:
                answers[key] = fate.rackbeat_key
            if waiting is not None:
                waiting[key] = fate
            else:
                fate.count(row, differs)
        for kind, key in dict.fromkeys(
            (kind, str(key)) for document in documents for kind, key in rules.dependencies(document)
        ):
            used = self._waiting.get(kind, {}).pop(key, None)
            if used is not None:
                companion_row = self._rows[kind]
                used.count(companion_row, Counter())
                for name in used.differs:
                    companion_row.differing_fields[name] = companion_row.differing_fields.get(name, 0) + 1
        if answers:
            self.redis.hset(self._answers(spec.kind), mapping=dict[Any, Any](answers))

    def _fate(
        self,
        spec: EntitySpec,
        key: str,
        document: dict[str, Any],
        binding: tuple[str, str | None] | None,
        refs: dict[RecordRef, Any],
    ) -> _Fate:
        """What the run will do with one document (see the module docstring)."""
        rules = spec.import_rules
        try:
            mapped = rules.to_rackbeat(document, MappingContext(refs=refs, defaults=self.defaults))
        except (MappingError, KeyError, TypeError, ValueError):
            return _Fate(("refused",))
        if binding is not None:
            rackbeat_key, written_hash = binding
            if written_hash is None:  # bound as found: Rackbeat's own record
                return self._existing(spec, rackbeat_key, mapped, ("matched", "already_bound"))
            if written_hash == payload_hash(mapped):
                return _Fate(("unchanged",), rackbeat_key)
            return _Fate(("update",), rackbeat_key)
        body = dict(mapped)
        create_key = rules.rackbeat_key(document)
        if create_key is not None:
            body[spec.rackbeat.key_field] = create_key
        found = self._match(spec, body, key)
        if found is None:
            return _Fate(("create",), "")
        return self._existing(spec, found, mapped, ("matched",))

    def _existing(
        self, spec: EntitySpec, rackbeat_key: str, mapped: Mapping[str, Any], counts: tuple[str, ...]
    ) -> _Fate:
        found = self.index.fields(spec.kind, rackbeat_key)
        fields = differing_fields(mapped, found) if found is not None else []
        if self.update_existing:  # --update-existing writes every matched record's mapped fields
            counts = (*counts, "update")
        return _Fate(counts, rackbeat_key, fields)

    def _match(self, spec: EntitySpec, body: Mapping[str, Any], key: str) -> str | None:
        for candidate in self.index.candidates(spec, body):
            binding = self.bindings.get(spec.kind, candidate)
            if binding is None or str(binding.economic_key) == key:
                return candidate
        return None

    def _bound(self, kind: str, keys: list[str]) -> list[tuple[str, str | None] | None]:
        """Per e-conomic key: (Rackbeat key, hash an import wrote or None) of its binding, or None."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(namespaced_key("binding-rev", kind, key, connection_id=self.connection_id))
            rackbeat_keys = [text(found) for found in pipe.execute()]
        with self.redis.pipeline(transaction=False) as pipe:
            for rackbeat_key in rackbeat_keys:
                if rackbeat_key is not None:
                    name = namespaced_key("binding", kind, rackbeat_key, connection_id=self.connection_id)
                    pipe.hget(name, "rackbeat_hash")
            hashes = iter(pipe.execute())
        return [
            (rackbeat_key, text(next(hashes)) or None) if rackbeat_key is not None else None
            for rackbeat_key in rackbeat_keys
        ]

    def _refs(self, spec: EntitySpec, documents: list[dict[str, Any]]) -> dict[RecordRef, Any]:
        """The Rackbeat key of every dependency of the page's documents: what the plan found for it, else
        its binding, else the stand-in of one the run will create (kinds with import rules only)."""
        wanted: list[RecordRef] = list(
            dict.fromkeys(
                (kind, str(key))
                for document in documents
                for kind, key in spec.import_rules.dependencies(document)
            )
        )
        if not wanted:
            return {}
        with self.redis.pipeline(transaction=False) as pipe:
            for kind, key in wanted:
                pipe.hget(self._answers(kind), key)
                pipe.get(namespaced_key("binding-rev", kind, key, connection_id=self.connection_id))
            answers = pipe.execute()
        refs: dict[RecordRef, Any] = {}
        for number, (kind, key) in enumerate(wanted):
            planned, bound = text(answers[2 * number]), text(answers[2 * number + 1])
            if planned:
                refs[(kind, key)] = planned
            elif bound:
                refs[(kind, key)] = bound
            else:
                dependency = self.registry.get(kind)
                if dependency is not None and dependency.imports is not None:
                    refs[(kind, key)] = NOT_YET
        return refs
