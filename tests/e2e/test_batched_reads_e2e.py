"""Batched Rackbeat reads and shared look-ups (issue 14) end to end: both sandboxes, the real Redis, the
webhook receiver on loopback and a real prefork Celery worker. The burst's webhooks are received and queued
while no worker consumes that queue yet (the worker has a broker prefix of its own, which this process and its
receiver queue to); the worker is started once every webhook is in, so the records really wait together.
Calls are counted from the sandboxes' own request logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from clients.rackbeat import RackbeatClient
from sandbox.common.server import ServerThread
from tasks.entities import REGISTRY
from tasks.events import read_events
from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tasks.webhooks import WebhookTokenStore, handled_events, register_webhooks
from tests.e2e.test_products_e2e import FINAL, Flow, e2e  # noqa: F401  (fixture)
from tests.fixtures.service import apply_settings, wait_for
from web.app import create_app

DEBTORS = 5800  # "Debtors" in the e-conomic sandbox's chart of accounts


@contextmanager
def queued_to(flow: Flow, worker: Any) -> Iterator[ServerThread]:
    """This process and a receiver it serves queue to `worker`'s broker prefix (the worker not started)."""
    apply_settings(worker.settings)
    server = ServerThread(create_app(worker.settings, register_webhooks=False)).start()
    try:
        tokens = WebhookTokenStore(
            flow.redis, lambda *parts: namespaced_key(*parts, connection_id=flow.settings.connection_id)
        )
        with RackbeatClient(flow.settings.rackbeat_base_url, flow.settings.rackbeat_token) as rackbeat:
            register_webhooks(rackbeat, tokens, server.url, handled_events(REGISTRY.values()))
        yield server
    finally:
        server.stop()
        apply_settings(flow.settings)


def pending(flow: Flow, number: str) -> str:
    return namespaced_key("pending", "product", number, connection_id=flow.settings.connection_id)


def finished(flow: Flow, kind: str) -> dict[str, list[str]]:
    """Per key of `kind`, the outcomes of its finished transfers since the scenario began (one read)."""
    rows = read_events(flow.redis, after=flow.since, count=100_000, connection_id=flow.settings.connection_id)
    found: dict[str, list[str]] = {}
    for _, event in rows:
        if event["kind"] == kind and event["outcome"] in FINAL and not event.get("via"):
            found.setdefault(event["key"], []).append(event["outcome"])
    return found


def wait_finished(flow: Flow, kind: str, keys: list[str], count: int = 1) -> dict[str, list[str]]:
    return wait_for(
        lambda: (done := finished(flow, kind)) and all(len(done.get(k, [])) >= count for k in keys) and done,
        timeout=120,
        interval=0.2,
        message=f"{len(keys)} {kind} transfers to finish",
    )


def served(flow: Flow) -> list[dict[str, Any]]:
    """Every API request both sandboxes served, Rackbeat's first."""
    return flow.rackbeat.sandbox.request_log.entries() + flow.economic.sandbox.request_log.entries()


def clear_logs(flow: Flow) -> None:
    flow.rackbeat.sandbox.request_log.clear()
    flow.economic.sandbox.request_log.clear()


def test_200_products_changed_at_once_cost_at_most_1_1_calls_each(e2e: Flow, worker_process: Any) -> None:  # noqa: F811
    worker = worker_process(start=False)
    group = e2e.rackbeat.sandbox.create("product-groups", {"name": "Prisliste"}, suppress=True)
    numbers = [e2e.number(f"PL{index:03d}") for index in range(200)]
    with queued_to(e2e, worker):
        for number in numbers:
            e2e.product(number, group)
        assert e2e.rackbeat.sandbox.wait_for_webhooks(timeout=60)
        clear_logs(e2e)
        worker.start().wait_ready()
        outcomes = wait_finished(e2e, "product", numbers)

    assert {number: outcomes[number] for number in numbers} == {number: ["created"] for number in numbers}
    requests = served(e2e)
    rackbeat_reads = [e for e in requests if e["path"].startswith("/api/products")]
    assert len(rackbeat_reads) <= 2  # one list call, at most one more for a page the first did not hold
    assert len(requests) / len(numbers) <= 1.1
    assert {p["productNumber"] for p in e2e.economic.sandbox.dump("products")} >= set(numbers)


