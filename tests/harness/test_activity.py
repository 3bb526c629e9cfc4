"""The scripted activity of `rbsync run --simulate`, against a real Rackbeat sandbox over HTTP."""

from __future__ import annotations

import re
import time

from clients.rackbeat import RackbeatClient
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
