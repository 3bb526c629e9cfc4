"""What a person watching `rbsync run` sees: the scripted activity of `--simulate`, against a real Rackbeat
sandbox over HTTP, and the console line of a retry (tasks/cli/run.py's format_event)."""

from __future__ import annotations

import re
import time

import pytest

from clients.rackbeat import RackbeatClient
from tasks.cli.run import format_event
from tasks.harness.activity import ActivitySimulator


def test_steps_create_products_in_existing_groups_and_then_change_them(rackbeat_sandbox) -> None:
    rackbeat_sandbox.sandbox.load(
        {"product-groups": [{"number": 5, "name": "Five"}, {"number": 6, "name": "Six"}]}
    )
    with RackbeatClient(rackbeat_sandbox.api_url, rackbeat_sandbox.token) as client:
        simulator = ActivitySimulator(client, interval=3600, seed=7, prefix="T", groups=["5", "6"])
        reports = [simulator.step() for _ in range(12)]

    created = [line.split()[2] for line in reports if line.startswith("created")]
    last_change: dict[str, tuple[str, str]] = {}
    for line in reports:
        match = re.fullmatch(r"updated product (\S+) \((\w+)=(.*)\)", line)
        if match:
            last_change[match.group(1)] = (match.group(2), match.group(3))
    assert created and last_change
    assert set(last_change) <= set(created)
    for number in created:
        product = rackbeat_sandbox.sandbox.get("products", number)
        assert product is not None
        assert product["group_id"] in {5, 6}
    # The sandbox holds each product's latest change.
    for number, (field, value) in last_change.items():
        stored = rackbeat_sandbox.sandbox.get("products", number)[field]
        assert str(stored) == value or (field == "sales_price" and float(stored) == float(value))


def test_start_reads_the_groups_and_stop_ends_the_thread(rackbeat_sandbox) -> None:
    rackbeat_sandbox.sandbox.load({"product-groups": [{"number": 9, "name": "Nine"}]})
    lines: list[str] = []
    with RackbeatClient(rackbeat_sandbox.api_url, rackbeat_sandbox.token) as client:
        simulator = ActivitySimulator(client, interval=0.05, report=lines.append, seed=1).start()
        try:
            assert simulator.groups == ["9"]
            deadline = time.monotonic() + 20
            while len(lines) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            simulator.stop()
    assert len(lines) >= 3
    assert all(line.startswith("activity: ") for line in lines)
    assert not simulator.running


RETRY = {
    "kind": "customer",
    "key": "1042",
    "outcome": "retrying",
    "retry_in": "16.2",
    "attempt": "3",
    "max_retries": "8",
    "reason": "e-conomic 503",
    "at": 0,
}


@pytest.mark.parametrize(
    ("api_calls", "ending"),
    [
        (4, "e-conomic 503, retry 3 of 8 in 16 s, 4 API calls"),
        (1, "e-conomic 503, retry 3 of 8 in 16 s, 1 API call"),
        (0, "e-conomic 503, retry 3 of 8 in 16 s, 0 API calls"),  # e.g. the rate-limit wait was given up
    ],
)
def test_a_retry_line_says_why_how_far_along_and_what_the_attempt_cost(api_calls: int, ending: str) -> None:
    line = format_event({**RETRY, "api_calls": str(api_calls)})  # stream fields are strings
    assert "\n" not in line
    assert line.split()[1:4] == ["customer", "1042", "retrying"]
    assert line.endswith(ending), line


def test_a_retry_event_without_a_reason_still_gets_its_delay_and_calls() -> None:
    older = {key: value for key, value in RETRY.items() if key not in ("reason", "max_retries")}
    assert format_event({**older, "api_calls": 2}).endswith("retry in 16 s, 2 API calls")


def test_other_lines_keep_their_calls_column() -> None:
    line = format_event(
        {"kind": "product", "key": "P-1", "outcome": "replaced", "economic_key": "P-1", "api_calls": 2}
    )
    assert line.endswith("e-conomic P-1            2 calls")  # the target column is 24 wide
