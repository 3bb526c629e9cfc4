"""Look-ups shared by all workers (issue 14): a dependency that a transfer found in step in e-conomic a short
while ago, with no Rackbeat event for it since, is referred to by its bound key without another call.

A customer's group, payment terms and sales person are transferred inside the customer's transfer so that
e-conomic holds them, current, before the customer refers to them. Each of those transfers costs a Rackbeat
read even when nothing changed, which is most of the time. Here every transfer that ends with the record in
step (created, replaced or unchanged) notes ``lookup:{kind}:{key}`` = its e-conomic key, the record as read
and the shared clock (`tasks.sync.readahead`) at the start of that read, for ``lookup_cache_seconds``.

A dependency is taken from this note only when all of these hold, else it is transferred as before:

- the note exists (it is dropped at once by the record's next event: ``ReadClock.note_event``, which every
  webhook and every poll goes through in ``enqueue_export``);
- the read behind it started after the record's latest event (so a note written by a transfer that read
  the record just before a change, and finished just after its webhook, is never used);
- the record's binding still pairs it with the same e-conomic key;
- whatever view of the dependency the referring record embeds (a customer's ``payment_terms``) agrees
  field by field with the record as read: a change the view shows is a change, event or no event.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

from tasks.entities.base import Record
from tasks.redis import key as namespaced_key
from tasks.sync.bindings import BindingStore
from tasks.sync.results import TransferResult

logger = logging.getLogger(__name__)

IN_STEP = frozenset({"created", "replaced", "unchanged"})


def lookup_key(kind: str, key: str, connection_id: str | None = None) -> str:
    return namespaced_key("lookup", kind, key, connection_id=connection_id)


def event_key(kind: str, key: str, connection_id: str | None = None) -> str:
    """Where `tasks.sync.readahead.ReadClock` keeps the clock at the record's latest event."""
    return namespaced_key("readahead", "event", kind, key, connection_id=connection_id)


class LookupCache:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int, connection_id: str | None = None) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.connection_id = connection_id

    def note(self, result: TransferResult, record: Record | None, clock: int) -> None:
        """After a transfer of `result.kind`/`result.key` whose read started at `clock`: keep it when the
        record is in step in e-conomic, forget it otherwise (gone, barred, ignored)."""
        name = lookup_key(result.kind, result.key, self.connection_id)
        if result.outcome in IN_STEP and result.economic_key is not None and record is not None:
            value = {"economic_key": result.economic_key, "clock": clock, "record": record}
            self.client.set(name, json.dumps(value, default=str), ex=self.ttl_seconds)
        else:
            self.client.delete(name)

    def current(
        self, kind: str, key: str, view: Record | None, bindings: BindingStore
    ) -> TransferResult | None:
        """ "unchanged" with the bound e-conomic key when the note says the dependency is in step (module
        docstring); None when it must be transferred."""
        raw, event = self.client.mget(
            [lookup_key(kind, key, self.connection_id), event_key(kind, key, self.connection_id)]
        )
        if raw is None:
            return None
        try:
            note = json.loads(raw)
            clock, economic_key, record = int(note["clock"]), note["economic_key"], note["record"]
        except (TypeError, ValueError, KeyError):
            return None
        if event is not None and int(event) >= clock:
            return None
        if view is not None and not agrees(view, record):
            return None
        binding = bindings.get(kind, key)
        if binding is None or str(binding.economic_key) != str(economic_key):
            return None
        return TransferResult(kind, key, "unchanged", binding.economic_key)


def agrees(view: Record, record: Any) -> bool:
    """Whether every field the view shows has the same value in the record."""
    return isinstance(record, dict) and all(
        name in record and record[name] == value for name, value in view.items()
    )
