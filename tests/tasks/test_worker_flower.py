"""What an operator sees and does in a real Flower, started with the service's options, watching a real
in-process worker: each transfer's kind and key, a dead letter's reason and entry, a failed task whose
dead letter was later resolved; and a dead letter retried from Flower's API (send-task by name)."""

from __future__ import annotations

import ast
import contextlib
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tasks.celery import FLOWER_TASKS_COLUMNS, flower_options
from tasks.dlq_tasks import RETRY_TASK_NAME
from tests.fixtures.service import PROJECT_ROOT, settings_env, wait_for
from tests.tasks.sample_tasks import SCRIPTED, runs, script

AUTH = ("operator", "flower-test-password")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def flower(service_settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Flower for this module's tests (each test works on records of its own)."""
    tmp_path = tmp_path_factory.mktemp("flower")
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
            *flower_options(),
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


# --- what Flower shows -------------------------------------------------------------------------------


def flower_task(flower: str, task_id: str) -> dict[str, Any] | None:
    """Flower's view of one task (built from the worker's events), None while Flower does not know it."""
    answer = httpx.get(f"{flower}/api/task/info/{task_id}", auth=AUTH, timeout=5)
    return answer.json() if answer.status_code == 200 else None


def flower_task_in_state(flower: str, task_id: str, state: str) -> dict[str, Any]:
    return wait_for(
        lambda: (task := flower_task(flower, task_id)) and task["state"] == state and task,
        timeout=30,
        interval=0.2,
        message=f"Flower to show task {task_id} as {state}",
    )


@pytest.fixture
def watching_flower(flower: str, celery_app: Any, service_redis: Any) -> str:
    """Flower once it receives the worker's events (it subscribes a moment after it first answers)."""
    kind, key = "product", f"WARM-{uuid.uuid4().hex[:8]}"
    script(service_redis, kind, key, "ok")
    for _ in range(10):
        task_id = celery_app.send_task(SCRIPTED, args=[kind, key]).id
        try:
            wait_for(lambda task_id=task_id: flower_task(flower, task_id), timeout=3, interval=0.1)
        except pytest.fail.Exception:
            continue
        return flower
    pytest.fail("Flower never showed a task the worker ran")


@pytest.mark.usefixtures("celery_worker")
def test_flower_shows_kind_and_key_and_a_dead_letters_reason_and_entry(
    watching_flower, celery_app, service_redis, dlq_store, service_settings
):
    kind, key = "product", f"P-{uuid.uuid4().hex[:8]}"
    script(service_redis, kind, key, "validation")

    task_id = celery_app.send_task(SCRIPTED, args=[kind, key]).id

    task = flower_task_in_state(watching_flower, task_id, "FAILURE")
    [entry] = dlq_store.entries_for_record(kind, key)
    # the record, and the failure in e-conomic's words with the entry to look up
    assert list(ast.literal_eval(task["args"])) == [kind, key]
    assert task["exception"] == (
        f"DeadLettered('ValidationFailed: salesPrice: Must be a number. (dead letter {entry['id']})')"
    )
    # the traceback is the original's (where it failed), ending in the same line
    assert "sample_tasks.py" in task["traceback"]
    assert task["traceback"].rstrip().endswith(f"(dead letter {entry['id']})")
    assert "During handling" not in task["traceback"] and "direct cause" not in task["traceback"]
    # the entry keeps the original class (and so its classification)
    assert (entry["error_class"], entry["classification"]) == ("ValidationFailed", "permanent")
    secrets = [
        value.get_secret_value()
        for value in (
            service_settings.rackbeat_token,
            service_settings.economic_app_secret_token,
            service_settings.economic_agreement_grant_token,
        )
    ]
    assert not [secret for secret in secrets if secret in str(task)]

    # the task list has the service's columns, and finds the task by its key
    page = httpx.get(f"{watching_flower}/tasks", auth=AUTH, timeout=10).text
    assert tuple(re.findall(r'<th data-column="(\w+)"', page)) == FLOWER_TASKS_COLUMNS
    rows = httpx.get(
        f"{watching_flower}/tasks/datatable",
        params={
            "draw": 1,
            "start": 0,
            "length": 10,
            "search[value]": key,
            "order[0][column]": 0,
            "columns[0][data]": "received",
            "order[0][dir]": "desc",
        },
        auth=AUTH,
        timeout=10,
    ).json()["data"]
    [row] = [row for row in rows if row["uuid"] == task_id]
    assert key in row["args"] and entry["id"] in row["exception"]


@pytest.mark.usefixtures("celery_worker")
def test_a_failed_task_whose_dead_letter_is_resolved_says_so_in_flower(
    watching_flower, celery_app, service_redis, dlq_store
):
    kind, key = "product", f"P-{uuid.uuid4().hex[:8]}"
    script(service_redis, kind, key, "permanent", "ok")
    failed = celery_app.send_task(SCRIPTED, args=[kind, key]).id
    flower_task_in_state(watching_flower, failed, "FAILURE")
    [entry] = dlq_store.entries_for_record(kind, key)

    answer = httpx.post(
        f"{watching_flower}/api/task/send-task/{RETRY_TASK_NAME}",
        json={"args": [entry["id"]]},
        auth=AUTH,
        timeout=10,
    )

    assert answer.status_code == 200, answer.text
    wait_for(lambda: dlq_store.get(entry["id"])["status"] == "resolved", message="the entry to be resolved")
    [retry] = dlq_store.get(entry["id"])["retries"]
    note = f"resolved: {kind} {key} transferred by task {retry['task_id']} (dead letter {entry['id']})"
    task = wait_for(
        lambda: (task := flower_task(watching_flower, failed)) and task["result"] == note and task,
        timeout=30,
        message="Flower to show the failed task as resolved",
    )
    assert task["state"] == "FAILURE" and entry["id"] in task["exception"]  # what happened stays
    assert task["worker"] == entry["worker"]
    # the replay is the retry request's child, with the record as its arguments
    replay = flower_task_in_state(watching_flower, retry["task_id"], "SUCCESS")
    assert replay["parent_id"] == answer.json()["task-id"]
    assert list(ast.literal_eval(replay["args"])) == [kind, key]


@pytest.mark.usefixtures("celery_worker")
def test_a_failed_task_a_later_transfer_made_moot_shows_as_superseded(
    watching_flower, celery_app, service_redis, dlq_store
):
    kind, key = "product", f"P-{uuid.uuid4().hex[:8]}"
    script(service_redis, kind, key, "permanent", "ok")
    failed = celery_app.send_task(SCRIPTED, args=[kind, key]).id
    flower_task_in_state(watching_flower, failed, "FAILURE")

    later = celery_app.send_task(SCRIPTED, args=[kind, key]).id

    flower_task_in_state(watching_flower, later, "SUCCESS")
    [entry] = dlq_store.entries_for_record(kind, key)
    note = f"superseded: {kind} {key} transferred by task {later} (dead letter {entry['id']})"
    wait_for(
        lambda: (task := flower_task(watching_flower, failed)) and task["result"] == note,
        timeout=30,
        message="Flower to show the failed task as superseded",
    )


def test_every_flower_start_passes_the_services_options():
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["flower"]["command"]
    assert set(flower_options()) <= set(command)
