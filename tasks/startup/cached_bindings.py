"""The bindings as a start-up run reads them: the dependencies' ones from memory after the first read.

Every customer of a run looks up the same few groups, payment terms, layouts and employees, every product
the same groups and units: twice each (the importer's `resolve`, then the export hash), two Redis round
trips apiece, which at hundreds of records a second were most of a record's wait. A run brings the kinds
across in dependency order, so by the time a kind's records are imported the kinds before it are done:
their bindings are read once and kept (`settled`). Any other kind's binding is kept once it exists (a
product's unit, created by the first product that needs it), never its absence; and the kind being
brought across (`focus`) is always read from Redis, inside each record's lock, as the importer reads it.
A write through this store drops what is kept of its kind. At most `LIMIT` bindings are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import redis

from tasks.sync.bindings import Binding, BindingStore

LIMIT = 50_000
_MISSING = object()


class CachedBindings(BindingStore):
    """A `BindingStore` that keeps the dependencies' bindings of a run (see the module docstring)."""

    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        super().__init__(client, connection_id)
        self.settled: set[str] = set()
        self.focus: str | None = None
        self._reverse: dict[tuple[str, str], Any] = {}
        self._bindings: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def settle(self, kind: str) -> None:
        """`kind` is done in this run: its bindings, and their absence, are kept from now on."""
        self.settled.add(kind)

    def start(self, kind: str) -> None:
        """`kind` is brought across now: its bindings are always read from Redis."""
        self.focus = kind
        self.forget(kind)

    def forget(self, kind: str) -> None:
        with self._lock:
            for kept in (self._reverse, self._bindings):
                for name in [name for name in kept if name[0] == kind]:
                    del kept[name]

    def _keep(self, kept: dict[tuple[str, str], Any], name: tuple[str, str], value: Any) -> None:
        if value is None and name[0] not in self.settled:
            return
        with self._lock:
            if len(kept) >= LIMIT:
                kept.clear()
            kept[name] = value

    def rackbeat_key_for(self, kind: str, economic_key: Any) -> str | None:
        found: str | None = self._read_through(
            self._reverse,
            kind,
            economic_key,
            lambda: super(CachedBindings, self).rackbeat_key_for(kind, economic_key),
        )
        return found

    def get(self, kind: str, rackbeat_key: str) -> Binding | None:
        found: Binding | None = self._read_through(
            self._bindings, kind, rackbeat_key, lambda: super(CachedBindings, self).get(kind, rackbeat_key)
        )
        return found

    def _read_through(
        self, kept: dict[tuple[str, str], Any], kind: str, key: Any, read: Callable[[], Any]
    ) -> Any:
        """The focus kind always from Redis; any other from what is kept, read and kept when missing."""
        if kind == self.focus:
            return read()
        name = (kind, str(key))
        found = kept.get(name, _MISSING)
        if found is _MISSING:
            found = read()
            self._keep(kept, name, found)
        return found

    def put(self, kind: str, rackbeat_key: str, **fields: Any) -> Binding:
        self.forget(kind)
        return super().put(kind, rackbeat_key, **fields)

    def put_import(self, kind: str, rackbeat_key: str, **fields: Any) -> Binding:
        self.forget(kind)
        binding = super().put_import(kind, rackbeat_key, **fields)
        self.forget(kind)
        return binding

    def delete(self, kind: str, rackbeat_key: str) -> bool:
        self.forget(kind)
        return super().delete(kind, rackbeat_key)
