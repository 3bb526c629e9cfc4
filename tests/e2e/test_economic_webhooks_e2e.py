"""e-conomic's webhooks end to end: the e-conomic sandbox calls the receiver (registered through its webhooks
API, the token in a custom header), the receiver queues `rbsync.import_record`, the in-process Celery worker
imports into the Rackbeat sandbox. No poll runs in these tests (no beat, and e-conomic never sees a
`lastUpdated` filter), so whatever arrives came through a webhook, within seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from clients.economic import EconomicClient
from sandbox.common.server import ServerThread
from tasks.economic_webhooks import register_economic_webhooks
from tasks.settings import Settings
from tests.e2e.test_products_e2e import wait_until_quiet
from tests.engine.importer_support import economic_call, economic_customer, economic_product, rackbeat_record
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import apply_settings, wait_for
from web.economic_webhooks import EconomicWebhookMetrics

pytestmark = pytest.mark.usefixtures("celery_worker")

ARRIVES_WITHIN = 10.0  # seconds; typically well under one


@dataclass
class Flow:
    settings: Settings
    rackbeat: Any
    economic: Any
    receiver: ServerThread
    metrics: EconomicWebhookMetrics
    token: str
    counted_before: dict[str, int]

    def counted(self) -> dict[str, int]:
        """The receiver's counters since the flow started (they are kept per connection, in Redis)."""
        now = self.metrics.snapshot()
        return {name: now[name] - self.counted_before.get(name, 0) for name in now}

    def polled(self) -> list[dict[str, Any]]:
        """Requests to e-conomic that read changes by `lastUpdated` (what a poll sends)."""
        return [
            entry
            for entry in self.economic.sandbox.request_log.entries()
            if "lastupdated" in str(entry.get("query") or "").lower()
        ]

    def arrives(self, resource: str, key: Any, check: Any, what: str) -> float:
        """Seconds until Rackbeat's `resource` `key` satisfies `check`."""
        started = time.monotonic()
        wait_for(
            lambda: (record := rackbeat_record(self.rackbeat, resource, key)) is not None and check(record),
            timeout=30,
            message=what,
        )
        return time.monotonic() - started


def start_flow(
    base: Settings, rackbeat: Any, economic: Any, client: redis.Redis, namespace: str, **overrides: Any
) -> tuple[Flow, EconomicClient]:
    from web.app import create_app

    forget_records(client, namespace)
    token = "economic-e2e-" + uuid.uuid4().hex
    settings = base.model_copy(update={"economic_webhook_token": SecretStr(token), **overrides})
    apply_settings(settings)  # the in-process worker imports under these settings (sandbox_settings restores)
    app = create_app(settings, register_webhooks=False)
    receiver = ServerThread(app).start()
    tokens = economic.tokens
    api = EconomicClient(
        economic.api_url, economic.api_url, tokens["app_secret_token"], tokens["agreement_grant_token"]
    )
    metrics = app.state.economic_metrics
    flow = Flow(settings, rackbeat, economic, receiver, metrics, token, metrics.snapshot())
    return flow, api


