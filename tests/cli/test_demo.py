"""`rbsync demo` end to end, as a person would run it: a subprocess that starts its own sandboxes,
receiver and worker against the test Redis, runs the scripted scenario and exits 0 with a summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

RBSYNC = Path(sys.executable).parent / "rbsync"


@pytest.mark.slow
def test_demo_runs_the_scenario_and_exits_0_with_a_summary(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: redis.Redis
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update({"RBSYNC_REDIS_URL": redis_url, "RBSYNC_CONNECTION_ID": session_namespace})
    # tmp_path as the working directory: a developer's .env must not steer the test.
    answer = subprocess.run(
        [str(RBSYNC), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )
    output = answer.stdout
    assert answer.returncode == 0, f"stdout:\n{output}\nstderr:\n{answer.stderr}"
    assert "rbsync demo: OK" in output
    # Each scripted step happened, in order.
    steps = [
        "==> create 2 product groups and 5 products",
        "==> update 2 products",
        "==> break a product",
        "==> the dead-letter list (rbsync dlq list)",
        "==> fix it in Rackbeat (no webhook) and retry the entry",
    ]
    positions = [output.index(step) for step in steps]
    assert positions == sorted(positions)
    assert re.search(r"DEMO-3001\s+dead-lettered", output)
    assert re.search(r"dead letter \w+: resolved", output)
    # The summary counts what the scenario did: 2 groups + 5 products + the fixed one created, 2 replaced,
    # 1 dead-lettered.
    transfers = re.search(r"transfers: (\d+) \(([^)]*)\)", output)
    assert transfers, output
    counts = dict((name, int(n)) for name, n in (part.split() for part in transfers.group(2).split(", ")))
    assert counts["created"] == 8
    assert counts["replaced"] == 2
    assert counts["dead-lettered"] == 1
    assert re.search(r"API calls by the workers: [1-9]\d*", output)
    # The demo cleans up after itself: nothing of its namespace is left in Redis.
    assert not list(redis_client.scan_iter(match=f"*{session_namespace}-sandbox-*", count=1000))


def test_demo_exits_non_zero_naming_the_problem_when_the_service_cannot_come_up(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    # A Redis on another host is never replaced by a local one: the demo must stop and say why.
    env["RBSYNC_REDIS_URL"] = "redis://redis.invalid:6379/0"
    answer = subprocess.run(
        [str(RBSYNC), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert answer.returncode == 1
    assert "rbsync demo: FAILED" in answer.stderr
    assert "RBSYNC_REDIS_URL" in answer.stderr
    assert "Traceback" not in answer.stderr
