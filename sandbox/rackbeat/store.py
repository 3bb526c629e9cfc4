"""The in-memory data: one :class:`Collection` per resource, a dict keyed by number.

Single reads are dict look-ups. Lists need the records in key order; that order is computed lazily and kept
until a key is added or removed (an update keeps it), so paging an unchanged collection costs only the page.
"""

from __future__ import annotations

from typing import Any

from sandbox.rackbeat.records import urlfriendly_number


def sort_value(value: Any) -> tuple:
    """A total order over mixed JSON values: None first, then numbers, then strings, then the rest."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, str(value))


class Collection:
    def __init__(self, key_type: type):
        self.key_type = key_type
        self.records: dict[Any, dict] = {}
        self._by_urlfriendly: dict[str, Any] = {}
        self._sorted_keys: list[Any] | None = None
        self._next_id = 1
        self._max_number = 0

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: Any) -> dict | None:
        return self.records.get(key)

    def find_by_urlfriendly(self, value: str) -> dict | None:
        key = self._by_urlfriendly.get(value)
        return None if key is None else self.records.get(key)

    def put(self, record: dict) -> None:
        """Insert or replace the record stored under ``record["number"]``."""
        key = record["number"]
        if key not in self.records:
            self._sorted_keys = None
        self.records[key] = record
        if self.key_type is str:
            self._by_urlfriendly[urlfriendly_number(key)] = key
        if isinstance(key, int) and key > self._max_number:
            self._max_number = key
        if isinstance(record.get("id"), int) and record["id"] >= self._next_id:
            self._next_id = record["id"] + 1

    def delete(self, key: Any) -> dict | None:
        record = self.records.pop(key, None)
        if record is not None:
            self._sorted_keys = None
            if self.key_type is str:
                self._by_urlfriendly.pop(urlfriendly_number(key), None)
        return record

    def sorted_keys(self) -> list[Any]:
        """All keys in ascending order (cached until a key is added or removed)."""
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.records, key=sort_value)
        return self._sorted_keys

    def sorted_records(self) -> list[dict]:
        records = self.records
        return [records[k] for k in self.sorted_keys()]

    def page_in_key_order(self, offset: int, limit: int, descending: bool = False) -> list[dict]:
        """One page in key order without touching the other records."""
        keys = self.sorted_keys()
        if descending:
            end = len(keys) - offset
            chosen = keys[max(0, end - limit) : max(0, end)][::-1]
        else:
            chosen = keys[offset : offset + limit]
        return [self.records[k] for k in chosen]

    def next_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def next_number(self) -> int:
        return self._max_number + 1

    def clear(self) -> None:
        self.records.clear()
        self._by_urlfriendly.clear()
        self._sorted_keys = None
        self._next_id = 1
        self._max_number = 0
