"""1,000 e-conomic orders created at once, polled and imported into Rackbeat at Rackbeat's default limit.

    .venv/bin/python -m bench.orders [--orders 1000] [--customers 40] [--products 60] [--concurrency 2]

The stack of `rbsync run` in sandbox mode (`tasks.harness.stack.Stack`: both sandboxes in this process, the
receiver, a prefork worker with `--concurrency` processes, no beat), with the APIs' default rate limits on
both sides: the Rackbeat sandbox refuses more than 480 requests a minute per token (a token bucket of 480
refilling at 8/s) and the worker keeps to the same budget less its headroom (`RBSYNC_RACKBEAT_REQUESTS_PER_
MINUTE=480`, `RBSYNC_RATE_LIMIT_HEADROOM`).

The company exists on both sides, as after the start-up sync: a generated catalogue (`sandbox.seed`,
`--customers` customers and `--products` products with their groups, units and payment terms) is loaded
quietly into e-conomic and into Rackbeat under the same numbers, with no bindings yet, so the first order
of each customer and product brings that dependency across (finds it in Rackbeat and binds it). Then
`--orders` sent orders (1 to 3 lines each, with discounts, a delivery address, a heading and a reference) are
written into e-conomic at once, and one `rbsync.poll_economic_orders` is sent to the worker, as beat would.

Printed: the time from the poll to the moment every order is in Rackbeat (found by the e-conomic number it
carries in `their_reference`), the API requests both sandboxes served per order (the Rackbeat ones split by
route), the imports' own `api_calls`, 429s, duplicates (two Rackbeat orders for one e-conomic order), lost
orders and dead letters, and the share of Rackbeat's request budget used over the import: the requests
Rackbeat served between the first and the last request of the run, divided by what its bucket allowed in
that time (its 480 at the start plus 8 a second). Exit status 1 unless every order is in Rackbeat once.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench._stackargs import add_stack_arguments, bench_stack_options, describe, stack_options
from tasks.harness.stack import Stack

SEED = 12
POLL_TASK = "rbsync.poll_economic_orders"
KIND = "order"
REFERENCE = "e-conomic order {}"
RACKBEAT_PER_MINUTE = 480
FIRST_ORDER = 5001
REQUEST_LOG_KEEPS = 10_000  # a sandbox's request log (sandbox.common.requestlog); a default run needs ~3,000
FINAL = {"created", "replaced", "unchanged", "dead-lettered", "ignored"}


@dataclass
class Figures:
    orders: int
    queued: int = 0
    seconds_to_all: float = math.nan
    in_rackbeat: int = 0
    duplicates: int = 0
    rackbeat_requests: int = 0
    rackbeat_by_route: Counter[str] = field(default_factory=Counter)
    rackbeat_window: float = math.nan
    economic_requests: int = 0
    rate_limited: int = 0
    import_calls: list[int] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    dependencies: Counter[str] = field(default_factory=Counter)
    dead_letters: list[str] = field(default_factory=list)

    @property
    def budget(self) -> float:
        """What Rackbeat's bucket allowed between the first and the last request: full at the start, then
        refilled at 480 a minute."""
        return RACKBEAT_PER_MINUTE + RACKBEAT_PER_MINUTE / 60 * self.rackbeat_window

    @property
    def budget_share(self) -> float:
        return (
            self.rackbeat_requests / self.budget if self.rackbeat_window == self.rackbeat_window else math.nan
        )


# ------------------------------------------------------------------------------------------- the company


def master_data(customers: int, products: int) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """The same company as e-conomic and as Rackbeat hold it (`sandbox.seed`): customers, products and
    what they refer to, no documents."""
    from sandbox.seed import SeedSize, generate

    size = SeedSize(
        products=products,
        lots=0,
        customers=customers,
        suppliers=0,
        orders=0,
        customer_invoices=0,
        supplier_invoices=0,
        projects=0,
        economic_orders=0,
        economic_invoices=0,
    )
    data = generate(seed=SEED, size=size)
    return data.economic(), data.rackbeat()


def sent_orders(count: int, economic: dict[str, list[dict]]) -> list[dict[str, Any]]:
    """`count` sent orders in e-conomic's shape, each for one of the customers, with 1 to 3 lines."""
    rng = random.Random(SEED)
    customers = [c for c in economic["customers"] if not c.get("barred")]
    products = [p for p in economic["products"] if not p.get("barred")]
    today = date.today()
    orders = []
    for index in range(count):
        customer = customers[index % len(customers)]
        lines = []
        for number, product in enumerate(rng.sample(products, rng.randint(1, 3)), start=1):
            line = {
                "lineNumber": number,
                "sortKey": number,
                "description": product["name"],
                "product": {"productNumber": product["productNumber"]},
                "quantity": rng.randint(1, 20),
                "unitNetPrice": product.get("salesPrice") or 10.0,
            }
            if rng.random() < 0.3:
                line["discountPercentage"] = rng.choice((5.0, 10.0, 15.0))
            lines.append(line)
        orders.append(
            {
                "orderNumber": FIRST_ORDER + index,
                "date": today.isoformat(),
                "currency": customer.get("currency") or "DKK",
                "customer": {"customerNumber": customer["customerNumber"]},
                "layout": {"layoutNumber": 19},
                "paymentTerms": {"paymentTermsNumber": customer["paymentTerms"]["paymentTermsNumber"]},
                "recipient": {
                    "name": customer["name"],
                    "address": customer.get("address"),
                    "zip": customer.get("zip"),
                    "city": customer.get("city"),
                    "country": customer.get("country"),
                    "vatZone": {"vatZoneNumber": customer["vatZone"]["vatZoneNumber"]},
                },
                "delivery": {
                    "address": f"Lager {index % 7 + 1}",
                    "zip": customer.get("zip"),
                    "city": customer.get("city"),
                    "deliveryDate": (today + timedelta(days=3 + index % 10)).isoformat(),
                },
                "notes": {"heading": f"Ordre {FIRST_ORDER + index}"},
                "references": {"other": f"PO-{rng.randint(1000, 9999)}"},
                "lines": lines,
            }
        )
    return [{k: v for k, v in o.items() if v is not None} for o in orders]


