"""Rackbeat's existing records of a kind, indexed in Redis, so matching an e-conomic document costs no
call to Rackbeat.

Before a kind's documents are brought across, Rackbeat's whole list of that kind is streamed (1,000 per
call) into two Redis structures (never into this process's memory):

- ``startup:index:{kind}:{n}`` (hash): for the kind's `ImportRules.match_on` entry number n, the entry's
  identity (the entry's fields of a record, each `comparable`, as JSON) -> the Rackbeat key; the first
  record with an identity keeps it;
- ``startup:index-fields:{kind}`` (hash): Rackbeat key -> JSON of the record's scalar fields, for the
  report of the fields a matched record differs in.

The index is rebuilt on every start and resume: a record created by a run that crashed before binding it
is then found here and bound, never created twice. It is dropped once its kind is done.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

import redis

from clients.rackbeat import MAX_LIMIT, RackbeatClient
from tasks.entities.base import EntitySpec, Record, comparable
from tasks.redis import key as namespaced_key
from tasks.redis import text, texts

#: Fields of a Rackbeat record that say nothing about the record itself (never reported as differing).
NOT_COMPARED = frozenset({"self", "created_at", "updated_at", "deleted_at", "urlfriendly_number", "id"})


def plural_of(spec: EntitySpec) -> str:
    """The envelope key of the kind's Rackbeat list (`customer-groups` -> `customer_groups`)."""
    return spec.rackbeat.resource.replace("-", "_")


def identity(record: Mapping[str, Any], fields: Iterable[str]) -> str | None:
    """A record's identity for one `match_on` entry (JSON of its `comparable` values); None when one of
    them is empty (nothing to match on)."""
    values = []
    for name in fields:
        value = comparable(record.get(name))
        if value is None or value == "":
            return None
        values.append(value)
    return json.dumps(values, separators=(",", ":"), default=str)


def scalar_fields(record: Record) -> dict[str, Any]:
    """The record's own scalar fields (what a mapper writes), without links and stamps."""
    return {
        name: value
        for name, value in record.items()
        if name not in NOT_COMPARED and (value is None or isinstance(value, str | int | float | bool))
    }


def _blank(value: Any) -> Any:
    value = comparable(value)
    return None if value == "" else value


def differing_fields(document: Mapping[str, Any], existing: Mapping[str, Any]) -> list[str]:
    """The fields of a mapped document whose value the existing Rackbeat record does not have (text
    compared trimmed and without case, an empty text as no value)."""
    return sorted(name for name, value in document.items() if _blank(value) != _blank(existing.get(name)))


def _batched(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(records, size)):
        yield chunk


class RackbeatIndex:
    """The index of Rackbeat's records of the kinds a run brings across (see the module docstring)."""

    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id
        self.indexed: set[str] = set()
        """The kinds indexed by this process (matching falls back to `find_existing` for any other)."""
        self.sizes: dict[str, int] = {}
        """How many Rackbeat records each indexed kind had (none: matching costs no round trip)."""

    def _identity_name(self, kind: str, entry: int) -> str:
        return namespaced_key("startup", "index", kind, entry, connection_id=self.connection_id)

    def _fields_name(self, kind: str) -> str:
        return namespaced_key("startup", "index-fields", kind, connection_id=self.connection_id)

    def clear(self, spec: EntitySpec) -> None:
        names = [self._identity_name(spec.kind, n) for n in range(len(spec.import_rules.match_on))]
        self.client.delete(self._fields_name(spec.kind), *names)
        self.indexed.discard(spec.kind)

    def build(self, spec: EntitySpec, rackbeat: RackbeatClient) -> int:
        """Index Rackbeat's records of the kind afresh; how many it has."""
        self.clear(spec)
        match_on = spec.import_rules.match_on
        side = spec.rackbeat
        fields_name = self._fields_name(spec.kind)
        seen = 0
        records = rackbeat.iter(side.resource, plural_of(spec), limit=MAX_LIMIT)
        for chunk in _batched(records, MAX_LIMIT):
            with self.client.pipeline(transaction=False) as pipe:
                for record in chunk:
                    rackbeat_key = side.key_of(record)
                    for number, entry in enumerate(match_on):
                        found = identity(record, entry)
                        if found is not None:
                            pipe.hsetnx(self._identity_name(spec.kind, number), found, rackbeat_key)
                    pipe.hset(fields_name, rackbeat_key, json.dumps(scalar_fields(record), default=str))
                pipe.execute()
            seen += len(chunk)
        self.indexed.add(spec.kind)
        self.sizes[spec.kind] = seen
        return seen

    def candidates(self, spec: EntitySpec, body: Mapping[str, Any]) -> list[str]:
        """The Rackbeat keys `body` (the mapped document with the key it would be created at) matches, in
        the order of the `match_on` entries, each once (one round trip; none when Rackbeat had none of
        the kind when it was indexed)."""
        if self.sizes.get(spec.kind) == 0:
            return []
        wanted: list[tuple[int, str]] = []
        for number, entry in enumerate(spec.import_rules.match_on):
            found = identity(body, entry)
            if found is not None:
                wanted.append((number, found))
        if not wanted:
            return []
        with self.client.pipeline(transaction=False) as pipe:
            for number, found in wanted:
                pipe.hget(self._identity_name(spec.kind, number), found)
            answers = pipe.execute()
        keys = [text(answer) for answer in answers if answer is not None]
        return list(dict.fromkeys(key for key in keys if key is not None))

    def fields(self, kind: str, rackbeat_key: str) -> dict[str, Any] | None:
        """The indexed fields of Rackbeat's record `rackbeat_key` (None: not in the index)."""
        raw = text(self.client.hget(self._fields_name(kind), str(rackbeat_key)))
        return json.loads(raw) if raw else None

    def size(self, kind: str) -> int:
        return int(self.client.hlen(self._fields_name(kind)))

    def keys(self, kind: str) -> list[str]:
        """Every indexed Rackbeat key of the kind (for tests and small kinds)."""
        return texts(self.client.hkeys(self._fields_name(kind)))
