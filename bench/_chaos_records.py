"""The records a chaos scenario sends, and the count of what became of them in e-conomic.

(A leading underscore keeps `python -m bench` from running it; `bench.chaos` and tests/chaos use it.)

A `Batch` is one scenario's records: a product group, a customer group and a payment term (dependencies,
each transferred once for many records), N products and a few customers. Records are written straight
into the Rackbeat sandbox, as a person working in Rackbeat would, so Rackbeat's own webhook deliveries
drive the receiver (or, with `quietly`, nothing fires and the scenario posts the deliveries itself). A
share of the products is changed after it was created, so "arrived" means the *final* values, not the
first ones.

`tally()` decides for every record:

- **arrived**: e-conomic holds it with the values Rackbeat holds now (name, price, group, days of credit);
- **duplicated**: e-conomic records beyond one for it, or creating writes beyond one, whichever is more
  (creating writes: distinct idempotency keys the e-conomic sandbox answered 201 for that record, so an
  idempotent replay of the first answer is not a second creation);
- **dead-lettered**: not arrived and an open dead-letter entry (new or retrying) names it;
- **lost**: neither arrived nor dead-lettered.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from typing import Any

_batch_numbers = count(1)
WRITE_METHODS = ("POST", "PUT")
CUSTOMER_COUNTRY = "Danmark"


@dataclass
class Batch:
    """One scenario's records; Rackbeat numbers of the customers and the terms are known once created."""

    tag: str
    product_count: int
    customer_count: int
    serial: int = field(default_factory=lambda: next(_batch_numbers))
    terms: int | None = None
    customers: list[int] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)

    @property
    def product_group(self) -> int:
        return 7000 + self.serial

    @property
    def customer_group(self) -> int:
        return 70 + self.serial

    @property
    def terms_name(self) -> str:
        return f"Chaos {self.tag} net"

    @property
    def products(self) -> list[str]:
        return [f"CH{self.tag}-{index:05d}" for index in range(1, self.product_count + 1)]

    def customer_name(self, index: int) -> str:
        return f"Chaos {self.tag} customer {index}"

    @property
    def sent(self) -> int:
        return 3 + self.product_count + self.customer_count


