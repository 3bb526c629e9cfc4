"""End to end: products written to the Rackbeat sandbox until they are visible in the e-conomic sandbox.

    .venv/bin/python -m bench.e2e_products --products 200

For N products created in the Rackbeat sandbox (webhooks to the real receiver, real worker processes)
it measures the webhook-to-visible latency (from the Rackbeat write to the transfer's event in the
stream; each product is then confirmed in the e-conomic sandbox), the throughput and the API calls per
transfer. It runs twice, each time on a fresh stack:

- **unthrottled**: sandboxes at zero latency, their rate limits off, our client-side budgets raised, so
  the figures show the service itself;
- **default limits**: the sandboxes enforce Rackbeat's 480 requests/minute and e-conomic's 10000/60 s
  bucket, and the workers use the default budgets, so the figures show what a real account would see.

The products are written straight into the Rackbeat sandbox (which fires its webhooks as for any
write), like a person working in Rackbeat's UI: they spend none of the API budget, so in the limited run
the integration's own reads are what meets Rackbeat's limit.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tasks.harness.localredis import free_port
from tasks.harness.stack import Stack, StackOptions

GROUP = (7001, "Benchmark goods")
WAIT_SECONDS_PER_PRODUCT = 2.0


@dataclass
class RunFigures:
    name: str
    products: int
    transferred: int
    visible: int
    wall_seconds: float
    latencies: list[float]
    api_calls: list[int]
    dead_lettered: int
    rackbeat_requests: int
    economic_requests: int
    rate_limited_responses: int

    @property
    def throughput(self) -> float:
        return self.transferred / self.wall_seconds if self.wall_seconds else 0.0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a latency that really happened)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def table(runs: list[RunFigures]) -> str:
    header = (
        f"{'run':<16} {'N':>5} {'ok':>5} {'seen':>5} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7}"
        f" {'per s':>7} {'calls/tr':>8} {'RB req':>7} {'EC req':>7} {'429s':>5} {'DLQ':>4}"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        calls = statistics.mean(run.api_calls) if run.api_calls else math.nan
        lines.append(
            f"{run.name:<16} {run.products:>5} {run.transferred:>5} {run.visible:>5}"
            f" {percentile(run.latencies, 0.50):>7.2f} {percentile(run.latencies, 0.95):>7.2f}"
            f" {percentile(run.latencies, 0.99):>7.2f} {max(run.latencies, default=math.nan):>7.2f}"
            f" {run.throughput:>7.1f} {calls:>8.2f} {run.rackbeat_requests:>7} {run.economic_requests:>7}"
            f" {run.rate_limited_responses:>5} {run.dead_lettered:>4}"
        )
    lines.append("")
    lines.append(
        "latency: Rackbeat write -> transfer event in the stream (the product is then in e-conomic);"
    )
    lines.append(
        "per s: transfers per second from the first write to the last event; calls/tr: API calls the"
    )
    lines.append(
        "worker made per product transfer; RB/EC req: API requests the sandboxes served (the products are"
    )
    lines.append("written as in Rackbeat's UI, not through the API); 429s: rate-limited answers among them.")
    return "\n".join(lines)


def run_once(
    name: str, products: int, rate_limits: bool, concurrency: int, writers: int, write_rate: float
) -> RunFigures:
    from tasks.events import read_events
    from tasks.redis import get_redis

    options = StackOptions(
        sandbox=True,
        beat=False,
        seed_size=None,
        rate_limits=rate_limits,
        concurrency=concurrency,
        worker_loglevel="WARNING",
        web_port=free_port(),
    )
    with Stack(options) as stack:
        rackbeat = stack.rackbeat_sandbox
        economic = stack.economic_sandbox
        redis_client = get_redis()
        # The group first, so every product transfer measures a product (its dependency is in place).
        rackbeat.create("product-groups", {"number": GROUP[0], "name": GROUP[1]})
        last_id = _wait_for(redis_client, read_events, "0", {("product_group", str(GROUP[0]))}, 60)[0]
        baseline = _sandbox_requests(stack)

        numbers = [f"BENCH-{index:06d}" for index in range(1, products + 1)]
        written_at: dict[str, float] = {}

        def write(number: str) -> None:
            body = {
                "number": number,
                "name": f"Benchmark item {number}",
                "group": GROUP[0],
                "sales_price": 100.0,
            }
            written_at[number] = time.time()
            rackbeat.create("products", body)

        started = time.time()
        if write_rate > 0:
            # Paced: one write every 1/rate seconds, so latency shows the service, not a queue we built.
            for index, number in enumerate(numbers):
                time.sleep(max(0.0, started + index / write_rate - time.time()))
                write(number)
        else:
            with ThreadPoolExecutor(max_workers=writers) as pool:
                list(pool.map(write, numbers))
        wanted = {("product", number) for number in numbers}
        timeout = 60 + WAIT_SECONDS_PER_PRODUCT * products
        _last, events = _wait_for(redis_client, read_events, last_id, wanted, timeout, stack=stack)
        finished = max((float(event["at"]) for event in events.values()), default=time.time())

        latencies = [
            float(events[("product", n)]["at"]) - written_at[n] for n in numbers if ("product", n) in events
        ]
        ok = [e for e in events.values() if e.get("outcome") in {"created", "replaced", "unchanged"}]
        visible = {str(record.get("productNumber")) for record in economic.dump("products")}
        after = _sandbox_requests(stack)
        return RunFigures(
            name=name,
            products=products,
            transferred=len(ok),
            visible=len(visible & set(numbers)),
            wall_seconds=finished - started,
            latencies=latencies,
            api_calls=[int(e.get("api_calls") or 0) for e in ok],
            dead_lettered=sum(1 for e in events.values() if e.get("outcome") == "dead-lettered"),
            rackbeat_requests=after["rackbeat"] - baseline["rackbeat"],
            economic_requests=after["economic"] - baseline["economic"],
            rate_limited_responses=after["429"] - baseline["429"],
        )


def _sandbox_requests(stack: Stack) -> dict[str, int]:
    from tasks.harness.sandboxes import served_requests

    rackbeat, rackbeat_429 = served_requests(stack.rackbeat_sandbox)
    economic, economic_429 = served_requests(stack.economic_sandbox)
    return {"rackbeat": rackbeat, "economic": economic, "429": rackbeat_429 + economic_429}


def _wait_for(
    redis_client: Any,
    read_events: Any,
    after: str,
    wanted: set[tuple[str, str]],
    timeout: float,
    stack: Stack | None = None,
) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    """Read the event stream from `after` until every wanted record has a final event."""
    final = {"created", "replaced", "unchanged", "barred", "ignored", "dead-lettered"}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(wanted) and time.monotonic() < deadline:
        for stream_id, event in read_events(redis_client, after=after):
            after = stream_id
            record = (str(event.get("kind")), str(event.get("key")))
            if event.get("via"):  # a dependency checked inside another transfer
                continue
            if record in wanted and record not in found and event.get("outcome") in final:
                found[record] = event
        if stack is not None:
            stack.check()
        time.sleep(0.05)
    if len(found) < len(wanted):
        late = len(wanted) - len(found)
        print(f"warning: {late} of {len(wanted)} transfers did not finish in {timeout:.0f} s")
    return after, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e_products", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--products",
        type=int,
        default=600,
        help="products to create per run (default 600: more Rackbeat reads than its 480-request burst, so"
        " the rate-limited run shows the limit)",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--writers", type=int, default=4, help="threads writing to Rackbeat (default 4)")
    parser.add_argument(
        "--write-rate",
        type=float,
        default=0.0,
        help="products written per second (default 0: as fast as the writers can, a burst)",
    )
    parser.add_argument("--only", choices=["unthrottled", "default-limits"], help="run one of the two runs")
    args = parser.parse_args(argv)
    runs: list[RunFigures] = []
    for name, limits in (("unthrottled", False), ("default-limits", True)):
        if args.only and args.only != name:
            continue
        print(
            f"e2e products: {name}, {args.products} products, {args.concurrency} worker processes ...",
            flush=True,
        )
        runs.append(run_once(name, args.products, limits, args.concurrency, args.writers, args.write_rate))
    print()
    print(table(runs))
    return 0 if all(run.transferred == run.products == run.visible for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
