"""Records a mapper reads without transferring them, and the records to queue again when one changes.

A kind that declares `ExportRules.related` (a lot reads its components' cost prices) is handed the
current version of those records (a batch read's copy when it is fresh enough, `tasks.sync.readahead`). The
reader is marked as their watcher BEFORE they are read, so a change written to e-conomic between a read and
the bookkeeping still queues it again; right after the reads it is recorded as having seen exactly those
versions (and stops watching what it no longer reads). When a transfer writes a record, every watcher that
did not map this version of it is queued (`notify`).

A posted document reads its related records once, when it is posted, and does not watch them (a later
change must not touch a posted document): `ReadWhenAsked` reads each only if its mapper asks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

from clients.rackbeat import RackbeatClient
from tasks.entities import REGISTRY
from tasks.entities.base import EntitySpec, Record, RecordRef, Related
from tasks.sync.ports import SyncStore
from tasks.sync.readahead import ReadAhead
from tasks.sync.sources import current_rackbeat
from tasks.sync.watchers import fingerprint

logger = logging.getLogger(__name__)


def read_related(
    spec: EntitySpec, ref: RecordRef, record: Record, rackbeat: RackbeatClient, store: SyncStore
) -> Related:
    """The current Rackbeat version of every record the mapper reads (one GET each; gone ones absent)."""
    rules = spec.export_rules
    if rules.related is None:
        return {}
    wanted = rules.related_refs(record)
    store.watchers.begin(ref, wanted)
    related = current_records(wanted, rackbeat, store.reads)
    store.watchers.confirm(ref, {r: fingerprint(related.get(r)) for r in wanted})
    return related


def current_records(
    refs: list[RecordRef], rackbeat: RackbeatClient, reads: ReadAhead | None = None
) -> dict[RecordRef, Record]:
    """The current Rackbeat version of each record (one GET each); gone ones and unregistered kinds absent.

    With `reads`, a record a batch read kept after its latest event is taken as kept, without a call
    (`ReadAhead.kept`): a change whose webhook is still on its way reaches the reader through the watchers,
    as it would after a read made a moment earlier."""
    found: dict[RecordRef, Record] = {}
    for kind, key in refs:
        spec = REGISTRY.get(kind)
        if spec is None:
            logger.debug("%s %r is a kind nobody transfers: passed as absent", kind, key)
            continue
        kept = reads.kept(kind, key) if reads is not None else None
        current = kept.record if kept is not None else current_rackbeat(spec, key, rackbeat)
        if current is not None:
            found[(kind, key)] = current
    return found


class ReadWhenAsked(Mapping[RecordRef, Record]):
    """The records a posted document's mapper may read, each read from Rackbeat the first time the mapper
    asks for it and not before (at most once per transfer; a gone one is absent).

    A document's mapper takes what the document itself carries first (the customer Rackbeat embeds in an
    invoice, the invoice's own address and VAT zone) and asks for the record only for what that lacks, so a
    record whose facts are all in hand is never read. Only the records `refs` names can be asked for.
    """

    def __init__(self, refs: list[RecordRef], rackbeat: RackbeatClient) -> None:
        self._allowed = list(dict.fromkeys(refs))
        self._rackbeat = rackbeat
        self._read: dict[RecordRef, Record | None] = {}

    def _current(self, ref: RecordRef) -> Record | None:
        if ref not in self._read:
            self._read[ref] = current_records([ref], self._rackbeat).get(ref)
        return self._read[ref]

    def __getitem__(self, ref: RecordRef) -> Record:
        found = self._current(ref) if ref in self._allowed else None
        if found is None:
            raise KeyError(ref)
        return found

    def __iter__(self) -> Iterator[RecordRef]:
        return (ref for ref in self._allowed if self._current(ref) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def asked(self) -> list[RecordRef]:
        """The records read so far, in the order they were asked for."""
        return list(self._read)


def notify_watchers(
    ref: RecordRef, current: str, store: SyncStore, chain: tuple[RecordRef, ...]
) -> list[RecordRef]:
    """Queue the transfer of every record that reads this one and did not map this version of it.

    Records higher up in this very transfer are left out: they read their related records after their
    dependencies were transferred, so they map this version anyway.
    """
    notified = [w for w in store.watchers.stale_watchers(ref, current) if w not in chain]
    for kind, key in notified:
        queued = store.enqueue(kind, key)
        logger.info(
            "%s %r was written to e-conomic: %s %r, which reads it, %s",
            *ref,
            kind,
            key,
            "is queued for transfer" if queued else "already has a transfer queued",
        )
    return notified
