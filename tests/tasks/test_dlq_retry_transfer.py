"""``rbsync dlq retry ID --wait S`` reports the replayed TRANSFER's outcome, against both sandboxes and the
real in-process worker: a product e-conomic refuses fails again with e-conomic's new text (exit 1) until
it is fixed in Rackbeat, then the retry reports the transfer (exit 0)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main as rbsync_main
from tasks.deadletter import DeadLetterStore
from tasks.entities import product_group
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


def finished(client: redis.Redis, settings: Settings, kind: str, key: str, after: str = "0") -> list[str]:
    """Final outcomes of the record's transfers since stream id ``after`` (earlier tests in the session
    transferred records with the same kind and key)."""
    rows = read_events(client, after=after, count=100_000, connection_id=settings.connection_id)
    return [
        event["outcome"]
        for _, event in rows
        if event["kind"] == kind and event["key"] == key and event["outcome"] not in ("started", "retrying")
    ]


def rbsync(*args: str) -> Any:
    return CliRunner().invoke(rbsync_main, list(args), catch_exceptions=False)


def test_a_waited_retry_of_a_refused_product_reports_the_transfer_each_time(
    settings: Settings, rackbeat_sandbox: Any, economic_sandbox: Any, redis_client: redis.Redis
) -> None:
    general = rackbeat_sandbox.sandbox.create("product-groups", {"name": "General"})
    newest = redis_client.xrevrange(stream_key(settings.connection_id), count=1)
    since = newest[0][0] if newest else "0"
    enqueue_export("product_group", str(general["number"]))
    wait_for(
        lambda: finished(redis_client, settings, "product_group", str(general["number"]), since),
        timeout=60,
        message="the group's transfer",
    )
    # new groups get account 1010, which this agreement no longer has: only e-conomic knows, and refuses
    economic_sandbox.sandbox.store.delete("accounts", product_group.DOMESTIC_SALES_ACCOUNT)
    special = rackbeat_sandbox.sandbox.create("product-groups", {"name": "Special"})
    number = f"REFUSED-{uuid.uuid4().hex[:6].upper()}"
    rackbeat_sandbox.sandbox.create(
        "products",
        {"number": number, "name": f"Item {number}", "group_id": special["number"], "sales_price": 10.0},
    )
    store = DeadLetterStore(redis_client, settings.connection_id)
    enqueue_export("product", number)
    [entry] = wait_for(
        lambda: store.entries_for_record("product", number), timeout=60, message="the dead letter"
    )

    again = rbsync("dlq", "retry", entry["id"], "--wait", "60")

    assert again.exit_code == 1, again.output
    refused = store.get(entry["id"])
    assert refused["status"] == "new" and refused["failures"] == 2
    [retry] = refused["retries"]
    assert refused["task_id"] == retry["task_id"]
    first_line, *field_lines = again.output.splitlines()
    assert f"product {number} FAILED again (task {retry['task_id']})" in first_line
    assert "400 from economic" in first_line and refused["error"] in first_line
    assert "  domesticAccountId: Account 1010 does not exist." in field_lines  # e-conomic's own words

    # fixed in Rackbeat: the product belongs in the group e-conomic already has
    rackbeat_sandbox.sandbox.update("products", number, {"group_id": general["number"]})
    fixed = rbsync("dlq", "retry", entry["id"], "--wait", "60", "--json")

    assert fixed.exit_code == 0, fixed.output
    answer = json.loads(fixed.output)
    assert answer["transfer"] == {"outcome": "succeeded", "status": "resolved", "result": "created"}
    assert store.get(entry["id"])["status"] == "resolved"
    assert [p["productNumber"] for p in economic_sandbox.sandbox.dump("products")].count(number) == 1


def test_a_dead_letter_keeps_economics_diagnostics_and_the_listing_shows_its_own_words(
    settings: Settings, rackbeat_sandbox: Any, economic_sandbox: Any, redis_client: redis.Redis
) -> None:
    economic_sandbox.sandbox.store.delete("accounts", product_group.DOMESTIC_SALES_ACCOUNT)
    group = rackbeat_sandbox.sandbox.create("product-groups", {"name": "Diagnosed"})
    store = DeadLetterStore(redis_client, settings.connection_id)
    enqueue_export("product_group", str(group["number"]))
    [entry] = wait_for(
        lambda: store.entries_for_record("product_group", str(group["number"])),
        timeout=60,
        message="the dead letter",
    )

    details = entry["api_details"]  # groups go through the OpenAPI productsapi: problem+json
    assert re.fullmatch(r"[0-9a-f]{32}", details["traceId"]), details  # what Visma support asks for
    assert details["traceTimeUtc"] and entry["status_code"] == 400
    assert entry["field_errors"] == {"domesticAccountId": ["Account 1010 does not exist."]}
    listing = rbsync("dlq", "list", "--kind", "product_group")
    row = next(line for line in listing.output.splitlines() if line.startswith(entry["id"]))
    assert row.endswith("domesticAccountId: Account 1010 does not exist."), row
    shown = rbsync("dlq", "show", entry["id"]).output
    assert f"traceId:        {details['traceId']}" in shown
