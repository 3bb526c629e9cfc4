"""The chaos guarantees with the transfers on a gevent worker (tasks/harness/workers.py, issue 14).

The scenarios of test_chaos_scenarios.py that prove "nothing lost, nothing twice", on the topology
`--pool gevent` starts: the transfers queue on a gevent worker (its greenlets run in the worker process
itself) and polls,bulk,dlq on a prefork worker beside it, with acks_late, reject-on-worker-lost and a
prefetch multiplier of 1 as ever. One stack serves the three in turn (each has a batch of records of its
own and settles before it is counted), which keeps the suite short:

- `webhooks-x3`: every delivery posted three times, shuffled, from 4 threads -> each record once;
- `api-faults`: 5xx, dropped connections, 429 bursts and e-conomic writes committed then failed (a 500,
  then a dropped connection) -> the idempotency keys keep every record to one e-conomic write;
- `pool-kill`: the gevent worker has no pool children, so the process SIGKILLed while it runs a transfer is
  the worker itself, with every transfer in flight; it is started again as a supervisor would, and the
  unacked messages come back after the visibility timeout -> nothing lost, nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench._chaos_stack import ChaosSettings, ChaosStack
from bench.chaos import run_scenario
from tests.chaos.test_chaos_scenarios import SETTINGS, SMALL

pytestmark = pytest.mark.slow

GEVENT = ChaosSettings(
    transfer_time_limit_seconds=SETTINGS.transfer_time_limit_seconds,
    http_timeout_seconds=SETTINGS.http_timeout_seconds,
    pool="gevent",
    green_concurrency=20,
)


@pytest.fixture(scope="module")
def stack() -> Iterator[ChaosStack]:
    with ChaosStack(GEVENT, label="chaos-gevent") as started:
        yield started


# In this order: the kill last, since it restarts the worker.
@pytest.mark.parametrize("scenario", ["webhooks-x3", "api-faults", "pool-kill"])
def test_gevent_worker_loses_and_duplicates_nothing(stack: ChaosStack, scenario: str) -> None:
    row = run_scenario(scenario, SMALL, stack=stack)
    report = row.report()
    print(report)
    assert row.missed == [], report  # every fault was dealt at its moment
    assert row.settled, report
    assert (row.lost, row.duplicated, row.secret_hits, row.server_errors) == (0, 0, 0, 0), report
    assert row.arrived == row.sent and row.dead_lettered == 0, report
    if scenario == "pool-kill":
        assert any("gevent worker process SIGKILLed 1 time" in note for note in row.notes), report
        assert stack.worker_restarts == 1, report
