"""Customer invoices into e-conomic exactly once, through a real prefork worker (issue 10).

Every invoice is delivered three times in shuffled order, the e-conomic sandbox answers 20 % of requests
with a 5xx, drops 5 % of connections and commits writes whose answers it then loses, and the worker's
pool process is SIGKILLed in the middle of the run. Counted at the end in e-conomic: every invoice once,
booked, at Rackbeat's total, and nothing else. The larger run of the same scenario is bench/invoices.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner

from tasks.cli import main as rbsync_main
from tasks.deadletter import DeadLetterStore
from tasks.transfer import enqueue_export
from tests.e2e.test_products_e2e import Flow, e2e  # noqa: F401  (fixture)
from tests.fixtures.service import wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

INVOICES = 4
REFERENCE = "Rackbeat invoice {}"


def company(flow: Flow) -> dict[str, Any]:
    """A customer, its payment terms and two products, created quietly (no webhooks)."""
    sandbox = flow.rackbeat.sandbox
    terms = sandbox.create(
        "payment-terms", {"name": "Netto 8", "type": "net", "maturity_days": 8}, suppress=True
    )
    group = sandbox.create("product-groups", {"name": "Varer"}, suppress=True)
    for number, price in (("KIT-A", 100.0), ("KIT-B", 12.5)):
        body = {
            "number": flow.number(number),
            "name": number,
            "group_id": group["number"],
            "sales_price": price,
        }
        sandbox.create("products", body, suppress=True)
    customer = {
        "company_name": "Kunde A/S",
        "payment_terms_id": terms["number"],
        "address_country": "Danmark",
    }
    return sandbox.create("customers", {**customer, "currency": "DKK"}, suppress=True)


def booked_invoices(flow: Flow, customer: dict[str, Any], count: int) -> list[dict[str, Any]]:
    invoices = []
    for i in range(count):
        lines = [
            {"item_id": flow.number("KIT-A"), "quantity": 1 + i},
            {"item_id": flow.number("KIT-B"), "quantity": 3, "discount_percentage": 5 * (i % 3)},
        ]
        body = {"customer_id": customer["number"], "invoice_date": "2026-11-30", "lines": lines}
        invoices.append(flow.rackbeat.sandbox.create("customer-invoices", body, booked=True, suppress=True))
    return invoices


def running_child(flow: Flow, worker: Any) -> int | None:
    """The pool process running a transfer right now (Celery's STARTED state names its pid), if any."""
    prefix = worker.settings.broker_key_prefix
    children = set(worker.child_pids())
    for name in flow.redis.scan_iter(match=f"{prefix}celery-task-meta-*", count=1000):
        raw = flow.redis.get(name)
        meta = json.loads(raw) if raw else {}
        pid = (meta.get("result") or {}).get("pid") if meta.get("status") == "STARTED" else None
        if pid in children:
            return int(pid)
    return None


def documents_by_reference(flow: Flow) -> Counter[str]:
    found: Counter[str] = Counter()
    for resource in ("invoices/drafts", "invoices/booked"):
        for document in flow.economic.sandbox.dump(resource):
            found[(document.get("references") or {}).get("other", "")] += 1
    return found


def test_every_invoice_is_booked_once_through_duplicates_faults_and_a_killed_worker(
    e2e: Flow,  # noqa: F811
    worker_process: Any,
) -> None:
    invoices = booked_invoices(e2e, company(e2e), INVOICES)
    worker = worker_process(
        start=False,
        customer_default_layout=19,
        customer_invoices_booked=True,
        transfer_max_retries=30,
        retry_backoff_base_seconds=0.1,
        retry_backoff_max_seconds=1,
        transfer_time_limit_seconds=8,  # the killed transfer's record lock holds its redelivery limit + 5 s
    )
    worker.concurrency = 2
    worker.start().wait_ready()
    # e-conomic answers a little late, so a transfer is still in its calls when its process is killed
    e2e.economic.sandbox.faults.set(error_rate=0.2, drop_rate=0.05, commit_then_fail=3, latency_ms=50)
    deliveries = [str(invoice["number"]) for invoice in invoices for _ in range(3)]
    random.Random(10).shuffle(deliveries)

    for key in deliveries:
        worker.app.send_task("rbsync.export_record", args=["customer_invoice", key], queue="transfers")
    wait_for(
        lambda: any(w["path"].startswith("/invoices") for w in e2e.economic.sandbox.request_log.entries()),
        timeout=60,
        message="a first invoice write",
    )
    busy = wait_for(
        lambda: running_child(e2e, worker), timeout=30, interval=0.01, message="a running transfer"
    )
    os.kill(busy, signal.SIGKILL)
    worker.wait_for_new_child(busy)

    wanted = {REFERENCE.format(invoice["number"]) for invoice in invoices}

    def all_booked() -> bool:
        booked = {
            (d.get("references") or {}).get("other") for d in e2e.economic.sandbox.dump("invoices/booked")
        }
        return wanted <= booked

    wait_for(
        all_booked, timeout=120, interval=0.2, message=f"{INVOICES} booked invoices\n{worker.log()[-3000:]}"
    )
    faults = dict(e2e.economic.sandbox.faults.counters)
    e2e.economic.sandbox.faults.reset()
    time.sleep(1)  # the duplicates still queued find every invoice posted

    assert {reference: documents_by_reference(e2e)[reference] for reference in wanted} == dict.fromkeys(
        wanted, 1
    )
    assert e2e.economic.sandbox.dump("invoices/drafts") == []
    totals = {
        d["references"]["other"]: f"{d['grossAmount']:.2f}"
        for d in e2e.economic.sandbox.dump("invoices/booked")
    }
    assert totals == {REFERENCE.format(i["number"]): f"{i['total_total']:.2f}" for i in invoices}
    open_letters = [
        entry
        for entry in DeadLetterStore(e2e.redis, e2e.settings.connection_id).list(kind="customer_invoice")
        if entry["status"] in ("new", "retrying")
    ]
    assert open_letters == []
    # the faults really happened (drawn at random: a short run may see no dropped connection)
    assert faults.get("commit_then_fail") == 3 and faults.get("errors_5xx", 0) + faults.get("dropped", 0), (
        faults
    )
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()


def test_a_refused_invoice_waits_with_its_reason_and_is_posted_once_after_the_fix(
    e2e: Flow,  # noqa: F811
) -> None:
    sandbox = e2e.rackbeat.sandbox
    sandbox.create("layouts", {"number": 19, "name": "Standard"}, suppress=True)
    terms = sandbox.create(
        "payment-terms", {"name": "Kontant", "type": "net", "maturity_days": 0}, suppress=True
    )
    group = sandbox.create("product-groups", {"name": "Varer"}, suppress=True)
    item = e2e.number("LONG")
    sandbox.create(
        "products",
        {"number": item, "name": "N" * 301, "group_id": group["number"], "sales_price": 40.0},
        suppress=True,
    )
    party = {"company_name": "Kunde A/S", "payment_terms_id": terms["number"], "address_country": "Danmark"}
    customer = sandbox.create("customers", {**party, "currency": "DKK", "layout_id": 19}, suppress=True)
    body = {
        "customer_id": customer["number"],
        "invoice_date": "2026-11-30",
        "lines": [{"item_id": item, "quantity": 2}],
    }
    invoice = sandbox.create("customer-invoices", body, booked=True, suppress=True)
    key = str(invoice["number"])
    store = DeadLetterStore(e2e.redis, e2e.settings.connection_id)

    enqueue_export("customer_invoice", key)
    [entry] = wait_for(
        lambda: store.entries_for_record("customer_invoice", key), timeout=60, message="a dead letter"
    )

    # its line's product is longer than e-conomic takes: refused before any invoice write, the field named
    assert entry["error_class"] == "MappingError" and list(entry["field_errors"]) == ["name"]
    assert not any(w["path"].startswith("/invoices") for w in e2e.economic.sandbox.request_log.entries())
    listed = CliRunner().invoke(rbsync_main, ["dlq", "list", "--kind", "customer_invoice"])
    assert f"customer_invoice  {key} " in listed.output and "name: is 301 characters long" in listed.output

    sandbox.update("products", item, {"name": "Skruer, rustfri"}, suppress=True)  # fixed in Rackbeat
    retried = CliRunner().invoke(rbsync_main, ["dlq", "retry", entry["id"], "--wait", "60", "--json"])

    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.output)["transfer"]["result"] == "created"
    assert documents_by_reference(e2e)[REFERENCE.format(key)] == 1
    enqueue_export("customer_invoice", key)  # Rackbeat delivers the booked event once more
    assert e2e.wait_outcome("customer_invoice", key, count=3) == ["dead-lettered", "created", "unchanged"]
    assert documents_by_reference(e2e)[REFERENCE.format(key)] == 1


