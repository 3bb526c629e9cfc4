"""Locks, pending markers, bindings and the event stream against the real Redis."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from tasks.errors import RecordBusy
from tasks.events import follow_events, read_events, record_event
from tasks.redis import key
from tasks.sync.bindings import BindingStore
from tasks.sync.locks import RecordLock, hold_record
from tasks.sync.pending import PendingMarkers
from tasks.sync.refs import payload_hash
from tests.fixtures.service import wait_for


def unique(prefix: str = "R") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- key namespace ------------------------------------------------------------------------------


def test_keys_live_under_the_connection_namespace(service_settings):
    assert key("binding", "product", "P-1") == f"rbsync:{service_settings.connection_id}:binding:product:P-1"
    assert key("x", connection_id="other") == "rbsync:other:x"
    with pytest.raises(ValueError):
        key()


# --- locks --------------------------------------------------------------------------------------


def test_a_lock_excludes_other_holders_across_threads(service_redis):
    record = unique()
    counter = key("test", "lock-counter", record)
    inside = key("test", "lock-inside", record)
    overlaps: list[int] = []

    def worker() -> None:
        for _ in range(5):
            lock = RecordLock(service_redis, "product", record, ttl_seconds=10)
            assert lock.acquire(wait_seconds=30, poll_seconds=0.001)
            try:
                overlaps.append(service_redis.incr(inside))
                value = int(service_redis.get(counter) or 0)  # a read-modify-write the lock must protect
                time.sleep(0.002)
                service_redis.set(counter, value + 1)
                service_redis.decr(inside)
            finally:
                assert lock.release()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert int(service_redis.get(counter)) == 30
    assert max(overlaps) == 1


def test_a_held_lock_is_refused_and_frees_itself_when_it_expires(service_redis):
    record = unique()
    holder = RecordLock(service_redis, "product", record, ttl_seconds=0.3)
    assert holder.acquire()
    other = RecordLock(service_redis, "product", record, ttl_seconds=10)

    assert not other.acquire()
    wait_for(lambda: holder.owner() is None, message="the lock to expire")
    assert other.acquire()
    assert other.owner() == other.token


def test_release_only_deletes_the_callers_own_lock(service_redis):
    record = unique()
    stale = RecordLock(service_redis, "product", record, ttl_seconds=0.2)
    assert stale.acquire()
    wait_for(lambda: stale.owner() is None, message="the lock to expire")
    current = RecordLock(service_redis, "product", record, ttl_seconds=10)
    assert current.acquire()

    assert stale.release() is False
    assert stale.extend() is False
    assert current.owner() == current.token
    assert current.extend(20) is True
    assert current.release() is True
    assert current.owner() is None


def test_hold_record_raises_record_busy_while_someone_holds_it(service_redis):
    record = unique()
    with hold_record(service_redis, "product", record, ttl_seconds=10) as held:
        assert held.owner() == held.token
        with pytest.raises(RecordBusy) as busy, hold_record(service_redis, "product", record, ttl_seconds=10):
            pass
        assert busy.value.kind == "product" and busy.value.key == record
    assert RecordLock(service_redis, "product", record, ttl_seconds=1).owner() is None


# --- pending markers ------------------------------------------------------------------------------


def test_a_pending_marker_is_set_once_until_cleared(service_redis):
    markers = PendingMarkers(service_redis)
    record = unique()

    assert markers.mark("product", record, "task-1") is True
    assert markers.mark("product", record, "task-2") is False
    assert markers.get("product", record) == "task-1"
    assert service_redis.ttl(markers.name("product", record)) > 0

    assert markers.clear("product", record, "task-2") is False, "someone else's marker stays"
    assert markers.clear("product", record, "task-1") is True
    assert markers.mark("product", record, "task-3") is True
    assert markers.clear("product", record) is True
    assert markers.get("product", record) is None


def test_only_one_of_many_concurrent_markers_wins(service_redis):
    markers = PendingMarkers(service_redis)
    record = unique()
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def mark(number: int) -> None:
        barrier.wait()
        results.append(markers.mark("product", record, f"task-{number}"))

    threads = [threading.Thread(target=mark, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(True) == 1


# --- bindings -----------------------------------------------------------------------------------


def test_a_binding_round_trips_and_keeps_the_type_of_the_economic_key(bindings: BindingStore):
    record = unique()
    payload = {"name": "Bolt", "salesPrice": 12.5, "productGroup": {"productGroupNumber": 1}}

    bindings.put(
        "product", record, economic_key=4711, payload_hash=payload_hash(payload), economic_resource="products"
    )

    binding = bindings.get("product", record)
    assert binding is not None
    assert binding.economic_key == 4711 and isinstance(binding.economic_key, int)
    assert binding.hash == payload_hash(payload)
    assert binding.economic_resource == "products"
    assert binding.written_at and binding.written_at.endswith("Z")
    assert bindings.rackbeat_key_for("product", 4711) == record
    assert bindings.get("product", unique()) is None


def test_the_hash_compare_tells_changed_from_unchanged_payloads(bindings: BindingStore):
    record = unique()
    payload = {"b": 1, "a": "Æble"}
    bindings.put(
        "product",
        record,
        economic_key="P-1",
        payload_hash=payload_hash(payload),
        economic_resource="products",
    )

    assert bindings.is_unchanged("product", record, {"a": "Æble", "b": 1}), "key order must not matter"
    assert not bindings.is_unchanged("product", record, {"a": "Æble", "b": 2})
    assert not bindings.is_unchanged("product", unique(), payload)


def test_moving_a_binding_drops_the_old_reverse_entry(bindings: BindingStore):
    record, old_key, new_key = unique(), unique("E"), unique("E")
    bindings.put("product", record, economic_key=old_key, payload_hash="h1", economic_resource="products")

    bindings.put("product", record, economic_key=new_key, payload_hash="h2", economic_resource="products")

    assert bindings.rackbeat_key_for("product", new_key) == record
    assert bindings.rackbeat_key_for("product", old_key) is None
    assert bindings.delete("product", record) is True
    assert bindings.get("product", record) is None
    assert bindings.rackbeat_key_for("product", new_key) is None
    assert bindings.delete("product", record) is False


def test_a_key_is_settled_once_a_transfer_saw_its_version_and_until_a_sweep_finds_it_gone(
    bindings: BindingStore,
):
    record = unique("C")
    assert bindings.settled_key("customer", record) is None  # unbound
    bindings.put("customer", record, economic_key=4711, payload_hash="h", economic_resource="customers")
    assert bindings.settled_key("customer", record) is None  # bound, but no transfer's version seen yet

    bindings.mark_seen("customer", record, "2026-11-30T10:00:00+00:00", datetime.now(UTC))
    assert bindings.settled_key("customer", record) == 4711

    bindings.mark_gone("customer", record)
    assert bindings.settled_key("customer", record) is None  # its retirement is queued: transfer it again
    bindings.mark_gone("customer", record, gone=False)
    assert bindings.settled_key("customer", record) == 4711


# --- events -------------------------------------------------------------------------------------


def test_events_are_appended_and_read_back_typed(service_redis):
    task_id = unique("task")
    start = read_events(service_redis, count=10**6)
    after = start[-1][0] if start else "0"

    record_event(
        service_redis,
        kind="product",
        key="P-1",
        outcome="created",
        task_id=task_id,
        economic_key=42,
        api_calls=3,
        at=1700000000.25,
    )
    record_event(service_redis, kind="product", key="P-1", outcome="retrying", task_id=task_id, retry_in=1.5)

    new = [event for _, event in read_events(service_redis, after=after) if event["task_id"] == task_id]
    assert [event["outcome"] for event in new] == ["created", "retrying"]
    assert new[0]["economic_key"] == "42" and new[0]["api_calls"] == 3 and new[0]["at"] == 1700000000.25
    assert new[1]["retry_in"] == 1.5 and new[1]["economic_key"] is None


def test_follow_yields_new_events_as_they_arrive(service_redis):
    task_id = unique("task")
    stream = follow_events(service_redis, block_ms=50)
    assert next(stream) is None  # nothing new yet
    record_event(service_redis, kind="product", key="P-2", outcome="unchanged", task_id=task_id)

    window = itertools.islice(stream, 100)  # bounded: a broken follow fails instead of hanging
    arrived = next((item for item in window if item is not None and item[1]["task_id"] == task_id), None)

    assert arrived is not None and arrived[1]["outcome"] == "unchanged"
