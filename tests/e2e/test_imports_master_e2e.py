"""Customers and products owned by e-conomic (`RBSYNC_CUSTOMERS_MASTER` / `RBSYNC_PRODUCTS_MASTER=economic`),
end to end: both sandboxes over loopback, the real Redis and the in-process Celery worker running the beat
tasks exactly as beat sends them, and the imports they queue. e-conomic records are made and changed over
the e-conomic sandbox's HTTP API, as a user of e-conomic would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from clients.rackbeat import RackbeatClient
from sandbox.common.server import ServerThread
from tasks.deadletter import DeadLetterStore
from tasks.entities import REGISTRY
from tasks.events import read_events, stream_key
from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tasks.webhooks import RECEIVER_PATH, WebhookTokenStore, handled_events, register_webhooks
from tests.e2e.test_products_e2e import wait_until_quiet
from tests.engine.importer_support import (
    clear_log,
    economic_customer,
    economic_product,
    economic_writes,
    logged,
    rackbeat_record,
    rackbeat_writes,
)
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import apply_settings, wait_for
from web.app import create_app

pytestmark = pytest.mark.usefixtures("celery_worker")

MASTER, RACKBEAT_CHANGES = "rbsync.poll_economic_master", "rbsync.poll_rackbeat_changes"
FINAL = ("created", "replaced", "unchanged", "barred", "ignored", "dead-lettered")


class Flow:
    def __init__(self, settings: Settings, rackbeat: Any, economic: Any, client: redis.Redis) -> None:
        self.settings = settings
        self.rackbeat = rackbeat
        self.economic = economic
        self.redis = client
        last = client.xrevrange(stream_key(settings.connection_id), count=1)
        self.since = last[0][0] if last else "0"
        self.suffix = uuid.uuid4().hex[:5].upper()

    def use(self, **overrides: Any) -> None:
        """Apply these settings to this process and the in-process worker."""
        self.settings = self.settings.model_copy(update=overrides)
        apply_settings(self.settings)

    def outcomes(self, kind: str, key: str) -> list[str]:
        rows = read_events(
            self.redis, after=self.since, count=100_000, connection_id=self.settings.connection_id
        )
        return [
            e["outcome"] for _, e in rows if e["kind"] == kind and e["key"] == key and e["outcome"] in FINAL
        ]

    def quiet(self) -> None:
        wait_until_quiet(self.settings, self.redis)

    def mark(self) -> None:
        """Count only the events from here on."""
        last = self.redis.xrevrange(stream_key(self.settings.connection_id), count=1)
        self.since = last[0][0] if last else "0"


@pytest.fixture
def flow(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[Flow]:
    forget_records(redis_client, session_namespace)
    for pattern in ("economic-poll:*", "poll:watermark:*"):
        for name in redis_client.scan_iter(match=f"rbsync:{session_namespace}:{pattern}"):
            redis_client.delete(name)
    flow = Flow(sandbox_settings, rackbeat_sandbox, economic_sandbox, redis_client)
    flow.use(customers_master="economic", products_master="economic")
    yield flow
    flow.quiet()  # sandbox_settings puts the session's own settings back


def run(name: str) -> dict[str, Any]:
    """Send the beat task to the worker, as beat does, and wait for its report."""
    from tasks.celery import app

    return app.send_task(name).get(timeout=60)


def settle(flow: Flow) -> None:
    """Poll until a poll queues nothing: a version read within its own second is imported once more."""
    wait_for(lambda: run(MASTER)["queued"] == 0 or flow.quiet(), timeout=30, message="a quiet poll")
    flow.quiet()


def test_a_product_and_a_customer_made_and_changed_in_economic_arrive_with_one_poll_each(flow: Flow) -> None:
    number, customer = f"EC-{flow.suffix}", 700 + int(flow.suffix, 16) % 99
    economic_product(flow.economic, number, salesPrice=12.5)
    economic_customer(flow.economic, customer, email="buyer@example.com invoices@example.com")

    first = run(MASTER)

    assert (first["kinds"]["product"]["queued"], first["kinds"]["customer"]["queued"]) == (1, 1)
    product = wait_for(lambda: rackbeat_record(flow.rackbeat, "products", number), message="the product")
    made = wait_for(lambda: rackbeat_record(flow.rackbeat, "customers", customer), message="the customer")
    assert product["sales_price"] == 12.5
    assert made["contact_email"] == "buyer@example.com", "never a second e-mail"
    flow.quiet()

    economic_product(flow.economic, number, salesPrice=14.0, name="Renamed in e-conomic")
    economic_customer(flow.economic, customer, name="Renamed A/S", email="buyer@example.com")
    second = run(MASTER)

    assert second["kinds"]["product"]["queued"] == 1
    wait_for(
        lambda: rackbeat_record(flow.rackbeat, "products", number)["sales_price"] == 14.0,  # type: ignore[index]
        message="the changed price",
    )
    wait_for(
        lambda: rackbeat_record(flow.rackbeat, "customers", customer)["company_name"] == "Renamed A/S",  # type: ignore[index]
        message="the changed name",
    )
    # The outcome is logged just after the write lands: wait for it rather than read it at once.
    wait_for(lambda: flow.outcomes("product", number)[:2] == ["created", "replaced"], message="both outcomes")
    assert not economic_writes(flow.economic), "nothing went back to e-conomic"


def test_ten_polls_with_nothing_new_cost_ten_calls_per_collection(flow: Flow) -> None:
    from tasks.economic_polls import EconomicWatermarks

    economic_product(flow.economic, f"QUIET-{flow.suffix}")
    run(MASTER)
    settle(flow)
    watermarks = EconomicWatermarks(flow.redis, flow.settings.connection_id)
    before = watermarks.get("product", "products")
    clear_log(flow.economic)
    clear_log(flow.rackbeat)

    reports = [run(MASTER) for _ in range(10)]

    assert [r["queued"] for r in reports] == [0] * 10
    calls = [(e["method"], e["path"]) for e in logged(flow.economic)]
    assert sorted(calls) == sorted([("GET", "/customers")] * 10 + [("GET", "/products")] * 10)
    assert logged(flow.rackbeat) == [], "and nothing in Rackbeat"
    after = watermarks.get("product", "products")
    assert before is not None and after is not None and after > before


@pytest.fixture
def receiver(flow: Flow) -> Iterator[ServerThread]:
    """The webhook receiver on loopback, registered in the Rackbeat sandbox for every handled event."""
    server = ServerThread(create_app(flow.settings, register_webhooks=False)).start()
    tokens = WebhookTokenStore(
        flow.redis, lambda *parts: namespaced_key(*parts, connection_id=flow.settings.connection_id)
    )
    with RackbeatClient(flow.settings.rackbeat_base_url, flow.settings.rackbeat_token) as rackbeat:
        register_webhooks(rackbeat, tokens, server.url, handled_events(REGISTRY.values()))
    yield server
    server.stop()


def deliver(flow: Flow, server: ServerThread, event: str, key: Any) -> int:
    """A Rackbeat webhook delivery, as Rackbeat sends it (a late or repeated one: our writes fire none)."""
    tokens = WebhookTokenStore(
        flow.redis, lambda *parts: namespaced_key(*parts, connection_id=flow.settings.connection_id)
    )
    token = tokens.get(event)
    assert token is not None
    headers = {"Rackbeat-Webhook-Event": event, "Rackbeat-Webhook-Token": token.get_secret_value()}
    body = {"key_name": "number", "key": str(key)}
    return httpx.post(f"{server.url}{RECEIVER_PATH}", json=body, headers=headers).status_code


def test_no_echo_an_import_does_not_come_back_from_rackbeat(flow: Flow, receiver: ServerThread) -> None:
    """The product, and the group and unit it created in Rackbeat (kinds Rackbeat owns and exports), are
    not sent back to e-conomic by Rackbeat's webhooks or by the Rackbeat poll."""
    number = f"ECHO-{flow.suffix}"
    economic_product(flow.economic, number, barCode="5701234567892")
    run(MASTER)
    product = wait_for(lambda: rackbeat_record(flow.rackbeat, "products", number), message="the product")
    flow.quiet()
    assert flow.rackbeat.sandbox.counters.get("webhooks_suppressed") >= 3, "product, group and unit"
    assert flow.rackbeat.sandbox.dispatcher.stats().get("queued", 0) == 0, "our writes fired no webhook"
    flow.mark()

    for event, key in (
        ("product.updated", number),
        ("product_group.created", product["group_id"]),
        ("unit.created", product["unit_id"]),
    ):
        assert deliver(flow, receiver, event, key) in (200, 202)
    run(RACKBEAT_CHANGES)
    flow.quiet()

    assert not economic_writes(flow.economic), "nothing went back to e-conomic"
    for kind, key in (("unit", product["unit_id"]), ("product_group", product["group_id"])):
        exported = flow.outcomes(kind, str(key))
        assert exported and set(exported) == {"unchanged"}, f"the {kind} was exported, and found unchanged"
    assert flow.outcomes("product", number) == [], "e-conomic owns products: the receiver ignored it"


