"""Batched Rackbeat reads and shared look-ups (issue 14), called directly against both sandboxes and the real
Redis (no Celery: the worker, the webhooks and the queueing are in tests/e2e/test_batched_reads_e2e.py).

An event is noted as the receiver notes it (`ReadClock.note_event`, the first step of `enqueue_export`);
each transfer is then run as the task runs it. What each transfer read is counted from the Rackbeat
sandbox's own request log.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
import redis
from celery.signals import task_postrun

from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tasks.sync.connections import process_clients
from tasks.sync.exporter import Exporter
from tasks.sync.lookups import LookupCache
from tasks.sync.ports import SyncStore
from tasks.sync.readahead import ReadAhead, ReadClock
from tasks.sync.results import TransferResult
from tasks.transfer import build_store
from tests.engine.test_exporter import (
    economic_product,
    forget_records,
    make_group,
    make_kit,
    make_product,
    set_cost_price,
)


@pytest.fixture
def sandboxes(
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    sandbox_settings: Settings,
    redis_client: redis.Redis,
    session_namespace: str,
) -> tuple[Any, Any]:
    forget_records(redis_client, session_namespace)
    for pattern in ("readahead:*", "lookup:*"):
        stale = list(redis_client.scan_iter(match=f"rbsync:{session_namespace}:{pattern}", count=1000))
        if stale:
            redis_client.delete(*stale)
    return rackbeat_sandbox, economic_sandbox


def store(**reads: Any) -> SyncStore:
    """The task's store; with `reads`, its batched reads built with these options instead."""
    built = build_store()
    if reads:
        assert built.reads is not None
        options = {"min_pending": 3, "keep_seconds": 60, **reads}
        built = replace(built, reads=ReadAhead(built.reads.client, **options))
    return built


def transfer(kind: str, key: str, sync_store: SyncStore | None = None) -> TransferResult:
    """One transfer as the task runs it: its own Exporter, the record it was queued for."""
    return Exporter(process_clients(), sync_store or store()).transfer(kind, key)


def event(kind: str, key: str) -> int:
    """What the receiver notes for a webhook, before it queues (or coalesces) the transfer."""
    return ReadClock(build_store().bindings.client).note_event(kind, key)


def rackbeat_reads(rackbeat: Any, resource: str) -> tuple[int, list[str]]:
    """(list calls, keys read one by one) of a Rackbeat resource, from the sandbox's request log."""
    entries = [e for e in rackbeat.sandbox.request_log.entries() if e["method"] == "GET"]
    lists = sum(1 for e in entries if e["path"] == f"/api/{resource}")
    singles = [e["path"].rsplit("/", 1)[1] for e in entries if e["path"].startswith(f"/api/{resource}/")]
    return lists, singles


def products(rackbeat: Any, count: int, stem: str = "RA") -> list[str]:
    """`count` products in one group, made quietly (their events are noted by the test)."""
    group = make_group(rackbeat)
    numbers = [f"{stem}-{index}" for index in range(count)]
    for number in numbers:
        make_product(rackbeat, number, group)
    return numbers


# --- batched reads -------------------------------------------------------------------------------------


