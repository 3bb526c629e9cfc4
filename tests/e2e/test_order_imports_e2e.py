"""Sales orders, e-conomic -> Rackbeat, end to end (issue 12): both sandboxes, the real Redis, real Celery
workers (the in-process one; a prefork subprocess where a worker is killed), the beat task
`rbsync.poll_economic_orders` sent as beat sends it.

Orders are written in e-conomic as its user would (over its HTTP API: drafted, then marked sent); the
Rackbeat sandbox is read directly. What is shown: a sent order is in Rackbeat after one poll, its customer
imported first where Rackbeat lacks it, and that customer does not come back to e-conomic as a change
(no echo); a change follows while Rackbeat has not booked the order, and a booked order is never
overwritten (the import is dead-lettered with the reason); and one order is created once in Rackbeat
under three deliveries, a SIGKILLed worker and a create Rackbeat committed but whose answer was lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tasks.deadletter import DeadLetterStore
from tasks.imports import enqueue_import
from tests.e2e.test_products_e2e import Flow, e2e, wait_until_quiet  # noqa: F401  (fixture)
from tests.engine.importer_support import (
    economic_call,
    economic_customer,
    economic_product,
    economic_writes,
    rackbeat_writes,
)
from tests.fixtures.service import wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

POLL = "rbsync.poll_economic_orders"
RACKBEAT_POLL = "rbsync.poll_rackbeat_changes"
CUSTOMER = 5


@pytest.fixture
def flow(e2e: Flow, redis_client: redis.Redis, session_namespace: str) -> Iterator[Flow]:  # noqa: F811
    """The e2e flow with the e-conomic polls' watermarks of earlier tests forgotten."""
    for name in redis_client.scan_iter(match=f"rbsync:{session_namespace}:*watermark*", count=1000):
        redis_client.delete(name)
    yield e2e


def run(name: str) -> dict[str, Any]:
    """Send a beat task to the worker, as beat does, and wait for its report."""
    from tasks.celery import app

    return app.send_task(name).get(timeout=60)


def company(flow: Flow, *, customer_in_rackbeat: bool) -> list[str]:
    """Customer 5 and two products in e-conomic; the products (and, when asked, the customer) in Rackbeat
    too under the same numbers, as the start-up sync leaves them. Returns the product numbers."""
    products = [flow.number("BELL"), flow.number("SCREW")]
    economic_customer(flow.economic, CUSTOMER, name="Kunde A/S", address="Hovedgaden 1", city="Aarhus")
    for number, price in zip(products, (100.0, 20.0), strict=True):
        economic_product(flow.economic, number, salesPrice=price)
    rackbeat = flow.rackbeat.sandbox
    terms = rackbeat.create(
        "payment-terms", {"name": "Netto 8", "type": "net", "maturity_days": 8}, suppress=True
    )
    group = rackbeat.create("product-groups", {"name": "Varer"}, suppress=True)
    for number in products:
        body = {"number": number, "name": number, "group_id": group["number"], "sales_price": 10.0}
        rackbeat.create("products", body, suppress=True)
    if customer_in_rackbeat:
        body = {"number": CUSTOMER, "company_name": "Kunde A/S", "payment_terms_id": terms["number"]}
        rackbeat.create("customers", body, suppress=True)
    return products


def send_order(flow: Flow, products: list[str], **fields: Any) -> dict[str, Any]:
    """An order drafted and marked sent in e-conomic, as its user does (economic-api.md 12.10)."""
    body = {
        "date": "2026-11-30",
        "currency": "DKK",
        "customer": {"customerNumber": CUSTOMER},
        "layout": {"layoutNumber": 19},
        "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {
            "name": "Kunde A/S",
            "address": "Hovedgaden 1",
            "city": "Aarhus",
            "vatZone": {"vatZoneNumber": 1},
        },
        "delivery": {
            "address": "Lagervej 9",
            "zip": "8200",
            "city": "Aarhus N",
            "deliveryDate": "2026-12-04",
        },
        "notes": {"heading": "Forårsordre"},
        "references": {"other": "PO-4711"},
        "lines": [
            {"product": {"productNumber": products[0]}, "quantity": 2, "unitNetPrice": 100.0},
            {
                "product": {"productNumber": products[1]},
                "quantity": 3,
                "unitNetPrice": 20.0,
                "discountPercentage": 10.0,
            },
        ],
        **fields,
    }
    draft = economic_call(flow.economic, "POST", "orders/drafts", body)
    return economic_call(flow.economic, "POST", "orders/sent", draft)


