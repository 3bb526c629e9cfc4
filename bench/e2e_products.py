"""End to end: products written to the Rackbeat sandbox until they are visible in the e-conomic sandbox.

    .venv/bin/python -m bench.e2e_products --products 200 [--latency-ms 100] [--pool gevent] [--only single]

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

`--only single` measures a lone change instead: under the default limits, one product is written (or, every
other time, changed) when nothing else is queued, its transfer awaited, `--single-count` times (30), and
the p50/p99 of "change -> visible in e-conomic" printed (the goal of issue 14: p99 <= 1 s with
`--latency-ms 100`). `--latency-ms` adds that much to every answer of both sandboxes (the real APIs take
~100-300 ms); `--pool` picks the worker pool (tasks/harness/workers.py). API calls per product are shown
per API (RB/rec, EC/rec: the requests the sandboxes served, per product transferred) beside the engine's
own count (calls/tr).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._stackargs import add_stack_arguments, bench_stack_options, describe, stack_options
from tasks.harness.stack import Stack
from tasks.harness.workers import DEFAULT_POOL

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
    worker_cpu_seconds: float = math.nan

    @property
    def throughput(self) -> float:
        return self.transferred / self.wall_seconds if self.wall_seconds else 0.0

    def per_record(self, requests: int) -> float:
        return requests / self.transferred if self.transferred else math.nan


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
        f" {'per s':>7} {'calls/tr':>8} {'RB/rec':>6} {'EC/rec':>6} {'RB req':>7} {'EC req':>7} {'429s':>5}"
        f" {'DLQ':>4} {'CPU ms/tr':>9}"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        calls = statistics.mean(run.api_calls) if run.api_calls else math.nan
        lines.append(
            f"{run.name:<16} {run.products:>5} {run.transferred:>5} {run.visible:>5}"
            f" {percentile(run.latencies, 0.50):>7.2f} {percentile(run.latencies, 0.95):>7.2f}"
            f" {percentile(run.latencies, 0.99):>7.2f} {max(run.latencies, default=math.nan):>7.2f}"
            f" {run.throughput:>7.1f} {calls:>8.2f} {run.per_record(run.rackbeat_requests):>6.2f}"
            f" {run.per_record(run.economic_requests):>6.2f} {run.rackbeat_requests:>7}"
            f" {run.economic_requests:>7} {run.rate_limited_responses:>5} {run.dead_lettered:>4}"
            f" {1000 * run.worker_cpu_seconds / max(1, run.transferred):>9.1f}"
        )
    lines.append("")
    lines.append(
        "latency: change -> visible in e-conomic (the Rackbeat write -> the transfer's event, written once"
    )
    lines.append(
        "e-conomic answered the write); per s: transfers per second from the first write to the last event;"
    )
    lines.append(
        "calls/tr: API calls the worker made per product transfer; RB/EC req: API requests the sandboxes"
    )
    lines.append("served, and RB/rec, EC/rec those per product transferred (the products are")
    lines.append("written as in Rackbeat's UI, not through the API); 429s: rate-limited answers among them;")
    lines.append("CPU ms/tr: CPU the Celery workers (main and pool processes) used per product transferred.")
    return "\n".join(lines)


def run_once(
    name: str,
    products: int,
    rate_limits: bool,
    concurrency: int,
    writers: int,
    write_rate: float,
    stack_kwargs: dict[str, Any] | None = None,
) -> RunFigures:
    from tasks.events import read_events
    from tasks.redis import get_redis

    options = bench_stack_options(rate_limits=rate_limits, concurrency=concurrency, **(stack_kwargs or {}))
    with Stack(options) as stack:
        rackbeat = stack.rackbeat_sandbox
        economic = stack.economic_sandbox
        redis_client = get_redis()
        # The group first, so every product transfer measures a product (its dependency is in place).
        rackbeat.create("product-groups", {"number": GROUP[0], "name": GROUP[1]})
        last_id = _wait_for(redis_client, read_events, "0", {("product_group", str(GROUP[0]))}, 60)[0]
        baseline = _sandbox_requests(stack)
        cpu_before = worker_cpu_seconds(stack)

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
        cpu = worker_cpu_seconds(stack) - cpu_before
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
            worker_cpu_seconds=cpu,
        )


def worker_cpu_seconds(stack: Stack) -> float:
    """CPU seconds the Celery workers have used so far: their main processes and their pool processes."""
    from os import sysconf

    from tasks.harness.processes import children_of

    ticks = sysconf("SC_CLK_TCK")
    total = 0
    for child in stack.processes.children:
        if not child.name.startswith("worker") or child.pid is None:
            continue
        for pid in (child.pid, *children_of(child.pid)):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


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


def run_single(
    count: int, concurrency: int, stack_kwargs: dict[str, Any], pause: float = 0.3
) -> tuple[list[float], list[int], dict[str, int]]:
    """A lone change `count` times under the default limits: (latencies, API calls per transfer, requests
    served). Every other time the product written last is changed instead of a new one created."""
    from tasks.events import read_events
    from tasks.redis import get_redis

    with Stack(bench_stack_options(rate_limits=True, concurrency=concurrency, **stack_kwargs)) as stack:
        rackbeat = stack.rackbeat_sandbox
        redis_client = get_redis()
        rackbeat.create("product-groups", {"number": GROUP[0], "name": GROUP[1]})
        last_id = _wait_for(redis_client, read_events, "0", {("product_group", str(GROUP[0]))}, 60)[0]
        baseline = _sandbox_requests(stack)
        latencies: list[float] = []
        calls: list[int] = []
        number = ""
        for index in range(count):
            time.sleep(pause)  # nothing queued: the previous transfer and its webhook are done
            if index % 2 == 0:
                number = f"SINGLE-{index:04d}"
                written = time.time()
                rackbeat.create(
                    "products",
                    {"number": number, "name": f"Single {number}", "group": GROUP[0], "sales_price": 1},
                )
            else:
                written = time.time()
                rackbeat.update("products", number, {"sales_price": 2.0 + index})
            last_id, found = _wait_for(
                redis_client, read_events, last_id, {("product", number)}, 30, stack=stack
            )
            event = found.get(("product", number))
            if event is not None:
                latencies.append(float(event["at"]) - written)
                calls.append(int(event.get("api_calls") or 0))
        after = _sandbox_requests(stack)
    served = {name: after[name] - baseline[name] for name in after}
    return latencies, calls, served


def single_report(latencies: list[float], calls: list[int], served: dict[str, int], count: int) -> str:
    done = len(latencies)
    lines = [
        f"single events: {done} of {count} transferred; change -> visible in e-conomic:"
        f" p50 {percentile(latencies, 0.50):.3f} s, p95 {percentile(latencies, 0.95):.3f} s,"
        f" p99 {percentile(latencies, 0.99):.3f} s, max {max(latencies, default=math.nan):.3f} s",
        f"API calls per transfer {statistics.mean(calls) if calls else math.nan:.2f};"
        f" requests served per transfer: Rackbeat {served['rackbeat'] / max(1, done):.2f},"
        f" e-conomic {served['economic'] / max(1, done):.2f}; 429s {served['429']}",
    ]
    return "\n".join(lines)


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
    parser.add_argument(
        "--only",
        choices=["unthrottled", "default-limits", "single"],
        help="run one of the two burst runs, or the single-event run (only when asked for)",
    )
    parser.add_argument(
        "--single-count", type=int, default=30, help="lone changes of the single-event run (default 30)"
    )
    parser.add_argument("--log-dir", help="keep the stack's logs (workers, web, sandboxes) in this directory")
    add_stack_arguments(parser, default_pool=DEFAULT_POOL)
    args = parser.parse_args(argv)
    stack_kwargs = stack_options(args)
    if args.log_dir:
        stack_kwargs["log_dir"] = Path(args.log_dir)
    if args.only == "single":
        print(
            f"e2e products: single events, {args.single_count} lone changes, {describe(args)} ...", flush=True
        )
        latencies, calls, served = run_single(args.single_count, args.concurrency, stack_kwargs)
        print(single_report(latencies, calls, served, args.single_count))
        return 0 if len(latencies) == args.single_count else 1
    runs: list[RunFigures] = []
    for name, limits in (("unthrottled", False), ("default-limits", True)):
        if args.only and args.only != name:
            continue
        print(f"e2e products: {name}, {args.products} products, {describe(args)} ...", flush=True)
        runs.append(
            run_once(
                name, args.products, limits, args.concurrency, args.writers, args.write_rate, stack_kwargs
            )
        )
    print()
    print(table(runs))
    return 0 if all(run.transferred == run.products == run.visible for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
