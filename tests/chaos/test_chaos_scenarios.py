"""The chaos benchmark's scenarios at a small scale: nothing lost, nothing duplicated, no secret leaked.

Each test runs one scenario of `bench.chaos` (the same code, so the two cannot drift) on a fresh stack of
its own: a `redis-server` with AOF on its own port (never the shared one), both sandboxes, the receiver and
a prefork worker (concurrency 2), with a visibility timeout of 5 s (`RBSYNC_VISIBILITY_TIMEOUT_SECONDS`),
so a message whose worker died is back in seconds. Faults are dealt at a moment the test waits for, not by
chance: a pool process is killed while it runs a transfer (Celery's STARTED state names its pid and the
transfer's delivery counter `deliveries:<task id>` exists), the worker and Redis are stopped while a
transfer runs, and Redis only once every delivery made before is answered (a delivery caught between its
pending claim and its publish loses its record: see test_pending_claim.py).
"""

from __future__ import annotations

import pytest

from bench._chaos_stack import ChaosSettings
from bench.chaos import SCENARIOS, Options, run_scenario

pytestmark = pytest.mark.slow

SMALL = Options(
    records=10,
    pool_kills=1,
    worker_kills=1,
    outage_seconds=2.0,
    latency_ms=300,
    quiet_seconds=1.0,
    settle_seconds=60,
    stop_amid_deliveries=False,
    rate_limit_burst=3,
    commit_then_fail=2,
)
# A short time limit: a record lock left by a killed transfer expires after it + 5 s.
SETTINGS = ChaosSettings(transfer_time_limit_seconds=6, http_timeout_seconds=2.0)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_scenario_loses_and_duplicates_nothing(scenario: str) -> None:
    row = run_scenario(scenario, SMALL, SETTINGS)
    report = row.report()
    print(report)
    assert row.missed == [], report  # every fault was dealt at its moment
    assert row.settled, report
    assert (row.lost, row.duplicated, row.secret_hits, row.server_errors) == (0, 0, 0, 0), report
    assert row.arrived == row.sent and row.dead_lettered == 0, report
