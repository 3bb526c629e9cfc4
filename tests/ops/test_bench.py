"""The benchmark runner finds the benchmarks; the end-to-end one runs (figures printed, not judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