def test_a_product_changed_while_its_batch_is_read_arrives_in_its_latest_version(
    e2e: Flow,  # noqa: F811
    worker_process: Any,
) -> None:
    worker = worker_process(start=False)
    group = e2e.rackbeat.sandbox.create("product-groups", {"name": "Skruer"}, suppress=True)
    numbers = [e2e.number(f"RACE{index}") for index in range(6)]
    lock = namespaced_key("readahead", "lock", "product", connection_id=e2e.settings.connection_id)
    with queued_to(e2e, worker):
        for number in numbers:
            e2e.product(number, group)
        assert e2e.rackbeat.sandbox.wait_for_webhooks(timeout=30)
        e2e.rackbeat.sandbox.faults.set(latency_ms=1500)  # the list call stays in flight a while
        worker.start().wait_ready()
        wait_for(lambda: e2e.redis.exists(lock), timeout=30, interval=0.01, message="a batch read in flight")
        # the one worker process runs the reader's transfer, which cleared its pending marker as it started
        [reader] = [n for n in numbers if not e2e.redis.exists(pending(e2e, n))]
        waiting = next(n for n in numbers if n != reader)
        changed = (reader, waiting)
        for number in changed:
            e2e.rackbeat.sandbox.update("products", number, {"name": f"Changed {number}"})
        e2e.rackbeat.sandbox.faults.set(latency_ms=0)
        assert e2e.rackbeat.sandbox.wait_for_webhooks(timeout=30)
        wait_for(
            lambda: all(
                e2e.economic_products(n) and e2e.economic_products(n)[0]["name"] == f"Changed {n}"
                for n in changed
            ),
            timeout=60,
            message="the changed products in their latest version",
        )
        # the reader's own transfer had started, so the change's webhook queued it again
        wait_finished(e2e, "product", [reader], count=2)
        wait_finished(e2e, "product", numbers)

    # the one still waiting was never written in the version from before its change
    writes = [entry["body"]["name"] for entry in e2e.writes_to(f"/products/{waiting}")]
    assert writes and all(name == f"Changed {waiting}" for name in writes)
    others = [n for n in numbers if n not in changed]
    assert [e2e.economic_products(n)[0]["name"] for n in others] == [f"Item {n}" for n in others]


def test_customers_in_a_burst_cost_at_most_2_calls_each_and_see_a_changed_term(
    e2e: Flow,  # noqa: F811
    worker_process: Any,
) -> None:
    settings: Settings = e2e.settings.model_copy(update={"customer_group_account": DEBTORS})
    apply_settings(settings)
    worker = worker_process(start=False)
    sandbox = e2e.rackbeat.sandbox
    group = sandbox.create("customer-groups", {"number": 71, "name": "Grossister"}, suppress=True)
    terms = sandbox.create(
        "payment-terms", {"name": "Netto 30", "type": "net", "maturity_days": 30}, suppress=True
    )
    employee = sandbox.create("employees", {"name": "Sælger Sara", "initials": "SA"}, suppress=True)
    body = {
        "payment_terms_id": terms["number"],
        "customer_group_id": group["number"],
        "employee_id": employee["number"],
        "address_country": "Danmark",
        "currency": "DKK",
    }
    with queued_to(e2e, worker):
        keys = [
            str(sandbox.create("customers", {**body, "company_name": f"Kunde {index}"})["number"])
            for index in range(40)
        ]
        assert sandbox.wait_for_webhooks(timeout=60)
        clear_logs(e2e)
        worker.start().wait_ready()
        outcomes = wait_finished(e2e, "customer", keys)
        assert {key: outcomes[key] for key in keys} == {key: ["created"] for key in keys}
        calls_per_customer = len(served(e2e)) / len(keys)

        economic_before = len(e2e.economic.sandbox.request_log.entries())
        sandbox.update("payment-terms", terms["number"], {"description": "Netto 30 dage"})
        assert sandbox.wait_for_webhooks(timeout=30)  # the term's webhook is in: its look-up is gone
        sandbox.update("customers", int(keys[5]), {"company_name": "Kunde 5 A/S"})
        wait_finished(e2e, "customer", [keys[5]], count=2)

    assert calls_per_customer <= 2
    later = [(e["method"], e["path"]) for e in e2e.economic.sandbox.request_log.entries()[economic_before:]]
    terms_write = next(i for i, (m, p) in enumerate(later) if m == "PUT" and p.startswith("/payment-terms/"))
    customer_write = later.index(("PUT", f"/customers/{keys[5]}"))
    assert terms_write < customer_write
    [stored] = [t for t in e2e.economic.sandbox.dump("payment-terms") if t["name"] == "Netto 30"]
    assert stored["description"] == "Netto 30 dage"


@pytest.fixture(autouse=True)
def _restore_settings(e2e: Flow) -> Iterator[None]:  # noqa: F811
    yield
    apply_settings(e2e.settings)
