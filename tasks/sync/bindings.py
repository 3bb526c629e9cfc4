"""Bindings: which e-conomic record a Rackbeat record became, and what we last wrote there.

``binding:{kind}:{rackbeat_key}`` is a hash: ``economic_key`` (JSON, so a number stays a number for
the mappers that put it in a reference), ``hash`` (sha256 of the canonical JSON of the last written
payload), ``written_at`` (ISO UTC) and ``economic_resource``; for the safety-net polls also
``seen_version`` (JSON ``[Rackbeat's updated_at, when we read it]`` of the version a transfer last brought
across, a write or not) and
``gone_at`` (when the deletion sweep queued the retirement of a record Rackbeat no longer has; the sweep
clears it when the record is back). ``binding-rev:{kind}:{economic_key}``
(and ``binding-owner:{economic_resource}:{economic_key}`` -> ``kind|rackbeat_key``, across kinds)
maps back, for events and polls that arrive with e-conomic's key. Both are written in one MULTI.

A record that moved the other way, e-conomic -> Rackbeat (``tasks.sync.importer``), has the same binding,
so each direction sees what the other did: ``rackbeat_hash`` (sha256 of the last document an import wrote
to Rackbeat) and ``economic_seen`` (JSON ``[e-conomic's lastUpdated, when we read it]`` of the version an
import last brought across, a write or not) are the import's own fields; ``hash`` then holds what the
exporter would send for the Rackbeat record as the import wrote it, and ``seen_version`` that record's
``updated_at``, so neither the Rackbeat poll nor a Rackbeat webhook sends an imported record back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from tasks.redis import key as namespaced_key
from tasks.redis import text, text_map, texts
from tasks.sync.refs import payload_hash
from tasks.timestamps import iso_utc, parse_iso


@dataclass(frozen=True)
class Binding:
    kind: str
    rackbeat_key: str
    economic_key: Any
    hash: str | None
    written_at: str | None
    economic_resource: str | None
    rackbeat_hash: str | None = None
    """The hash of the last document an import wrote to Rackbeat (None: no import wrote it)."""


class BindingStore:
    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def _name(self, kind: str, rackbeat_key: str) -> str:
        return namespaced_key("binding", kind, rackbeat_key, connection_id=self.connection_id)

    def _reverse_name(self, kind: str, economic_key: Any) -> str:
        return namespaced_key("binding-rev", kind, economic_key, connection_id=self.connection_id)

    def _owner_name(self, economic_resource: str, economic_key: Any) -> str:
        return namespaced_key(
            "binding-owner", economic_resource, economic_key, connection_id=self.connection_id
        )

    def owner(self, economic_resource: str, economic_key: Any) -> tuple[str, str] | None:
        """(kind, rackbeat_key) of the record bound to this e-conomic record, across kinds: products and
        lots share e-conomic's `products`, so a number can be claimed from either side."""
        found = text(self.client.get(self._owner_name(economic_resource, economic_key)))
        if found is None:
            return None
        kind, _, rackbeat_key = found.partition("|")
        return kind, rackbeat_key

    def get(self, kind: str, rackbeat_key: str) -> Binding | None:
        fields = text_map(self.client.hgetall(self._name(kind, str(rackbeat_key))))
        if not fields or "economic_key" not in fields:
            return None
        return Binding(
            kind=kind,
            rackbeat_key=str(rackbeat_key),
            economic_key=json.loads(fields["economic_key"]),
            hash=fields.get("hash") or None,
            written_at=fields.get("written_at") or None,
            economic_resource=fields.get("economic_resource") or None,
            rackbeat_hash=fields.get(RACKBEAT_HASH_FIELD) or None,
        )

    def put(
        self,
        kind: str,
        rackbeat_key: str,
        *,
        economic_key: Any,
        payload_hash: str,
        economic_resource: str,
        written_at: datetime | None = None,
    ) -> Binding:
        """Record (or move) the binding; a reverse entry for a previous e-conomic key is dropped."""
        rackbeat_key = str(rackbeat_key)
        stamp = iso_utc(written_at or datetime.now(UTC))
        name = self._name(kind, rackbeat_key)
        previous = self.client.hget(name, "economic_key")
        with self.client.pipeline(transaction=True) as pipe:
            owner = f"{kind}|{rackbeat_key}"
            if previous is not None and json.loads(previous) != economic_key:
                old_reverse = self._reverse_name(kind, json.loads(previous))
                pipe.eval(_DELETE_IF_EQUALS, 1, old_reverse, rackbeat_key)
                old_owner = self._owner_name(economic_resource, json.loads(previous))
                pipe.eval(_DELETE_IF_EQUALS, 1, old_owner, owner)
            pipe.hset(
                name,
                mapping={
                    "economic_key": json.dumps(economic_key),
                    "hash": payload_hash,
                    "written_at": stamp,
                    "economic_resource": economic_resource,
                },
            )
            pipe.set(self._reverse_name(kind, economic_key), rackbeat_key)
            pipe.set(self._owner_name(economic_resource, economic_key), owner)
            pipe.execute()
        return Binding(kind, rackbeat_key, economic_key, payload_hash, stamp, economic_resource)

    def put_import(
        self,
        kind: str,
        rackbeat_key: str,
        *,
        economic_key: Any,
        economic_resource: str,
        rackbeat_hash: str | None,
        economic_hash: str | None = None,
        rackbeat_seen: tuple[str, datetime] | None = None,
        economic_seen: tuple[str, datetime] | None = None,
    ) -> Binding:
        """Record what an import brought across: the pair of keys, the hash of the document written to
        Rackbeat (None: nothing was written, the record was found there), and for the other direction
        ``economic_hash`` (what the exporter would now send for the Rackbeat record; None keeps the
        current one) and ``rackbeat_seen`` (its ``updated_at`` and when we had it). A different Rackbeat
        key bound to the same e-conomic record before is left to the caller (``delete`` it first)."""
        rackbeat_key = str(rackbeat_key)
        stamp = iso_utc(datetime.now(UTC))
        name = self._name(kind, rackbeat_key)
        fields: dict[Any, Any] = {  # redis-py's mapping type is invariant in its key types
            "economic_key": json.dumps(economic_key),
            "economic_resource": economic_resource,
            "written_at": stamp,
        }
        if rackbeat_hash is not None:
            fields[RACKBEAT_HASH_FIELD] = rackbeat_hash
        if economic_hash is not None:
            fields["hash"] = economic_hash
        if rackbeat_seen is not None:
            fields[SEEN_FIELD] = json.dumps([rackbeat_seen[0], iso_utc(rackbeat_seen[1])])
        if economic_seen is not None:
            fields[ECONOMIC_SEEN_FIELD] = json.dumps([economic_seen[0], iso_utc(economic_seen[1])])
        previous = self.client.hget(name, "economic_key")
        with self.client.pipeline(transaction=True) as pipe:
            owner = f"{kind}|{rackbeat_key}"
            if previous is not None and json.loads(previous) != economic_key:
                pipe.eval(_DELETE_IF_EQUALS, 1, self._reverse_name(kind, json.loads(previous)), rackbeat_key)
                old_owner = self._owner_name(economic_resource, json.loads(previous))
                pipe.eval(_DELETE_IF_EQUALS, 1, old_owner, owner)
            pipe.hset(name, mapping=fields)
            pipe.hdel(name, GONE_FIELD)
            pipe.set(self._reverse_name(kind, economic_key), rackbeat_key)
            pipe.set(self._owner_name(economic_resource, economic_key), owner)
            pipe.execute()
        return self.get(kind, rackbeat_key) or Binding(
            kind, rackbeat_key, economic_key, economic_hash, stamp, economic_resource, rackbeat_hash
        )

    def bound_to_economic(self, kind: str, economic_key: Any) -> Binding | None:
        """The binding of the record bound to e-conomic's ``economic_key`` (reverse lookup), or None."""
        rackbeat_key = self.rackbeat_key_for(kind, economic_key)
        return self.get(kind, rackbeat_key) if rackbeat_key is not None else None

    def mark_economic_seen(self, kind: str, rackbeat_key: str, version: str, read_at: datetime) -> bool:
        """Note e-conomic's version (``lastUpdated``) of the document an import read at ``read_at`` and
        brought Rackbeat in step with, written or not; False when the record has no binding."""
        name = self._name(kind, str(rackbeat_key))
        seen = json.dumps([version, iso_utc(read_at)])
        return bool(self.client.eval(_HSET_IF_EXISTS, 1, name, ECONOMIC_SEEN_FIELD, seen))

    def economic_seen_versions(
        self, kind: str, economic_keys: list[str]
    ) -> list[tuple[str, datetime] | None]:
        """Per e-conomic key, the version an import last brought across and when it read it (None: never,
        or the record is not bound). Two pipelined round trips for the whole list."""
        with self.client.pipeline(transaction=False) as pipe:
            for economic_key in economic_keys:
                pipe.get(self._reverse_name(kind, economic_key))
            rackbeat_keys = pipe.execute()
        with self.client.pipeline(transaction=False) as pipe:
            for rackbeat_key in rackbeat_keys:
                if rackbeat_key is not None:
                    pipe.hget(self._name(kind, text(rackbeat_key)), ECONOMIC_SEEN_FIELD)
            raw = iter(pipe.execute())
        seen: list[tuple[str, datetime] | None] = []
        for rackbeat_key in rackbeat_keys:
            value = next(raw) if rackbeat_key is not None else None
            version, read_at = json.loads(value) if value else (None, None)
            seen.append((version, parse_iso(read_at)) if version and read_at else None)
        return seen

    def settled_key(self, kind: str, rackbeat_key: str) -> Any | None:
        """The e-conomic key of a record that a transfer brought across (its binding has a version seen)
        and that no deletion sweep has found gone from Rackbeat; None otherwise. A document refers to such
        a record by this key without reading it again: a later change to it comes across by its own
        webhook, or by the change poll, which compares Rackbeat's version with the one seen."""
        name = self._name(kind, str(rackbeat_key))
        economic_key, seen, gone = self.client.hmget(name, "economic_key", SEEN_FIELD, GONE_FIELD)
        if economic_key is None or not seen or gone:
            return None
        return json.loads(economic_key)

    def rackbeat_key_for(self, kind: str, economic_key: Any) -> str | None:
        """Reverse lookup: the Rackbeat key bound to an e-conomic key."""
        return text(self.client.get(self._reverse_name(kind, economic_key)))

    def is_unchanged(self, kind: str, rackbeat_key: str, payload: Mapping[str, Any]) -> bool:
        """True when ``payload`` hashes to what we last wrote for this record."""
        binding = self.get(kind, rackbeat_key)
        return binding is not None and binding.hash == payload_hash(payload)

    # --- what the safety-net polls (tasks.polls) need -------------------------------------------------

    def mark_seen(self, kind: str, rackbeat_key: str, version: str, read_at: datetime) -> bool:
        """Note the version (Rackbeat's ``updated_at``) of the record that a transfer read at ``read_at``
        and brought e-conomic in step with, written or not; False when the record has no binding."""
        name = self._name(kind, str(rackbeat_key))
        seen = json.dumps([version, iso_utc(read_at)])
        return bool(self.client.eval(_HSET_IF_EXISTS, 1, name, SEEN_FIELD, seen))

    def seen_versions(self, kind: str, rackbeat_keys: list[str]) -> list[tuple[str, datetime] | None]:
        """Per record, the version last seen and when it was read (None: never, or before this was kept)."""
        with self.client.pipeline(transaction=False) as pipe:
            for rackbeat_key in rackbeat_keys:
                pipe.hget(self._name(kind, str(rackbeat_key)), SEEN_FIELD)
            raw = pipe.execute()
        seen: list[tuple[str, datetime] | None] = []
        for value in raw:
            version, read_at = json.loads(value) if value else (None, None)
            seen.append((version, parse_iso(read_at)) if version and read_at else None)
        return seen

    def bound_keys(self, kind: str) -> Iterator[tuple[str, bool]]:
        """Every bound Rackbeat key of a kind, with whether a sweep already found it gone from Rackbeat."""
        prefix = self._name(kind, "")
        names = texts(self.client.scan_iter(match=f"{_escape_glob(prefix)}*", count=1000))
        for start in range(0, len(names), 1000):
            chunk = names[start : start + 1000]
            with self.client.pipeline(transaction=False) as pipe:
                for name in chunk:
                    pipe.hexists(name, GONE_FIELD)
                gone = pipe.execute()
            for name, is_gone in zip(chunk, gone, strict=True):
                yield name[len(prefix) :], bool(is_gone)

    def mark_gone(self, kind: str, rackbeat_key: str, gone: bool = True) -> None:
        """Remember that the record's retirement was queued (or, ``gone=False``, that it is back)."""
        name = self._name(kind, str(rackbeat_key))
        if gone:
            self.client.eval(_HSET_IF_EXISTS, 1, name, GONE_FIELD, iso_utc(datetime.now(UTC)))
        else:
            self.client.hdel(name, GONE_FIELD)

    def delete(self, kind: str, rackbeat_key: str) -> bool:
        binding = self.get(kind, rackbeat_key)
        if binding is None:
            return False
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self._name(kind, str(rackbeat_key)))
            pipe.eval(_DELETE_IF_EQUALS, 1, self._reverse_name(kind, binding.economic_key), str(rackbeat_key))
            if binding.economic_resource:
                owner_name = self._owner_name(binding.economic_resource, binding.economic_key)
                pipe.eval(_DELETE_IF_EQUALS, 1, owner_name, f"{kind}|{rackbeat_key}")
            pipe.execute()
        return True


_DELETE_IF_EQUALS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_HSET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) + 1
end
return 0
"""

SEEN_FIELD = "seen_version"
GONE_FIELD = "gone_at"
RACKBEAT_HASH_FIELD = "rackbeat_hash"
ECONOMIC_SEEN_FIELD = "economic_seen"


def _escape_glob(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
