"""Redis (broker and store) stops while transfers are inside their API call, then comes back on its AOF.

Each test runs its own ``redis-server`` with AOF on its own port (never the shared one) and a prefork
worker subprocess on it, with a visibility timeout of a few seconds so a message left unacked by the outage
comes back in seconds. The Rackbeat sandbox answers slowly, so the fault lands while the transfer waits for
Rackbeat: when the answer arrives, Redis is gone, and whatever the worker does next (lock, binding, retry,
dead letter) meets a dead Redis.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tasks.deadletter import DeadLetterStore
from tasks.harness.localredis import LocalRedis
from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tests.fixtures.service import (
    WorkerProcess,
    build_test_settings,
    settings_for_sandboxes,
    wait_for,
)

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 3.0
RACKBEAT_LATENCY_MS = 1500
VISIBILITY_SECONDS = 4


@pytest.fixture
def own_redis() -> Iterator[LocalRedis]:
    server = LocalRedis(appendonly=True).start()
    yield server
    server.cleanup()


@pytest.fixture
def outage_settings(
    own_redis: LocalRedis, session_namespace: str, rackbeat_sandbox: Any, economic_sandbox: Any
) -> Settings:
    base = build_test_settings(
        own_redis.url,
        session_namespace,
        visibility_timeout_seconds=VISIBILITY_SECONDS,
        transfer_max_retries=5,
        retry_backoff_base_seconds=0.2,
        retry_backoff_max_seconds=1,
        # A record lock whose release met the outage expires by itself after the time limit + 5 s.
        transfer_time_limit_seconds=8,
    )
    return settings_for_sandboxes(base, rackbeat_sandbox, economic_sandbox)


def start_worker(settings: Settings, tmp_path: Path, concurrency: int) -> WorkerProcess:
    handle = WorkerProcess(settings=settings, log_path=tmp_path / "worker.log", concurrency=concurrency)
    return handle.start().wait_ready()


def products_in_economic(economic: Any, numbers: list[str]) -> dict[str, int]:
    stored = [p["productNumber"] for p in economic.sandbox.dump("products")]
    return {number: stored.count(number) for number in numbers}


def test_transfers_in_flight_when_redis_is_killed_all_arrive(
    own_redis: LocalRedis,
    outage_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    tmp_path: Path,
) -> None:
    store = redis.Redis.from_url(own_redis.url, decode_responses=True)
    group = rackbeat_sandbox.sandbox.create("product-groups", {"name": "Outage"})
    suffix = uuid.uuid4().hex[:6].upper()
    numbers = [f"OUT-{suffix}-{i}" for i in range(2)]
    for number in numbers:
        rackbeat_sandbox.sandbox.create(
            "products", {"number": number, "name": number, "group_id": group["number"], "sales_price": 5.0}
        )
    rackbeat_sandbox.sandbox.faults.set(latency_ms=RACKBEAT_LATENCY_MS)
    worker = start_worker(outage_settings, tmp_path, concurrency=2)
    try:
        task_ids = [worker.app.send_task("rbsync.export_record", args=["product", n]).id for n in numbers]
        # Both transfers have started (each counted its delivery) and wait for Rackbeat's slow answer.
        wait_for(
            lambda: all(
                store.exists(namespaced_key("deliveries", t, connection_id=outage_settings.connection_id))
                for t in task_ids
            ),
            timeout=30,
            message="both transfers to start",
        )
        time.sleep(0.3)
        own_redis.stop(kill=True)  # SIGTERM: tests/chaos (redis-term)
        time.sleep(OUTAGE_SECONDS)
        rackbeat_sandbox.sandbox.faults.set(latency_ms=0)
        own_redis.start()

        arrived = wait_for(
            lambda: (
                (found := products_in_economic(economic_sandbox, numbers)) and all(found.values()) and found
            ),
            timeout=90,
            message=f"both products in e-conomic\n{worker.log()[-4000:]}",
        )
        assert arrived == {number: 1 for number in numbers}, "each product exactly once"
        dead = DeadLetterStore(store, outage_settings.connection_id).entries_for_record("product", numbers[0])
        assert (
            dead == []
            and DeadLetterStore(store, outage_settings.connection_id).entries_for_record(
                "product", numbers[1]
            )
            == []
        )
    finally:
        worker.stop()
        store.close()
