"""Batched Rackbeat reads for bursts (issue 14): one list call reads the records many queued transfers of a
kind are waiting for, and each transfer is handed its record as that call read it, never older than the
event that queued it. A lone event keeps the single fast read.

Every time here is read from one clock, Redis's own (`TIME`), made strictly increasing by a stored last
value (a hybrid clock: microseconds since the epoch, plus one when two readings would be equal or the
clock stepped back), so an event noted by the receiver and a read started by a worker on another machine
are ordered without any clock skew between them.

Keys (all under the connection's namespace):

- ``readahead:clock``: the clock's last value.
- ``readahead:event:{kind}:{key}``: the clock at the record's latest event (every ``enqueue_export``,
  also when the event is coalesced into a transfer already queued); kept an hour, like a pending marker.
- ``readahead:queued:{kind}``: a sorted set, member = record key, score = the clock at its latest event:
  the transfers of the kind that are waiting for a read no batch has made yet. A batch read takes off the
  records it read; a transfer takes its record off once it has read it (only when no newer event put it
  back). Members older than ``QUEUED_HORIZON_SECONDS`` are dropped whenever it is looked at, and the whole
  set expires that long after its latest event, so a lost message or a killed worker never leaves a kind
  looking busy.
- ``readahead:kept:{kind}:{key}``: the record as a batch read it, with the clock and the wall time at which
  that read STARTED; kept ``batch_read_keep_seconds``. ``readahead:used:{kind}:{key}`` says the record's own
  transfer has had it (until the next batch read keeps it again).
- ``readahead:running:{kind}``: a sorted set, member = a token per running transfer of the kind that reads
  its record here, score = the clock at its start; taken off when its task ends (Celery's ``task_postrun``)
  or when the same thread starts its next transfer, and ignored after ``RUNNING_HORIZON_SECONDS`` (a
  killed worker's).
- ``readahead:lock:{kind}``: the one reader of the kind (``SET NX``, expires after ``LOCK_SECONDS`` by
  itself, released by its holder only).
- ``readahead:paused:{kind}``: set for ``PAUSE_SECONDS`` when a batch read failed (an API error): the
  kind's records are read one by one meanwhile, so a list call that keeps failing is not retried per record.

The freshness rule: a transfer uses a kept record only when the read that kept it started after the
record's latest event (kept clock > event clock): Rackbeat fires a webhook after the change is stored, so
such a read saw the change. And only once: a transfer run again (a retry, a dead letter retried after a fix
in Rackbeat) reads afresh. A change made while the batch was being read has its event after the read's
start, which makes the kept copy too old for it (the transfer reads the record itself) or queues a new
transfer (its marker was cleared when the running one started). A record without an event on file (a
transfer queued some other way, an event older than an hour) is always read by itself.

When a transfer's record is not kept, and at least ``batch_read_min_pending`` transfers of its kind are
waiting or running (other transfers of the kind in flight, past their read or not: on a gevent worker a
burst's transfers start as their events come, so few wait at any moment while many run), or at least two
are and Rackbeat's shared budget has no token free, the transfer becomes the kind's reader: one list
call, ``updated_at_from`` = the oldest waiting event less ``MARGIN_SECONDS`` (Rackbeat's clock, its
whole-second stamps and the webhook's delay), ordered by ``updated_at`` ascending, one page of up to
1,000. Transfers that find a read in flight wait
for it (at most ``WAIT_SECONDS``) instead of reading one by one, then take their kept record, or become the
next reader, or read by themselves. A record the list did not return (deleted, stamped by a clock behind
ours, beyond the page) is read by itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from celery.signals import task_postrun

from clients.errors import ApiError
from clients.rackbeat import RackbeatClient, filter_time
from clients.ratelimit import RedisTokenBucket
from tasks.entities.base import EntitySpec, Record
from tasks.redis import key as namespaced_key
from tasks.sync.lookups import event_key, lookup_key
from tasks.sync.sources import current_rackbeat

logger = logging.getLogger(__name__)

EVENT_TTL_SECONDS = 3600  # as long as a pending marker (tasks.sync.pending.DEFAULT_TTL_SECONDS)
QUEUED_HORIZON_SECONDS = 300  # a waiting transfer older than this no longer counts, nor widens a batch
MARGIN_SECONDS = 5  # how far before the oldest waiting event a batch read starts listing
WAIT_SECONDS = 2.0  # the longest a transfer waits for another worker's batch read
POLL_SECONDS = 0.05  # how often a waiting transfer looks again
LOCK_SECONDS = 10  # a reader that died lets the next one read after this
PAUSE_SECONDS = 60  # after a failed batch read, the kind's records are read one by one this long
RUNNING_HORIZON_SECONDS = 30  # a running transfer older than this no longer counts (a killed worker's)
PAGE = 1000

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now <= last then now = last + 1 end
local stamp = string.format('%d', now)
redis.call('SET', KEYS[1], stamp)
"""

