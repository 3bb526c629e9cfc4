"""Finding: a pending marker set just before Redis fails must not block its record for an hour.

The fault is forced at the moment that matters: Redis (behind a loopback proxy) goes away right after the
marker is claimed and before the task's message is published, so the publish fails and so does taking
the claim back. The next delivery of the record must queue a transfer (it cannot know the claim's task
was never published), and the stale claim must be gone within seconds, not an hour.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from celery.signals import before_task_publish

from tasks.settings import Settings
from tasks.sync.pending import DEFAULT_CLAIM_SECONDS, PUBLISH_GRACE_MS, PendingMarkers
from tasks.transfer import enqueue_export
from tests.fixtures.service import apply_settings, build_test_settings, wait_for
from tests.fixtures.tcp_proxy import TcpProxy

CLAIM_SECONDS = 2


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    target = urlsplit(redis_url)
    server = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379).start()
    yield server
    server.cut()


@pytest.fixture
def proxied_settings(
    proxy: TcpProxy, redis_url: str, session_namespace: str, service_settings: Settings
) -> Iterator[Settings]:
    db = int(urlsplit(redis_url).path.strip("/") or 0)
    settings = build_test_settings(
        proxy.url(db),
        session_namespace,
        pending_claim_seconds=CLAIM_SECONDS,
        broker_key_prefix=f"{session_namespace}:pending-outage:",
    )
    apply_settings(settings)
    yield settings
    apply_settings(service_settings)


def test_a_claim_whose_publish_and_cleanup_both_fail_expires_in_seconds(
    proxy: TcpProxy, proxied_settings: Settings, redis_client: redis.Redis
) -> None:
    markers = PendingMarkers(redis_client, proxied_settings.connection_id)
    record = f"CLAIM-{uuid.uuid4().hex[:8]}"

    def redis_goes_away(**_: object) -> None:
        proxy.cut()

    before_task_publish.connect(redis_goes_away, weak=False)
    try:
        with pytest.raises(Exception):  # noqa: B017  (kombu's or redis-py's connection error, either is right)
            enqueue_export("product", record)
    finally:
        before_task_publish.disconnect(redis_goes_away)
    proxy.restore()

    claimed = markers.get("product", record)
    assert claimed is not None, "the claim was taken before the outage and could not be taken back"
    assert 0 < markers.ttl("product", record) <= CLAIM_SECONDS
    queue = f"{proxied_settings.broker_key_prefix}transfers"

    # Rackbeat delivers again: the claim is older than any publish takes, so its task may never have
    # been published; the delivery queues a transfer of its own instead of coalescing onto it.
    time.sleep(PUBLISH_GRACE_MS / 1000 + 0.1)
    assert enqueue_export("product", record) is True
    assert redis_client.llen(queue) == 1

    # Once the claim has expired, the record is marked as usual again, and events coalesce.
    started = time.monotonic()
    wait_for(
        lambda: markers.get("product", record) is None,
        timeout=CLAIM_SECONDS + 2,
        message="the stale claim to expire",
    )
    assert time.monotonic() - started <= CLAIM_SECONDS + 1
    assert enqueue_export("product", record) is True
    assert enqueue_export("product", record) is False
    assert redis_client.llen(queue) == 2
    assert markers.ttl("product", record) > DEFAULT_CLAIM_SECONDS, "a published transfer's marker lasts"
    redis_client.delete(queue, markers.name("product", record))


def test_a_published_transfer_holds_its_marker_for_the_full_lifetime(
    proxied_settings: Settings, redis_client: redis.Redis
) -> None:
    markers = PendingMarkers(redis_client, proxied_settings.connection_id)
    record = f"CLAIM-{uuid.uuid4().hex[:8]}"

    assert enqueue_export("product", record) is True
    assert enqueue_export("product", record) is False, "a burst still coalesces"
    assert markers.ttl("product", record) > CLAIM_SECONDS
    redis_client.delete(f"{proxied_settings.broker_key_prefix}transfers", markers.name("product", record))
