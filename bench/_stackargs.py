"""The stack options every end-to-end benchmark takes: the sandboxes' latency and the worker pool.
(A leading underscore keeps `python -m bench` from running it.)"""

from __future__ import annotations

import argparse
from typing import Any

from tasks.harness.localredis import free_port
from tasks.harness.stack import StackOptions
from tasks.harness.workers import DEFAULT_GREEN_CONCURRENCY, DEFAULT_GREEN_PROCESSES, POOLS


def bench_stack_options(*, rate_limits: bool, concurrency: int, **fields: Any) -> StackOptions:
    """A benchmark's stack: sandboxes, no beat, nothing seeded (each benchmark loads its own company),
    quiet workers, the receiver on a free port; `fields` set the rest (latency, pool, extra environment)."""
    return StackOptions(
        sandbox=True,
        beat=False,
        seed_size=None,
        rate_limits=rate_limits,
        concurrency=concurrency,
        worker_loglevel="WARNING",
        web_port=free_port(),
        **fields,
    )


def add_stack_arguments(parser: argparse.ArgumentParser, *, default_pool: str = "prefork") -> None:
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="added to every answer of both sandboxes (the real APIs take ~100-300 ms; default 0)",
    )
    parser.add_argument(
        "--pool",
        choices=POOLS,
        default=default_pool,
        help="worker pool: prefork (one worker, --concurrency processes) or gevent (transfers on"
        " --green-concurrency greenlets, the other queues on --concurrency processes);"
        f" default {default_pool}",
    )
    parser.add_argument(
        "--green-concurrency",
        type=int,
        default=DEFAULT_GREEN_CONCURRENCY,
        help=f"greenlets of the gevent transfers worker (default {DEFAULT_GREEN_CONCURRENCY})",
    )


def stack_options(args: argparse.Namespace) -> dict[str, Any]:
    """The StackOptions fields these arguments set."""
    if args.latency_ms < 0:
        raise SystemExit("--latency-ms must not be negative")
    return {"latency_ms": args.latency_ms, "pool": args.pool, "green_concurrency": args.green_concurrency}


def describe(args: argparse.Namespace) -> str:
    """E.g. "gevent pool (2 x 25 greenlets; other queues on 2 prefork processes), 100 ms API latency"."""
    if args.pool == "gevent":
        workers = (
            f"gevent pool ({DEFAULT_GREEN_PROCESSES} x {args.green_concurrency} greenlets;"
            f" other queues on {args.concurrency} prefork processes)"
        )
    else:
        workers = f"prefork pool ({args.concurrency} processes)"
    return f"{workers}, {args.latency_ms:g} ms API latency"
