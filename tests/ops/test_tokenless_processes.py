"""Beat and Flower make no API call, so they start without any API token when their role says so
(docker-compose.yml gives them none); any other process still refuses to start without them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.harness.localredis import free_port
from tests.fixtures.service import PROJECT_ROOT

READY = {"beat": "beat: Starting...", "flower": "Visit me at"}


def store_only_env(redis_url: str, connection_id: str, role: str | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update(
        {
            "RBSYNC_REDIS_URL": redis_url,
            "RBSYNC_CONNECTION_ID": connection_id,
            "FLOWER_BASIC_AUTH": "operator:not-a-default",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if role:
        env["RBSYNC_PROCESS_ROLE"] = role
    return env


def command(role: str) -> list[str]:
    extra = [f"--port={free_port()}"] if role == "flower" else ["--loglevel", "INFO"]
    return [sys.executable, "-m", "celery", "-A", "tasks", role, *extra]


@pytest.mark.parametrize("role", ["beat", "flower"])
def test_beat_and_flower_start_with_no_api_token(
    role: str, redis_url: str, session_namespace: str, tmp_path: Path
) -> None:
    log = tmp_path / f"{role}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command(role),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={
                **store_only_env(redis_url, f"{session_namespace}-{role}", role),
                "PYTHONPATH": str(PROJECT_ROOT),
            },
        )
    try:
        deadline = time.monotonic() + 30
        while READY[role] not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_without_the_role_a_process_still_needs_the_tokens(
    redis_url: str, session_namespace: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        command("beat"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**store_only_env(redis_url, f"{session_namespace}-beat", None), "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("rbsync: setting RBSYNC_RACKBEAT_TOKEN:")
