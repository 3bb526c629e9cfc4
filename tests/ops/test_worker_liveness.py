"""What the worker's Compose health check sees, with a real prefork Celery worker: the heartbeat file is
refreshed by the worker's MAIN process, so a main process that is stuck (SIGSTOP here) turns the probe
unhealthy even while its pool processes live on, and a dead one never turns it healthy again.

Compose runs the same probe (`python -m tasks.cli.healthcheck file --max-age 60`); here the age limit is
small so the test is quick."""

from __future__ import annotations

import os
import signal
import time
import uuid
from contextlib import suppress
from pathlib import Path

import pytest

from tasks.cli.healthcheck import main as probe
from tasks.harness.processes import ManagedProcess, children_of, wait_until

MAX_AGE = "5"  # seconds; Celery sends a heartbeat every 2 s


@pytest.mark.slow
def test_the_probe_sees_a_stuck_worker_main_process_although_its_pool_lives(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: object
) -> None:
    """(`redis_client` is requested for its clean-up of the session's keys.)"""
    heartbeat = tmp_path / "worker.heartbeat"
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update(
        {
            "RBSYNC_REDIS_URL": redis_url,
            "RBSYNC_CONNECTION_ID": f"{session_namespace}-liveness",
            "RBSYNC_BROKER_KEY_PREFIX": f"{session_namespace}-liveness:",
            "RBSYNC_RACKBEAT_TOKEN": "unused",
            "RBSYNC_ECONOMIC_APP_SECRET_TOKEN": "unused",
            "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN": "unused",
            "WORKER_HEARTBEAT_FILE": str(heartbeat),
        }
    )
    worker = ManagedProcess(
        "worker",
        [
            "python",
            "-m",
            "celery",
            "-A",
            "tasks",
            "worker",
            "--queues=transfers,polls,bulk,dlq",
            "--concurrency=1",
            f"--hostname=liveness-{uuid.uuid4().hex[:6]}@%h",
            "--loglevel=INFO",
            "--include=tasks.cli.healthcheck",
        ],
        env,
        tmp_path / "worker.log",
        stop_timeout=20,
    ).start()
    healthy = ["file", "--path", str(heartbeat), "--max-age", MAX_AGE]
    try:
        assert wait_until(lambda: probe(healthy) == 0, timeout=30), worker.log_tail()
        main_pid = worker.pid
        assert main_pid is not None
        pool = children_of(main_pid)
        assert pool, "a prefork worker has pool processes"
        # Heartbeats keep coming while it runs: the file is newer a few seconds later.
        first = heartbeat.stat().st_mtime
        assert wait_until(lambda: heartbeat.stat().st_mtime > first, timeout=10)

        os.kill(main_pid, signal.SIGSTOP)  # stuck: alive, holding its broker connection, doing nothing
        began = time.monotonic()
        assert wait_until(lambda: probe(healthy) == 1, timeout=15)
        assert time.monotonic() - began < float(MAX_AGE) + 5
        assert all(Path(f"/proc/{pid}").exists() for pid in pool), "the pool alone must not look healthy"

        os.kill(main_pid, signal.SIGKILL)  # dead
        time.sleep(1)
        assert probe(healthy) == 1
    finally:
        # Whatever state the test left it in: a stopped process acts on SIGTERM only after SIGCONT.
        if worker.pid is not None:
            with suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGCONT)
        worker.stop()
