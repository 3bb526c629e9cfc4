"""Pending markers: coalesce bursts of events for one record into a single queued transfer.

``pending:{kind}:{key}`` holds the id of the queued task, set once (``SET NX`` with an expiry, so a
lost message cannot block the record forever). The task clears it when it *starts*, so a change that
arrives during the transfer queues another one.

A marker is first *claimed* for a few seconds, and only *confirmed* (given its long lifetime) once the
task's message is published. When the publish fails and Redis is too unwell to take the claim back, the
claim expires by itself within seconds instead of turning every later event for the record into a no-op
for an hour while no task exists. A claim's value is ``claim:{task_id}``, a confirmed marker's the bare
task id, so an event that meets a claim knows its task may never have been published and queues a
transfer of its own (at worst one transfer too many, never one too few). The beat sweep (tasks.polls)
clears a confirmed marker whose task is gone.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable

import redis

from tasks.redis import key as namespaced_key
from tasks.redis import text

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 3600
DEFAULT_CLAIM_SECONDS = 10
CLAIM_PREFIX = "claim:"
# A publish takes milliseconds; one that fails (Redis gone) takes longer than this before its caller is
# answered 503 and the delivery comes back.
PUBLISH_GRACE_MS = 500

# A task clears its marker whether it is still a claim or already confirmed (a fast worker can start the
# task between the publish and the confirmation).
_CLEAR_IF_OWNER = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] or current == ARGV[2] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_CONFIRM_IF_CLAIMED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) and 1
end
return 0
"""


class MarkState(enum.Enum):
    """What ``mark`` found."""

    CLAIMED = "claimed"  # the marker is now this call's claim: publish, then confirm
    QUEUED = "queued"  # a confirmed marker: a published transfer will read the record's latest version
    UNCONFIRMED = "unconfirmed"  # another call's claim, older than a publish takes: it may have failed


class PendingMarkers:
    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def name(self, kind: str, key: str) -> str:
        return namespaced_key("pending", kind, key, connection_id=self.connection_id)

    def mark(self, kind: str, key: str, task_id: str, *, ttl_seconds: int = DEFAULT_CLAIM_SECONDS) -> bool:
        """Claim the marker for ``task_id`` (for ``ttl_seconds``; ``confirm`` once the task is published);
        False if the record already has a marker, a claim or a confirmed one (``mark_state`` tells which)."""
        return self.mark_state(kind, key, task_id, ttl_seconds=ttl_seconds) is MarkState.CLAIMED

    def mark_state(
        self, kind: str, key: str, task_id: str, *, ttl_seconds: int = DEFAULT_CLAIM_SECONDS
    ) -> MarkState:
        name = self.name(kind, key)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(name, CLAIM_PREFIX + task_id, nx=True, ex=ttl_seconds)
            pipe.get(name)
            pipe.pttl(name)
            claimed, current, left_ms = pipe.execute()
        if claimed:
            return MarkState.CLAIMED
        if current is not None and current.startswith(CLAIM_PREFIX):
            # A claim younger than a publish can take is one being published right now: coalesce.
            age_ms = ttl_seconds * 1000 - left_ms
            return MarkState.UNCONFIRMED if age_ms > PUBLISH_GRACE_MS else MarkState.QUEUED
        return MarkState.QUEUED

    def confirm(self, kind: str, key: str, task_id: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> bool:
        """Turn ``task_id``'s claim into the marker of a published task, with the marker's full lifetime;
        False when the claim is no longer there (the task already started and cleared it, or it expired)."""
        return bool(
            self.client.eval(
                _CONFIRM_IF_CLAIMED, 1, self.name(kind, key), CLAIM_PREFIX + task_id, task_id, ttl_seconds
            )
        )

    def ttl(self, kind: str, key: str) -> int:
        return int(self.client.ttl(self.name(kind, key)))

    def get(self, kind: str, key: str) -> str | None:
        """The task id behind the marker (claimed or confirmed), None when the record has none."""
        value = text(self.client.get(self.name(kind, key)))
        return value.removeprefix(CLAIM_PREFIX) if value is not None else None

    def clear(self, kind: str, key: str, task_id: str | None = None) -> bool:
        """Remove the marker; with ``task_id`` only if it is that task's (a newer marker stays)."""
        if task_id is None:
            return bool(self.client.delete(self.name(kind, key)))
        name = self.name(kind, key)
        return bool(self.client.eval(_CLEAR_IF_OWNER, 1, name, task_id, CLAIM_PREFIX + task_id))


def queue_once(
    markers: PendingMarkers,
    marker: str,
    key: str,
    publish: Callable[[str], object],
    *,
    claim_seconds: int,
) -> bool:
    """Publish one task for the record behind ``marker``/``key`` unless one is queued already; True when
    this call published it. ``publish(task_id)`` sends the task under that id.

    The marker is claimed, the task published, then the marker confirmed. A claim left by another call is
    not trusted (its publish may have failed when Redis went away in between, and nothing would then bring
    the change across): this call publishes too; two runs of a record are harmless, a lost one is not. A
    publish that fails takes its claim back, so the next event queues again."""
    task_id = str(uuid.uuid4())
    state = markers.mark_state(marker, key, task_id, ttl_seconds=claim_seconds)
    if state is MarkState.QUEUED:
        return False
    if state is MarkState.UNCONFIRMED:
        publish(task_id)
        return True
    try:
        publish(task_id)
    except Exception:
        try:
            markers.clear(marker, key, task_id)
        except redis.RedisError:
            logger.warning(
                "could not take back the pending claim of %s %s; it expires by itself", marker, key
            )
        raise
    try:
        markers.confirm(marker, key, task_id)
    except redis.RedisError:  # queued all the same; only the coalescing of later events is shorter-lived
        logger.warning("could not confirm the pending marker of %s %s", marker, key)
    return True
