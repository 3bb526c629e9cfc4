"""A retry's event, and so its line in `rbsync run`, carries the API calls its failed attempt really made:
the real export task on the real in-process worker, against both sandboxes, e-conomic answering 5xx."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tasks.cli.run import format_event
from tasks.events import read_events, stream_key
from tasks.settings import Settings
from tasks.transfer import enqueue_export
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")


@pytest.fixture
def settings(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[Settings]:
    forget_records(redis_client, session_namespace)
    yield sandbox_settings
    economic_sandbox.sandbox.faults.reset()


def test_each_retry_event_counts_the_calls_its_failed_attempt_sent(
    settings: Settings, rackbeat_sandbox: Any, economic_sandbox: Any, redis_client: redis.Redis
) -> None:
    group = rackbeat_sandbox.sandbox.create("product-groups", {"name": "Counted"})
    number = f"COUNTED-{uuid.uuid4().hex[:6].upper()}"
    rackbeat_sandbox.sandbox.create(
        "products",
        {"number": number, "name": f"Item {number}", "group_id": group["number"], "sales_price": 5},
    )
    newest = redis_client.xrevrange(stream_key(settings.connection_id), count=1)
    since = newest[0][0] if newest else "0"
    sent_before = {
        api: len(sandbox.sandbox.request_log.entries())
        for api, sandbox in (("rackbeat", rackbeat_sandbox), ("economic", economic_sandbox))
    }
    economic_sandbox.sandbox.faults.set(error_rate=1.0, seed=3)  # every e-conomic request answers 5xx

    enqueue_export("product", number)

    def events() -> list[dict[str, Any]]:
        rows = read_events(redis_client, after=since, count=100_000, connection_id=settings.connection_id)
        return [event for _, event in rows if (event["kind"], event["key"]) == ("product", number)]

    wait_for(
        lambda: any(event["outcome"] == "dead-lettered" for event in events()),
        timeout=90,
        message="the retries to run out",
    )
    economic_sandbox.sandbox.faults.reset()
    attempts = [event for event in events() if event["outcome"] in ("retrying", "dead-lettered")]
    assert [event["outcome"] for event in attempts] == ["retrying"] * settings.transfer_max_retries + [
        "dead-lettered"
    ]
    sent = {
        api: sandbox.sandbox.request_log.entries()[sent_before[api] :]
        for api, sandbox in (("rackbeat", rackbeat_sandbox), ("economic", economic_sandbox))
    }
    # what the sandboxes received is exactly what the attempts' events add up to
    assert sum(event["api_calls"] for event in attempts) == len(sent["rackbeat"]) + len(sent["economic"])
    assert all(event["api_calls"] >= 2 for event in attempts)  # each read Rackbeat and tried e-conomic
    first = attempts[0]
    line = format_event(first)
    retries = settings.transfer_max_retries
    expected = rf"e-conomic 50\d, retry 1 of {retries} in \d+ s, {first['api_calls']} API calls$"
    assert re.search(expected, line), line
