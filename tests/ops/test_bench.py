"""The benchmark runner finds the benchmarks; the end-to-end one runs (figures printed, not judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# bench.invoices, small: 4 customer and 3 supplier invoices x 3 deliveries, shuffled together, e-conomic
# faulted, one pool process SIGKILLed a second in (mid-transfer); a 6 s time limit, so the killed transfer's
# record lock (limit + 5 s) frees soon. The third supplier invoice is the EU supplier's (no VAT, on 1320).
SMALL_CHAOS = (
    *("--invoices", "4", "--supplier-invoices", "3"),
    *("--kill-every", "1", "--kills", "1", "--transfer-time-limit", "6"),
)


def test_the_runner_lists_every_benchmark_module() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "bench", "--list"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 0, answer.stderr
    listed = answer.stdout.split()
    on_disk = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))
    assert listed == on_disk
    assert "e2e_products" in listed


@pytest.mark.slow
def test_e2e_benchmark_transfers_every_product_and_prints_its_table(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: object
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update({"RBSYNC_REDIS_URL": redis_url, "RBSYNC_CONNECTION_ID": session_namespace})
    env["PYTHONPATH"] = str(ROOT)
    answer = subprocess.run(
        [sys.executable, "-m", "bench.e2e_products", "--products", "8", "--only", "unthrottled"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    row = next(line for line in answer.stdout.splitlines() if line.startswith("unthrottled"))
    # run, N, transferred, visible in e-conomic: all eight made it across.
    assert row.split()[1:4] == ["8", "8", "8"]
    assert "p99 s" in answer.stdout


@pytest.mark.slow
def test_invoice_benchmark_books_every_invoice_once_through_its_chaos(tmp_path: Path) -> None:
    """bench.invoices, small: a few customer and supplier invoices delivered 3 times through the receiver,
    e-conomic faulted, a pool process SIGKILLed; the run's own Redis and sandboxes (nothing of the session's
    is used)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env["PYTHONPATH"] = str(ROOT)
    answer = subprocess.run(
        [sys.executable, "-m", "bench.invoices", "--only", "chaos", *SMALL_CHAOS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    rows = {
        line.split()[1]: line.split()[2:8] for line in answer.stdout.splitlines() if line.startswith("chaos ")
    }
    # run, kind: invoices, deliveries, booked once, duplicates, lost, totals mismatched
    told = answer.stdout + answer.stderr
    for kind, invoices, deliveries in (("customer", "4", "12"), ("supplier", "3", "9")):
        row = rows.get(kind)
        assert row is not None and row[:2] == [invoices, deliveries], told
        booked, duplicates, lost, mismatched = row[2:6]
        # Never twice, never at another total, never lost: the Redis-restart losses of 2026-11-30 (a
        # delivery tag shared by two deliveries; a message that vanished before any worker received it)
        # are fixed, or caught by the stale-marker sweep, which the run's settle performs as beat would.
        assert (booked, duplicates, lost, mismatched) == (invoices, "0", "0", "0"), told
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "not in this bench" not in answer.stdout
