"""The compose health check of beat: healthy while a RedBeat scheduler holds its lock, not before."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest


def probe(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tasks.cli.healthcheck", "beat"],
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
            "RBSYNC_RACKBEAT_TOKEN": "unused",
            "RBSYNC_ECONOMIC_APP_SECRET_TOKEN": "unused",
            "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN": "unused",
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
