"""Pending markers: coalesce bursts of events for one record into a single queued transfer.

``pending:{kind}:{key}`` holds the id of the queued task, set once (``SET NX`` with an expiry, so a
lost message cannot block the record forever). The task clears it when it *starts*, so a change that
arrives during the transfer queues another one.

A marker is first *claimed* for a few seconds, and only *confirmed* (given its long lifetime) once the
task's message is published. When the publish fails and Redis is too unwell to take the claim back, the
claim expires by itself within seconds instead of turning every later event for the record into a no-op
for an hour while no task exists. The beat sweep (tasks.polls) clears a confirmed marker whose task is
gone.
"""

from __future__ import annotations

import redis

from tasks.redis import key as namespaced_key

DEFAULT_TTL_SECONDS = 3600
DEFAULT_CLAIM_SECONDS = 10

_CLEAR_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_EXPIRE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class PendingMarkers:
    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def name(self, kind: str, key: str) -> str:
        return namespaced_key("pending", kind, key, connection_id=self.connection_id)

    def mark(self, kind: str, key: str, task_id: str, *, ttl_seconds: int = DEFAULT_CLAIM_SECONDS) -> bool:
        """Claim the marker for ``task_id``; False if a transfer of the record is already queued.

        The default lifetime is a claim's: call ``confirm`` once the task is published."""
        return bool(self.client.set(self.name(kind, key), task_id, nx=True, ex=ttl_seconds))

    def confirm(self, kind: str, key: str, task_id: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> bool:
        """Give ``task_id``'s claim the marker's full lifetime; False when the claim is no longer its own
        (the task already started and cleared it, or the claim expired)."""
        return bool(self.client.eval(_EXPIRE_IF_OWNER, 1, self.name(kind, key), task_id, ttl_seconds))

    def ttl(self, kind: str, key: str) -> int:
        return int(self.client.ttl(self.name(kind, key)))

    def get(self, kind: str, key: str) -> str | None:
        return self.client.get(self.name(kind, key))

    def clear(self, kind: str, key: str, task_id: str | None = None) -> bool:
        """Remove the marker; with ``task_id`` only if it is that task's (a newer marker stays)."""
        if task_id is None:
            return bool(self.client.delete(self.name(kind, key)))
        return bool(self.client.eval(_CLEAR_IF_OWNER, 1, self.name(kind, key), task_id))
