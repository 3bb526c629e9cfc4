"""An operator can retry a dead letter from Flower's API (send-task by name), served by a real Flower."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tasks.dlq_tasks import RETRY_TASK_NAME
from tests.fixtures.service import PROJECT_ROOT, settings_env, wait_for
from tests.tasks.sample_tasks import SCRIPTED, runs, script

AUTH = ("operator", "flower-test-password")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def flower(service_settings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "flower.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks",
            "flower",
            "--address=127.0.0.1",
            f"--port={port}",
            f"--basic_auth={AUTH[0]}:{AUTH[1]}",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings_env(service_settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, (tmp_path / "flower.log").read_text()
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200
        return False

    try:
        wait_for(answers, timeout=60, interval=0.2, message="Flower to answer")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.mark.usefixtures("celery_worker")
def test_a_dead_letter_is_retried_through_flowers_send_task(flower, celery_app, service_redis, dlq_store):
    kind, key = "product", f"P-{uuid.uuid4().hex[:8]}"
    script(service_redis, kind, key, "permanent", "ok")
    celery_app.send_task(SCRIPTED, args=[kind, key])
    entry = wait_for(lambda: (dlq_store.entries_for_record(kind, key) or [None])[0], message="a dead letter")

    answer = httpx.post(
        f"{flower}/api/task/send-task/{RETRY_TASK_NAME}", json={"args": [entry["id"]]}, auth=AUTH, timeout=10
    )

    assert answer.status_code == 200, answer.text
    request_id = answer.json()["task-id"]
    wait_for(lambda: dlq_store.get(entry["id"])["status"] == "resolved", message="the entry to be resolved")
    [retry] = dlq_store.get(entry["id"])["retries"]
    assert retry["by"] == request_id
    assert runs(service_redis, kind, key)[-1]["task_id"] == retry["task_id"] != entry["task_id"]
