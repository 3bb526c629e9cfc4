"""Products and product groups, Rackbeat -> e-conomic, end to end: both sandboxes, the real Redis, real
Celery workers (the in-process one, and a prefork subprocess where a worker is killed), the webhook
receiver on loopback. Writes are counted from the e-conomic sandbox's own request log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from clients.rackbeat import RackbeatClient
from sandbox.common.server import ServerThread
from tasks.cli import main as rbsync_main
from tasks.deadletter import DeadLetterStore
from tasks.entities import REGISTRY, product_group
from tasks.events import read_events, stream_key
from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tasks.transfer import enqueue_export
from tasks.webhooks import WebhookTokenStore, handled_events, register_webhooks
from tests.engine.test_exporter import WRITES, forget_records
from tests.fixtures.service import apply_settings, wait_for
from web.app import create_app

pytestmark = pytest.mark.usefixtures("celery_worker")

FINAL = ("created", "replaced", "unchanged", "barred", "ignored", "dead-lettered")


@pytest.fixture
def e2e(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[Flow]:
    forget_records(redis_client, session_namespace)
    yield Flow(sandbox_settings, rackbeat_sandbox, economic_sandbox, redis_client)
    economic_sandbox.sandbox.faults.reset()
    rackbeat_sandbox.sandbox.faults.reset()
    wait_until_quiet(sandbox_settings, redis_client)


def wait_until_quiet(settings: Settings, client: redis.Redis, timeout: float = 30) -> None:
    """Let this scenario's last transfers (coalesced re-sends, busy retries) finish before the next test
    resets the sandboxes; otherwise one lands in the next test's request log. Best effort: a test that
    leaves a long retry countdown behind on purpose only costs the timeout."""
    namespace, prefix = settings.connection_id, settings.broker_key_prefix

    def busy() -> bool:
        for kind in ("pending", "lock"):
            if next(client.scan_iter(match=f"rbsync:{namespace}:{kind}:*", count=1000), None) is not None:
                return True
        return bool(client.llen(f"{prefix}transfers") or client.hlen(f"{prefix}unacked"))

    deadline = time.monotonic() + timeout
    while busy() and time.monotonic() < deadline:
        time.sleep(0.05)


class Flow:
    """One scenario's handles and the waits every test needs."""

    def __init__(self, settings: Settings, rackbeat: Any, economic: Any, client: redis.Redis) -> None:
        self.settings = settings
        self.rackbeat = rackbeat
        self.economic = economic
        self.redis = client
        last = client.xrevrange(stream_key(settings.connection_id), count=1)
        self.since = last[0][0] if last else "0"
        self.suffix = uuid.uuid4().hex[:6].upper()

    def number(self, stem: str) -> str:
        return f"{stem}-{self.suffix}"

    def group(self, name: str = "Hardware") -> dict[str, Any]:
        return self.rackbeat.sandbox.create("product-groups", {"name": name})

    def product(self, number: str, group: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {"number": number, "name": f"Item {number}", "group_id": group["number"], "sales_price": 10.0}
        return self.rackbeat.sandbox.create("products", {**body, **fields})

    def events(self, kind: str, key: str) -> list[dict[str, Any]]:
        rows = read_events(
            self.redis, after=self.since, count=100_000, connection_id=self.settings.connection_id
        )
        return [event for _, event in rows if event["kind"] == kind and event["key"] == key]

    def outcomes(self, kind: str, key: str) -> list[str]:
        return [event["outcome"] for event in self.events(kind, key) if event["outcome"] in FINAL]

    def wait_outcome(self, kind: str, key: str, count: int = 1, timeout: float = 60) -> list[str]:
        return wait_for(
            lambda: (found := self.outcomes(kind, key)) and len(found) >= count and found,
            timeout=timeout,
            message=f"{count} finished transfer(s) of {kind} {key}",
        )

    def writes_to(self, path: str) -> list[dict[str, Any]]:
        return [
            entry
            for entry in self.economic.sandbox.request_log.entries()
            if entry["method"] in WRITES and entry["path"] == path
        ]

    def economic_products(self, number: str) -> list[dict[str, Any]]:
        return [p for p in self.economic.sandbox.dump("products") if p["productNumber"] == number]


@pytest.fixture
def receiver(e2e: Flow) -> Iterator[ServerThread]:
    """The webhook receiver on loopback, registered in the Rackbeat sandbox for every handled event."""
    server = ServerThread(create_app(e2e.settings, register_webhooks=False)).start()
    tokens = WebhookTokenStore(
        e2e.redis, lambda *parts: namespaced_key(*parts, connection_id=e2e.settings.connection_id)
    )
    with RackbeatClient(e2e.settings.rackbeat_base_url, e2e.settings.rackbeat_token) as rackbeat:
        register_webhooks(rackbeat, tokens, server.url, handled_events(REGISTRY.values()))
    yield server
    server.stop()


def test_webhooks_create_replace_and_skip(e2e: Flow, receiver: ServerThread) -> None:
    group = e2e.group("Fasteners")
    number = e2e.number("BOLT")
    e2e.product(number, group, stock_quantity=25, sales_price=3.5)

    assert e2e.wait_outcome("product", number) == ["created"]
    [stored] = e2e.economic_products(number)
    assert stored["productGroup"]["productGroupNumber"] == group["number"]
    assert stored["salesPrice"] == 3.5
    assert "created" in e2e.outcomes("product_group", str(group["number"])) or "replaced" in e2e.outcomes(
        "product_group", str(group["number"])
    )

    e2e.rackbeat.sandbox.update("products", number, {"sales_price": 4.25})
    assert e2e.wait_outcome("product", number, count=2)[-1] == "replaced"
    assert e2e.economic_products(number)[0]["salesPrice"] == 4.25
    writes = len(e2e.writes_to(f"/products/{number}"))

    e2e.rackbeat.sandbox.update("products", number, {"stock_quantity": 7, "min_stock": 2})
    assert e2e.wait_outcome("product", number, count=3)[-1] == "unchanged"
    assert len(e2e.writes_to(f"/products/{number}")) == writes == 2


def test_bursts_coalesce_into_few_transfers_and_one_product(e2e: Flow) -> None:
    group = e2e.group()
    number = e2e.number("BURST")
    e2e.product(number, group)

    sent = sum(enqueue_export("product", number) for _ in range(5))
    # every transfer sent ends in exactly one final event
    wait_for(lambda: len(e2e.outcomes("product", number)) == sent, message="the transfers to finish")
    assert 1 <= sent < 5
    assert e2e.outcomes("product", number)[0] == "created"
    assert len(e2e.writes_to(f"/products/{number}")) == 1

    first = len(e2e.outcomes("product", number))
    sent = 0
    for version in range(50):
        e2e.rackbeat.sandbox.update("products", number, {"name": f"Burst item v{version}"})
        sent += enqueue_export("product", number)
    wait_for(lambda: len(e2e.outcomes("product", number)) == first + sent, message="the burst to finish")

    assert sent < 50  # the pending marker coalesced the burst
    assert e2e.economic_products(number)[0]["name"] == "Burst item v49"
    outcomes = e2e.outcomes("product", number)[first:]
    writes = e2e.writes_to(f"/products/{number}")[1:]
    assert len(writes) == outcomes.count("replaced") <= sent
    assert len(e2e.economic_products(number)) == 1


@pytest.fixture
def patient_settings(e2e: Flow) -> Iterator[Settings]:
    """Enough retries, quickly spaced, to outlast a 30 % failure rate."""
    settings = e2e.settings.model_copy(
        update={
            "transfer_max_retries": 40,
            "retry_backoff_base_seconds": 0.05,
            "retry_backoff_max_seconds": 1,
        }
    )
    apply_settings(settings)
    yield settings
    apply_settings(e2e.settings)


def test_every_product_arrives_through_5xx_and_429(e2e: Flow, patient_settings: Settings) -> None:
    groups = [e2e.group("Tools"), e2e.group("Parts")]
    numbers = [e2e.number(f"F{i}") for i in range(8)]
    for i, number in enumerate(numbers):
        e2e.product(number, groups[i % 2], sales_price=float(i + 1))
    e2e.economic.sandbox.faults.set(error_rate=0.3, rate_limit_burst=4, seed=7)
    e2e.rackbeat.sandbox.faults.set(error_rate=0.3, rate_limit_burst=4, seed=11)

    for number in numbers:
        assert enqueue_export("product", number)
    for number in numbers:
        e2e.wait_outcome("product", number, timeout=90)
    e2e.economic.sandbox.faults.reset()
    e2e.rackbeat.sandbox.faults.reset()

    for i, number in enumerate(numbers):
        assert e2e.outcomes("product", number) == ["created"], number
        [stored] = e2e.economic_products(number)
        assert stored["salesPrice"] == float(i + 1)
    retried = [
        event
        for number in numbers
        for event in e2e.events("product", number)
        if event["outcome"] == "retrying"
    ]
    assert retried, "the faults should have forced at least one retry"


def test_a_lost_answer_is_replayed_not_duplicated(e2e: Flow) -> None:
    group = e2e.group()
    enqueue_export("product_group", str(group["number"]))
    e2e.wait_outcome("product_group", str(group["number"]))
    number = e2e.number("LOST")
    e2e.product(number, group)
    e2e.economic.sandbox.faults.set(commit_then_fail=1)

    enqueue_export("product", number)

    assert e2e.wait_outcome("product", number) == ["created"]
    # the client sent the keyed PUT again at once and e-conomic replayed its first answer: no task retry
    assert [event["outcome"] for event in e2e.events("product", number)] == ["created"]
    assert len(e2e.writes_to(f"/products/{number}")) == 2
    assert e2e.economic.sandbox.stats()["idempotent_replays"] >= 1
    assert len(e2e.economic_products(number)) == 1


def test_a_refused_product_is_dead_lettered_then_retried_after_the_fix(e2e: Flow) -> None:
    general = e2e.group("General")  # number 1, which e-conomic's fresh agreement has too
    enqueue_export("product_group", str(general["number"]))
    e2e.wait_outcome("product_group", str(general["number"]))
    # from now on the agreement has no account 1010, which new groups are given: only e-conomic knows
    e2e.economic.sandbox.store.delete("accounts", product_group.DOMESTIC_SALES_ACCOUNT)
    special = e2e.group("Special")
    number = e2e.number("SPECIAL")
    e2e.product(number, special)
    dlq = DeadLetterStore(e2e.redis, e2e.settings.connection_id)

    enqueue_export("product", number)

    assert e2e.wait_outcome("product", number) == ["dead-lettered"]
    [entry] = dlq.entries_for_record("product", number)
    assert entry["classification"] == "permanent"
    assert entry["status_code"] == 400
    assert entry["field_errors"] == {"domesticAccountId": ["Account 1010 does not exist."]}  # e-conomic's
    assert entry["args"] == ["product", number]
    assert e2e.economic_products(number) == []

    # fixed in Rackbeat: the product belongs in the group e-conomic already has
    e2e.rackbeat.sandbox.update("products", number, {"group_id": general["number"]})
    result = CliRunner().invoke(rbsync_main, ["dlq", "retry", entry["id"]], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    wait_for(lambda: dlq.get(entry["id"])["status"] == "resolved", message="the entry to be resolved")
    [stored] = e2e.economic_products(number)
    assert stored["productGroup"]["productGroupNumber"] == general["number"]
    assert e2e.outcomes("product", number) == ["dead-lettered", "created"]


def test_a_group_name_e_conomic_would_refuse_never_reaches_it(e2e: Flow) -> None:
    group = e2e.group("A product group name far longer than e-conomic's fifty characters")
    number = e2e.number("LONG")
    e2e.product(number, group)
    dlq = DeadLetterStore(e2e.redis, e2e.settings.connection_id)

    enqueue_export("product", number)

    assert e2e.wait_outcome("product", number) == ["dead-lettered"]
    [entry] = dlq.entries_for_record("product", number)
    assert entry["error_class"] == "MappingError"
    assert entry["field_errors"] == {"name": ["is 65 characters long; e-conomic allows at most 50"]}
    assert [e for e in e2e.economic.sandbox.request_log.entries() if e["method"] in WRITES] == []


def test_a_worker_killed_mid_transfer_is_redelivered_and_the_product_exists_once(
    e2e: Flow, worker_process: Any
) -> None:
    group = e2e.group()
    number = e2e.number("KILL")
    e2e.product(number, group)
    worker = worker_process(transfer_time_limit_seconds=6)
    e2e.economic.sandbox.faults.set(latency_ms=1500)
    lock = namespaced_key("lock", "product", number, connection_id=e2e.settings.connection_id)

    worker.app.send_task("rbsync.export_record", args=["product", number], queue="transfers")
    wait_for(lambda: e2e.redis.exists(lock), timeout=30, message="the transfer to hold the record")
    wait_for(lambda: e2e.economic.sandbox.request_log.entries(), timeout=10, message="a call to e-conomic")
    killed = worker.kill_child()
    assert e2e.economic_products(number) == []  # the killed transfer never got as far as the product
    e2e.economic.sandbox.faults.set(latency_ms=0)
    worker.wait_for_new_child(killed)

    assert e2e.wait_outcome("product", number, timeout=60) == ["created"]
    assert len(e2e.economic_products(number)) == 1
    groups = [g["productGroupNumber"] for g in e2e.economic.sandbox.dump("product-groups")]
    assert groups.count(group["number"]) == 1
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()
