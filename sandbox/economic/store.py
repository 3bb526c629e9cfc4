"""The sandbox's in-memory data: one dict per resource, keyed by the resource's number (or code).

Records are kept exactly as the legacy API shows them, ``self`` links included, written against the
canonical base ``https://restapi.e-conomic.com/``; the app swaps that base for the server's own when it
serialises an answer (one string replace per response, so reads stay cheap). Data the legacy shape has no
room for (the OpenAPI ``objectVersion``, a product group's domestic account) lives in :attr:`Store.meta`.

"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

CANONICAL_BASE = "https://restapi.e-conomic.com/"


def link(path: str) -> str:
    """An absolute link on the canonical base, e.g. ``link("customers/1")``."""
    return CANONICAL_BASE + path


def now_timestamp() -> str:
    """``lastUpdated`` as e-conomic writes it: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Tables of records plus per-record metadata, guarded by one re-entrant lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {}
        self.meta: dict[str, dict[Any, dict[str, Any]]] = {}
        self._version = 0
        # Read caches (records are never changed in place: every change goes through put/delete, which
        # drops the record's cached texts and the table's sorted key list).
        self._texts: dict[str, dict[Any, dict[tuple[str, str], str]]] = {}
        self._sorted: dict[str, list[Any]] = {}

    def table(self, name: str) -> dict[Any, dict[str, Any]]:
        found = self.tables.get(name)
        if found is None:
            found = self.tables[name] = {}
        return found

    def get(self, name: str, key: Any) -> dict[str, Any] | None:
        return self.table(name).get(key)

    def exists(self, name: str, key: Any) -> bool:
        return key in self.table(name)

    def put(self, name: str, key: Any, record: dict[str, Any]) -> None:
        with self.lock:
            table = self.table(name)
            if key not in table:
                self._sorted.pop(name, None)
            table[key] = record
            self._texts.get(name, {}).pop(key, None)
            self.meta.setdefault(name, {}).setdefault(key, {})["objectVersion"] = self.next_object_version()

    def delete(self, name: str, key: Any) -> dict[str, Any] | None:
        with self.lock:
            self.meta.get(name, {}).pop(key, None)
            self._texts.get(name, {}).pop(key, None)
            self._sorted.pop(name, None)
            return self.table(name).pop(key, None)

    def sorted_keys(self, name: str) -> list[Any]:
        """The table's keys in ascending order (cached until a key is added or removed)."""
        keys = self._sorted.get(name)
        if keys is None:
            with self.lock:
                keys = self._sorted[name] = sorted(self.table(name))
        return keys

    def text(
        self,
        name: str,
        key: Any,
        base: str,
        view: Callable[[dict[str, Any]], Any] | None = None,
        view_name: str = "",
    ) -> str:
        """The record serialised as JSON with links on ``base``; cached per base and view until it changes."""
        per_record = self._texts.setdefault(name, {}).setdefault(key, {})
        cached = per_record.get((base, view_name))
        if cached is None:
            record = self.table(name)[key]
            cached = json.dumps(view(record) if view else record, ensure_ascii=False, separators=(",", ":"))
            if base != CANONICAL_BASE:
                cached = cached.replace(CANONICAL_BASE, base)
            per_record[(base, view_name)] = cached
        return cached

    def meta_of(self, name: str, key: Any) -> dict[str, Any]:
        return self.meta.setdefault(name, {}).setdefault(key, {})

    def next_number(self, name: str, *, minimum: int = 1, where: Any = None) -> int:
        """``max(existing) + 1`` (numbers of deleted records are reused, as e-conomic does)."""
        keys = [key for key, record in self.table(name).items() if where is None or where(record)]
        numbers = [key for key in keys if isinstance(key, int)]
        return max([minimum - 1, *numbers]) + 1

    def next_object_version(self) -> str:
        self._version += 1
        return base64.b64encode(self._version.to_bytes(8, "big")).decode()

    def clear(self) -> None:
        with self.lock:
            self.tables.clear()
            self.meta.clear()
            self._texts.clear()
            self._sorted.clear()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-safe copy; keys are kept in ``[key, record]`` pairs so their types survive."""
        with self.lock:
            return {
                "tables": {
                    name: [[key, record] for key, record in rows.items()]
                    for name, rows in self.tables.items()
                },
                "meta": {
                    name: [[key, data] for key, data in rows.items()] for name, rows in self.meta.items()
                },
                "version": self._version,
            }

    def restore(self, snapshot: dict[str, Any]) -> None:
        with self.lock:
            self.tables = {name: {k: v for k, v in rows} for name, rows in snapshot.get("tables", {}).items()}
            self.meta = {name: {k: v for k, v in rows} for name, rows in snapshot.get("meta", {}).items()}
            self._version = int(snapshot.get("version", 0))
            self._texts.clear()
            self._sorted.clear()

    def copy_of(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(record) for record in self.table(name).values()]