def change_order(flow: Flow, order: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Back to drafts, changed, sent again: how e-conomic changes a sent order (economic-api.md 12.10).
    Perhaps within the second of its last change: a version read less than two seconds past its second is
    polled again (tasks.economic_polls), so a change `lastUpdated` cannot tell apart still arrives."""
    draft = economic_call(flow.economic, "POST", "orders/drafts", order)
    changed = {**draft, **fields}
    number = order["orderNumber"]
    economic_call(flow.economic, "PUT", f"orders/drafts/{number}", changed)
    return economic_call(
        flow.economic, "POST", "orders/sent", economic_call(flow.economic, "GET", f"orders/drafts/{number}")
    )


def carrying(flow: Flow, number: int) -> list[dict[str, Any]]:
    reference = f"e-conomic order {number}"
    return [o for o in flow.rackbeat.sandbox.dump("orders") if o.get("their_reference") == reference]


def test_a_sent_order_is_in_rackbeat_after_one_poll_its_customer_first_and_no_echo(flow: Flow) -> None:
    products = company(flow, customer_in_rackbeat=False)
    order = send_order(flow, products)
    customers_before = flow.economic.sandbox.dump("customers")

    assert run(POLL)["queued"] == 1
    [imported] = wait_for(lambda: carrying(flow, order["orderNumber"]), message="the order in Rackbeat")

    assert imported["customer_id"] == CUSTOMER and imported["is_booked"] is False
    lines = [
        (line["item_id"], line["quantity"], line["line_price"], line["discount_percentage"])
        for line in imported["lines"]
    ]
    assert lines == [(products[0], 2, 100.0, 0), (products[1], 3, 20.0, 10.0)]
    assert (imported["heading"], imported["order_date"], imported["deliver_at"]) == (
        "Forårsordre",
        "2026-11-30",
        "2026-12-04",
    )
    assert imported["delivery_address"]["street"] == "Lagervej 9" and "PO-4711" in imported["note"]
    customer = flow.rackbeat.sandbox.get("customers", CUSTOMER)
    assert customer is not None and customer["company_name"] == "Kunde A/S", "imported first"

    written = rackbeat_writes(flow.rackbeat)
    assert {w["path"] for w in written} >= {"/api/customers", "/api/orders/drafts"}
    assert all(w["body"].get("suppress_webhooks") is True for w in written), "our writes fire no webhook"

    # no echo: Rackbeat's change poll sees the customer the import wrote and leaves e-conomic alone
    flow.economic.sandbox.request_log.clear()
    run(RACKBEAT_POLL)
    time.sleep(1)
    assert [w for w in economic_writes(flow.economic) if w["path"].startswith("/customers")] == []
    assert flow.economic.sandbox.dump("customers") == customers_before

    # read again (the poll's overlap, or a version still inside its second): in step, nothing written
    key = str(order["orderNumber"])
    flow.rackbeat.sandbox.request_log.clear()
    if run(POLL)["queued"]:
        assert flow.wait_outcome("order", key, count=2)[-1] == "unchanged"
    assert rackbeat_writes(flow.rackbeat) == []


def test_a_change_follows_until_rackbeat_books_the_order_then_it_is_never_overwritten(flow: Flow) -> None:
    products = company(flow, customer_in_rackbeat=True)
    order = send_order(flow, products)
    run(POLL)
    [first] = wait_for(lambda: carrying(flow, order["orderNumber"]), message="the order in Rackbeat")

    order = change_order(
        flow,
        order,
        notes={"heading": "Hasteordre"},
        lines=[{"product": {"productNumber": products[0]}, "quantity": 7, "unitNetPrice": 95.0}],
    )
    assert run(POLL)["queued"] == 1
    wait_for(lambda: carrying(flow, order["orderNumber"])[0]["heading"] == "Hasteordre", message="the change")
    [changed] = carrying(flow, order["orderNumber"])
    assert changed["number"] == first["number"], "the same Rackbeat order, replaced"
    assert [(line["item_id"], line["quantity"], line["line_price"]) for line in changed["lines"]] == [
        (products[0], 7, 95.0)
    ]

    flow.rackbeat.sandbox.book("orders", first["number"], {})
    change_order(flow, order, notes={"heading": "For sent"})
    run(POLL)
    store = DeadLetterStore(flow.redis, flow.settings.connection_id)
    [letter] = wait_for(
        lambda: store.entries_for_record("order", str(order["orderNumber"])), message="the refusal"
    )
    reason = f"Rackbeat order {first['number']} (e-conomic order {order['orderNumber']}) is booked"
    assert letter["error_class"] == "UpdateRefused" and reason in letter["error"]
    [kept] = carrying(flow, order["orderNumber"])
    assert kept["heading"] == "Hasteordre" and kept["lines"] == changed["lines"], "never overwritten"


def test_an_order_is_created_once_under_three_deliveries_a_lost_answer_and_a_killed_worker(
    flow: Flow, worker_process: Any
) -> None:
    """Its customer and products are bound by an earlier order, so the order's create is the first write.
    Rackbeat commits that create and answers 500; the task retries, while a second delivery finds the
    order by the e-conomic number it carries and is SIGKILLed as it replaces it. Redelivered and retried,
    every delivery ends in the one order."""
    products = company(flow, customer_in_rackbeat=True)
    earlier = send_order(flow, products)
    enqueue_import("order", str(earlier["orderNumber"]))
    assert flow.wait_outcome("order", str(earlier["orderNumber"])) == ["created"]
    order = send_order(flow, products)
    key = str(order["orderNumber"])
    worker = worker_process(
        transfer_max_retries=30,
        retry_backoff_base_seconds=0.5,
        retry_backoff_max_seconds=1,
        # the killed import's record lock lasts the time limit + 5 s; an import here takes under a second
        transfer_time_limit_seconds=5,
    )
    rackbeat = flow.rackbeat.sandbox
    rackbeat.faults.set(commit_then_fail=1, latency_ms=300)
    rackbeat.request_log.clear()
    for _ in range(3):
        worker.app.send_task("rbsync.import_record", args=["order", key], queue="transfers")

    def orders_requests() -> list[tuple[str, int]]:
        return [
            (e["method"], e["status"])
            for e in rackbeat.request_log.entries()
            if e["path"].startswith("/api/orders")
        ]

    wait_for(
        lambda: ("POST", 500) in orders_requests(),
        timeout=60,
        message=f"the create, answer lost\n{worker.log()[-3000:]}",
    )
    wait_for(
        lambda: orders_requests()[orders_requests().index(("POST", 500)) + 1 :],
        timeout=30,
        message="a delivery looking the order up",
    )
    worker.wait_for_new_child(worker.kill_child())  # it was about to replace the order it found
    wait_for(
        lambda: len(flow.outcomes("order", key)) >= 3,
        timeout=60,
        message=f"three finished imports\n{worker.log()[-3000:]}",
    )
    wait_until_quiet(flow.settings, flow.redis)

    assert rackbeat.faults.counters["commit_then_fail"] == 1
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()
    assert [e for e in orders_requests() if e[0] == "POST"] == [("POST", 500)], "created once, never again"
    assert len(carrying(flow, order["orderNumber"])) == 1
    assert flow.outcomes("order", key).count("created") == 0, "its one create is the lost answer"
    open_letters = [
        e
        for e in DeadLetterStore(flow.redis, flow.settings.connection_id).list(kind="order")
        if e["status"] in ("new", "retrying")
    ]
    assert open_letters == []