def test_no_echo_an_export_does_not_come_back_through_the_economic_poll(flow: Flow) -> None:
    """Rackbeat owns customers here: a customer exported to e-conomic is not polled back."""
    flow.use(customers_master="rackbeat", products_master="economic")
    from tasks.transfer import enqueue_export

    terms = flow.rackbeat.sandbox.create(
        "payment-terms", {"name": "Net 14", "type": "net", "maturity_days": 14}
    )
    made = flow.rackbeat.sandbox.create(
        "customers", {"company_name": "Exported", "payment_terms_id": terms["number"]}
    )
    enqueue_export("customer", str(made["number"]))
    wait_for(lambda: flow.outcomes("customer", str(made["number"])), message="the export")
    assert economic_writes(flow.economic), "the customer is in e-conomic now"
    clear_log(flow.rackbeat)

    report = run(MASTER)

    assert list(report["kinds"]) == ["product"], "customers are not polled while Rackbeat owns them"
    assert report["queued"] == 0
    flow.quiet()
    assert rackbeat_writes(flow.rackbeat) == []


def test_a_refused_import_is_dead_lettered_in_rackbeats_words_and_retried(flow: Flow) -> None:
    from tasks.dlq_tasks import retry_dead_letter
    from tasks.imports import enqueue_import

    customer = 800 + int(flow.suffix, 16) % 99
    economic_customer(flow.economic, customer)
    enqueue_import("customer", str(customer))
    wait_for(lambda: flow.outcomes("customer", str(customer)) == ["created"], message="the import")
    made = rackbeat_record(flow.rackbeat, "customers", customer)
    assert made is not None
    terms = rackbeat_record(flow.rackbeat, "payment-terms", made["payment_terms_id"])
    flow.rackbeat.sandbox.delete("payment-terms", made["payment_terms_id"])  # a user removes the terms

    economic_customer(flow.economic, customer, name="Changed")
    enqueue_import("customer", str(customer))
    wait_for(lambda: "dead-lettered" in flow.outcomes("customer", str(customer)), message="the dead letter")

    store = DeadLetterStore(flow.redis, flow.settings.connection_id)
    [entry] = store.entries_for_record("customer", str(customer))
    assert entry["task_name"] == "rbsync.import_record" and entry["args"] == ["customer", str(customer)]
    assert entry["api"] == "rackbeat" and entry["status_code"] == 422
    assert "payment_terms_id" in entry["field_errors"], entry["field_errors"]

    flow.rackbeat.sandbox.load({"payment-terms": [terms]})  # the operator puts the terms back
    retry_dead_letter.delay(entry["id"]).get(timeout=30)
    wait_for(
        lambda: store.get(entry["id"])["status"] == "resolved",  # type: ignore[index]
        message="the retry to resolve the entry",
    )
    assert rackbeat_record(flow.rackbeat, "customers", customer)["company_name"] == "Changed"  # type: ignore[index]
