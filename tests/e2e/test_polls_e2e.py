"""The safety net under the webhooks (tasks/polls.py), end to end: both sandboxes, the real Redis and the
in-process Celery worker running the beat tasks exactly as beat would send them.

No webhook is registered in these tests, so every change made in the Rackbeat sandbox is a webhook that
was lost; only the polls can bring it across.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tasks.settings import Settings
from tasks.sync.pending import DEFAULT_TTL_SECONDS, PendingMarkers
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")


@pytest.fixture
def polls(service_settings: Settings) -> Any:
    """tasks.polls, imported once settings exist (its tasks read the app's configuration)."""
    import tasks.polls

    return tasks.polls


@pytest.fixture
def net(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[Any]:
    forget_records(redis_client, session_namespace)
    for name in redis_client.scan_iter(match=f"rbsync:{session_namespace}:poll:watermark:*"):
        redis_client.delete(name)
    yield rackbeat_sandbox
    rackbeat_sandbox.sandbox.faults.reset()


def run(name: str) -> dict[str, Any]:
    """Send the beat task to the worker, as beat does, and wait for its report."""
    from tasks.celery import app

    return app.send_task(name).get(timeout=60)


CHANGES, DELETIONS = "rbsync.poll_rackbeat_changes", "rbsync.poll_rackbeat_deletions"


def economic_products(economic: Any, number: str) -> list[dict[str, Any]]:
    return [p for p in economic.sandbox.dump("products") if p["productNumber"] == number]


def rackbeat_gets(rackbeat: Any) -> list[dict[str, Any]]:
    return [e for e in rackbeat.sandbox.request_log.entries() if e["method"] == "GET"]


def make_product(rackbeat: Any, number: str, **fields: Any) -> None:
    group = rackbeat.sandbox.create("product-groups", {"name": "Polled"})
    body = {"number": number, "name": f"Item {number}", "group_id": group["number"], "sales_price": 10.0}
    rackbeat.sandbox.create("products", {**body, **fields})


def test_a_change_whose_webhook_was_lost_arrives_with_the_next_poll(
    net: Any, economic_sandbox: Any, polls: Any
) -> None:
    rackbeat = net
    number = f"POLL-{uuid.uuid4().hex[:6].upper()}"
    make_product(rackbeat, number, sales_price=12.5)

    first = run(CHANGES)
    assert first["kinds"]["product"]["queued"] == 1
    [stored] = wait_for(lambda: economic_products(economic_sandbox, number), message="the polled product")
    assert stored["salesPrice"] == 12.5

    rackbeat.sandbox.update("products", number, {"sales_price": 14.0})
    second = run(CHANGES)
    assert second["kinds"]["product"]["queued"] == 1, "a later change is polled again"
    wait_for(
        lambda: economic_products(economic_sandbox, number)[0]["salesPrice"] == 14.0,
        message="the changed price",
    )

    wait_for(lambda: run(CHANGES)["queued"] == 0, timeout=30, message="a poll that finds nothing new")
    rackbeat.sandbox.request_log.clear()
    quiet = run(CHANGES)
    assert quiet["queued"] == 0
    assert len(rackbeat_gets(rackbeat)) == len(quiet["kinds"]), "one call per kind when nothing changed"


def test_a_record_deleted_with_its_webhook_lost_is_barred_by_the_sweep(
    net: Any, economic_sandbox: Any, polls: Any
) -> None:
    rackbeat = net
    number = f"GONE-{uuid.uuid4().hex[:6].upper()}"
    make_product(rackbeat, number)
    run(CHANGES)
    wait_for(lambda: economic_products(economic_sandbox, number), message="the product in e-conomic")
    assert run(DELETIONS)["queued"] == 0, "nothing is gone yet"

    rackbeat.sandbox.delete("products", number)
    swept = run(DELETIONS)

    assert swept["kinds"]["product"]["queued"] == 1
    wait_for(
        lambda: economic_products(economic_sandbox, number)[0].get("barred") is True,
        message="the product barred in e-conomic",
    )
    assert run(DELETIONS)["queued"] == 0, "a retired record is not queued again"


def test_the_watermark_moves_only_forward_with_each_poll(
    net: Any, sandbox_settings: Settings, redis_client: redis.Redis, polls: Any
) -> None:
    watermarks = polls.Watermarks(redis_client, sandbox_settings.connection_id)
    run(CHANGES)
    first = watermarks.get("product")
    run(CHANGES)
    assert first is not None and watermarks.get("product") > first


def test_a_marker_whose_message_vanished_is_queued_again_and_live_ones_are_kept(
    net: Any, economic_sandbox: Any, service_settings: Settings, redis_client: redis.Redis, polls: Any
) -> None:
    """A product whose transfer's message vanished after it was published (its marker confirmed, its task
    in no queue and no worker's hands) arrives all the same: the sweep queues its transfer again. A marker
    whose task waits in a queue, a young one and a claim being published are left alone."""
    settings = service_settings
    markers = PendingMarkers(redis_client, settings.connection_id)
    old = DEFAULT_TTL_SECONDS - min(polls.STALE_MARKER_SECONDS, settings.effective_visibility_timeout) - 5
    ghost, queued, young, claiming = (f"STALE-{uuid.uuid4().hex[:6].upper()}" for _ in range(4))
    make_product(net, ghost, sales_price=21.0)
    redis_client.set(markers.name("product", ghost), "vanished-task", ex=old)
    redis_client.set(markers.name("product", queued), "queued-task", ex=old)
    redis_client.set(markers.name("product", young), "young-task", ex=DEFAULT_TTL_SECONDS)
    redis_client.set(markers.name("product", claiming), "claim:publishing-task", ex=5)
    # A queue the worker does not consume, holding the message of the marker whose task waits.
    sweep_settings = settings.model_copy(update={"broker_key_prefix": f"{settings.connection_id}:sweep:"})
    queue = f"{sweep_settings.broker_key_prefix}transfers"
    redis_client.lpush(queue, json.dumps({"body": "", "headers": {"id": "queued-task"}}))
    try:
        assert polls.requeue_stale_markers(redis_client, redis_client, sweep_settings) == 1

        [stored] = wait_for(
            lambda: economic_products(economic_sandbox, ghost), message="the re-queued product"
        )
        assert stored["salesPrice"] == 21.0
        assert markers.get("product", queued) == "queued-task", "its task waits in a queue: kept"
        assert markers.get("product", young) == "young-task", "younger than the threshold: kept"
        assert markers.get("product", claiming) == "publishing-task", "a claim being published: kept"
        assert polls.requeue_stale_markers(redis_client, redis_client, sweep_settings) == 0, "once"
    finally:
        redis_client.delete(queue, *(markers.name("product", k) for k in (ghost, queued, young, claiming)))


def test_an_import_marker_names_its_kind_and_a_key_may_hold_a_colon(polls: Any) -> None:
    assert polls._marker_and_key("product:A:1") == ("product", "A:1")
    assert polls._marker_and_key("import:customer:K-1") == ("import:customer", "K-1")
