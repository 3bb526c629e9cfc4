"""Credentials an API refuses: caught at start-up with one line, and while running, shown and waited out.

Real parts: both sandboxes (which answer 401 to a token they do not know), the worker and the receiver as
real processes for the start-up check, the in-process worker and the receiver app on loopback for the
running case.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from sandbox.common.server import ServerThread
from tasks.credentials import CredentialStatus
from tasks.deadletter import DeadLetterStore
from tasks.settings import Settings
from tasks.transfer import ExportTask, enqueue_export
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import PROJECT_ROOT, apply_settings, settings_env, wait_for
from web.app import create_app


def run_until_exit(
    argv: list[str], settings: Settings, cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("api", ["rackbeat", "economic"])
@pytest.mark.parametrize("process", ["worker", "receiver"])
def test_a_process_whose_credentials_are_refused_stops_at_start_with_one_line(
    api: str, process: str, sandbox_settings: Settings, tmp_path: Path
) -> None:
    field = "rackbeat_token" if api == "rackbeat" else "economic_agreement_grant_token"
    wrong = sandbox_settings.model_copy(update={field: SecretStr("not-" + uuid.uuid4().hex)})
    argv = {
        "worker": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        "receiver": [sys.executable, "-m", "web", "--port", "0", "--no-register-webhooks"],
    }[process]

    finished = run_until_exit(argv, wrong, tmp_path)

    assert finished.returncode == 2, finished.stdout + finished.stderr
    label = "Rackbeat" if api == "rackbeat" else "e-conomic"
    lines = [line for line in finished.stderr.splitlines() if "refused our credentials" in line]
    assert len(lines) == 1 and lines[0].startswith(f"rbsync: {label} refused our credentials (401"), lines
    assert "Traceback" not in finished.stderr + finished.stdout


@pytest.fixture
def quick_auth_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ExportTask, "auth_wait_seconds", (0.3, 0.6))


@pytest.fixture
def receiver(sandbox_settings: Settings) -> Iterator[ServerThread]:
    server = ServerThread(create_app(sandbox_settings, register_webhooks=False)).start()
    yield server
    server.stop()


@pytest.mark.usefixtures("celery_worker", "quick_auth_wait")
def test_a_revoked_token_is_shown_and_transfers_wait_for_it_instead_of_dead_lettering(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    receiver: ServerThread,
    redis_client: redis.Redis,
    session_namespace: str,
) -> None:
    forget_records(redis_client, session_namespace)
    status = CredentialStatus(redis_client, sandbox_settings.connection_id)
    redis_client.delete(status.name("rackbeat"), status.name("economic"))
    group = rackbeat_sandbox.sandbox.create("product-groups", {"name": "Waiting"})
    number = f"AUTH-{uuid.uuid4().hex[:6].upper()}"
    rackbeat_sandbox.sandbox.create(
        "products", {"number": number, "name": number, "group_id": group["number"], "sales_price": 3.0}
    )
    revoked = sandbox_settings.model_copy(update={"rackbeat_token": SecretStr("revoked-" + uuid.uuid4().hex)})
    apply_settings(revoked)
    try:
        assert enqueue_export("product", number)
        wait_for(lambda: status.is_refused("rackbeat"), timeout=30, message="the refusal to be recorded")
        shown = httpx.get(f"{receiver.url}/status", timeout=5).json()["credentials"]
        assert shown["rackbeat"]["state"] == "refused" and shown["rackbeat"]["since"]
        assert shown["economic"]["state"] != "refused"
        metrics = httpx.get(f"{receiver.url}/metrics", timeout=5).text
        assert 'rbsync_api_credentials_ok{api="rackbeat"} 0' in metrics
        assert 'rbsync_api_credentials_ok{api="economic"} 1' in metrics
        health = httpx.get(f"{receiver.url}/healthz", timeout=5)
        assert health.status_code == 200, "liveness is about the process, not the token"
        assert (
            DeadLetterStore(redis_client, sandbox_settings.connection_id).entries_for_record(
                "product", number
            )
            == []
        ), "a transfer waits for the credential, it is not dead-lettered"
    finally:
        apply_settings(sandbox_settings)  # the token is fixed

    wait_for(
        lambda: [p for p in economic_sandbox.sandbox.dump("products") if p["productNumber"] == number],
        timeout=30,
        message="the waiting transfer to go through",
    )
    wait_for(lambda: not status.is_refused("rackbeat"), timeout=10, message="the state to clear")
    metrics = httpx.get(f"{receiver.url}/metrics", timeout=5).text
    assert 'rbsync_api_credentials_ok{api="rackbeat"} 1' in metrics


def test_the_receiver_refuses_to_register_a_public_url_rackbeat_cannot_reach(
    sandbox_settings: Settings, tmp_path: Path
) -> None:
    # Refused before any call is made, so this Rackbeat URL is never contacted.
    settings = sandbox_settings.model_copy(
        update={
            "rackbeat_base_url": "https://app.rackbeat.com/api/",
            "public_url": "http://127.0.0.1:8000",
        }
    )
    finished = run_until_exit(
        [sys.executable, "-m", "web", "--port", "0", "--register-webhooks"], settings, tmp_path
    )

    assert finished.returncode == 2, finished.stdout + finished.stderr
    [line] = finished.stderr.strip().splitlines()
    assert "RBSYNC_PUBLIC_URL" in line and "Traceback" not in finished.stderr
