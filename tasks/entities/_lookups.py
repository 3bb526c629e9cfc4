"""How an import finds the Rackbeat record an e-conomic document already is (`ImportRules.find_existing`).

Rackbeat has no Idempotency-Key, so a create is made exactly-once by looking before writing: a kind whose
number is the same on both sides is looked up at that number (one GET); a kind whose numbers each side
assigns itself (units, payment terms) is matched on the fields that identify it, over Rackbeat's list (one
call per 1,000 records). These are the only reads a kind module declares; they run inside the importer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from clients.errors import NotFoundError
from tasks.entities.base import RackbeatLookup, Record, comparable

Finder = Callable[[RackbeatLookup, Record], Record | None]


def by_number(resource: str, singular: str, number: Callable[[Record], Any]) -> Finder:
    """Find the Rackbeat record at the number `number(document)` gives (None: nothing to look up)."""

    def find(rackbeat: RackbeatLookup, document: Record) -> Record | None:
        key = number(document)
        if key is None:
            return None
        try:
            return rackbeat.get(resource, key, singular)
        except NotFoundError:
            return None

    return find


def by_fields(resource: str, plural: str, identity: Callable[[Record], Mapping[str, Any]]) -> Finder:
    """Find the first Rackbeat record whose fields equal `identity(document)` (text compared trimmed and
    without case, numbers as numbers)."""

    def find(rackbeat: RackbeatLookup, document: Record) -> Record | None:
        wanted = {name: comparable(value) for name, value in identity(document).items()}
        for record in rackbeat.iter(resource, plural):
            if all(comparable(record.get(name)) == value for name, value in wanted.items()):
                return record
        return None

    return find