def plan(tag: str, records: int) -> Batch:
    """A batch of about `records` records: the three dependencies, one customer per 20 and products."""
    customers = max(1, records // 20)
    return Batch(tag=tag.upper(), product_count=max(1, records - customers - 3), customer_count=customers)


# ------------------------------------------------------------------------------------------ writing


def product_body(batch: Batch, number: str, version: int) -> dict[str, Any]:
    serial = int(number.rsplit("-", 1)[1])
    return {
        "number": number,
        "name": f"Chaos item {number} v{version}",
        "group_id": batch.product_group,
        "sales_price": round(10 + serial * 0.25 + version * 100, 2),
    }


def create_dependencies(rackbeat: Any, batch: Batch, *, quietly: bool = False) -> None:
    rackbeat.create(
        "product-groups", {"number": batch.product_group, "name": f"Chaos {batch.tag}"}, suppress=quietly
    )
    rackbeat.create(
        "customer-groups", {"number": batch.customer_group, "name": f"Chaos {batch.tag}"}, suppress=quietly
    )
    terms = rackbeat.create(
        "payment-terms", {"name": batch.terms_name, "type": "net", "maturity_days": 17}, suppress=quietly
    )
    batch.terms = int(terms["number"])


def create_product(rackbeat: Any, batch: Batch, number: str, *, quietly: bool = False) -> None:
    rackbeat.create("products", product_body(batch, number, 1), suppress=quietly)


def change_product(rackbeat: Any, batch: Batch, number: str, *, quietly: bool = False) -> None:
    body = product_body(batch, number, 2)
    rackbeat.update(
        "products", number, {"name": body["name"], "sales_price": body["sales_price"]}, suppress=quietly
    )
    batch.changed.add(number)


def create_customer(rackbeat: Any, batch: Batch, index: int, *, quietly: bool = False) -> None:
    assert batch.terms is not None, "create the dependencies first"
    record = rackbeat.create(
        "customers",
        {
            "company_name": batch.customer_name(index),
            "payment_terms_id": batch.terms,
            "customer_group_id": batch.customer_group,
            "address_country": CUSTOMER_COUNTRY,
            "currency": "DKK",
            "contact_email": f"chaos{index}@example.com",
        },
        suppress=quietly,
    )
    batch.customers.append(int(record["number"]))


@dataclass(frozen=True)
class Write:
    """One write into Rackbeat; `change` writes run after every creation has finished."""

    run: Callable[[], None]
    change: bool = False


def record_writes(rackbeat: Any, batch: Batch, *, quietly: bool = False) -> list[Write]:
    """The writes of a batch after its dependencies: every product created with the customers spread
    among them, then every fourth product changed (a second version its final values must show)."""
    writes: list[Write] = []
    numbers = batch.products
    every = max(1, len(numbers) // max(1, batch.customer_count))
    customers = 0
    for index, number in enumerate(numbers):
        writes.append(Write(lambda number=number: create_product(rackbeat, batch, number, quietly=quietly)))
        if index % every == 0 and customers < batch.customer_count:
            customers += 1
            writes.append(Write(lambda i=customers: create_customer(rackbeat, batch, i, quietly=quietly)))
    for i in range(customers + 1, batch.customer_count + 1):
        writes.append(Write(lambda i=i: create_customer(rackbeat, batch, i, quietly=quietly)))
    writes.extend(
        Write(lambda number=number: change_product(rackbeat, batch, number, quietly=quietly), change=True)
        for number in numbers[::4]
    )
    return writes


def run_writes(
    writes: Sequence[Write], *, threads: int = 4, per_second: float = 0.0, deadline: float = 600.0
) -> None:
    """Run the writes, `threads` at a time, paced at `per_second` when that is above 0. The changes start
    once every creation has finished, so no product is changed before it exists."""
    started = time.monotonic()
    done = 0
    for phase in ([w for w in writes if not w.change], [w for w in writes if w.change]):
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = []
            for write in phase:
                if per_second > 0:
                    time.sleep(max(0.0, started + done / per_second - time.monotonic()))
                if time.monotonic() - started > deadline:
                    raise TimeoutError(f"writing the records took more than {deadline:.0f} s")
                futures.append(pool.submit(write.run))
                done += 1
            for future in futures:
                future.result()


# --------------------------------------------------------------------------------------- deliveries


def deliveries(batch: Batch) -> list[tuple[str, str]]:
    """(event, key) of the delivery Rackbeat would make for each record of the batch (and each change)."""
    found = [
        ("product_group.created", str(batch.product_group)),
        ("customer_group.created", str(batch.customer_group)),
        ("payment_terms.created", str(batch.terms)),
    ]
    found += [("product.created", number) for number in batch.products]
    found += [("customer.created", str(number)) for number in batch.customers]
    found += [("product.updated", number) for number in sorted(batch.changed)]
    return found


# ------------------------------------------------------------------------------------------- tally


@dataclass
class Tally:
    sent: int = 0
    arrived: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    lost: int = 0
    creating_writes: int = 0
    superseded: int = 0
    request_log_full: bool = False
    problems: list[str] = field(default_factory=list)
    lost_records: list[tuple[str, str]] = field(default_factory=list)  # (kind, Rackbeat key)


@dataclass(frozen=True)
class _Expected:
    kind: str
    key: str  # the Rackbeat key (as the DLQ and the transfers name it)
    identity: Any  # how e-conomic's records and our writes name it
    check: Callable[[dict[str, Any]], str | None]  # None when an e-conomic record has the final values


def _same(label: str, got: Any, want: Any) -> str | None:
    return None if got == want else f"{label} {got!r} != {want!r}"


def _expected(rackbeat: Any, batch: Batch) -> list[_Expected]:
    expected: list[_Expected] = []
    group_name = f"Chaos {batch.tag}"
    expected.append(
        _Expected(
            "product_group",
            str(batch.product_group),
            batch.product_group,
            lambda row: _same("name", row.get("name"), group_name),
        )
    )
    expected.append(
        _Expected(
            "customer_group",
            str(batch.customer_group),
            batch.customer_group,
            lambda row: _same("name", row.get("name"), group_name),
        )
    )
    expected.append(
        _Expected(
            "payment_term",
            str(batch.terms),
            batch.terms_name,
            lambda row: _same("daysOfCredit", row.get("daysOfCredit"), 17),
        )
    )
    for number in batch.products:
        record = rackbeat.get("products", number) or {}

        def check(row: dict[str, Any], record: dict[str, Any] = record) -> str | None:
            group = (row.get("productGroup") or {}).get("productGroupNumber")
            return (
                _same("name", row.get("name"), record.get("name"))
                or _same("salesPrice", row.get("salesPrice"), round(float(record.get("sales_price") or 0), 2))
                or _same("group", group, record.get("group_id"))
            )

        expected.append(_Expected("product", number, number, check))
    for number in batch.customers:
        record = rackbeat.get("customers", number) or {}
        name = record.get("company_name")

        def check_customer(row: dict[str, Any], name: Any = name, number: int = number) -> str | None:
            group = (row.get("customerGroup") or {}).get("customerGroupNumber")
            return _same("customerNumber", row.get("customerNumber"), number) or _same(
                "group", group, batch.customer_group
            )

        expected.append(_Expected("customer", str(number), name, check_customer))
    return expected


def _economic_rows(economic: Any, batch: Batch) -> dict[tuple[str, Any], list[dict[str, Any]]]:
    """e-conomic's records of the batch, by (kind, identity); more than one in a list is a duplicate."""
    rows: dict[tuple[str, Any], list[dict[str, Any]]] = {}

    def add(kind: str, identity: Any, row: dict[str, Any]) -> None:
        rows.setdefault((kind, identity), []).append(row)

    products = set(batch.products)
    for row in economic.dump("products"):
        if row.get("productNumber") in products:
            add("product", row["productNumber"], row)
    for row in economic.dump("product-groups"):
        if row.get("productGroupNumber") == batch.product_group:
            add("product_group", batch.product_group, row)
    for row in economic.dump("customer-groups"):
        if row.get("customerGroupNumber") == batch.customer_group:
            add("customer_group", batch.customer_group, row)
    for row in economic.dump("payment-terms"):
        if row.get("name") == batch.terms_name:
            add("payment_term", batch.terms_name, row)
    prefix = f"Chaos {batch.tag} customer "
    for row in economic.dump("customers"):  # by name: a customer POSTed twice would get two numbers
        if str(row.get("name") or "").startswith(prefix):
            add("customer", row["name"], row)
    return rows


def write_identity(entry: dict[str, Any]) -> tuple[str, Any] | None:
    """(kind, identity) of the record a write to e-conomic was about, from its path and body."""
    body = entry.get("body")
    if not isinstance(body, dict):
        return None
    path = str(entry.get("path") or "")
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "productgroups" in path.lower():  # productsapi: POST to the collection, the id in the body
        return ("product_group", body.get("id"))
    if path.startswith("/products"):
        return ("product", body.get("productNumber"))
    if path.startswith("/customer-groups"):  # PUT at the number; the body need not repeat it
        number = body.get("customerGroupNumber") or (int(last) if last.isdigit() else None)
        return ("customer_group", number)
    if path.startswith("/payment-terms"):
        return ("payment_term", body.get("name"))
    if path.startswith("/customers"):
        return ("customer", body.get("name"))
    return None


def creating_writes(economic: Any) -> tuple[Counter[tuple[str, Any]], bool]:
    """Creating writes per (kind, identity): distinct idempotency keys answered 201 (a replayed answer
    shares its key with the write that created); and whether the request log was full (then early writes
    may have fallen off it and the count is a lower bound)."""
    log = economic.request_log
    entries = log.entries()
    keys: dict[tuple[str, Any], set[str]] = {}
    for position, entry in enumerate(entries):
        if entry.get("method") not in WRITE_METHODS or entry.get("status") != 201:
            continue
        identity = write_identity(entry)
        if identity is None:
            continue
        keys.setdefault(identity, set()).add(entry.get("idempotency_key") or f"no-key-{position}")
    maxlen = getattr(getattr(log, "_entries", None), "maxlen", None)
    return Counter({identity: len(found) for identity, found in keys.items()}), bool(
        maxlen and len(entries) >= maxlen
    )


def tally(stack: Any, batch: Batch) -> Tally:
    """Count what became of every record of the batch (see the module docstring)."""
    from tasks.deadletter import OPEN_STATUSES, DeadLetterStore

    result = Tally(sent=batch.sent)
    rows = _economic_rows(stack.economic, batch)
    creations, result.request_log_full = creating_writes(stack.economic)
    store = DeadLetterStore(stack.redis, stack.connection_id)
    for expected in _expected(stack.rackbeat, batch):
        found = rows.get((expected.kind, expected.identity), [])
        made = creations.get((expected.kind, expected.identity), 0)
        result.creating_writes += made
        extra = max(len(found), made) - 1
        if extra > 0:
            result.duplicated += extra
            result.problems.append(
                f"{expected.kind} {expected.key}: {len(found)} e-conomic records, {made} creating writes"
            )
        # Arrived: one of its e-conomic records has the final values (any other is counted above).
        mismatches = [problem for row in found if (problem := expected.check(row)) is not None]
        arrived = len(mismatches) < len(found)
        entries = store.entries_for_record(expected.kind, expected.key)
        open_entries = [e for e in entries if e.get("status") in OPEN_STATUSES]
        result.superseded += sum(1 for e in entries if e.get("status") == "superseded")
        if arrived:
            result.arrived += 1
        elif open_entries:
            result.dead_lettered += 1
            entry = open_entries[0]
            result.problems.append(
                f"{expected.kind} {expected.key}: dead-lettered ({entry.get('classification')}: "
                f"{entry.get('error_class')}: {str(entry.get('error'))[:120]})"
            )
        else:
            result.lost += 1
            result.lost_records.append((expected.kind, expected.key))
            why = f"wrong values: {mismatches[0]}" if mismatches else "not in e-conomic"
            result.problems.append(f"{expected.kind} {expected.key}: lost ({why})")
    return result
