"""`rbsync startup-sync`: the plan (`--dry-run`, reads only), `--status`, the run in this process, and
the exit codes a script (bench/startup_sync.py, `rbsync run --startup-sync`) relies on."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from sandbox.seed import generate
from tasks.cli import main
from tasks.startup.runner import LOCK_NAME
from tasks.sync.bindings import BindingStore
from tasks.sync.locks import RecordLock
from tests.startup.support import SEED, rackbeat_writes


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["startup-sync", *args], catch_exceptions=False)


def plan_rows(result: Any) -> dict[str, dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return {row["kind"]: row for row in json.loads(result.output)["kinds"]}


def test_the_plan_counts_what_a_run_will_do_and_writes_nothing(
    company: dict[str, Any], redis_client: redis.Redis, namespace: str
) -> None:
    rackbeat, data = company["rackbeat"], company["data"]
    existing = generate(seed=SEED, size="tiny").rackbeat()
    held = existing["customers"][:2]
    held[0] = {**held[0], "company_name": "Renamed in Rackbeat"}
    rackbeat.sandbox.load({"payment-terms": existing["payment-terms"], "customers": held})
    rackbeat.sandbox.request_log.clear()

    plan = json.loads(cli("--dry-run", "--json").output)

    rows = {row["kind"]: row for row in plan["kinds"]}
    customers = rows["customer"]
    assert customers["total"] == len(data["customers"]) and customers["in_rackbeat"] == 2
    assert (customers["matched"], customers["already_bound"], customers["create"]) == (
        2,
        0,
        len(data["customers"]) - 2,
    )
    assert customers["differing_fields"].get("company_name") == 1
    assert rows["payment_term"]["matched"] == len(existing["payment-terms"])
    assert rows["product"]["create"] == rows["product"]["total"] == len(data["products"])
    used_units = {product["unit"]["unitNumber"] for product in data["products"]}
    assert rows["unit"]["create"] == len(used_units), "only the units products use come along"
    assert plan["rackbeat_writes"] == sum(row["create"] + row["update"] for row in plan["kinds"])
    requests = plan["rackbeat_writes"] + plan["rackbeat_reads"]
    assert plan["estimated_seconds"] == pytest.approx(requests * 60 / plan["requests_per_minute"], abs=0.1)
    assert rackbeat_writes(rackbeat) == [], "a dry run writes nothing"
    bindings = BindingStore(redis_client, namespace)
    assert all(bindings.rackbeat_key_for("customer", c["customerNumber"]) is None for c in data["customers"])

    ran = cli()
    assert ran.exit_code == 0, ran.output
    assert "start-up sync done" in ran.output

    after = plan_rows(cli("--dry-run", "--json"))
    assert after["customer"]["create"] == after["customer"]["update"] == 0
    assert after["customer"]["already_bound"] == 2 and after["customer"]["matched"] == 2
    assert after["product"]["create"] == 0 and after["product"]["update"] == 0
    overwrite = plan_rows(cli("--dry-run", "--json", "--update-existing"))
    assert overwrite["customer"]["update"] == 2


def test_status_json_reports_the_last_run_kind_by_kind(company: dict[str, Any]) -> None:
    before = json.loads(cli("--status", "--json").output)
    assert before["run_id"] is None

    ran = cli()
    status = json.loads(cli("--status", "--json").output)

    assert ran.exit_code == 0, ran.output
    assert status["state"] == "done" and status["run_id"] and not status["lock_held"]
    kinds = {kind["kind"]: kind for kind in status["kinds"]}
    assert kinds["customer"]["created"] == kinds["customer"]["total"] == len(company["data"]["customers"])
    assert kinds["product"]["finished_at"] and kinds["product"]["started_at"]
    assert "Start-up sync" in cli("--status").output


def test_a_second_start_while_one_runs_says_so_and_exits_2(
    company: dict[str, Any], redis_client: redis.Redis, namespace: str
) -> None:
    lock = RecordLock(redis_client, *LOCK_NAME, ttl_seconds=30, connection_id=namespace)
    assert lock.acquire()
    try:
        here, queued = cli(), cli("--queue")
    finally:
        lock.release()
    for result in (here, queued):
        assert result.exit_code == 2
        assert "already running" in result.output
    assert rackbeat_writes(company["rackbeat"]) == []


def test_usage_mistakes_exit_2() -> None:
    assert cli("--status", "--dry-run").exit_code == 2
    assert cli("--no-wait").exit_code == 2
    assert cli("--json").exit_code == 2
