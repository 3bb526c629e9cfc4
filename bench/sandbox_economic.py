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
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench._loopback import hammer, report, sandbox_process

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


@contextmanager
def separate_process() -> Iterator[str]:
    options = ["--app-secret-token", SECRET, "--agreement-grant-token", GRANT, "--bucket-size", HUGE_BUCKET]
    with sandbox_process("economic", options) as url:
        yield url + "/"


@contextmanager
def same_process() -> Iterator[str]:
    from sandbox.economic.testing import serve

    with serve(app_secret_token=SECRET, agreement_grant_token=GRANT, bucket_size=10**9) as (_, base):
        yield base


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

        report("GET /products/{n}", hammer(base, HEADERS, args.threads, args.seconds, one))
        figures = hammer(base, HEADERS, args.threads, args.seconds, page)
        report("GET /products?pagesize=1000", figures, f"  = {figures['rps'] * 1000:,.0f} records/s")
        filtered_figures = hammer(base, HEADERS, args.threads, args.seconds, filtered)
        report("GET filtered+sorted page of 1000", filtered_figures)
        report("GET /products/{n}, 1 thread", hammer(base, HEADERS, 1, args.seconds, one))
    return 0


if __name__ == "__main__":
    sys.exit(main())
