"""Bindings: which e-conomic record a Rackbeat record became, and what we last wrote there.

``binding:{kind}:{rackbeat_key}`` is a hash: ``economic_key`` (JSON, so a number stays a number for
the mappers that put it in a reference), ``hash`` (sha256 of the canonical JSON of the last written
payload), ``written_at`` (ISO UTC) and ``economic_resource``. ``binding-rev:{kind}:{economic_key}``
(and ``binding-owner:{economic_resource}:{economic_key}`` -> ``kind|rackbeat_key``, across kinds)
maps back, for events and polls that arrive with e-conomic's key. Both are written in one MULTI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from tasks.redis import key as namespaced_key
from tasks.sync.refs import payload_hash


@dataclass(frozen=True)
class Binding:
    kind: str
    rackbeat_key: str
    economic_key: Any
    hash: str | None
    written_at: str | None
    economic_resource: str | None


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
        found = self.client.get(self._owner_name(economic_resource, economic_key))
        if found is None:
            return None
        kind, _, rackbeat_key = found.partition("|")
        return kind, rackbeat_key

    def get(self, kind: str, rackbeat_key: str) -> Binding | None:
        fields = self.client.hgetall(self._name(kind, str(rackbeat_key)))
        if not fields or "economic_key" not in fields:
            return None
        return Binding(
            kind=kind,
            rackbeat_key=str(rackbeat_key),
            economic_key=json.loads(fields["economic_key"]),
            hash=fields.get("hash") or None,
            written_at=fields.get("written_at") or None,
            economic_resource=fields.get("economic_resource") or None,
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
        stamp = (written_at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        name = self._name(kind, rackbeat_key)
        previous = self.client.hget(name, "economic_key")
        with self.client.pipeline(transaction=True) as pipe:
            owner = f"{kind}|{rackbeat_key}"
            if previous is not None and json.loads(previous) != economic_key:
                old_reverse = self._reverse_name(kind, json.loads(previous))
                pipe.eval(_DELETE_IF_EQUALS, 1, old_reverse, rackbeat_key)
                old_owner = self._owner_name(economic_resource, json.loads(previous))
                pipe.eval(_DELETE_IF_EQUALS, 1, old_owner, owner)
            pipe.hset(name, mapping={
                "economic_key": json.dumps(economic_key),
                "hash": payload_hash,
                "written_at": stamp,
                "economic_resource": economic_resource,
            })
            pipe.set(self._reverse_name(kind, economic_key), rackbeat_key)
            pipe.set(self._owner_name(economic_resource, economic_key), owner)
            pipe.execute()
        return Binding(kind, rackbeat_key, economic_key, payload_hash, stamp, economic_resource)

    def rackbeat_key_for(self, kind: str, economic_key: Any) -> str | None:
        """Reverse lookup: the Rackbeat key bound to an e-conomic key."""
        return self.client.get(self._reverse_name(kind, economic_key))

    def is_unchanged(self, kind: str, rackbeat_key: str, payload: Mapping[str, Any]) -> bool:
        """True when ``payload`` hashes to what we last wrote for this record."""
        binding = self.get(kind, rackbeat_key)
        return binding is not None and binding.hash == payload_hash(payload)

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
