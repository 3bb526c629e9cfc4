"""The start-up sync's engine run in this process over both sandboxes (the task and the CLI run the same
`StartupRunner`): relations, a re-run, records Rackbeat already has, a refused record."""

from __future__ import annotations

from typing import Any

import redis

from sandbox.seed import generate
from tasks.deadletter import DeadLetterStore
from tasks.settings import get_settings
from tasks.startup.runner import RunOptions, RunReport
from tasks.startup.wiring import build_runner
from tasks.sync.bindings import BindingStore
from tests.startup.support import SEED, dump, duplicates, rackbeat_writes

KIND_COLLECTIONS = {
    "layout": "layouts",
    "employee": "employees",
    "payment_term": "payment-terms",
    "customer_group": "customer-groups",
    "supplier_group": "supplier-groups",
    "product_group": "product-groups",
    "customer": "customers",
    "supplier": "suppliers",
    "product": "products",
}


def run(**options: Any) -> RunReport:
    settings = get_settings()
    return build_runner(settings, RunOptions(concurrency=settings.startup_sync_concurrency, **options)).run()


def by_kind(report: RunReport) -> dict[str, dict[str, Any]]:
    return {kind["kind"]: kind for kind in report.status["kinds"]}


def record(rackbeat: Any, resource: str, number: Any) -> dict[str, Any]:
    found = [r for r in dump(rackbeat, resource) if str(r.get("number")) == str(number)]
    assert len(found) == 1, f"{resource} {number}: {len(found)} records in Rackbeat"
    return found[0]


def test_an_empty_rackbeat_gets_every_kind_with_its_relations_and_a_rerun_writes_nothing(
    company: dict[str, Any], redis_client: redis.Redis, namespace: str
) -> None:
    rackbeat, data = company["rackbeat"], company["data"]
    bindings = BindingStore(redis_client, namespace)

    report = run()

    assert report.state == "done", report.error
    kinds = by_kind(report)
    for kind, resource in KIND_COLLECTIONS.items():
        if kind not in kinds or kinds[kind].get("note"):
            continue  # a kind without import rules yet (its note says so)
        counts = kinds[kind]
        assert counts["done"] == counts["total"] == counts["created"], (kind, counts)
        assert counts["refused"] == 0
        assert len(dump(rackbeat, resource)) == counts["total"], kind
        assert not duplicates(rackbeat, resource, "number"), kind
    for customer in data["customers"]:
        made = record(rackbeat, "customers", customer["customerNumber"])
        assert made["customer_group_id"] == customer["customerGroup"]["customerGroupNumber"]
        terms = bindings.rackbeat_key_for("payment_term", customer["paymentTerms"]["paymentTermsNumber"])
        assert str(made["payment_terms_id"]) == terms
        if "layout" in kinds and not kinds["layout"].get("note"):
            assert made["layout_id"] == customer["layout"]["layoutNumber"]
    for product in data["products"]:
        made = record(rackbeat, "products", product["productNumber"])
        assert made["group_id"] == product["productGroup"]["productGroupNumber"]
        unit = bindings.rackbeat_key_for("unit", product["unit"]["unitNumber"])
        assert str(made["unit_id"]) == unit
    assert kinds["unit"]["created"] == len({p["unit"]["unitNumber"] for p in data["products"]})
    if "supplier" in kinds and not kinds["supplier"].get("note"):
        for supplier in data["suppliers"]:
            made = record(rackbeat, "suppliers", supplier["supplierNumber"])
            assert made["supplier_group_id"] == supplier["supplierGroup"]["supplierGroupNumber"]

    rackbeat.sandbox.request_log.clear()
    again = run()

    assert again.state == "done"
    assert rackbeat_writes(rackbeat) == [], "a re-run with nothing changed writes nothing"
    assert all(kind["created"] == kind["updated"] == 0 for kind in again.status["kinds"])
    assert by_kind(again)["customer"]["unchanged"] == len(data["customers"])


def test_a_change_in_economic_after_the_run_is_written_by_the_next_run(company: dict[str, Any]) -> None:
    rackbeat, economic = company["rackbeat"], company["economic"]
    run()
    product = dict(company["data"]["products"][0])
    economic.sandbox.load({"products": [{**product, "salesPrice": 999.5}]})
    rackbeat.sandbox.request_log.clear()

    again = run()

    assert by_kind(again)["product"]["updated"] == 1
    assert [entry["method"] for entry in rackbeat_writes(rackbeat)] == ["PUT"]
    assert record(rackbeat, "products", product["productNumber"])["sales_price"] == 999.5


