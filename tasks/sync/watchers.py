"""Watchers: which records must be exported again when a record they read is written to e-conomic.

A kind that declares `EntitySpec.related` maps from the current version of other Rackbeat records (a
lot from its components' cost prices). Rackbeat announces a change of such a record with that record's
own event, never the reader's, so the engine keeps the relation here and re-queues the readers itself.

``watchers:{kind}:{key}`` is a hash: field ``"<kind>|<key>"`` of a watcher -> the fingerprint of this
record as that watcher last read it for its mapping ("" while the watcher is reading it, "absent"
when it was gone from Rackbeat). ``watching:{kind}:{key}`` is the set of ``"<kind>|<key>"`` a watcher
reads, so the relations it no longer has can be dropped.

Why the fingerprint, not a bare set: a watcher that already mapped the version being written (it ran
after the change, or in the same burst) is current and is not queued again; a watcher still reading
holds "" and always is, so a change can never slip between its read and its bookkeeping (the
placeholder is set before the watcher reads its related records, the fingerprints right after).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import redis

from tasks.entities.base import Record, RecordRef
from tasks.redis import key as namespaced_key
from tasks.redis import text_map, texts
from tasks.sync.refs import payload_hash

UNKNOWN = ""
ABSENT = "absent"
_SEPARATOR = "|"


def fingerprint(record: Record | None) -> str:
    """What a record looked like in Rackbeat: the hash of its canonical JSON, or "absent"."""
    return ABSENT if record is None else payload_hash(dict(record))


def encode_ref(ref: RecordRef) -> str:
    return f"{ref[0]}{_SEPARATOR}{ref[1]}"


def decode_ref(value: str) -> RecordRef:
    kind, key = value.split(_SEPARATOR, 1)  # a kind never holds the separator; a key may
    return kind, key


class WatcherStore:
    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def _watchers_name(self, watched: RecordRef) -> str:
        return namespaced_key("watchers", *watched, connection_id=self.connection_id)

    def _watching_name(self, watcher: RecordRef) -> str:
        return namespaced_key("watching", *watcher, connection_id=self.connection_id)

    def begin(self, watcher: RecordRef, watched: Iterable[RecordRef]) -> None:
        """Mark `watcher` as reading `watched` now, fingerprint unknown (any write re-queues it)."""
        watched = list(watched)
        if not watched:
            return
        member = encode_ref(watcher)
        with self.client.pipeline(transaction=True) as pipe:
            for ref in watched:
                pipe.hset(self._watchers_name(ref), member, UNKNOWN)
            pipe.sadd(self._watching_name(watcher), *(encode_ref(ref) for ref in watched))
            pipe.execute()

    def confirm(self, watcher: RecordRef, seen: Mapping[RecordRef, str]) -> None:
        """`watcher` read exactly `seen` (ref -> fingerprint) for its mapping: record that, and stop
        watching whatever it read before and no longer does. Called under the watcher's lock."""
        member = encode_ref(watcher)
        watching_name = self._watching_name(watcher)
        current = {encode_ref(ref) for ref in seen}
        dropped = [decode_ref(m) for m in texts(self.client.smembers(watching_name)) if m not in current]
        with self.client.pipeline(transaction=True) as pipe:
            for ref in dropped:
                pipe.hdel(self._watchers_name(ref), member)
            for ref, seen_fingerprint in seen.items():
                pipe.hset(self._watchers_name(ref), member, seen_fingerprint)
            pipe.delete(watching_name)
            if current:
                pipe.sadd(watching_name, *current)
            pipe.execute()

    def forget(self, watcher: RecordRef) -> None:
        """The watcher is gone (or reads nothing any more): it watches nothing."""
        self.confirm(watcher, {})

    def watchers_of(self, watched: RecordRef) -> dict[RecordRef, str]:
        """Every watcher of `watched`, with the fingerprint of `watched` it last mapped."""
        entries = text_map(self.client.hgetall(self._watchers_name(watched)))
        return {decode_ref(member): value for member, value in entries.items()}

    def watching(self, watcher: RecordRef) -> set[RecordRef]:
        return {decode_ref(member) for member in texts(self.client.smembers(self._watching_name(watcher)))}

    def stale_watchers(self, watched: RecordRef, current: str) -> list[RecordRef]:
        """Watchers that did not map the version of `watched` whose fingerprint is `current`."""
        return [ref for ref, seen in sorted(self.watchers_of(watched).items()) if seen != current]
