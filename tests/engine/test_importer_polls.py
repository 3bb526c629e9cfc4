"""The polls of e-conomic (tasks/economic_polls.py), run directly against both sandboxes and the real Redis
with a recording queue: what they list, what they queue, their watermarks and their lock. The beat tasks on
a real worker are in tests/e2e/test_imports_master_e2e.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from tasks.celery import beat_schedule
from tasks.economic_polls import EconomicWatermarks, run_poll
from tasks.settings import Settings, StoreSettings
from tasks.sync.connections import process_clients
from tasks.sync.importer import import_record
from tasks.sync.locks import RecordLock
from tasks.transfer import build_store
from tests.engine.importer_support import clear_log, economic_customer, economic_product, logged
from tests.engine.test_exporter import forget_records

ECONOMIC_MASTER = {"customers_master": "economic", "products_master": "economic"}


class Queue:
    """A recording stand-in for enqueue_import (the real one is exercised with a worker in tests/e2e)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.queued: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def __call__(self, kind: str, key: str) -> bool:
        if key == self.fail_on:
            raise RuntimeError("the broker is gone")
        self.queued.append((kind, key))
        return True


@pytest.fixture
def polls(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Any:
    forget_records(redis_client, session_namespace)
    for name in redis_client.scan_iter(match=f"rbsync:{session_namespace}:economic-poll:*"):
        redis_client.delete(name)
    return economic_sandbox


def poll(settings: Settings, queue: Queue, group: str = "master", **overrides: Any) -> dict[str, Any]:
    from tasks.redis import get_redis

    settings = settings.model_copy(update={**ECONOMIC_MASTER, **overrides})
    report = run_poll(
        group,  # type: ignore[arg-type]
        settings=settings,
        store=get_redis(),
        economic=process_clients().economic,
        enqueue=queue,
    )
    return report.as_dict()


def listing_calls(economic: Any) -> list[str]:
    return [e["path"] for e in logged(economic) if e["method"] == "GET"]


def in_the_past(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_beat_schedules_the_economic_polls_at_their_intervals() -> None:
    schedule = beat_schedule(StoreSettings())
    assert schedule["poll-economic-orders"] == {
        "task": "rbsync.poll_economic_orders",
        "schedule": 300.0,
        "options": {"expires": 300},
    }
    assert schedule["poll-economic-master"]["schedule"] == 3600.0
    assert "poll-economic-projects" not in schedule, "only with Project Management on"
    projects = beat_schedule(
        StoreSettings(project_management_enabled=True, economic_projects_poll_seconds=60)
    )
    assert projects["poll-economic-projects"]["schedule"] == 60.0
    assert "poll-economic-orders" not in beat_schedule(StoreSettings(economic_orders_poll_seconds=0))


def test_a_poll_queues_each_changed_document_and_not_one_already_in_step(
    polls: Any, sandbox_settings: Settings
) -> None:
    economic = polls
    economic_customer(economic, 601)
    economic_product(economic, "POLL-1")
    economic.sandbox.load(
        {"products": [{**economic.sandbox.dump("products")[0], "lastUpdated": in_the_past(5)}]}
    )

    first = poll(sandbox_settings, queue := Queue())

    assert sorted(queue.queued) == [("customer", "601"), ("product", "POLL-1")]
    assert first["kinds"]["customer"] == {"seen": 1, "queued": 1, "in_step": 0}
    import_record("product", "POLL-1", clients=process_clients(), store=build_store())

    second = poll(sandbox_settings, again := Queue())

    assert ("product", "POLL-1") not in again.queued, "imported at that version, read after it settled"
    assert second["kinds"]["product"]["in_step"] == 1


def test_only_the_kinds_economic_owns_are_polled(polls: Any, sandbox_settings: Settings) -> None:
    economic = polls
    economic_customer(economic, 602)
    clear_log(economic)

    report = poll(sandbox_settings, queue := Queue(), customers_master="rackbeat")

    assert list(report["kinds"]) == ["product"]
    assert queue.queued == []
    assert listing_calls(economic) == ["/products"]


def test_nothing_new_costs_one_call_per_collection_and_the_watermark_moves_forward(
    polls: Any, sandbox_settings: Settings
) -> None:
    economic = polls
    watermarks = EconomicWatermarks(build_store().bindings.client, sandbox_settings.connection_id)
    poll(sandbox_settings, Queue())
    first = watermarks.get("customer", "customers")
    clear_log(economic)

    for _ in range(10):
        assert poll(sandbox_settings, Queue())["queued"] == 0

    calls = listing_calls(economic)
    assert (calls.count("/customers"), calls.count("/products"), len(calls)) == (10, 10, 20)
    last = watermarks.get("customer", "customers")
    assert first is not None and last is not None and last > first
    watermarks.advance("customer", "customers", first - timedelta(hours=1))
    assert watermarks.get("customer", "customers") == last, "a late poll never moves it back"


def test_the_watermark_stays_when_queueing_fails(polls: Any, sandbox_settings: Settings) -> None:
    economic = polls
    watermarks = EconomicWatermarks(build_store().bindings.client, sandbox_settings.connection_id)
    economic_customer(economic, 603)

    with pytest.raises(RuntimeError):
        poll(sandbox_settings, Queue(fail_on="603"))

    assert watermarks.get("customer", "customers") is None, "the next poll reads it again"
    assert poll(sandbox_settings, queue := Queue())["queued"] >= 1
    assert ("customer", "603") in queue.queued


def test_a_poll_still_running_is_not_started_twice(polls: Any, sandbox_settings: Settings) -> None:
    economic = polls
    store = build_store().bindings.client
    running = RecordLock(
        store, "economic-poll", "master", ttl_seconds=30, connection_id=sandbox_settings.connection_id
    )
    assert running.acquire()
    clear_log(economic)
    try:
        report = poll(sandbox_settings, Queue())
    finally:
        running.release()

    assert report["skipped"] == "the previous poll is still running"
    assert listing_calls(economic) == [], "no call"
    assert "skipped" not in poll(sandbox_settings, Queue())


def test_the_overlap_rereads_the_boundary_and_finds_it_in_step(
    polls: Any, sandbox_settings: Settings
) -> None:
    economic = polls
    economic_product(economic, "POLL-2")
    economic.sandbox.load(
        {"products": [{**economic.sandbox.dump("products")[0], "lastUpdated": in_the_past(5)}]}
    )
    import_record("product", "POLL-2", clients=process_clients(), store=build_store())
    watermarks = EconomicWatermarks(build_store().bindings.client, sandbox_settings.connection_id)
    watermarks.advance("product", "products", datetime.now(UTC))  # the change lies before the watermark...

    report = poll(sandbox_settings, queue := Queue(), customers_master="rackbeat")

    assert report["kinds"]["product"] == {"seen": 1, "queued": 0, "in_step": 1}, "...within the overlap"
    assert queue.queued == []