# KEYS: clock -> the clock's next value
_TICK = _NOW + "return stamp"

# KEYS: clock, event, queued, lookup; ARGV: record key, event ttl, horizon seconds -> the event's clock
_NOTE_EVENT = (
    _NOW
    + """
redis.call('SET', KEYS[2], stamp, 'EX', ARGV[2])
redis.call('ZADD', KEYS[3], stamp, ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[4])
return stamp
"""
)

# KEYS: event, kept, lock, queued, paused, used, running; ARGV: horizon in microseconds, this transfer's
# running token, running horizon in microseconds
# -> [event, kept (false once its record's transfer used it), reader busy,
#     waiting + the other transfers running (0 while paused)]
_SNAPSHOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', string.format('(%d', now - tonumber(ARGV[1])))
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', string.format('(%d', now - tonumber(ARGV[3])))
redis.call('ZADD', KEYS[7], 'NX', string.format('%d', now), ARGV[2])
redis.call('EXPIRE', KEYS[7], math.floor(tonumber(ARGV[3]) / 1000000) + 1)
local waiting = 0
if redis.call('EXISTS', KEYS[5]) == 0 then
    waiting = redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[7]) - 1
end
local kept = false
if redis.call('EXISTS', KEYS[6]) == 0 then kept = redis.call('GET', KEYS[2]) end
return {redis.call('GET', KEYS[1]), kept, redis.call('EXISTS', KEYS[3]), waiting}
"""

# KEYS: clock, queued -> [the clock at the read's start, the oldest waiting event's clock or false]
_BEGIN_BATCH = (
    _NOW
    + """
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {stamp, oldest[2] or false}
"""
)

# KEYS: queued; ARGV: read clock, record keys... -> how many were taken off (only those whose latest event
# is older than the read)
_TAKE_OFF = """
local taken = 0
for i = 2, #ARGV do
    local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if score and tonumber(score) < tonumber(ARGV[1]) then
        taken = taken + redis.call('ZREM', KEYS[1], ARGV[i])
    end
end
return taken
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Read:
    """A record as read (None: Rackbeat no longer has it), when that read started (the shared clock, and
    this process's wall time for the polls' bookkeeping), and whether a batch read it."""

    record: Record | None
    clock: int
    at: datetime
    batched: bool = False


class ReadClock:
    """The shared clock and the per-record event bookkeeping, for the receiver's side (`note_event`) and the
    transfer's (`now`)."""

    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def name(self, *parts: object) -> str:
        return namespaced_key("readahead", *parts, connection_id=self.connection_id)

    def now(self) -> int:
        return int(self.client.eval(_TICK, 1, self.name("clock")))

    def note_event(self, kind: str, key: str) -> int:
        """Record an event for the record (the clock at it), count the record as waiting for a read, and drop
        its look-up entry (`tasks.sync.lookups`); returns the event's clock. Call it before the transfer is
        queued or coalesced."""
        return int(
            self.client.eval(
                _NOTE_EVENT,
                4,
                self.name("clock"),
                event_key(kind, key, self.connection_id),
                self.name("queued", kind),
                lookup_key(kind, key, self.connection_id),
                key,
                EVENT_TTL_SECONDS,
                QUEUED_HORIZON_SECONDS,
            )
        )

    def event(self, kind: str, key: str) -> int | None:
        """The clock at the record's latest event, None when none is on file."""
        raw = self.client.get(event_key(kind, key, self.connection_id))
        return int(raw) if raw is not None else None


class ReadAhead(ReadClock):
    """Reads a transfer's Rackbeat record: from a batch read when one is fresh enough (module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        min_pending: int,
        keep_seconds: int,
        connection_id: str | None = None,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        super().__init__(client, connection_id)
        self.min_pending = min_pending
        self.keep_seconds = keep_seconds
        self.wait_seconds = wait_seconds

    # --- the read -----------------------------------------------------------------------------------

    def single(self, spec: EntitySpec, key: str, rackbeat: RackbeatClient) -> Read:
        """One GET of the record, its start on the clock."""
        clock, at = self.now(), datetime.now(UTC)
        return Read(current_rackbeat(spec, key, rackbeat), clock, at)

    def read(self, spec: EntitySpec, key: str, rackbeat: RackbeatClient) -> Read:
        """The transfer's own record: kept by a batch read that started after its latest event, else read
        in a batch with the others waiting, else read by itself."""
        if self.min_pending <= 0:
            return self.single(spec, key, rackbeat)
        kind = spec.kind
        token = self._running(kind)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            event, kept, busy, waiting = self._snapshot(kind, key, token)
            if event is None:  # queued some other way than an event: read as it is now
                break
            if kept is not None and kept.clock > event:
                self._taken(kind, [key], kept.clock)
                self._used(kind, key)
                return kept
            if waiting < self.min_pending and not (waiting >= 2 and _budget_spent(rackbeat)):
                break  # a lone event: the single fast read, no waiting
            if not busy:
                batch = self._batch_read(spec, rackbeat)
                if batch is not None:
                    mine = batch.get(key)
                    if mine is not None and mine.clock > event:
                        self._used(kind, key)
                        return mine
                    break  # not listed (deleted, stamped earlier than the window, beyond the page)
            if time.monotonic() >= deadline:
                logger.debug("%s %r: no batch read in time; read by itself", kind, key)
                break
            time.sleep(POLL_SECONDS)
        read = self.single(spec, key, rackbeat)
        self._taken(kind, [key], read.clock)
        return read

    def kept(self, kind: str, key: str) -> Read | None:
        """The record as a batch read kept it, when that read started after the record's latest event;
        None otherwise (nothing kept, no event on file, or an event since)."""
        names = [event_key(kind, key, self.connection_id), self.name("kept", kind, key)]
        event, kept = self.client.mget(names)
        if event is None or kept is None:
            return None
        read = _kept(kept)
        return read if read is not None and read.clock > int(event) else None

    # --- the pieces ---------------------------------------------------------------------------------

    def _running(self, kind: str) -> str:
        """This transfer's running token for the kind (counted from its first snapshot until its task ends);
        this thread's earlier transfers are over."""
        finish_running()
        token = uuid.uuid4().hex
        _task.running = [(self.client, self.name("running", kind), token)]
        return token

    def _snapshot(self, kind: str, key: str, token: str) -> tuple[int | None, Read | None, bool, int]:
        event, kept, busy, waiting = self.client.eval(
            _SNAPSHOT,
            7,
            event_key(kind, key, self.connection_id),
            self.name("kept", kind, key),
            self.name("lock", kind),
            self.name("queued", kind),
            self.name("paused", kind),
            self.name("used", kind, key),
            self.name("running", kind),
            QUEUED_HORIZON_SECONDS * 1_000_000,
            token,
            RUNNING_HORIZON_SECONDS * 1_000_000,
        )
        return (
            int(event) if event is not None else None,
            _kept(kept) if kept is not None else None,
            bool(busy),
            int(waiting),
        )

    def _batch_read(self, spec: EntitySpec, rackbeat: RackbeatClient) -> dict[str, Read] | None:
        """Read the kind's waiting records with one list call and keep them; None when another worker is
        the reader already. Returns the records read, by key."""
        kind = spec.kind
        lock, token = self.name("lock", kind), uuid.uuid4().hex
        if not self.client.set(lock, token, nx=True, ex=LOCK_SECONDS):
            return None
        try:
            stamp, oldest = self.client.eval(_BEGIN_BATCH, 2, self.name("clock"), self.name("queued", kind))
            clock, at = int(stamp), datetime.now(UTC)
            if oldest is None:
                return {}
            since = datetime.fromtimestamp(float(oldest) / 1_000_000 - MARGIN_SECONDS, UTC)
            params = {
                "updated_at_from": filter_time(since),
                "order_by": "updated_at",
                "order_direction": "ASC",
            }
            try:
                records, _pages = rackbeat.page(spec.rackbeat.resource, _list_key(spec), params, limit=PAGE)
            except ApiError as error:  # single reads may still work: batching pauses for a while
                self.client.set(self.name("paused", kind), "1", ex=PAUSE_SECONDS)
                logger.warning(
                    "%s: a batch read failed; records are read one by one for %d s: %s",
                    kind,
                    PAUSE_SECONDS,
                    error,
                )
                return {}
            # Only the records some transfer waits for are kept: any other has its next event after this
            # read started, so no transfer could use it.
            waiting = set(self.client.zrange(self.name("queued", kind), 0, clock, byscore=True))
            found: dict[str, Read] = {}
            for record in records:
                if record.get(spec.rackbeat.key_field) is not None:
                    key = spec.rackbeat.key_of(record)
                    if key in waiting:
                        found[key] = Read(record, clock, at, batched=True)
            with self.client.pipeline(transaction=False) as pipe:
                for key, read in found.items():
                    pipe.set(self.name("kept", kind, key), _kept_value(read), ex=self.keep_seconds)
                    pipe.delete(self.name("used", kind, key))
                pipe.execute()
            self._taken(kind, list(found), clock)
            logger.info(
                "%s: one list call read %d of %d waiting records (%d listed)",
                kind,
                len(found),
                len(waiting),
                len(records),
            )
            return found
        finally:
            self.client.eval(_RELEASE, 1, lock, token)

    def _used(self, kind: str, key: str) -> None:
        """The record's own transfer had its kept copy: a transfer of it run again reads afresh (records
        that read it, a lot its components, may still take it)."""
        self.client.set(self.name("used", kind, key), "1", ex=self.keep_seconds)

    def _taken(self, kind: str, keys: list[str], clock: int) -> None:
        """The records no longer wait for a read (unless an event newer than `clock` came meanwhile)."""
        if keys:
            self.client.eval(_TAKE_OFF, 1, self.name("queued", kind), clock, *keys)


_task = threading.local()  # the running tokens of this thread's (greenlet's) transfer


def finish_running() -> None:
    """This thread's transfer no longer counts as running (its task ended, or the thread starts another)."""
    running: list[tuple[redis.Redis, str, str]] = getattr(_task, "running", None) or []
    _task.running = []
    for client, name, token in running:
        try:
            client.zrem(name, token)
        except redis.RedisError:  # it stops counting after RUNNING_HORIZON_SECONDS anyway
            logger.debug("a running token not taken off %s", name)


@task_postrun.connect(weak=False, dispatch_uid="rbsync-readahead-finish-running")
def _finish_after_task(**_: object) -> None:
    finish_running()


def _budget_spent(rackbeat: RackbeatClient) -> bool:
    """Rackbeat's shared budget has no token free now (a single read would wait for one)."""
    limiter = rackbeat.limiter
    if not isinstance(limiter, RedisTokenBucket):
        return False
    try:
        return limiter.available() < 1
    except ApiError:  # the limiter's Redis is unavailable: the read itself will say so
        return False


def _list_key(spec: EntitySpec) -> str:
    """The envelope key of a Rackbeat list (``customer-groups`` -> ``customer_groups``)."""
    return spec.rackbeat.resource.replace("-", "_")


def _kept_value(read: Read) -> str:
    return json.dumps({"clock": read.clock, "at": read.at.isoformat(), "record": read.record})


def _kept(raw: Any) -> Read | None:
    try:
        value = json.loads(raw)
        return Read(value["record"], int(value["clock"]), datetime.fromisoformat(value["at"]), batched=True)
    except (TypeError, ValueError, KeyError):
        logger.warning("ignored an unreadable kept record")
        return None
