"""Per-record mutual exclusion across threads, processes and machines.

``lock:{kind}:{key}`` holds a random owner token, set with ``SET NX PX`` so a crashed holder's lock
expires on its own; release and extension are compare-and-act Lua scripts, so a holder whose lock
already expired can never delete or extend the lock someone else took since. Keep the expiry above the
task's hard time limit.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tasks.errors import RecordBusy
from tasks.redis import key as namespaced_key
from tasks.redis import text

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RecordLock:
    """The lock of one record. Not re-entrant; one instance per holder."""

    def __init__(
        self,
        client: redis.Redis,
        kind: str,
        key: str,
        *,
        ttl_seconds: float,
        connection_id: str | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("a lock needs a positive expiry")
        self.client = client
        self.kind = kind
        self.key = key
        self.name = namespaced_key("lock", kind, key, connection_id=connection_id)
        self.ttl_ms = int(ttl_seconds * 1000)
        self.token = secrets.token_hex(16)
        self.held = False

    def acquire(self, *, wait_seconds: float = 0, poll_seconds: float = 0.05) -> bool:
        """Take the lock, waiting up to ``wait_seconds`` for the holder to let go. True if taken."""
        deadline = time.monotonic() + wait_seconds
        while True:
            if self.client.set(self.name, self.token, nx=True, px=self.ttl_ms):
                self.held = True
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_seconds)

    def release(self) -> bool:
        """Let go, but only if we still own it. False if it had expired (and maybe been taken)."""
        released = bool(self.client.eval(_RELEASE, 1, self.name, self.token))
        self.held = False
        return released

    def extend(self, ttl_seconds: float | None = None) -> bool:
        """Push the expiry out again (long transfers); False if we no longer own the lock."""
        ttl_ms = self.ttl_ms if ttl_seconds is None else int(ttl_seconds * 1000)
        return bool(self.client.eval(_EXTEND, 1, self.name, self.token, ttl_ms))

    def owner(self) -> str | None:
        """The current holder's token (None when free)."""
        return text(self.client.get(self.name))


@contextmanager
def hold_record(
    client: redis.Redis,
    kind: str,
    key: str,
    *,
    ttl_seconds: float,
    wait_seconds: float = 0,
    connection_id: str | None = None,
) -> Iterator[RecordLock]:
    """Run the block holding the record's lock; raises the engine's ``RecordBusy`` (transient) if taken,
    saying how long the holder's lock can last at most."""
    lock = RecordLock(client, kind, key, ttl_seconds=ttl_seconds, connection_id=connection_id)
    if not lock.acquire(wait_seconds=wait_seconds):
        remaining_ms = client.pttl(lock.name)
        held_for = remaining_ms / 1000 if isinstance(remaining_ms, int) and remaining_ms > 0 else None
        raise RecordBusy(kind, key, held_for_seconds=held_for)
    try:
        yield lock
    finally:
        lock.release()
