"""`rbsync resend`: records whose webhooks were lost are queued by hand and arrive in e-conomic.

Both sandboxes, the real Redis and the in-process Celery worker; no webhook is registered, so nothing but
the command brings the records across.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import redis
from click.testing import CliRunner

from tasks.cli import main
from tasks.settings import Settings
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import wait_for


@pytest.fixture
def net(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
    celery_worker: Any,
) -> Iterator[Any]:
    forget_records(redis_client, session_namespace)
    yield rackbeat_sandbox
    forget_records(redis_client, session_namespace)


def make_products(rackbeat: Any, count: int) -> list[str]:
    group = rackbeat.sandbox.create("product-groups", {"name": "Lost webhooks"})
    prefix = f"RS-{uuid.uuid4().hex[:5].upper()}"
    numbers = [f"{prefix}-{index}" for index in range(count)]
    for number in numbers:
        rackbeat.sandbox.create(
            "products",
            {"number": number, "name": f"Item {number}", "group_id": group["number"], "sales_price": 10.0},
        )
    return numbers


def in_economic(economic: Any, numbers: list[str]) -> bool:
    present = {product["productNumber"] for product in economic.sandbox.dump("products")}
    return set(numbers) <= present


def resend(*args: str) -> Any:
    return CliRunner().invoke(main, ["resend", *args], catch_exceptions=False)


def test_resend_keys_queues_those_records_and_they_arrive(net: Any, economic_sandbox: Any) -> None:
    first, second, untouched = make_products(net, 3)

    result = resend("product", first, second)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "product: 2 queued, 0 already pending"
    wait_for(lambda: in_economic(economic_sandbox, [first, second]), message="the resent products")
    assert not in_economic(economic_sandbox, [untouched])


def test_a_key_resent_twice_at_once_is_queued_once(
    net: Any, economic_sandbox: Any, redis_client: redis.Redis, session_namespace: str
) -> None:
    [number] = make_products(net, 1)
    result = resend("product", number, number)
    assert result.exit_code == 0, result.stderr
    # The second is coalesced with the first's pending marker, unless the worker already started it.
    assert result.stdout.strip() in {
        "product: 1 queued, 1 already pending",
        "product: 2 queued, 0 already pending",
    }
    wait_for(lambda: in_economic(economic_sandbox, [number]), message="the resent product")


def test_resend_all_pages_through_rackbeat_and_queues_every_record(net: Any, economic_sandbox: Any) -> None:
    numbers = make_products(net, 4)
    net.sandbox.request_log.clear()

    result = resend("--all", "product")
    assert result.exit_code == 0, result.stderr
    listed = [
        entry
        for entry in net.sandbox.request_log.entries()
        if entry["method"] == "GET" and entry["path"].rstrip("/").endswith("products")
    ]
    assert listed, "the products were listed"
    query = parse_qs(listed[0]["query"])
    # Only the key field, 1000 at a time.
    assert query["fields"] == ["number"] and query["limit"] == ["1000"] and query["page"] == ["1"]
    assert result.stdout.strip().startswith(f"product: {len(numbers)} queued")
    wait_for(lambda: in_economic(economic_sandbox, numbers), timeout=60, message="every product")


def test_an_unknown_kind_is_refused_in_one_line_naming_the_valid_ones() -> None:
    result = resend("products", "1")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "unknown kind 'products'" in line and "product," in line and "supplier" in line


def test_keys_or_all_but_not_both_nor_neither() -> None:
    assert resend("product").exit_code == 2
    assert resend("--all", "product", "1").exit_code == 2


def test_missing_settings_give_one_line(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    rbsync = str(Path(sys.executable).parent / "rbsync")
    done = subprocess.run(
        [rbsync, "resend", "product", "1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("rbsync: setting RBSYNC_")
