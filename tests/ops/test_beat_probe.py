"""The compose health check of beat: healthy while a RedBeat scheduler holds its lock, not before."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.celery import build_config
from tasks.cli.healthcheck import beat_lock_key
from tests.cli.test_healthcheck_cost import HEAVY, compose_probe, imported_modules
from tests.fixtures.service import build_test_settings


def probe(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The probe as Compose runs it (a script: neither the app nor its settings are imported)."""
    return subprocess.run(
        compose_probe("beat"),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_beat_probe_follows_the_redbeat_lock(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: object
) -> None:
    """(`redis_client` is requested for its clean-up of the session's keys.)"""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update(
        {
            "RBSYNC_REDIS_URL": redis_url,
            "RBSYNC_CONNECTION_ID": f"{session_namespace}-beat",
            "RBSYNC_BROKER_KEY_PREFIX": f"{session_namespace}-beat:",
            "RBSYNC_PROCESS_ROLE": "beat",  # as in Compose: no API token
        }
    )
    before = probe(env, tmp_path)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "no RedBeat lock" in before.stdout

    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "beat",
            "--scheduler=redbeat.RedBeatScheduler",
            f"--schedule={tmp_path / 'schedule'}",
            "--loglevel=WARNING",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        answer = probe(env, tmp_path)
        while answer.returncode != 0 and time.monotonic() < deadline:
            assert beat.poll() is None, "beat exited"
            time.sleep(0.5)
            answer = probe(env, tmp_path)
        assert answer.returncode == 0, answer.stdout + answer.stderr
        assert "RedBeat lock held" in answer.stdout
    finally:
        beat.terminate()
        beat.wait(timeout=30)


def test_the_beat_probe_imports_only_redis_py_and_reads_the_key_beat_holds(redis_url: str) -> None:
    status, _, modules = imported_modules(
        compose_probe("beat"), RBSYNC_REDIS_URL=redis_url, RBSYNC_CONNECTION_ID="probe-imports"
    )
    assert status == 1  # no beat runs for this connection
    assert "redis" in modules and not (modules & (set(HEAVY) - {"redis"})), modules & set(HEAVY)
    settings = build_test_settings(redis_url, "probe-imports")
    assert beat_lock_key("probe-imports") == build_config(settings)["redbeat_lock_key"]
