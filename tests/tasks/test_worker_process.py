"""Worker loss: a prefork worker subprocess killed mid-task (pool child or the whole worker).

Each test's worker has its own broker prefix (see tests/fixtures/service.py), and tasks are sent through
``worker.app``, so the in-process session worker never sees these messages.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from tasks.events import read_events
from tasks.redis import key as namespaced_key
from tests.fixtures.service import wait_for
from tests.tasks.sample_tasks import SCRIPTED, runs, script


def new_record() -> tuple[str, str]:
    return "product", f"P-{uuid.uuid4().hex[:8]}"


def outcome(client: Any, task_id: str, name: str) -> bool:
    events = [event for _, event in read_events(client, count=10**6)]
    return any(event["task_id"] == task_id and event["outcome"] == name for event in events)


def started(client: Any, kind: str, key: str, count: int) -> bool:
    return len(runs(client, kind, key)) >= count


def test_a_task_whose_pool_process_is_killed_is_redelivered_and_completes(worker_process, service_redis):
    worker = worker_process()
    kind, key = new_record()
    script(service_redis, kind, key, "sleep:60", "ok")

    task_id = worker.app.send_task(SCRIPTED, args=[kind, key]).id
    wait_for(lambda: started(service_redis, kind, key, 1), message="the first run to start")
    killed = worker.kill_child()

    wait_for(lambda: outcome(service_redis, task_id, "replaced"), timeout=60, message="the redelivered run")
    first, second = runs(service_redis, kind, key)
    assert first["pid"] == killed and second["pid"] != killed
    assert first["task_id"] == second["task_id"] == task_id
    assert second["retries"] == 0, "a redelivery is not a retry"
    assert service_redis.get(namespaced_key("deliveries", task_id)) is None


def test_a_task_that_keeps_killing_its_worker_is_dead_lettered_as_worker_lost(
    worker_process, service_redis, dlq_store
):
    worker = worker_process(max_redeliveries=1)
    kind, key = new_record()
    script(service_redis, kind, key, "sleep:60")

    task_id = worker.app.send_task(SCRIPTED, args=[kind, key]).id
    for delivery in (1, 2):
        wait_for(lambda n=delivery: started(service_redis, kind, key, n), timeout=60, message="a run")
        worker.kill_child()

    entry = wait_for(
        lambda: (dlq_store.entries_for_record(kind, key) or [None])[0],
        timeout=60,
        message="the worker-lost dead letter",
    )
    assert entry["classification"] == "worker-lost"
    assert entry["error_class"] == "RedeliveryLimitExceeded"
    assert entry["task_id"] == task_id
    assert entry["args"] == [kind, key]
    assert len(runs(service_redis, kind, key)) == 2, "the third delivery must not run the task"
    assert outcome(service_redis, task_id, "dead-lettered")


def unacked_longer_than(client: Any, broker_prefix: str, seconds: float) -> bool:
    """Some message has sat in the broker's unacked set (delivered, never acked) for over ``seconds``."""
    delivered = client.zrange(f"{broker_prefix}unacked_index", 0, 0, withscores=True)
    return bool(delivered) and time.time() - delivered[0][1] > seconds


def test_a_task_of_a_killed_worker_comes_back_after_the_visibility_timeout(worker_process, service_redis):
    visibility = 2
    first_worker = worker_process(visibility_timeout_seconds=visibility)
    kind, key = new_record()
    script(service_redis, kind, key, "sleep:60", "ok")
    task_id = first_worker.app.send_task(SCRIPTED, args=[kind, key]).id
    wait_for(lambda: started(service_redis, kind, key, 1), message="the first run to start")

    first_worker.kill()
    prefix = first_worker.settings.broker_key_prefix
    # Kombu restores unacked messages older than the visibility timeout when a worker starts (and then
    # only every ~100 s), so start the replacement once the message is past it, as after a real crash.
    wait_for(lambda: unacked_longer_than(service_redis, prefix, visibility + 0.5), message="the timeout")
    worker_process(broker_prefix=prefix, visibility_timeout_seconds=visibility)

    wait_for(lambda: outcome(service_redis, task_id, "replaced"), timeout=90, message="the restored run")
    first, second = runs(service_redis, kind, key)
    assert first["task_id"] == second["task_id"] == task_id


def test_a_task_killed_by_the_hard_time_limit_is_dead_lettered_as_timeout(
    worker_process, service_redis, dlq_store
):
    worker = worker_process(transfer_time_limit_seconds=2)
    kind, key = new_record()
    script(service_redis, kind, key, "stubborn:30", "ok")

    task_id = worker.app.send_task(SCRIPTED, args=[kind, key]).id

    entry = wait_for(
        lambda: (dlq_store.entries_for_record(kind, key) or [None])[0],
        timeout=60,
        message="the timeout dead letter",
    )
    assert entry["classification"] == "timeout"
    assert entry["error_class"] == "TimeLimitExceeded"
    assert entry["task_id"] == task_id and entry["args"] == [kind, key]
    assert entry["queue"] == "transfers"
    assert len(runs(service_redis, kind, key)) == 1
