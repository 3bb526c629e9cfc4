"""Added latency waits side by side: 100 concurrent requests at 100 ms take about 100 ms, not 10 s.

The benchmarks' `--latency-ms` (`tasks.harness.sandboxes.start(latency_ms=...)`) adds the latency with the
faults layer's asyncio sleep, outside every lock and off the event loop's critical path; a sleep that held
the sandbox's lock, or blocked the loop, would serialise the requests and this would take 10 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tasks.harness import sandboxes

LATENCY_MS = 100
REQUESTS = 100


@pytest.fixture(scope="module")
def started() -> Iterator[sandboxes.StartedSandboxes]:
    both = sandboxes.start(rate_limits=False, latency_ms=LATENCY_MS)
    try:
        yield both
    finally:
        for server in both.servers:
            server.stop()
        both.rackbeat.close()
        both.economic.close()


def _timed_burst(url: str, headers: dict[str, str]) -> tuple[float, list[float], list[int]]:
    """REQUESTS concurrent GETs of `url`: (wall time, each request's time, statuses)."""
    limits = httpx.Limits(max_connections=REQUESTS, max_keepalive_connections=REQUESTS)
    with httpx.Client(headers=headers, limits=limits, timeout=30) as client:
        client.get(url)  # warm: the first connection and the app's first answer

        def one(_: int) -> tuple[float, int]:
            began = time.perf_counter()
            status = client.get(url).status_code
            return time.perf_counter() - began, status

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            results = list(pool.map(one, range(REQUESTS)))
        wall = time.perf_counter() - began
    return wall, [seconds for seconds, _ in results], [status for _, status in results]


@pytest.mark.parametrize("api", ["rackbeat", "economic"])
def test_concurrent_requests_wait_side_by_side(started: sandboxes.StartedSandboxes, api: str) -> None:
    env = started.settings_env
    if api == "rackbeat":
        url = env["RBSYNC_RACKBEAT_BASE_URL"] + "products"
        headers = {"Authorization": f"Bearer {env['RBSYNC_RACKBEAT_TOKEN']}"}
    else:
        url = env["RBSYNC_ECONOMIC_BASE_URL"] + "products"
        headers = {
            "X-AppSecretToken": env["RBSYNC_ECONOMIC_APP_SECRET_TOKEN"],
            "X-AgreementGrantToken": env["RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN"],
        }
    wall, each, statuses = _timed_burst(url, headers)
    assert all(200 <= status < 300 for status in statuses), statuses
    # Every answer really waited (the latency is applied) ...
    assert min(each) >= LATENCY_MS / 1000 * 0.95
    # ... and they waited together: serialised they would take REQUESTS x 100 ms = 10 s. The bound leaves
    # room for a shared, busy machine (thread start-up, 100 connections, the app's own work).
    assert wall < 2.0, f"{REQUESTS} concurrent requests at {LATENCY_MS} ms took {wall:.2f} s"


def test_latency_is_set_on_both_sandboxes(started: sandboxes.StartedSandboxes) -> None:
    for sandbox in (started.rackbeat, started.economic):
        assert sandbox.faults.config.latency_ms == LATENCY_MS


def test_no_latency_by_default() -> None:
    both = sandboxes.start(rate_limits=False)
    try:
        assert both.rackbeat.faults.config.latency_ms == 0
        assert both.economic.faults.config.latency_ms == 0
    finally:
        for server in both.servers:
            server.stop()
        both.rackbeat.close()
        both.economic.close()
