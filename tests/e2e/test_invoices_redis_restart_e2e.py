"""Customer and supplier invoices exactly once while Redis, the broker AND the store of bindings and
posting claims, is killed and restarted mid-run (issue 10).

The chaos stack of `bench.invoices` (the same code, so the two cannot drift): its own `redis-server` with
an AOF fsynced on every write (never the shared Redis), both sandboxes, the real receiver and a prefork
worker of 2 processes, a visibility timeout of 5 s. 40 customer and 15 supplier invoices are booked in
Rackbeat quietly; every `booked` delivery is posted to the receiver 3 times, shuffled, and one the receiver
does not take (its 503 while Redis is down) is delivered again as Rackbeat does. While they stream in, a
pool process is SIGKILLed in the middle of a transfer, and later Redis is SIGKILLed while transfers run,
kept down 2 s and started again on its AOF. Counted in e-conomic at the end: every invoice once, booked,
at Rackbeat's total; no dead letter, not even one a later delivery made good, but for the false alarm an
outage is known to raise (`unexplained_dead_letters`).

A worker that dies unbidden is started again, as compose and `rbsync run` do (Celery 5.7's reconnect after
a broker loss can end the worker: "Unrecoverable error: AttributeError ... 'hostname'" while it restores
the messages it held); the report names it.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench._chaos_stack import ChaosStack, wait
from bench.invoices import (
    EVENT,
    KIND,
    SUPPLIER_EVENT,
    SUPPLIER_KIND,
    EventWatcher,
    InvoiceSettings,
    Redeliveries,
    book_invoice,
    book_supplier_invoice,
    create_company,
    create_suppliers,
    dead_letter_history,
    post_each,
    restart_redis,
    settle,
    supplier_tally,
    tally,
)
from tests.e2e.prerun_gate import GATE_ENV, held_file, hold_file

pytestmark = pytest.mark.slow

CUSTOMER_INVOICES, SUPPLIER_INVOICES = 40, 15
DELIVERY_RATE = 20.0  # deliveries per second: 165 of them take about 8 s
# A short time limit: a record lock left by a killed transfer expires after it + 5 s.
SETTINGS = InvoiceSettings(transfer_time_limit_seconds=6, http_timeout_seconds=2.0)


def leftovers(stack: ChaosStack) -> str:
    """The pending markers and unacked messages a run that did not settle left in Redis (for its report)."""
    client = stack.redis
    pending = {
        name.rsplit(":", 2)[-2] + " " + name.rsplit(":", 1)[-1]: (client.get(name), client.ttl(name))
        for name in client.scan_iter(match=stack.key("pending", "*"), count=1000)
    }
    unacked = client.hkeys(f"{stack.broker_prefix}unacked")
    return f"pending markers {pending}; unacked delivery tags {unacked}"


def unexplained_dead_letters(stack: ChaosStack, watcher: EventWatcher) -> list[str]:
    """The run's dead-lettered transfers other than the one false alarm a Redis outage is known to raise: a
    `timeout` entry a later success of the same invoice closed. (While the worker's main process reconnects
    to the broker it does not read its pool's results, so a transfer that finished meanwhile still counts as
    running and passes its time limit when the main process is back; Celery then reports a hard time limit
    for it. The invoice is in e-conomic once; the entry is closed by the next transfer of the invoice.)"""
    from tasks.deadletter import DeadLetterStore

    store = DeadLetterStore(stack.redis, stack.connection_id)
    unexplained = []
    for (kind, key), entry_id in watcher.dead_letters:
        entry = store.get(entry_id) or {}
        if entry.get("classification") == "timeout" and entry.get("status") in ("resolved", "superseded"):
            continue
        unexplained.append(f"{kind} {key}: {entry.get('classification')} {entry.get('status')}")
    return unexplained


def test_every_invoice_is_posted_once_through_duplicates_a_killed_transfer_and_a_redis_restart() -> None:
    with ChaosStack(SETTINGS, label="invoices-redis") as stack:
        company = create_company(stack.rackbeat, customers=5, products=4)
        refs = [
            (KIND, book_invoice(stack.rackbeat, company, n, quietly=True)) for n in range(CUSTOMER_INVOICES)
        ]
        create_suppliers(stack.rackbeat, company, suppliers=3, products=3)
        refs += [
            (SUPPLIER_KIND, book_supplier_invoice(stack.rackbeat, company, n, quietly=True))
            for n in range(SUPPLIER_INVOICES)
        ]
        events = {KIND: EVENT, SUPPLIER_KIND: SUPPLIER_EVENT}
        items = [(events[kind], number) for kind, number in refs for _ in range(3)]
        random.Random(10).shuffle(items)
        # e-conomic answers a little late, so a transfer is still in its calls when it is killed
        stack.economic.faults.set(latency_ms=40)
        watcher = EventWatcher(stack).start()
        rackbeat = Redeliveries(stack)
        started = time.monotonic()

        def deliver() -> None:
            for first in range(0, len(items), 2):
                time.sleep(max(0.0, started + first / DELIVERY_RATE - time.monotonic()))
                rackbeat.deliver(items[first : first + 2])
            rackbeat.finish()

        delivering = threading.Thread(target=deliver, name="deliveries", daemon=True)
        delivering.start()
        time.sleep(2.5)  # a third of the deliveries in
        running = wait(stack.in_flight, 10, 0.01) or []
        assert running, "no transfer was running to be killed"
        stack.kill_pool_process(running[0]["pid"])
        time.sleep(max(0.0, started + 5.0 - time.monotonic()))  # two thirds in
        restart = restart_redis(stack, kill=True, down_seconds=2.0)
        delivering.join(timeout=60)
        stack.economic.faults.set(latency_ms=0)
        settled, _ = settle(stack, watcher, timeout=60, quiet=1.0)
        left = "" if settled else f"still to do: {stack.busy()}; {leftovers(stack)}"
        watcher.stop()
        customers, suppliers = tally(stack, company), supplier_tally(stack, company)
        dead_lettered = dead_letter_history(stack, watcher)  # even one a later delivery made good
        unexplained = unexplained_dead_letters(stack, watcher)
        report = "\n".join(
            [
                f"killed mid-transfer: {running[0]['kind']} {running[0]['key']}; Redis restart: {restart}",
                f"deliveries: {dict(rackbeat.answers)}, {rackbeat.redelivered} delivered again,"
                f" {len(rackbeat.given_up)} given up",
                left,
                *dead_lettered,
                *(f"the worker died and was started again: {death}" for death in watcher.worker_deaths),
                *customers.problems,
                *customers.letters,
                *suppliers.problems,
                *suppliers.letters,
            ]
        )
        if unexplained or not (settled and customers.exact and suppliers.exact):
            stack.keep_logs = True
            report += f"\nlogs kept in {stack.log_dir}"
        print(report)

    # the faults were dealt where they matter: Redis went while transfers ran and deliveries came in
    assert restart.running, report
    assert rackbeat.redelivered > 0 and rackbeat.given_up == [], report
    assert settled, report
    assert (customers.booked_once, customers.duplicates, customers.lost) == (CUSTOMER_INVOICES, 0, 0), report
    assert (suppliers.booked_once, suppliers.duplicates, suppliers.lost) == (SUPPLIER_INVOICES, 0, 0), report
    assert customers.totals_mismatched == suppliers.totals_mismatched == 0, report
    assert customers.left_as_draft == suppliers.left_as_draft == 0, report
    assert customers.master_duplicates == suppliers.master_duplicates == 0, report  # customers, products...
    assert customers.open_dead_letters == 0, report  # of any kind
    assert unexplained == [], report  # none, even one a later delivery made good, but the known false alarm


def test_invoices_whose_transfers_start_while_redis_is_down_are_transferred_once_redis_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment the Redis restart above once caught (an invoice lost): pool processes start transfers while
    Redis is down. Celery wrote a task's STARTED state before the task's own code ran; failing there was an
    error outside the task body, which Celery answered by acknowledging the message, so the transfer never
    ran and the receiver's pending marker coalesced every later delivery onto it. Here both pool processes
    are held just before that write (tests/e2e/prerun_gate.py; with both busy, the worker's consumer is not
    waiting on Redis, so it survives the loss as it did in the run that lost the invoice), Redis is killed,
    and they are let go."""
    monkeypatch.setenv(GATE_ENV, str(tmp_path))
    settings = replace(SETTINGS, worker_includes=("tests.e2e.prerun_gate",))
    with ChaosStack(settings, label="invoices-start") as stack:
        company = create_company(stack.rackbeat, customers=1, products=2)
        numbers = [book_invoice(stack.rackbeat, company, serial, quietly=True) for serial in (1, 3)]
        for number in numbers:
            hold_file(tmp_path, KIND, number).touch()
        watcher = EventWatcher(stack).start()

        assert post_each(stack, [(EVENT, number) for number in numbers]) == [202, 202]
        held = wait(lambda: all(held_file(tmp_path, KIND, n).exists() for n in numbers), 30, 0.01)
        assert held, "the two transfers never started"
        stack.stop_redis(kill=True)  # both transfers are past task_prerun, before their STARTED state
        for number in numbers:
            hold_file(tmp_path, KIND, number).unlink()
        time.sleep(1.5)
        stack.start_redis()
        settled, _ = settle(stack, watcher, timeout=60, quiet=1.0)
        left = "" if settled else f"still to do: {stack.busy()}; {leftovers(stack)}"
        watcher.stop()
        counted = tally(stack, company)
        report = "\n".join(
            [
                left,
                *dead_letter_history(stack, watcher),
                *(f"the worker died and was started again: {death}" for death in watcher.worker_deaths),
                *counted.problems,
                *counted.letters,
            ]
        )
        if not (settled and counted.exact and counted.booked_once == len(numbers)):
            stack.keep_logs = True
            report += f"\nlogs kept in {stack.log_dir}"
        print(report)

    assert settled, report
    assert (counted.booked_once, counted.duplicates, counted.lost) == (2, 0, 0), report
    assert counted.dead_lettered == 0 and counted.open_dead_letters == 0, report