# ---------------------------------------------------------------------------------------------- the run


def _api_entries(sandbox: Any) -> list[dict[str, Any]]:
    return [entry for entry in sandbox.request_log.entries() if not entry["path"].startswith("/_sandbox")]


def _route(path: str) -> str:
    """`/api/orders/12` -> `orders/{n}`, `/api/customers/5` -> `customers/{n}`, `/api/orders` -> `orders`."""
    parts = [part for part in path.removeprefix("/api/").split("/") if part]
    return "/".join(parts[:1] + ["{n}" for _ in parts[1:2]] + parts[2:])


def _carried(rackbeat: Any) -> Counter[str]:
    return Counter(str(order.get("their_reference")) for order in rackbeat.dump("orders"))


def run(
    orders: int, customers: int, products: int, concurrency: int, stack_kwargs: dict[str, Any] | None = None
) -> Figures:
    from tasks.celery import app
    from tasks.deadletter import DeadLetterStore
    from tasks.events import read_events
    from tasks.redis import get_redis
    from tasks.settings import get_settings

    options = bench_stack_options(
        rate_limits=True,
        concurrency=concurrency,
        extra_env={"RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE": str(RACKBEAT_PER_MINUTE)},
        **(stack_kwargs or {}),
    )
    figures = Figures(orders)
    with Stack(options) as stack:
        rackbeat, economic = stack.rackbeat_sandbox, stack.economic_sandbox
        economic_data, rackbeat_data = master_data(customers, products)
        economic.load(economic_data)
        rackbeat.load(rackbeat_data)
        documents = sent_orders(orders, economic_data)
        wanted = {REFERENCE.format(d["orderNumber"]) for d in documents}
        redis_client = get_redis()
        last = redis_client.xrevrange(_stream(), count=1)
        after = str(last[0][0]) if last else "0"
        time.sleep(1.5)  # the receiver's start-up calls are over; let the bucket refill before counting
        rackbeat.request_log.clear()
        economic.request_log.clear()

        economic.load({"orders.sent": documents})  # created at once
        started = time.monotonic()
        report = app.send_task(POLL_TASK).get(timeout=300)
        figures.queued = int(_queued(report))
        timeout = 120 + 3.0 * orders
        while time.monotonic() - started < timeout:
            carried = _carried(rackbeat)
            if all(carried[reference] for reference in wanted):
                figures.seconds_to_all = time.monotonic() - started
                break
            time.sleep(0.25)
        _settle(stack)

        carried = _carried(rackbeat)
        figures.in_rackbeat = sum(1 for reference in wanted if carried[reference])
        figures.duplicates = sum(carried[reference] - 1 for reference in wanted if carried[reference] > 1)
        served = _api_entries(rackbeat)
        if len(served) >= REQUEST_LOG_KEEPS:
            print(f"warning: the Rackbeat sandbox keeps {REQUEST_LOG_KEEPS} requests; figures undercount")
        figures.rackbeat_requests = len(served)
        figures.rackbeat_by_route = Counter(f"{e['method']} {_route(e['path'])}" for e in served)
        figures.rate_limited = sum(1 for e in served if e.get("status") == 429)
        stamps = sorted(datetime.fromisoformat(e["at"]) for e in served)
        if stamps:
            figures.rackbeat_window = (stamps[-1] - stamps[0]).total_seconds()
        economic_served = _api_entries(economic)
        figures.economic_requests = len(economic_served)
        figures.rate_limited += sum(1 for e in economic_served if e.get("status") == 429)
        for _, event in read_events(redis_client, after=after, count=1_000_000):
            if event.get("kind") == KIND and not event.get("via") and event.get("outcome") in FINAL:
                figures.outcomes[str(event["outcome"])] += 1
                figures.import_calls.append(int(event.get("api_calls") or 0))
            elif event.get("via") and event.get("outcome") in FINAL:
                figures.dependencies[str(event.get("kind"))] += 1
        for entry in DeadLetterStore(redis_client, get_settings().connection_id).list():
            fields = entry.get("field_errors") or {}
            what = "; ".join(f"{n}: {', '.join(p)}" for n, p in sorted(fields.items())) or entry.get("error")
            figures.dead_letters.append(f"{entry.get('kind')} {entry.get('key')}: {what}"[:160])
    return figures


