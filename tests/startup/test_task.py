"""`rbsync.startup_sync` on real Celery workers: the in-process one (and `rbsync startup-sync --queue`,
which follows it from Redis), and a `celery worker` subprocess SIGKILLed halfway, the task then started
again on the in-process worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from sandbox.seed import SeedSize
from tasks.cli import main
from tasks.redis import key as namespaced_key
from tasks.startup.state import RunStore
from tests.fixtures.service import wait_for
from tests.startup.support import dump, duplicates, rackbeat_writes, seed_economic

MIDDLING = SeedSize(
    products=150,
    lots=0,
    customers=20,
    suppliers=5,
    orders=0,
    customer_invoices=0,
    supplier_invoices=0,
    projects=0,
    economic_orders=0,
    economic_invoices=0,
)
"""Enough products that a run can be killed among them."""

COLLECTIONS = {
    "customer": ("customers", "customerNumber"),
    "supplier": ("suppliers", "supplierNumber"),
    "product": ("products", "productNumber"),
    "customer_group": ("customer-groups", "customerGroupNumber"),
    "product_group": ("product-groups", "productGroupNumber"),
}


@pytest.mark.usefixtures("celery_worker")
def test_the_task_runs_on_the_bulk_queue_and_the_cli_follows_it(company: dict[str, Any]) -> None:
    from tasks.startup_tasks import startup_sync

    answer = startup_sync.apply_async().get(timeout=60)

    assert answer["state"] == "done", answer
    kinds = {kind["kind"]: kind for kind in answer["kinds"]}
    assert kinds["product"]["created"] == len(company["data"]["products"])

    company["rackbeat"].sandbox.request_log.clear()
    followed = CliRunner().invoke(main, ["startup-sync", "--queue"], catch_exceptions=False)

    assert followed.exit_code == 0, followed.output
    assert "queued: task" in followed.output and "start-up sync done" in followed.output
    assert rackbeat_writes(company["rackbeat"]) == [], "the second run writes nothing"
    no_wait = CliRunner().invoke(main, ["startup-sync", "--queue", "--no-wait"], catch_exceptions=False)
    assert no_wait.exit_code == 0 and "queued: task" in no_wait.output
    task_id = no_wait.output.split("queued: task ")[1].split()[0]
    assert startup_sync.AsyncResult(task_id).get(timeout=60)["state"] in ("done", "already running")


@pytest.mark.usefixtures("celery_worker")
def test_a_worker_killed_halfway_and_started_again_brings_every_record_once(
    company: dict[str, Any],
    worker_process: Callable[..., Any],
    redis_client: redis.Redis,
    namespace: str,
) -> None:
    rackbeat, economic = company["rackbeat"], company["economic"]
    seed_economic(economic, MIDDLING)
    runs = RunStore(redis_client, namespace)
    rackbeat.sandbox.faults.set(latency_ms=25)
    first = worker_process(startup_sync_concurrency=2)
    first.app.send_task("rbsync.startup_sync")

    def halfway() -> dict[str, Any] | None:
        status = runs.status()
        products = next((kind for kind in status["kinds"] if kind["kind"] == "product"), None)
        return status if products and products["done"] >= 40 else None

    seen = wait_for(halfway, timeout=60, interval=0.05, message="the products halfway")
    assert seen["state"] == "running", "progress is readable in Redis while it runs"
    first.kill()
    killed = {kind["kind"]: kind for kind in runs.status()["kinds"]}
    assert killed["product"]["done"] < killed["product"]["total"], "killed before the products were done"
    # The dead run's locks (the run's and the records' it was writing) expire by themselves, within
    # LOCK_TTL_SECONDS and the transfer time limit; dropped here so the test need not wait for them.
    pattern = namespaced_key("lock:*", connection_id=namespace)
    locks = list(redis_client.scan_iter(match=pattern, count=10_000))
    assert namespaced_key("lock", "startup-sync", "run", connection_id=namespace) in locks
    redis_client.delete(*locks)
    rackbeat.sandbox.faults.set(latency_ms=0)
    rackbeat.sandbox.request_log.clear()

    from tasks.startup_tasks import startup_sync

    answer = startup_sync.apply_async().get(timeout=60)  # started again, on another worker

    assert answer["state"] == "done", answer
    assert runs.status()["resumed"] == 1
    for kind, (resource, field) in COLLECTIONS.items():
        assert not duplicates(rackbeat, resource, "number"), kind
        held = sorted(str(record["number"]) for record in dump(rackbeat, resource))
        assert held == sorted(str(record[field]) for record in economic.sandbox.dump(resource)), kind
    resumed_paths = {entry["path"].split("/")[2] for entry in rackbeat_writes(rackbeat)}
    assert "customers" not in resumed_paths, "the kinds done before the kill are not done again"


@pytest.mark.usefixtures("celery_worker")
def test_a_refused_record_is_imported_by_its_dead_letters_retry_though_rackbeat_owns_its_kind(
    company: dict[str, Any], redis_client: redis.Redis, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Suppliers are Rackbeat's after the start-up sync (rbsync.import_record leaves them alone), so a refused
    one's dead letter names the start-up importer's own task: its retry brings it across after the fix, and
    a later run closes the other suppliers' entries."""
    from dataclasses import replace

    from sandbox.rackbeat.resources import RESOURCES
    from tasks.celery import app
    from tasks.deadletter import DeadLetterStore
    from tasks.dlq_actions import retry_entry
    from tasks.startup_tasks import STARTUP_IMPORT_TASK_NAME, startup_sync

    monkeypatch.setitem(RESOURCES, "suppliers", replace(RESOURCES["suppliers"], writable=False))
    answer = startup_sync.apply_async().get(timeout=60)
    suppliers = {kind["kind"]: kind for kind in answer["kinds"]}["supplier"]
    assert suppliers["refused"] == suppliers["total"] > 1, suppliers
    store = DeadLetterStore(redis_client, namespace)
    entries = [entry for entry in store.list() if entry["kind"] == "supplier"]
    assert {entry["task_name"] for entry in entries} == {STARTUP_IMPORT_TASK_NAME}
    assert all(entry["api"] == "rackbeat" and entry["status_code"] == 405 for entry in entries), entries
    monkeypatch.undo()

    first = entries[0]
    _, retried = retry_entry(store, app, first["id"], wait_seconds=30)

    assert retried["transfer"]["outcome"] == "succeeded", retried
    assert [s["number"] for s in dump(company["rackbeat"], "suppliers")] == [int(first["key"])]
    assert (store.get(first["id"]) or {})["status"] == "resolved"
    again = startup_sync.apply_async().get(timeout=60)
    assert {kind["kind"]: kind for kind in again["kinds"]}["supplier"]["refused"] == 0
    assert len(dump(company["rackbeat"], "suppliers")) == suppliers["total"]
    assert {(store.get(e["id"]) or {})["status"] for e in entries[1:]} == {"superseded"}