@pytest.fixture
def flow(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[Flow]:
    """Customers and products owned by e-conomic; webhooks for them and for orders registered with the
    e-conomic sandbox."""
    flow, api = start_flow(
        sandbox_settings,
        rackbeat_sandbox,
        economic_sandbox,
        redis_client,
        session_namespace,
        customers_master="economic",
        products_master="economic",
    )
    with api:
        kinds = ["customer", "product", "order"]
        results = register_economic_webhooks(api, flow.receiver.url, SecretStr(flow.token), kinds)
    assert [r.outcome for r in results if r.kind in kinds] == ["created", "created", "created"]
    yield flow
    flow.receiver.stop()
    wait_until_quiet(flow.settings, redis_client)  # this test's imports finish before the next resets


def test_a_customer_created_and_changed_in_e_conomic_arrives_in_rackbeat_within_seconds(flow: Flow) -> None:
    number = 5100 + uuid.uuid4().int % 800
    economic_customer(flow.economic, number, name="Webhook Traders ApS")
    took = flow.arrives(
        "customers", number, lambda r: r["company_name"] == "Webhook Traders ApS", "the new customer"
    )
    assert took < ARRIVES_WITHIN

    economic_customer(flow.economic, number, name="Webhook Traders A/S", city="Odense")
    took = flow.arrives(
        "customers", number, lambda r: r["company_name"] == "Webhook Traders A/S", "the change"
    )
    assert took < ARRIVES_WITHIN
    assert rackbeat_record(flow.rackbeat, "customers", number)["address_city"] == "Odense"

    assert flow.polled() == [], "no poll ran: the webhook brought both"
    counts = flow.counted()
    assert counts["accepted"] >= 2 and not any(name.startswith("refused") and counts[name] for name in counts)
    # what e-conomic was told to send: our token in the custom header, never in the URL or body
    deliveries = flow.economic.sandbox.webhooks.deliveries
    assert deliveries and all(flow.token not in str(delivery) for delivery in deliveries)


def test_a_product_changed_in_e_conomic_arrives_in_rackbeat_within_seconds(flow: Flow) -> None:
    number = f"WH-{uuid.uuid4().hex[:8].upper()}"
    economic_product(flow.economic, number, salesPrice=12.5)
    flow.arrives("products", number, lambda r: r["sales_price"] == 12.5, "the new product")

    economic_product(flow.economic, number, salesPrice=14.0, name="Renamed by e-conomic")
    took = flow.arrives("products", number, lambda r: r["sales_price"] == 14.0, "the price change")
    assert took < ARRIVES_WITHIN
    assert rackbeat_record(flow.rackbeat, "products", number)["name"] == "Renamed by e-conomic"
    assert flow.polled() == []


def test_an_order_sent_in_e_conomic_is_in_rackbeat_within_seconds_with_its_customer_and_product(
    flow: Flow,
) -> None:
    customer = 5000 + uuid.uuid4().int % 90
    product = f"OH-{uuid.uuid4().hex[:6].upper()}"
    economic_customer(flow.economic, customer, name="Order Hooks ApS")
    economic_product(flow.economic, product, salesPrice=40.0)
    draft = economic_call(
        flow.economic,
        "POST",
        "orders/drafts",
        {
            "date": "2026-11-30",
            "currency": "DKK",
            "customer": {"customerNumber": customer},
            "layout": {"layoutNumber": 19},
            "paymentTerms": {"paymentTermsNumber": 1},
            "recipient": {"name": "Order Hooks ApS", "vatZone": {"vatZoneNumber": 1}},
            "lines": [{"product": {"productNumber": product}, "quantity": 3, "unitNetPrice": 40.0}],
        },
    )
    started = time.monotonic()
    sent = economic_call(flow.economic, "POST", "orders/sent", draft)  # marked sent: the state imported
    reference = f"e-conomic order {sent['orderNumber']}"

    def carrying() -> list[dict[str, Any]]:
        return [o for o in flow.rackbeat.sandbox.dump("orders") if o.get("their_reference") == reference]

    [order] = wait_for(carrying, timeout=30, message="the order in Rackbeat")
    assert time.monotonic() - started < ARRIVES_WITHIN
    assert order["customer_id"] == customer
    assert [(line["item_id"], line["quantity"]) for line in order["lines"]] == [(product, 3)]
    assert flow.polled() == []


def test_a_customer_deleted_in_e_conomic_is_barred_in_rackbeat_through_its_old_number(flow: Flow) -> None:
    # The delete's webhook names only the old number (new is empty); the import of it finds the document
    # gone and retires the Rackbeat record with the kind's `when_gone` (barred, never deleted).
    number = 5900 + uuid.uuid4().int % 90
    economic_customer(flow.economic, number)
    flow.arrives("customers", number, lambda r: not r.get("is_barred"), "the customer")
    economic_call(flow.economic, "DELETE", f"customers/{number}")
    took = flow.arrives("customers", number, lambda r: r.get("is_barred") is True, "the customer barred")
    assert took < ARRIVES_WITHIN


def test_projects_arrive_by_webhook_only_with_project_management_on(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> None:
    flows = []
    try:
        for enabled in (False, True):
            flow, api = start_flow(
                sandbox_settings,
                rackbeat_sandbox,
                economic_sandbox,
                redis_client,
                session_namespace,
                project_management_enabled=enabled,
            )
            flows.append(flow)
            with api:  # the second round points the same webhook at the second receiver (an update)
                register_economic_webhooks(api, flow.receiver.url, SecretStr(flow.token), ["project"])
            created = economic_call(
                economic_sandbox,
                "POST",
                "projectsapi/v1.1.0/Projects",
                {"name": f"Harbour {enabled}", "projectGroupNumber": 1, "description": "Quay works"},
            )
            number = created["number"]
            if not enabled:
                wait_for(
                    lambda f=flow: f.counted().get("ignored|not-imported"), message="the ignored delivery"
                )
                assert rackbeat_record(rackbeat_sandbox, "projects", number) is None
                continue
            took = flow.arrives("projects", number, lambda r: r["name"] == "Harbour True", "the project")
            assert took < ARRIVES_WITHIN
            assert rackbeat_record(rackbeat_sandbox, "projects", number)["description"] == "Quay works"
    finally:
        for flow in flows:
            flow.receiver.stop()
        wait_until_quiet(sandbox_settings, redis_client)
