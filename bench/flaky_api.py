"""Five-call transfers against a flaky API: the share that fails with call-level retry and without it.

    .venv/bin/python -m bench.flaky_api [--sequences 2000] [--error-rate 0.25] [--backoff 0.001]

Both sandboxes run in their own processes (rate limits set out of the way) and answer a share of all
requests with 500/502/503, from seeded dice. One sequence is the five reads of a customer transfer: the
Rackbeat customer, then its e-conomic customer group, payment terms and VAT zone, and ``self``. A sequence
fails when one of its calls raises, as a transfer then waits for the task-level retry. It is run once
with the clients' default ``call_retries`` and once with 0 (each time with the same dice), and printed
next to what independent failures predict: ``1 - (1 - rate ** (retries + 1)) ** 5``.

Which requests fail does not depend on the pauses between attempts, so they are shortened (``--backoff``,
0.001 s instead of the clients' 0.2 s) to keep the run short; pass ``--backoff 0.2`` for the real pacing.
The last column extrapolates: how often a transfer would still be dead-lettered after ``--task-attempts``
tries (1 + ``transfer_max_retries``) if each try failed independently with the measured share.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import httpx

from bench._loopback import sandbox_process
from clients.economic import EconomicClient
from clients.errors import TransientError
from clients.http import DEFAULT_CALL_RETRIES
from clients.rackbeat import RackbeatClient

RB_TOKEN = "bench-token"
SECRET, GRANT = "bench-app-secret", "bench-grant"
CALLS = 5
CUSTOMER = {"number": 5, "company_name": "Flaky A/S", "payment_terms_id": 1}


@dataclass
class Figures:
    retries: int
    sequences: int
    failed: int
    requests: int
    seconds: float

    @property
    def share(self) -> float:
        return self.failed / self.sequences


def once_in(probability: float) -> str:
    if not probability:
        return "never"
    return f"once in {1 / probability:,.0f}" if probability > 1e-6 else f"once in {1 / probability:.0e}"


def five_calls(rb: RackbeatClient, eco: EconomicClient) -> None:
    rb.get("customers", CUSTOMER["number"], "customer")
    eco.get_item("customer-groups", 1)
    eco.get_item("payment-terms", 1)
    eco.get_item("vat-zones", 1)
    eco.get("self")


def measure(
    rb_url: str, eco_url: str, *, retries: int, sequences: int, error_rate: float, backoff: float
) -> Figures:
    rb = RackbeatClient(rb_url + "/api/", RB_TOKEN)
    eco = EconomicClient(eco_url, eco_url, SECRET, GRANT, call_retries=retries, call_retry_backoff=backoff)
    rb.call_retries, rb.call_retry_backoff = retries, backoff  # RackbeatClient does not take them (yet)
    with rb, eco:
        for url, seed in ((rb_url, 11), (eco_url, 7)):
            faults = {"error_rate": error_rate, "seed": seed}
            httpx.put(url + "/_sandbox/faults", json=faults, timeout=10).raise_for_status()
        failed = 0
        started = time.perf_counter()
        for _ in range(sequences):
            try:
                five_calls(rb, eco)
            except TransientError:
                failed += 1
        elapsed = time.perf_counter() - started
        return Figures(retries, sequences, failed, rb.call_count + eco.call_count, elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flaky_api", description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=2000, help="five-call sequences per run")
    parser.add_argument("--error-rate", type=float, default=0.25, help="share of requests answered 5xx")
    parser.add_argument("--backoff", type=float, default=0.001, help="first pause between attempts (s)")
    parser.add_argument("--task-attempts", type=int, default=9, help="tries a transfer gets (1 + retries)")
    args = parser.parse_args(argv)

    rb_options = ["--token", RB_TOKEN, "--requests-per-minute", str(10**9)]
    eco_options = ["--app-secret-token", SECRET, "--agreement-grant-token", GRANT]
    with (
        sandbox_process("rackbeat", rb_options) as rb_url,
        sandbox_process("economic", [*eco_options, "--bucket-size", str(10**9)]) as eco_url,
    ):
        httpx.post(rb_url + "/_sandbox/load", json={"customers": [CUSTOMER]}, timeout=30).raise_for_status()
        print(
            f"{args.sequences} sequences of {CALLS} GETs (1 Rackbeat, 4 e-conomic), "
            f"{args.error_rate:.0%} of requests answered 5xx, first pause {args.backoff:g} s",
            flush=True,
        )
        print(
            f"{'call_retries':<14}{'failed':>14}{'share':>9}{'predicted':>11}{'requests/seq':>14}"
            f"{'time':>9}   dead-lettered after {args.task_attempts} tries",
            flush=True,
        )
        for retries in (DEFAULT_CALL_RETRIES, 0):
            figures = measure(
                rb_url,
                eco_url,
                retries=retries,
                sequences=args.sequences,
                error_rate=args.error_rate,
                backoff=args.backoff,
            )
            predicted = 1 - (1 - args.error_rate ** (retries + 1)) ** CALLS
            dead = figures.share**args.task_attempts
            label = f"{retries} (default)" if retries == DEFAULT_CALL_RETRIES else str(retries)
            print(
                f"{label:<14}{f'{figures.failed} / {figures.sequences}':>14}{figures.share:>9.1%}"
                f"{predicted:>11.1%}{figures.requests / figures.sequences:>14.2f}"
                f"{figures.seconds:>8.1f}s   {once_in(dead)}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