def test_records_rackbeat_has_are_matched_and_left_as_they_are_unless_update_existing(
    company: dict[str, Any], redis_client: redis.Redis, namespace: str
) -> None:
    rackbeat = company["rackbeat"]
    existing = generate(seed=SEED, size="tiny").rackbeat()
    customers = existing["customers"]
    customers[0] = {**customers[0], "company_name": "Renamed in Rackbeat"}
    rackbeat.sandbox.load(
        {"payment-terms": existing["payment-terms"], "customer-groups": existing["customer-groups"]}
    )
    rackbeat.sandbox.load({"customers": customers})
    held = len(customers)

    report = run()

    counts = by_kind(report)["customer"]
    assert counts["matched"] == held and counts["created"] == counts["total"] - held
    assert counts["differing_fields"].get("company_name", 0) >= 1
    assert len(dump(rackbeat, "customers")) == counts["total"], "matched, not duplicated"
    assert record(rackbeat, "customers", customers[0]["number"])["company_name"] == "Renamed in Rackbeat"
    terms = by_kind(report)["payment_term"]
    assert terms["matched"] == len(existing["payment-terms"]), terms
    assert BindingStore(redis_client, namespace).rackbeat_key_for("customer", customers[0]["number"])

    rackbeat.sandbox.request_log.clear()
    again = run()
    assert rackbeat_writes(rackbeat) == [], "records Rackbeat had are left alone on a re-run too"
    assert by_kind(again)["customer"]["bound"] == held

    overwritten = run(update_existing=True)

    assert by_kind(overwritten)["customer"]["updated"] == held
    economic_name = next(
        c["name"] for c in company["data"]["customers"] if c["customerNumber"] == customers[0]["number"]
    )
    assert record(rackbeat, "customers", customers[0]["number"])["company_name"] == economic_name


def test_a_record_rackbeat_refuses_is_dead_lettered_in_its_words_and_the_rest_arrive(
    company: dict[str, Any], redis_client: redis.Redis, namespace: str
) -> None:
    rackbeat, economic = company["rackbeat"], company["economic"]
    bad = "X" * 26  # Rackbeat takes item numbers of at most 25 characters
    template = company["data"]["products"][0]
    economic.sandbox.load({"products": [{**template, "productNumber": bad, "self": None}]})

    report = run()

    counts = by_kind(report)["product"]
    assert report.state == "done"
    assert counts["refused"] == 1 and counts["created"] == counts["total"] - 1
    entries = [e for e in DeadLetterStore(redis_client, namespace).list() if e["key"] == bad]
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["task_name"] == "rbsync.startup_import_record" and entry["args"] == ["product", bad]
    assert entry["kind"] == "product" and entry["status_code"] == 422
    assert "may not be greater than 25 characters" in str(entry["field_errors"]), entry
    assert len(dump(rackbeat, "products")) == counts["total"] - 1


def test_a_stopped_run_keeps_its_checkpoint_and_the_next_start_continues_it(
    company: dict[str, Any], redis_client: redis.Redis, namespace: str
) -> None:
    """What Ctrl-C does in-process: the stop event, then the same command again."""
    import threading

    from tasks.startup.state import RunStore

    rackbeat = company["rackbeat"]
    runs = RunStore(redis_client, namespace)
    stop = threading.Event()
    rackbeat.sandbox.faults.set(latency_ms=20)

    def stop_among_the_customers() -> None:
        while not stop.wait(0.02):
            kinds = {kind["kind"]: kind for kind in runs.status()["kinds"]}
            if kinds.get("customer", {}).get("done"):
                stop.set()

    watcher = threading.Thread(target=stop_among_the_customers, daemon=True)
    watcher.start()
    settings = get_settings()
    stopped = build_runner(settings, RunOptions(concurrency=1), stop=stop).run()
    watcher.join(timeout=5)
    rackbeat.sandbox.faults.set(latency_ms=0)

    assert stopped.state == "interrupted" and "stopped" in (stopped.error or "")
    assert by_kind(stopped)["product"]["done"] == 0
    assert by_kind(stopped)["payment_term"]["finished_at"], "the kinds before it are done"
    rackbeat.sandbox.request_log.clear()

    resumed = run()

    assert resumed.state == "done" and resumed.status["resumed"] == 1
    assert resumed.run_id == stopped.run_id
    written = {entry["path"].split("/")[2] for entry in rackbeat_writes(rackbeat)}
    assert "payment-terms" not in written, "the kinds done before the stop are not done again"
    assert "products" in written
    customers = by_kind(resumed)["customer"]
    assert customers["done"] == customers["total"], "the stopped page is done again, and counted once"
    assert customers["created"] + customers["unchanged"] == customers["total"]
    assert not duplicates(rackbeat, "customers", "number")
    assert len(dump(rackbeat, "customers")) == len(company["data"]["customers"])