def test_every_supplier_invoice_is_one_booked_voucher_through_duplicates_faults_and_a_killed_worker(
    e2e: Flow,  # noqa: F811
    worker_process: Any,
) -> None:
    sandbox = e2e.rackbeat.sandbox
    terms = sandbox.create(
        "payment-terms", {"name": "Netto 30", "type": "net", "maturity_days": 30}, suppress=True
    )
    group = sandbox.create("product-groups", {"name": "Varer"}, suppress=True)
    item = e2e.number("RAW")
    product = {"number": item, "name": "Råvare", "group_id": group["number"], "sales_price": 12.0}
    sandbox.create("products", product, suppress=True)
    party = {
        "company_name": "Leverandør A/S",
        "payment_terms_id": terms["number"],
        "address_country": "Danmark",
    }
    supplier = sandbox.create("suppliers", {**party, "currency": "DKK"}, suppress=True)
    invoices = [
        sandbox.create(
            "supplier-invoices",
            {
                "supplier_id": supplier["number"],
                "invoice_date": "2026-11-30",
                "supplier_invoice_number": f"F-{i}",
                "lines": [{"item_id": item, "quantity": 10 + i, "line_price": 7.5}],
            },
            booked=True,
            suppress=True,
        )
        for i in range(4)
    ]
    worker = worker_process(
        supplier_invoice_journal=2,
        supplier_invoice_accounts={"*": {"domestic": 1310}},
        supplier_invoices_auto_book=True,
        transfer_max_retries=30,
        retry_backoff_base_seconds=0.1,
        retry_backoff_max_seconds=1,
        transfer_time_limit_seconds=8,  # the killed transfer's record lock holds its redelivery limit + 5 s
    )
    e2e.economic.sandbox.faults.set(error_rate=0.2, commit_then_fail=3, latency_ms=50)
    deliveries = [str(invoice["number"]) for invoice in invoices for _ in range(3)]
    random.Random(11).shuffle(deliveries)

    for key in deliveries:
        worker.app.send_task("rbsync.export_record", args=["supplier_invoice", key], queue="transfers")
    wait_for(
        lambda: any(w["path"].startswith("/journals") for w in e2e.economic.sandbox.request_log.entries()),
        timeout=60,
        message="a first voucher",
    )
    busy = wait_for(
        lambda: running_child(e2e, worker), timeout=30, interval=0.01, message="a running transfer"
    )
    os.kill(busy, signal.SIGKILL)
    worker.wait_for_new_child(busy)
    wanted = {f"Rackbeat supplier invoice {invoice['number']}": invoice for invoice in invoices}

    def booked() -> list[dict[str, Any]]:
        try:
            entries = e2e.economic.sandbox.dump("booked-entries")
        except KeyError:  # nothing booked yet: the sandbox has no such table until its first entry
            return []
        return [e for e in entries if e.get("text") in wanted and "supplier" in e]

    wait_for(
        lambda: {e["text"] for e in booked()} == set(wanted), timeout=120, interval=0.2, message="4 vouchers"
    )
    e2e.economic.sandbox.faults.reset()
    time.sleep(1)  # the duplicates still queued find every voucher posted

    supplier_sides = Counter(e["text"] for e in booked())
    assert supplier_sides == dict.fromkeys(wanted, 1)  # one supplier entry per invoice: no voucher twice
    assert {e["text"]: -e["amount"] for e in booked()} == {t: i["total_total"] for t, i in wanted.items()}
    assert [e for e in e2e.economic.sandbox.dump("journal-entries") if e.get("text") in wanted] == []
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()  # killed mid-transfer
