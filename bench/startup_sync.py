"""The start-up sync (issue 13): a company's e-conomic master data copied into an empty Rackbeat.

    .venv/bin/python -m bench.startup_sync [--products 10000] [--only budget|unthrottled|rerun|memory]
        [--memory-products 10000,100000] [--latency-ms 0] [--concurrency 2]

Each run is a fresh stack of `rbsync run` in sandbox mode (`tasks.harness.stack.Stack`: both sandboxes in
this process, the receiver with its Rackbeat webhooks, a prefork worker with `--concurrency` processes, no
beat). The e-conomic sandbox holds a generated wholesaler (`sandbox.seed`, the nine kinds the sync copies:
`--products` products with customers and suppliers in the proportions of the seed's "medium" preset, one
customer per 5 products and one supplier per 62.5, and the fixed reference data: groups, payment terms,
layouts, employees, units); Rackbeat starts empty. The sync is `rbsync startup-sync` (its in-process path)
in a child process with the run's settings, as an operator would start it; its peak RSS is the `VmHWM` that
process reads from /proc/self/status as it exits. (Not `ru_maxrss`: at `exec` the kernel records the RSS of
the image it replaces, and the child is spawned from this process, which holds both sandboxes' data, so
`ru_maxrss` showed this process's size, 4x higher at 100,000 products than at 10,000.)

- **budget**: the sandboxes enforce Rackbeat's 480 requests/minute (and e-conomic's 10,000/60 s), our
  client keeps to its configured budget (`RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE`, 480, less its headroom).
  Budget used = Rackbeat requests made during the sync / (the sync's wall minutes x 480).
- **unthrottled**: limits off on both sides; records/s = records brought across / the sync's wall time.
- **rerun**: the sync run a second time over the same data (after the first one's webhook echoes have
  settled): Rackbeat writes, and its reads by route.
- **memory**: unthrottled runs at each `--memory-products` size; the ratio of the largest peak RSS to the
  smallest.

Rackbeat requests are every request its sandbox served while the sync ran, whoever made it: the sync's own,
and the worker's export transfers that Rackbeat's webhooks for the new records start (they read Rackbeat
too). `--latency-ms` adds that much to every answer of both sandboxes (their `/_sandbox/faults`), as the
real APIs take ~100-300 ms. Printed: one block of figures per run, then one verdict line per goal. Exit
status 1 unless every record arrived once (and, after a re-run, nothing was written).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._stackargs import bench_stack_options
from tasks.harness.stack import Stack

SEED = 13
RACKBEAT_PER_MINUTE = 480
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RUNS = ("budget", "unthrottled", "rerun", "memory")
# The nine kinds: e-conomic's collection and its number field -> Rackbeat's collection (key `number`).
KINDS: dict[str, str] = {
    "layouts": "layoutNumber",
    "employees": "employeeNumber",
    "payment-terms": "paymentTermsNumber",
    "customer-groups": "customerGroupNumber",
    "supplier-groups": "supplierGroupNumber",
    "product-groups": "productGroupNumber",
    "customers": "customerNumber",
    "suppliers": "supplierNumber",
    "products": "productNumber",
}
# The seed's "medium" preset: 5,000 products, 1,000 customers, 80 suppliers.
CUSTOMERS_PER_PRODUCT = 1_000 / 5_000
SUPPLIERS_PER_PRODUCT = 80 / 5_000
SYNC_COMMAND = ("startup-sync",)


def company_size(products: int) -> Any:
    """The nine kinds scaled to `products` (no lots, documents or projects: the sync copies none)."""
    from sandbox.seed import SeedSize

    return SeedSize(
        products=products,
        lots=0,
        customers=max(1, round(products * CUSTOMERS_PER_PRODUCT)),
        suppliers=max(1, round(products * SUPPLIERS_PER_PRODUCT)),
        orders=0,
        customer_invoices=0,
        supplier_invoices=0,
        projects=0,
        economic_orders=0,
        economic_invoices=0,
    )


# ----------------------------------------------------------------------------------- counting requests


def route(path: str) -> str:
    """`/api/products/P-1` -> `products/{key}`, `/api/customer-groups` -> `customer-groups`,
    `/suppliersapi/v2.0.0/Groups` -> `suppliersapi/Groups` (e-conomic's OpenAPI: the version left out)."""
    parts = [part for part in path.removeprefix("/api/").split("/") if part]
    if parts and parts[0].endswith("api") and len(parts) > 2:
        return "/".join([parts[0], *parts[2:]])
    return "/".join(parts[:1] + ["{key}" for _ in parts[1:2]] + parts[2:])


class RequestTally:
    """Every API request a sandbox serves, by (method, route, status), with the time of the first and the
    last: wraps its request log's `record` (the log itself keeps only the last 10,000 entries)."""

    def __init__(self, sandbox: Any) -> None:
        self.counts: Counter[tuple[str, str, int | None]] = Counter()
        self.first = math.nan
        self.last = math.nan
        self._lock = threading.Lock()
        log = sandbox.request_log
        original = log.record

        def record(method: str, path: str, query: str, status: int | None, *args: Any, **kw: Any) -> None:
            now = time.monotonic()
            with self._lock:
                self.counts[(method, route(path), status)] += 1
                if self.first != self.first:
                    self.first = now
                self.last = now
            original(method, path, query, status, *args, **kw)

        log.record = record

    def snapshot(self) -> Counter[tuple[str, str, int | None]]:
        with self._lock:
            return Counter(self.counts)

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


def since(now: Counter[Any], before: Counter[Any]) -> Counter[Any]:
    return Counter({k: v - before[k] for k, v in now.items() if v - before[k]})


# ------------------------------------------------------------------------------------------- figures


@dataclass
class SyncFigures:
    name: str
    products: int
    latency_ms: float
    records: int = 0  # the nine kinds in e-conomic
    arrived: int = 0  # of those, in Rackbeat exactly once (by number)
    missing: int = 0
    duplicates: int = 0
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (in e-conomic, in Rackbeat)
    exit_status: int | None = None
    wall_seconds: float = math.nan
    peak_rss_kib: int = 0
    rackbeat: Counter[tuple[str, str, int | None]] = field(default_factory=Counter)
    economic: Counter[tuple[str, str, int | None]] = field(default_factory=Counter)
    output_tail: list[str] = field(default_factory=list)
    output_file: str = ""

    @property
    def rackbeat_requests(self) -> int:
        return sum(self.rackbeat.values())

    @property
    def rackbeat_writes(self) -> int:
        return sum(n for (method, _, _), n in self.rackbeat.items() if method in WRITE_METHODS)

    @property
    def rate_limited(self) -> int:
        return sum(n for (_, _, status), n in (self.rackbeat + self.economic).items() if status == 429)

    @property
    def records_per_second(self) -> float:
        return self.arrived / self.wall_seconds if self.wall_seconds > 0 else math.nan

    @property
    def budget_used(self) -> float:
        """Rackbeat requests / (wall minutes x 480)."""
        minutes = self.wall_seconds / 60
        return self.rackbeat_requests / (minutes * RACKBEAT_PER_MINUTE) if minutes > 0 else math.nan

    @property
    def bucket_allowed(self) -> float:
        """What Rackbeat's bucket allowed over the sync: full (480) at the start, then 8 a second."""
        return RACKBEAT_PER_MINUTE + RACKBEAT_PER_MINUTE / 60 * self.wall_seconds

    @property
    def bucket_used(self) -> float:
        """Rackbeat requests / what its bucket allowed: the share of the budget, counting the start's burst
        (which the plain per-minute share counts as extra, so short runs show over 100 %)."""
        return self.rackbeat_requests / self.bucket_allowed if self.wall_seconds > 0 else math.nan

    def by_route(self, counts: Counter[tuple[str, str, int | None]], reads: bool | None = None) -> str:
        merged: Counter[str] = Counter()
        for (method, path, _), n in counts.items():
            if reads is None or (method == "GET") == reads:
                merged[f"{method} {path}"] += n
        return ", ".join(f"{name} {n}" for name, n in merged.most_common()) or "none"


def block(figures: SyncFigures) -> str:
    """One run's figures, in the house style."""
    f = figures
    mib = f.peak_rss_kib / 1024
    head = (
        f"{f.name}: {f.products:,} products, {f.records:,} records of the nine kinds in e-conomic,"
        f" {f.latency_ms:g} ms API latency"
    )
    lines = [
        head,
        f"  arrived in Rackbeat once: {f.arrived:,}/{f.records:,} ({f.missing} missing,"
        f" {f.duplicates} duplicated); rbsync startup-sync exit {f.exit_status}",
        f"  wall time of the sync: {f.wall_seconds:.1f} s = {f.records_per_second:.1f} records/s",
        f"  Rackbeat requests: {f.rackbeat_requests:,} ({f.rackbeat_writes:,} writes,"
        f" {f.rackbeat_requests - f.rackbeat_writes:,} reads) ="
        f" {f.rackbeat_requests / max(1, f.records):.2f} per record;"
        f" e-conomic requests: {sum(f.economic.values()):,}",
        f"  429s: {f.rate_limited}",
        f"  peak RSS of the sync process: {mib:.1f} MiB",
    ]
    if f.name.startswith("budget"):
        lines.append(
            f"  Rackbeat budget used: {f.budget_used:.1%} ({f.rackbeat_requests:,} requests in"
            f" {f.wall_seconds / 60:.1f} min at {RACKBEAT_PER_MINUTE}/min); of what its bucket allowed"
            f" (480 at the start + 8/s): {f.bucket_used:.1%} of {f.bucket_allowed:,.0f}"
        )
    if f.name.startswith("rerun"):
        lines.append(f"  Rackbeat writes: {f.rackbeat_writes}")
        lines.append(f"  Rackbeat reads by route: {f.by_route(f.rackbeat, reads=True)}")
        lines.append(f"  e-conomic reads by route: {f.by_route(f.economic, reads=True)}")
    else:
        lines.append(f"  Rackbeat requests by route: {f.by_route(f.rackbeat)}")
    lines.append(
        "  by kind (e-conomic / Rackbeat): " + ", ".join(f"{k} {e}/{r}" for k, (e, r) in f.by_kind.items())
    )
    if f.exit_status != 0 or f.missing or f.duplicates:
        lines.append(f"  the sync's last lines ({f.output_file}):")
        lines += [f"    {line}" for line in f.output_tail]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- runs


# `rbsync startup-sync`, writing the process's own peak RSS (VmHWM, KiB) to $BENCH_PEAK_FILE as it exits.
SYNC_PROGRAM = """
import atexit, os, sys

def _peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))

atexit.register(_peak)
from tasks.cli import main
sys.exit(main(prog_name="rbsync"))
"""


def sync_argv(*extra: str) -> list[str]:
    """`rbsync startup-sync` with this interpreter."""
    return [sys.executable, "-c", SYNC_PROGRAM, *SYNC_COMMAND, *extra]


def _hwm(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def run_sync(stack: Stack, output: Path, timeout: float) -> tuple[int, float, int]:
    """`rbsync startup-sync` in a child process with the stack's settings: (exit status, wall seconds, peak
    RSS in KiB of that process: what it read of itself as it exited, else the last look at it)."""
    peak_file = output.with_suffix(".peak")
    peak_file.unlink(missing_ok=True)
    env = {**stack.env, "COLUMNS": "120", "BENCH_PEAK_FILE": str(peak_file)}
    with output.open("w") as handle:
        started = time.monotonic()
        process = subprocess.Popen(sync_argv(), env=env, stdout=handle, stderr=subprocess.STDOUT)
        deadline, seen = started + timeout, 0
        while process.poll() is None and time.monotonic() < deadline:
            seen = max(seen, _hwm(process.pid))
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
        status = process.wait()
        wall = time.monotonic() - started
    written = peak_file.read_text().strip() if peak_file.exists() else ""
    return status, wall, int(written) if written.isdigit() else seen


def check_arrival(stack: Stack, figures: SyncFigures) -> None:
    """Every record of the nine kinds in e-conomic is in Rackbeat exactly once, found by its number."""
    economic, rackbeat = stack.economic_sandbox, stack.rackbeat_sandbox
    figures.records = figures.arrived = figures.missing = figures.duplicates = 0
    for kind, number_field in KINDS.items():
        wanted = {str(record[number_field]) for record in economic.dump(kind)}
        held = Counter(str(record.get("number")) for record in rackbeat.dump(kind))
        figures.by_kind[kind] = (len(wanted), sum(held.values()))
        figures.records += len(wanted)
        figures.arrived += sum(1 for number in wanted if held[number] == 1)
        figures.missing += sum(1 for number in wanted if not held[number])
        figures.duplicates += sum(held[number] - 1 for number in wanted if held[number] > 1)


def settle(tallies: list[RequestTally], quiet: float = 1.5, timeout: float = 600) -> None:
    """Wait until neither sandbox has served a request for `quiet` seconds (the webhook echoes are done)."""
    deadline = time.monotonic() + timeout
    last, since_change = [t.total() for t in tallies], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = [t.total() for t in tallies]
        if now != last:
            last, since_change = now, time.monotonic()
        elif time.monotonic() - since_change >= quiet:
            return


def set_latency(stack: Stack, latency_ms: float) -> None:
    """Both sandboxes answer `latency_ms` later (their admin API, `PUT /_sandbox/faults`)."""
    import httpx

    for admin in stack.endpoints.sandbox_admin:
        answer = httpx.put(f"{admin.rstrip('/')}/faults", json={"latency_ms": latency_ms}, timeout=10)
        answer.raise_for_status()


def run(
    name: str,
    products: int,
    *,
    rate_limits: bool,
    rerun: bool,
    latency_ms: float,
    concurrency: int,
    log_dir: Path,
) -> list[SyncFigures]:
    """A fresh stack with the company in e-conomic; the sync once (and a second time with `rerun`)."""
    from tasks.harness.sandboxes import seed_economic

    options = bench_stack_options(
        rate_limits=rate_limits,
        concurrency=concurrency,
        extra_env={"RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE": str(RACKBEAT_PER_MINUTE)} if rate_limits else {},
    )
    results: list[SyncFigures] = []
    with Stack(options) as stack:
        print(f"  seeding e-conomic with {products:,} products ...", flush=True)
        seed_economic(stack.economic_sandbox, company_size(products), seed=SEED)
        if latency_ms:
            set_latency(stack, latency_ms)
        tallies = [RequestTally(stack.rackbeat_sandbox), RequestTally(stack.economic_sandbox)]
        if rate_limits:
            time.sleep(1.5)  # the receiver's start-up calls are over and Rackbeat's bucket is full again
        # Generous: the budget run is bound by 480 requests a minute, the others by this machine.
        timeout = 600 + (products * 0.4 if rate_limits else products * 0.05) * (1 + latency_ms / 100)
        for attempt in (name, "rerun") if rerun else (name,):
            if attempt == "rerun":
                print("  letting the first run's webhook echoes settle ...", flush=True)
                settle(tallies)
            print(f"  {attempt}: rbsync startup-sync ...", flush=True)
            figures = SyncFigures(attempt, products, latency_ms)
            before = [t.snapshot() for t in tallies]
            output = log_dir / f"startup-sync-{attempt}-{products}.txt"
            figures.exit_status, figures.wall_seconds, figures.peak_rss_kib = run_sync(stack, output, timeout)
            figures.rackbeat = since(tallies[0].snapshot(), before[0])
            figures.economic = since(tallies[1].snapshot(), before[1])
            figures.output_file = str(output)
            figures.output_tail = output.read_text(errors="replace").splitlines()[-15:]
            check_arrival(stack, figures)
            print(block(figures), flush=True)
            results.append(figures)
    return results


# ------------------------------------------------------------------------------------------ verdicts


def verdicts(runs: dict[str, SyncFigures], memory: dict[int, SyncFigures]) -> list[str]:
    def line(ok: bool, text: str) -> str:
        return f"{'PASS' if ok else 'FAIL'}  {text}"

    lines = []
    if budget := runs.get("budget"):
        scale = (
            "" if budget.products >= 10_000 else f" (measured over {budget.products:,}; the goal is 10,000)"
        )
        lines.append(
            line(
                budget.bucket_used >= 0.95 and budget.rate_limited == 0,
                f"budget: >= 95 % of Rackbeat's budget and 0 x 429: {budget.bucket_used:.1%} of what its"
                f" bucket allowed ({budget.budget_used:.1%} per wall minute),"
                f" {budget.rate_limited} x 429{scale}",
            )
        )
    if unthrottled := runs.get("unthrottled"):
        lines.append(
            line(
                unthrottled.records_per_second >= 200,
                f"unthrottled: >= 200 records/s: {unthrottled.records_per_second:.1f} records/s"
                + (
                    f" (at {unthrottled.latency_ms:g} ms API latency; the goal is at 0)"
                    if unthrottled.latency_ms
                    else ""
                ),
            )
        )
    if len(memory) >= 2:
        small, large = min(memory), max(memory)
        ratio = memory[large].peak_rss_kib / max(1, memory[small].peak_rss_kib)
        lines.append(
            line(
                ratio <= 1.2,
                f"memory: peak RSS at {large:,} products within 1.2x of {small:,}: {ratio:.2f}x"
                f" ({memory[large].peak_rss_kib / 1024:.1f} vs {memory[small].peak_rss_kib / 1024:.1f} MiB)",
            )
        )
    if rerun := runs.get("rerun"):
        lines.append(
            line(
                rerun.rackbeat_writes == 0,
                f"rerun: 0 Rackbeat writes: {rerun.rackbeat_writes};"
                f" reads: {rerun.rackbeat_requests - rerun.rackbeat_writes}",
            )
        )
    everything = [*runs.values(), *memory.values()]
    bad = [f.name for f in everything if f.arrived != f.records or f.duplicates]
    lines.append(
        line(
            not bad,
            "every record in Rackbeat once, in every run" + (f" (not in: {', '.join(bad)})" if bad else ""),
        )
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup_sync", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--products",
        type=int,
        default=10_000,
        help="products of the company (default 10,000; customers and suppliers in proportion)",
    )
    parser.add_argument(
        "--only", action="append", choices=RUNS, default=[], help="one of the runs (repeatable; default all)"
    )
    parser.add_argument(
        "--memory-products",
        default="10000,100000",
        help="company sizes of the memory run, comma-separated (default 10000,100000)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every answer of both sandboxes (default 0)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep the sync's output here (default: a temporary directory)",
    )
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    try:
        memory_sizes = sorted({int(size) for size in args.memory_products.split(",") if size.strip()})
    except ValueError:
        parser.error("--memory-products: comma-separated product counts")
    chosen = set(args.only or RUNS)
    import tempfile

    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="bench-startup-sync-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    common = {"latency_ms": args.latency_ms, "concurrency": args.concurrency, "log_dir": log_dir}
    print(
        f"startup_sync: runs {', '.join(r for r in RUNS if r in chosen)}; {args.products:,} products,"
        f" {args.latency_ms:g} ms API latency, {args.concurrency} worker processes; the sync's output in"
        f" {log_dir}",
        flush=True,
    )
    started = time.monotonic()
    runs: dict[str, SyncFigures] = {}
    memory: dict[int, SyncFigures] = {}
    if "budget" in chosen:
        print("\nbudget run: Rackbeat at 480/min ...", flush=True)
        (runs["budget"],) = run("budget", args.products, rate_limits=True, rerun=False, **common)
    if chosen & {"unthrottled", "rerun"} or ("memory" in chosen and args.products in memory_sizes):
        print(
            "\nunthrottled run (and its re-run) ..." if "rerun" in chosen else "\nunthrottled run ...",
            flush=True,
        )
        done = run("unthrottled", args.products, rate_limits=False, rerun="rerun" in chosen, **common)
        for figures in done:
            runs[figures.name] = figures
        memory[args.products] = runs["unthrottled"]
    if "memory" in chosen:
        for size in memory_sizes:
            if size in memory:
                continue
            print(f"\nmemory run: {size:,} products, unthrottled ...", flush=True)
            (memory[size],) = run(f"memory-{size}", size, rate_limits=False, rerun=False, **common)
        memory = {size: memory[size] for size in memory_sizes}
    print("\nverdicts (figures from a machine shared with other work are a lower bound):")
    lines = verdicts(runs, memory if "memory" in chosen else {})
    print("\n".join(lines))
    print(f"\nwall: {time.monotonic() - started:.0f} s including start-up and seeding")
    correct = not any(line.startswith("FAIL") and "once" in line for line in lines)
    rerun_clean = "rerun" not in runs or runs["rerun"].rackbeat_writes == 0
    return 0 if correct and rerun_clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