def test_a_lone_event_makes_exactly_one_single_get(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    [number] = products(rackbeat, 1, "LONE")
    event("product", number)
    rackbeat.sandbox.request_log.clear()

    assert transfer("product", number).outcome == "created"

    assert rackbeat_reads(rackbeat, "products") == (0, [number])
    assert economic_product(economic, number) is not None


def test_a_burst_is_read_with_one_list_call(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    numbers = products(rackbeat, 40, "BURST")
    for number in numbers:
        event("product", number)
    rackbeat.sandbox.request_log.clear()
    economic.sandbox.request_log.clear()

    results = [transfer("product", number) for number in numbers]

    assert [r.outcome for r in results] == ["created"] * len(numbers)
    assert rackbeat_reads(rackbeat, "products") == (1, [])
    [listing] = [e for e in rackbeat.sandbox.request_log.entries() if e["path"] == "/api/products"]
    assert "updated_at_from=" in listing["query"] and "order_by=updated_at" in listing["query"]
    assert all(economic_product(economic, n)["name"] == f"Product {n}" for n in numbers)
    # every call of the burst: one list, the group once (Rackbeat and e-conomic), one write per product
    calls = sum(r.api_calls for r in results)
    assert calls == len(rackbeat.sandbox.request_log.entries()) + len(economic.sandbox.request_log.entries())
    assert calls / len(numbers) <= 1.1


def test_transfers_started_as_their_events_come_on_a_concurrent_worker_are_read_in_batches(
    sandboxes: tuple[Any, Any],
) -> None:
    """A gevent worker starts each transfer as its event comes, so few wait at any moment while many run:
    the running ones count too, and 40 transfers so started cost at most 1.1 Rackbeat calls each (the
    sandboxes answering in 50 ms, the events 40 ms apart, each transfer on a thread of its own)."""
    rackbeat, economic = sandboxes
    numbers = products(rackbeat, 40, "CONC")
    transfer("product", numbers[0])  # the group in place: every transfer below measures a product
    rackbeat.sandbox.request_log.clear()
    rackbeat.sandbox.faults.set(latency_ms=50)
    economic.sandbox.faults.set(latency_ms=50)

    def task(number: str) -> TransferResult:
        try:
            return transfer("product", number)
        finally:
            task_postrun.send(sender=None)  # the task's end: its clients back, no longer running

    try:
        with ThreadPoolExecutor(max_workers=len(numbers)) as pool:
            futures = []
            for number in numbers[1:]:
                rackbeat.sandbox.update("products", number, {"name": f"Renamed {number}"}, suppress=True)
                event("product", number)
                futures.append(pool.submit(task, number))
                time.sleep(0.04)
            results = [future.result() for future in futures]
    finally:
        rackbeat.sandbox.faults.reset()
        economic.sandbox.faults.reset()

    assert {r.outcome for r in results} == {"created"}
    assert all(economic_product(economic, n)["name"] == f"Renamed {n}" for n in numbers[1:])
    lists, singles = rackbeat_reads(rackbeat, "products")
    assert lists >= 1
    assert len(singles) <= 3  # at most the burst's first ones read by themselves (before: ~half of them)
    assert len(rackbeat.sandbox.request_log.entries()) <= 1.1 * len(results)


def test_a_kept_record_older_than_the_record_s_event_is_never_used(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    numbers = products(rackbeat, 5, "FRESH")
    for number in numbers:
        event("product", number)
    transfer("product", numbers[0])  # reads all five in one list call
    rackbeat.sandbox.update("products", numbers[3], {"sales_price": 77.0})
    event("product", numbers[3])  # its webhook, after the batch read started
    rackbeat.sandbox.request_log.clear()

    for number in numbers[1:]:
        transfer("product", number)

    assert rackbeat_reads(rackbeat, "products") == (0, [numbers[3]])
    assert economic_product(economic, numbers[3])["salesPrice"] == 77.0


def test_a_record_changed_while_the_batch_is_read_is_never_handed_the_older_version(
    sandboxes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list answers with the versions from before the change, whose events come after the read started:
    for the reader's own record and for another waiting one alike, that answer is not used; each is read
    again by itself, and the transfer the change's webhook queued finds e-conomic in step."""
    rackbeat, economic = sandboxes
    numbers = products(rackbeat, 4, "RACE")
    for number in numbers:
        event("product", number)
    clients = process_clients()
    real_page = clients.rackbeat.page
    changed = (numbers[0], numbers[2])  # the reader's record and another one

    def page_then_change(*args: Any, **kwargs: Any) -> Any:
        answer = real_page(*args, **kwargs)
        for number in changed:
            rackbeat.sandbox.update("products", number, {"name": f"Changed {number}"})
            event("product", number)
        return answer

    monkeypatch.setattr(clients.rackbeat, "page", page_then_change)
    first = transfer("product", numbers[0])
    monkeypatch.undo()
    results = [transfer("product", number) for number in numbers[1:]]
    again = transfer("product", numbers[0])  # the transfer the change's webhook queued

    assert [first.outcome, *(r.outcome for r in results), again.outcome] == ["created"] * 4 + ["unchanged"]
    assert [economic_product(economic, n)["name"] for n in numbers] == [
        f"Changed {numbers[0]}",
        f"Product {numbers[1]}",
        f"Changed {numbers[2]}",
        f"Product {numbers[3]}",
    ]
    lists, singles = rackbeat_reads(rackbeat, "products")
    assert lists == 1
    assert sorted(singles) == sorted([*changed, numbers[0]])  # the last: the queued transfer's own read


def test_a_record_the_list_did_not_return_is_read_by_itself(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    numbers = products(rackbeat, 4, "GONE")
    transfer("product", numbers[3])  # in e-conomic already
    for number in numbers:
        event("product", number)
    rackbeat.sandbox.delete("products", numbers[3], suppress=True)
    rackbeat.sandbox.request_log.clear()

    outcomes = [transfer("product", number).outcome for number in numbers]

    assert outcomes == ["created", "created", "created", "barred"]
    assert rackbeat_reads(rackbeat, "products") == (1, [numbers[3]])
    assert economic_product(economic, numbers[3])["barred"] is True


def test_a_transfer_queued_without_an_event_reads_its_record_itself(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, _economic = sandboxes
    numbers = products(rackbeat, 4, "NOEVENT")
    for number in numbers[:3]:
        event("product", number)
    transfer("product", numbers[0])  # a batch read
    rackbeat.sandbox.request_log.clear()

    transfer("product", numbers[3])  # e.g. a dead letter retried: no event on file

    assert rackbeat_reads(rackbeat, "products") == (0, [numbers[3]])


def test_a_transfer_run_again_reads_its_record_afresh(sandboxes: tuple[Any, Any]) -> None:
    """A retry, or a dead letter retried after the record was fixed in Rackbeat: the kept copy served the
    first run only."""
    rackbeat, economic = sandboxes
    numbers = products(rackbeat, 4, "AGAIN")
    for number in numbers:
        event("product", number)
    transfer("product", numbers[0])  # the reader
    transfer("product", numbers[1])  # from the kept copy
    rackbeat.sandbox.update("products", numbers[1], {"name": "Fixed"}, suppress=True)
    rackbeat.sandbox.update("products", numbers[0], {"name": "Fixed too"}, suppress=True)
    rackbeat.sandbox.request_log.clear()

    transfer("product", numbers[1])
    transfer("product", numbers[0])

    assert rackbeat_reads(rackbeat, "products") == (0, [numbers[1], numbers[0]])
    assert economic_product(economic, numbers[1])["name"] == "Fixed"
    assert economic_product(economic, numbers[0])["name"] == "Fixed too"


def test_a_dead_reader_and_lost_transfers_never_leave_a_kind_busy(
    sandboxes: tuple[Any, Any], redis_client: redis.Redis, session_namespace: str
) -> None:
    rackbeat, _economic = sandboxes
    numbers = products(rackbeat, 2, "HEAL")
    queued = namespaced_key("readahead", "queued", "product", connection_id=session_namespace)
    # three transfers whose messages were lost long ago, still counted as waiting
    redis_client.zadd(queued, {"LOST-1": 1, "LOST-2": 1, "LOST-3": 1})
    event("product", numbers[0])
    rackbeat.sandbox.request_log.clear()

    transfer("product", numbers[0])

    assert rackbeat_reads(rackbeat, "products") == (0, [numbers[0]])  # a lone event after all
    assert redis_client.zrange(queued, 0, -1) == []

    # a reader killed while it held the kind: the others wait a bounded time, then read by themselves
    for index in range(3):
        event("product", f"OTHER-{index}")
    event("product", numbers[1])
    lock = namespaced_key("readahead", "lock", "product", connection_id=session_namespace)
    redis_client.set(lock, "a killed worker's", ex=60)
    rackbeat.sandbox.request_log.clear()

    assert transfer("product", numbers[1], store(wait_seconds=0.2)).outcome == "created"
    assert rackbeat_reads(rackbeat, "products") == (0, [numbers[1]])
    assert 0 < redis_client.ttl(lock) <= 60


def test_batching_turned_off_reads_every_record_by_itself(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, _economic = sandboxes
    numbers = products(rackbeat, 4, "OFF")
    for number in numbers:
        event("product", number)
    rackbeat.sandbox.request_log.clear()

    off = store(min_pending=0)
    for number in numbers:
        transfer("product", number, off)

    assert rackbeat_reads(rackbeat, "products") == (0, numbers)


# --- shared look-ups -----------------------------------------------------------------------------------


def customer_setup(rackbeat: Any, count: int) -> tuple[dict[str, Any], list[str]]:
    sandbox = rackbeat.sandbox
    group = sandbox.create("customer-groups", {"number": 61, "name": "Forhandlere"}, suppress=True)
    terms = sandbox.create(
        "payment-terms",
        {"name": "Netto 8", "type": "net", "maturity_days": 8, "description": "Kontant"},
        suppress=True,
    )
    employee = sandbox.create("employees", {"name": "Sælger Søren", "initials": "SS"}, suppress=True)
    keys = []
    for index in range(count):
        customer = sandbox.create(
            "customers",
            {
                "company_name": f"Kunde {index}",
                "payment_terms_id": terms["number"],
                "customer_group_id": group["number"],
                "employee_id": employee["number"],
                "address_country": "Danmark",
                "currency": "DKK",
            },
            suppress=True,
        )
        keys.append(str(customer["number"]))
    return terms, keys


def test_a_customer_s_look_ups_cost_no_call_while_they_are_in_step(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    _terms, keys = customer_setup(rackbeat, 4)
    transfer("customer", keys[0])  # brings the group, the terms and the sales person across
    for key in keys[1:]:
        event("customer", key)
    rackbeat.sandbox.request_log.clear()
    economic.sandbox.request_log.clear()

    results = [transfer("customer", key) for key in keys[1:]]

    assert [r.outcome for r in results] == ["created"] * 3
    assert [[d.outcome for d in r.dependencies] for r in results] == [["unchanged"] * 3] * 3
    rackbeat_paths = [e["path"] for e in rackbeat.sandbox.request_log.entries()]
    assert rackbeat_paths == ["/api/customers"]  # one list call for the three, no look-up read
    assert [(e["method"], e["path"]) for e in economic.sandbox.request_log.entries()] == [
        ("PUT", f"/customers/{key}") for key in keys[1:]
    ]
    assert sum(r.api_calls for r in results) / len(results) <= 2


def test_a_changed_payment_term_is_seen_by_the_next_customer_transfer_after_its_event(
    sandboxes: tuple[Any, Any],
) -> None:
    rackbeat, economic = sandboxes
    terms, keys = customer_setup(rackbeat, 2)
    transfer("customer", keys[0])
    transfer("customer", keys[1])
    rackbeat.sandbox.update("payment-terms", terms["number"], {"description": "Kontant ved levering"})
    event("payment_term", str(terms["number"]))  # its webhook
    rackbeat.sandbox.update("customers", int(keys[1]), {"company_name": "Kunde 1 A/S"})
    event("customer", keys[1])
    economic.sandbox.request_log.clear()

    result = transfer("customer", keys[1])

    [term] = [d for d in result.dependencies if d.kind == "payment_term"]
    assert term.outcome == "replaced"
    writes = [(e["method"], e["path"].rsplit("/", 1)[0]) for e in economic.sandbox.request_log.entries()]
    assert writes.index(("PUT", "/payment-terms")) < writes.index(("PUT", "/customers"))
    [stored] = [t for t in economic.sandbox.dump("payment-terms") if t["name"] == "Netto 8"]
    assert stored["description"] == "Kontant ved levering"


def test_a_change_the_embedded_view_shows_is_seen_even_without_its_event(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    terms, keys = customer_setup(rackbeat, 2)
    transfer("customer", keys[0])
    rackbeat.sandbox.update("payment-terms", terms["number"], {"name": "Netto 8 dage"})  # webhook lost

    result = transfer("customer", keys[1])

    [term] = [d for d in result.dependencies if d.kind == "payment_term"]
    assert term.outcome == "replaced"
    assert any(t["name"] == "Netto 8 dage" for t in economic.sandbox.dump("payment-terms"))


def test_a_look_up_read_before_an_event_is_never_used(
    sandboxes: tuple[Any, Any], redis_client: redis.Redis, session_namespace: str
) -> None:
    """A transfer that read the record, then finished after the record's webhook: its note is too old."""
    rackbeat, _economic = sandboxes
    terms, keys = customer_setup(rackbeat, 1)
    transfer("customer", keys[0])
    sync_store = store()
    assert sync_store.lookups is not None
    key = str(terms["number"])
    assert sync_store.lookups.current("payment_term", key, None, sync_store.bindings) is not None

    read_started = ReadClock(redis_client, session_namespace).now()
    event("payment_term", key)
    bound = sync_store.bindings.get("payment_term", key)
    assert bound is not None
    done = TransferResult("payment_term", key, "unchanged", bound.economic_key)
    LookupCache(redis_client, ttl_seconds=60, connection_id=session_namespace).note(
        done, {"number": terms["number"]}, read_started
    )

    assert sync_store.lookups.current("payment_term", key, None, sync_store.bindings) is None


def test_a_lot_reads_its_components_from_the_burst_s_list_call_unless_one_changed_since(
    sandboxes: tuple[Any, Any],
) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat, "Kits")
    components = [f"KC-{index}" for index in range(3)]
    for component in components:
        make_product(rackbeat, component, group, recommended_cost_price=1.0)
    make_kit(rackbeat, "KIT-RA", group, [(component, 2) for component in components])
    for component in components:
        event("product", component)
    transfer("product", components[0])  # one list call keeps the three components
    set_cost_price(rackbeat, components[2], 5.0)
    event("product", components[2])  # changed since: its kept copy is too old
    event("lot", "KIT-RA")
    rackbeat.sandbox.request_log.clear()

    assert transfer("lot", "KIT-RA").outcome == "created"

    _lists, singles = rackbeat_reads(rackbeat, "products")
    assert [key for key in singles if key.startswith("KC-")] == [components[2]]
    assert economic_product(economic, "KIT-RA")["costPrice"] == 2 * 1.0 + 2 * 1.0 + 2 * 5.0
