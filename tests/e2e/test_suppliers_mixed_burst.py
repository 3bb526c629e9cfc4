"""bench.mixed_burst: the burst it plans covers every registered kind in an order Rackbeat accepts, and a
small run moves every record through the real stack and prints a row per kind (figures not judged)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bench.mixed_burst import plan_burst, resource_depths
from sandbox.rackbeat.resources import RESOURCES
from tasks.entities import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
SEEDED_RESOURCES = {
    "product-groups",
    "units",
    "payment-terms",
    "employees",
    "customer-groups",
    "supplier-groups",
    "customers",
    "suppliers",
    "products",
    "lots",
}


def test_the_burst_has_the_size_asked_for_and_every_registered_kind_the_seed_can_supply() -> None:
    burst, silent = plan_burst(300)
    assert len(burst) == 300
    moved = {
        kind: spec for kind, spec in REGISTRY.items() if spec.exports is not None or spec.posting is not None
    }
    expected = {kind for kind, spec in moved.items() if spec.rackbeat.resource in SEEDED_RESOURCES}
    assert set(Counter(record.kind for record in burst)) == expected
    handled = {spec.rackbeat.resource for spec in moved.values()}
    assert not set(silent) & handled  # only what no kind moves is loaded without webhooks


def test_what_a_record_refers_to_is_written_before_it() -> None:
    burst, _ = plan_burst(300)
    first_write = {}
    for index, record in enumerate(burst):
        first_write.setdefault(record.resource, index)
    for record_index, record in enumerate(burst):
        for target in RESOURCES[record.resource].references.values():
            if target in first_write and target != record.resource:
                assert first_write[target] < record_index, (record.resource, target)


def test_documents_with_lines_sit_below_the_items_they_list() -> None:
    depths = resource_depths(["products", "lots", "product-groups"])
    assert depths["product-groups"] < depths["products"] < depths["lots"]


@pytest.mark.slow
def test_a_small_burst_moves_every_record_and_prints_a_row_per_kind(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: object
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update(
        {"RBSYNC_REDIS_URL": redis_url, "RBSYNC_CONNECTION_ID": session_namespace, "PYTHONPATH": str(ROOT)}
    )
    answer = subprocess.run(
        [sys.executable, "-m", "bench.mixed_burst", "--records", "80"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    rows = {line.split()[0]: line.split() for line in answer.stdout.splitlines() if line.strip()}
    assert rows["ALL"][1:3] == ["80", "80"]  # N, done
    for kind in ("supplier", "supplier_group", "employee"):
        assert kind in rows, answer.stdout
    assert "p99 s" in answer.stdout and "calls/rec" in answer.stdout
