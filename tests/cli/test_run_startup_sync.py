"""`rbsync run --startup-sync`: e-conomic seeded, Rackbeat empty, the start-up sync run on the worker with
its bars and summary, then the service keeps running; refused in real mode with one line."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tasks.harness.localredis import free_port
from tests.cli.test_run import RBSYNC, Output

# e-conomic's collection, its number field: the nine kinds the start-up sync copies (Rackbeat: `number`).
KINDS = {
    "layouts": "layoutNumber",
    "employees": "employeeNumber",
    "payment-terms": "paymentTermsNumber",
    "customer-groups": "customerGroupNumber",
    "supplier-groups": "supplierGroupNumber",
    "product-groups": "productGroupNumber",
    "customers": "customerNumber",
    "suppliers": "supplierNumber",
    "products": "productNumber",
}


def numbers(admin: str, kind: str, field: str) -> list[str]:
    answer = httpx.get(f"{admin}dump/{kind}", timeout=10)
    answer.raise_for_status()
    return sorted(str(record[field]) for record in answer.json()[kind])


@pytest.mark.slow
def test_run_startup_sync_fills_the_empty_rackbeat_then_keeps_running(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: object
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update({"RBSYNC_REDIS_URL": redis_url, "RBSYNC_CONNECTION_ID": session_namespace})
    process = subprocess.Popen(
        [
            str(RBSYNC),
            "run",
            "--startup-sync",
            "--no-simulate",
            "--seed-size",
            "tiny",
            "--web-port",
            str(free_port()),
            "--flower-port",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        admin = output.wait_for(r"Sandbox admin\s+(\S+)\s+(\S+)", timeout=60)
        rackbeat_admin, economic_admin = admin.group(1), admin.group(2)
        output.wait_for(r"Start-up sync: ", timeout=10)
        at = len(output.lines)
        # The command's own summary (a table titled "Start-up sync", then its last line), then ours.
        output.wait_for(r"^\s*Start-up sync\s*$", timeout=60, after=at)
        output.wait_for(r"^start-up sync done$", timeout=10, after=at)
        output.wait_for(r"rbsync: start-up sync done; the service keeps running", timeout=10, after=at)
        output.wait_for(r"Transfers \(Ctrl-C to stop\)", timeout=10)
        for kind, field in KINDS.items():
            in_economic = numbers(economic_admin, kind, field)
            assert in_economic, kind
            # Every record once, under e-conomic's number.
            assert numbers(rackbeat_admin, kind, "number") == in_economic, kind
        assert process.poll() is None, "the service keeps running after the sync"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
        output.rest(timeout=5)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    text = "\n".join(output.lines)
    assert "rbsync: stopped" in text
    assert "Simulated activity" not in text


def test_run_startup_sync_is_refused_against_the_real_apis(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    answer = subprocess.run(
        [str(RBSYNC), "run", "--real", "--startup-sync"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 2
    assert answer.stderr.strip().splitlines() == [
        "rbsync: --startup-sync is for the sandboxes only; against the real APIs run `rbsync startup-sync`"
    ]
    assert answer.stdout == ""