def _stream() -> str:
    from tasks.events import stream_key

    return stream_key()


def _queued(report: Any) -> int:
    """How many imports the poll queued, from its report (a dict; its shape is the poll's)."""
    if isinstance(report, dict):
        if "queued" in report:
            return int(report["queued"])
        kinds = report.get("kinds")
        if isinstance(kinds, dict):
            return sum(int((v or {}).get("queued", 0)) for v in kinds.values() if isinstance(v, dict))
    return 0


def _settle(stack: Stack, timeout: float = 60) -> None:
    """Wait until no import is queued, running or pending (late duplicates and retries finish)."""
    from tasks.redis import get_redis
    from tasks.settings import get_settings

    client = get_redis()
    settings = get_settings()
    prefix, namespace = settings.broker_key_prefix, settings.connection_id
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = sum(client.llen(f"{prefix}{queue}") for queue in ("transfers", "polls"))
        unacked = client.hlen(f"{prefix}unacked")
        pending = next(client.scan_iter(match=f"rbsync:{namespace}:pending:*", count=1000), None)
        if not queued and not unacked and pending is None:
            return
        time.sleep(0.25)


# ------------------------------------------------------------------------------------------- the table


def table(figures: Figures) -> str:
    n = max(1, figures.orders)
    calls = statistics.mean(figures.import_calls) if figures.import_calls else math.nan
    per_minute = (
        figures.rackbeat_requests / figures.rackbeat_window * 60 if figures.rackbeat_window > 0 else math.nan
    )
    lines = [
        f"orders created in e-conomic at once: {figures.orders}; imports the poll queued: {figures.queued}",
        f"time from the poll until all were in Rackbeat: {figures.seconds_to_all:.1f} s"
        f" ({figures.in_rackbeat}/{figures.orders} in Rackbeat, {figures.duplicates} duplicates)",
        f"Rackbeat requests: {figures.rackbeat_requests} = {figures.rackbeat_requests / n:.2f} per order,"
        f" over {figures.rackbeat_window:.1f} s = {per_minute:.0f}/min",
        f"share of Rackbeat's budget used: {figures.budget_share:.1%}"
        f" ({figures.rackbeat_requests} of the {figures.budget:.0f} its bucket allowed: 480 at the start"
        " + 8/s over the window)",
        f"e-conomic requests: {figures.economic_requests} = {figures.economic_requests / n:.2f} per order",
        f"429s: {figures.rate_limited}",
        f"the imports' own api_calls: mean {calls:.2f} per order (dependencies brought across inside them"
        " included)",
        f"import outcomes: {dict(figures.outcomes)};"
        f" dependencies brought across: {dict(figures.dependencies)}",
        "Rackbeat requests by route: "
        + ", ".join(f"{route} {count}" for route, count in figures.rackbeat_by_route.most_common()),
    ]
    if figures.dead_letters:
        lines += [
            f"dead letters ({len(figures.dead_letters)}):",
            *(f"  {d}" for d in figures.dead_letters[:10]),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orders", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000, help="sent orders created at once (default 1000)")
    parser.add_argument("--customers", type=int, default=40, help="customers they are for (default 40)")
    parser.add_argument("--products", type=int, default=60, help="products they sell (default 60)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    stack_kwargs = stack_options(args)
    print(
        f"orders: {args.orders} sent e-conomic orders for {args.customers} customers and {args.products}"
        f" products, {describe(args)}, Rackbeat at {RACKBEAT_PER_MINUTE}/min ...",
        flush=True,
    )
    started = datetime.now(UTC)
    figures = run(args.orders, args.customers, args.products, args.concurrency, stack_kwargs)
    print()
    print(table(figures))
    print(f"\nwall: {(datetime.now(UTC) - started).total_seconds():.0f} s including start-up and set-up")
    ok = figures.in_rackbeat == figures.orders and figures.duplicates == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
