"""bench.startup_sync, small: ~200 products (about 270 records of nine kinds) copied from e-conomic into an
empty Rackbeat with the limits off, then the sync run again. Correctness only (every record once, nothing
written by the re-run); no timing is judged."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_startup_sync_bench_brings_every_record_once_and_the_rerun_writes_nothing(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: object
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update({"RBSYNC_REDIS_URL": redis_url, "RBSYNC_CONNECTION_ID": session_namespace})
    env["PYTHONPATH"] = str(ROOT)
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.startup_sync",
            *("--products", "200", "--only", "unthrottled", "--only", "rerun"),
            *("--log-dir", str(tmp_path)),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = answer.stdout + answer.stderr
    arrivals = re.findall(r"arrived in Rackbeat once: (\d+)/(\d+) \((\d+) missing, (\d+) duplicated\)", out)
    # The first run and the re-run: every record of the nine kinds in Rackbeat once, each time.
    assert len(arrivals) == 2, out
    for arrived, records, missing, duplicated in arrivals:
        assert int(records) > 200 and arrived == records and (missing, duplicated) == ("0", "0"), out
    assert re.search(r"^  Rackbeat writes: 0$", out, re.MULTILINE), out
    assert "PASS  rerun: 0 Rackbeat writes" in out, out
    assert "PASS  every record in Rackbeat once, in every run" in out, out
    assert answer.returncode == 0, out
