"""e-conomic sandbox throughput over loopback: single-record GETs and pages of 1000, from N client threads.

    .venv/bin/python -m bench.sandbox_economic [--products 5000] [--threads 4] [--seconds 5] [--in-process]

The sandbox runs as ``python -m sandbox economic`` in its own process unless ``--in-process`` is given
(then it is served from a thread here and competes with the clients for the interpreter lock). The
rate-limit bucket is set high enough never to interfere. Prints requests per second and latency
percentiles per scenario.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECRET, GRANT = "bench-app-secret", "bench-grant"
HEADERS = {"X-AppSecretToken": SECRET, "X-AgreementGrantToken": GRANT}
HUGE_BUCKET = str(10**9)
FILTER = "lastUpdated$gte:2026-01-01$and:salesPrice$gt:120"


def bench_products(count: int) -> list[dict]:
    """Products with realistic field sizes; every tenth number has a space and a slash (encoded ids)."""
    return [
        {
            "productNumber": f"B {n:06d}/x" if n % 10 == 0 else f"B-{n:06d}",
            "name": f"Bench product {n} with a name of ordinary length",
            "productGroup": {"productGroupNumber": 1},
            "unit": {"unitNumber": 1},
            "salesPrice": 100.0 + n % 50,
            "costPrice": 60.0,
            "recommendedPrice": 120.0,
            "barCode": f"57{n:011d}",
            "description": "A product with a realistic amount of text in its description field.",
            "lastUpdated": "2026-01-02T03:04:05Z",
        }
        for n in range(count)
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def separate_process() -> Iterator[str]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "economic",
        "--port",
        str(port),
        "--app-secret-token",
        SECRET,
        "--agreement-grant-token",
        GRANT,
        "--bucket-size",
        HUGE_BUCKET,
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/"
    try:
        give_up = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "_sandbox/counts", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > give_up:
                    raise SystemExit("the e-conomic sandbox did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(15)


@contextmanager
def same_process() -> Iterator[str]:
    from sandbox.economic.testing import serve

    with serve(app_secret_token=SECRET, agreement_grant_token=GRANT, bucket_size=10**9) as (_, base):
        yield base


def measure(base: str, threads: int, seconds: float, path_of: Callable[[int, int], str]) -> dict[str, float]:
    """Every thread GETs ``path_of(thread, i)`` over its own keep-alive connection for ``seconds``."""
    timings: list[list[float]] = [[] for _ in range(threads)]
    failures = [0] * threads
    ready = threading.Barrier(threads + 1)
    deadline = [float("inf")]

    def run(thread: int) -> None:
        with httpx.Client(base_url=base, headers=HEADERS, timeout=30) as http:
            http.get(path_of(thread, 0))  # connect before the clock starts
            ready.wait()
            i = 0
            while time.perf_counter() < deadline[0]:
                started = time.perf_counter()
                answer = http.get(path_of(thread, i))
                timings[thread].append(time.perf_counter() - started)
                failures[thread] += answer.status_code != 200
                i += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait()
    began = time.perf_counter()
    deadline[0] = began + seconds
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    flat = sorted(value for per_thread in timings for value in per_thread)
    if not flat:
        return {"requests": 0, "errors": sum(failures), "rps": 0.0, "p50_ms": 0.0, "p95_ms": 0.0}
    return {
        "requests": len(flat),
        "errors": sum(failures),
        "rps": len(flat) / elapsed,
        "p50_ms": flat[len(flat) // 2] * 1000,
        "p95_ms": flat[max(int(len(flat) * 0.95) - 1, 0)] * 1000,
    }


def show(label: str, figures: dict[str, float], suffix: str = "") -> None:
    print(
        f"{label:<40} {figures['rps']:>9.1f} req/s   p50 {figures['p50_ms']:>7.2f} ms   "
        f"p95 {figures['p95_ms']:>7.2f} ms   ({figures['requests']:.0f} requests, "
        f"{figures['errors']:.0f} errors){suffix}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sandbox_economic", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--products", type=int, default=5000, help="products loaded before measuring")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each scenario")
    parser.add_argument("--in-process", action="store_true", help="serve from a thread of this process")
    args = parser.parse_args(argv)

    from sandbox.economic.ids import encode_key

    products = bench_products(args.products)
    paths = [f"products/{encode_key(p['productNumber'])}" for p in products]
    pages = max(1, args.products // 1000)
    with (same_process if args.in_process else separate_process)() as base:
        httpx.post(base + "_sandbox/load", json={"products": products}, timeout=120).raise_for_status()
        where = "in-process thread" if args.in_process else "separate process"
        print(
            f"e-conomic sandbox ({where}), {args.products} products, {args.threads} client threads, "
            f"{args.seconds:.0f} s per scenario, {os.cpu_count()} CPUs",
            flush=True,
        )

        def one(thread: int, i: int) -> str:
            return paths[(thread * 7919 + i * 104729) % len(paths)]

        def page(thread: int, i: int) -> str:
            return f"products?pagesize=1000&skippages={(thread + i) % pages}"

        def filtered(thread: int, i: int) -> str:
            return f"products?pagesize=1000&filter={FILTER}&sort=-salesPrice"

        show("GET /products/{n}", measure(base, args.threads, args.seconds, one))
        figures = measure(base, args.threads, args.seconds, page)
        show("GET /products?pagesize=1000", figures, f"  = {figures['rps'] * 1000:,.0f} records/s")
        show("GET filtered+sorted page of 1000", measure(base, args.threads, args.seconds, filtered))
        show("GET /products/{n}, 1 thread", measure(base, 1, args.seconds, one))
    return 0


if __name__ == "__main__":
    sys.exit(main())
