"""Rackbeat sandbox throughput over loopback: single-record GETs and pages of 1000, from N client threads.

    .venv/bin/python -m bench.sandbox_rackbeat [--products 5000] [--threads 4] [--seconds 5] [--in-process]

By default the sandbox runs in its own process (``python -m sandbox rackbeat``), so the client threads do not
share its interpreter lock; ``--in-process`` serves it from a thread of this process instead (lower figures:
client and server then compete for one GIL). Prints requests per second and latency percentiles.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench._loopback import hammer, report, sandbox_process

TOKEN = "bench-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


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


@contextmanager
def sandbox_in_subprocess() -> Iterator[str]:
    with sandbox_process("rackbeat", ["--token", TOKEN, "--requests-per-minute", str(10**9)]) as url:
        yield url


@contextmanager
def sandbox_in_thread() -> Iterator[str]:
    from sandbox.common.server import ServerThread
    from sandbox.rackbeat import RackbeatSandbox

    sandbox = RackbeatSandbox(token=TOKEN, requests_per_minute=10**9)
    with ServerThread(sandbox.app) as server:
        yield server.url
    sandbox.close()


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

        report("GET one product", hammer(url, HEADERS, args.threads, args.seconds, single))
        page_figures = hammer(url, HEADERS, args.threads, args.seconds, page)
        report(
            f"GET a page of {args.page_size} products",
            page_figures,
            f"  = {page_figures['rps'] * args.page_size:,.0f} records/s",
        )
        report("GET one product, 1 thread", hammer(url, HEADERS, 1, args.seconds, single))
    return 0


if __name__ == "__main__":
    sys.exit(main())
