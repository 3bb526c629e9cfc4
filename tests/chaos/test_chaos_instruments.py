"""The chaos benchmark's instruments see what they claim to: a scan that never finds a planted secret, or
a tally that never counts a planted loss or duplicate, would make every "0" in the chaos table worthless.

No service runs here: the sandboxes are in-process objects, and Redis is a private `redis-server` with AOF
on its own port (never the shared one).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from bench._chaos_records import create_dependencies, plan, record_writes, run_writes, tally
from bench._chaos_secrets import as_bytes_client, scan_secrets
from tasks.deadletter import DeadLetterStore, Failure
from tasks.harness.localredis import LocalRedis
from tasks.redis import key as namespaced_key

CONNECTION = "chaos-instruments"


@pytest.fixture
def own_redis() -> Iterator[LocalRedis]:
    server = LocalRedis(appendonly=True).start()
    yield server
    server.cleanup()


def aof_files(server: LocalRedis) -> list[Path]:
    assert server._workdir is not None
    return sorted(path for path in Path(server._workdir.name).rglob("*") if path.is_file())


def test_the_secrets_scan_finds_a_token_in_a_log_a_key_a_celery_body_and_the_aof(
    own_redis: LocalRedis, tmp_path: Path
) -> None:
    in_log, in_value, in_body, webhook = (secrets.token_hex(16) for _ in range(4))
    clean = secrets.token_hex(16)
    (tmp_path / "worker.log").write_text(f"line\nAuthorization: Bearer {in_log}\n")
    (tmp_path / "web.log").write_text("nothing here\n")
    client = redis.Redis.from_url(own_redis.url)
    body = base64.b64encode(json.dumps([["product", in_body], {}, {}]).encode()).decode()
    client.set("rbsync:x:some-value", f"token={in_value}")
    client.lpush("rbsync:x:celery:transfers", json.dumps({"body": body, "body_encoding": "base64"}))
    tokens_key = namespaced_key("webhook-tokens", connection_id=CONNECTION)
    client.hset(tokens_key, "product.created", webhook)
    client.close()

    scanner = as_bytes_client(own_redis.url)
    try:
        scan = scan_secrets(
            {"in log": in_log, "in value": in_value, "in body": in_body, "webhook": webhook, "clean": clean},
            log_files=sorted(tmp_path.glob("*.log")),
            redis_client=scanner,
            aof_files=aof_files(own_redis),
            tokens_key=tokens_key,
        )
    finally:
        scanner.close()

    hits = "\n".join(scan.hits)
    assert "log worker.log: in log" in hits
    assert "redis rbsync:x:some-value: in value" in hits
    assert "redis rbsync:x:celery:transfers: in body" in hits  # found inside the base64 body
    assert "aof" in hits and "SET: in value" in hits and "LPUSH: in body" in hits
    assert "clean" not in hits and "webhook" not in hits  # the token store is where tokens live
    assert scan.expected == 2  # the hash in Redis and the HSET in the AOF
    assert scan.log_files == 2 and scan.aof_files >= 2 and scan.redis_keys == 3


def test_the_tally_counts_arrived_lost_wrong_values_dead_letters_and_duplicates(
    own_redis: LocalRedis,
) -> None:
    from sandbox.economic import EconomicSandbox
    from sandbox.rackbeat import RackbeatSandbox

    rackbeat, economic = RackbeatSandbox(), EconomicSandbox()
    client = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        batch = plan("inst", 10)  # 3 dependencies, 6 products, 1 customer
        create_dependencies(rackbeat, batch, quietly=True)
        run_writes(record_writes(rackbeat, batch, quietly=True), threads=2)
        assert batch.sent == 10 and batch.changed  # some products have a second version
        store = economic.store
        store.put(
            "product-groups",
            batch.product_group,
            {"productGroupNumber": batch.product_group, "name": f"Chaos {batch.tag}"},
        )
        store.put(
            "customer-groups",
            batch.customer_group,
            {"customerGroupNumber": batch.customer_group, "name": f"Chaos {batch.tag}"},
        )
        store.put("payment-terms", 9, {"paymentTermsNumber": 9, "name": batch.terms_name, "daysOfCredit": 17})
        numbers = batch.products
        lost, dead, stale, twice = numbers[:4]
        for number in numbers[2:]:
            record = rackbeat.get("products", number)
            name = "the first version" if number == stale else record["name"]
            store.put(
                "products",
                number,
                {
                    "productNumber": number,
                    "name": name,
                    "salesPrice": record["sales_price"],
                    "productGroup": {"productGroupNumber": batch.product_group},
                },
            )
        customer = rackbeat.get("customers", batch.customers[0])
        for number in (batch.customers[0], 99_001):  # the customer POSTed twice: two numbers, one name
            store.put(
                "customers",
                number,
                {
                    "customerNumber": number,
                    "name": customer["company_name"],
                    "customerGroup": {"customerGroupNumber": batch.customer_group},
                },
            )
        for key in ("first", "second", "first"):  # two creating writes; the third is a replay of the first
            economic.request_log.record(
                "PUT", f"/products/{twice}", "", 201, {"productNumber": twice}, idempotency_key=key
            )
        DeadLetterStore(client, CONNECTION).record_failure(
            Failure(
                task_name="rbsync.export_record",
                task_id="t-1",
                args=["product", dead],
                kwargs={},
                queue="transfers",
                kind="product",
                key=dead,
                classification="permanent",
                error_class="ValidationFailed",
                error="refused",
            )
        )

        counted = tally(
            SimpleNamespace(economic=economic, rackbeat=rackbeat, redis=client, connection_id=CONNECTION),
            batch,
        )
    finally:
        client.close()
        rackbeat.close()
        economic.close()

    problems = "\n".join(counted.problems)
    assert counted.sent == 10
    assert counted.dead_lettered == 1 and f"product {dead}: dead-lettered" in problems
    assert counted.lost == 2, problems  # one missing, one with the first version's name
    assert f"product {lost}: lost (not in e-conomic)" in problems
    assert f"product {stale}: lost (wrong values: name" in problems
    assert counted.duplicated == 2, problems  # the product written twice, the customer POSTed twice
    assert counted.arrived == 10 - 1 - 2
