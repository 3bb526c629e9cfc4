"""Rackbeat sandbox throughput over loopback: single-record GETs and pages of 1000, from N client threads.

    .venv/bin/python -m bench.sandbox_rackbeat [--products 5000] [--threads 4] [--seconds 5] [--in-process]

By default the sandbox runs in its own process (``python -m sandbox rackbeat``), so the client threads do not
share its interpreter lock; ``--in-process`` serves it from a thread of this process instead (lower figures:
client and server then compete for one GIL). Prints requests per second and latency percentiles.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TOKEN = "bench-token"
ROOT = Path(__file__).resolve().parents[1]


def products(count: int) -> list[dict]:
    return [
        {
            "number": f"B/{n:06d}",
            "name": f"Bench product {n}",
            "group_id": 1,
            "sales_price": 100.0 + n % 50,
            "recommended_cost_price": 60.0,
            "cost_price": 60.0,
            "stock_quantity": n % 17,
            "barcode": f"57{n:011d}",
            "description": "A product with a realistic amount of text in its description field.",
        }
        for n in range(count)
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_in_subprocess() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "rackbeat",
            "--port",
            str(port),
            "--token",
            TOKEN,
            "--requests-per-minute",
            str(10**9),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/_sandbox/counts", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the sandbox did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(15)


@contextmanager
def sandbox_in_thread() -> Iterator[str]:
    from sandbox.common.server import ServerThread
    from sandbox.rackbeat import RackbeatSandbox

    sandbox = RackbeatSandbox(token=TOKEN, requests_per_minute=10**9)
    with ServerThread(sandbox.app) as server:
        yield server.url
    sandbox.close()


def hammer(base_url: str, threads: int, seconds: float, path_for: Callable[[int, int], str]) -> dict:
    """Each thread GETs ``path_for(thread, i)`` on its own keep-alive connection until time is up."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start_gate = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:
            client.get(path_for(index, 0))  # open the connection before the clock starts
            start_gate.wait()
            i = 0
            while time.perf_counter() < stop_at[0]:
                began = time.perf_counter()
                response = client.get(path_for(index, i))
                latencies[index].append(time.perf_counter() - began)
                if response.status_code not in (200, 206):
                    errors[index] += 1
                i += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds + 0.5  # provisional; reset right after the gate opens
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = sorted(x for per_thread in latencies for x in per_thread)
    return {
        "requests": len(flat),
        "errors": sum(errors),
        "rps": len(flat) / elapsed,
        "p50_ms": statistics.median(flat) * 1000 if flat else 0.0,
        "p95_ms": flat[int(len(flat) * 0.95) - 1] * 1000 if flat else 0.0,
    }


def report(name: str, figures: dict, extra: str = "") -> None:
    print(
        f"{name:<34} {figures['rps']:>9.1f} req/s   p50 {figures['p50_ms']:>7.2f} ms   "
        f"p95 {figures['p95_ms']:>7.2f} ms   ({figures['requests']} requests, {figures['errors']} errors)"
        f"{extra}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sandbox_rackbeat", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--products", type=int, default=5000, help="products loaded before measuring")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each scenario")
    parser.add_argument("--page-size", type=int, default=1000, help="limit of the page scenario")
    parser.add_argument("--in-process", action="store_true", help="serve from a thread of this process")
    args = parser.parse_args(argv)

    serve = sandbox_in_thread if args.in_process else sandbox_in_subprocess
    with serve() as url:
        load = httpx.post(
            url + "/_sandbox/load",
            json={"product-groups": [{"number": 1, "name": "Bench"}], "products": products(args.products)},
            timeout=120,
        )
        load.raise_for_status()
        numbers = [f"B%2F{n:06d}" for n in range(args.products)]
        pages = max(1, args.products // args.page_size)
        where = "in-process thread" if args.in_process else "separate process"
        print(
            f"Rackbeat sandbox ({where}), {args.products} products, {args.threads} client threads, "
            f"{args.seconds:.0f} s per scenario, {os.cpu_count()} CPUs"
        )

        def single(thread: int, i: int) -> str:
            return f"api/products/{numbers[(thread * 7919 + i * 104729) % len(numbers)]}"

        def page(thread: int, i: int) -> str:
            return f"api/products?limit={args.page_size}&page={(thread + i) % pages + 1}"

        report("GET one product", hammer(url, args.threads, args.seconds, single))
        page_figures = hammer(url, args.threads, args.seconds, page)
        report(
            f"GET a page of {args.page_size} products",
            page_figures,
            f"  = {page_figures['rps'] * args.page_size:,.0f} records/s",
        )
        report("GET one product, 1 thread", hammer(url, 1, args.seconds, single))
    return 0


if __name__ == "__main__":
    sys.exit(main())
