"""The failure policy of SyncTask, run by a real in-process worker against the real Redis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tasks.events import read_events
from tests.fixtures.service import wait_for
from tests.tasks.sample_tasks import SCRIPTED, runs, script

pytestmark = pytest.mark.usefixtures("celery_worker")


def new_record() -> tuple[str, str]:
    return "product", f"P-{uuid.uuid4().hex[:8]}"


def events_for(client: Any, task_id: str) -> list[dict[str, Any]]:
    return [event for _, event in read_events(client, count=100000) if event["task_id"] == task_id]


def outcome_of(client: Any, task_id: str, outcome: str) -> list[dict[str, Any]]:
    return [event for event in events_for(client, task_id) if event["outcome"] == outcome]


def send(celery_app: Any, kind: str, key: str) -> str:
    return celery_app.send_task(SCRIPTED, args=[kind, key]).id


def test_transient_errors_are_retried_until_the_task_succeeds(celery_app, service_redis, dlq_store):
    kind, key = new_record()
    script(service_redis, kind, key, "transient", "transient", "ok")

    task_id = send(celery_app, kind, key)

    done = wait_for(lambda: outcome_of(service_redis, task_id, "replaced"), message="the transfer to succeed")
    assert done[0]["economic_key"] == f"E-{key}"
    attempts = runs(service_redis, kind, key)
    assert [run["retries"] for run in attempts] == [0, 1, 2]
    assert {run["task_id"] for run in attempts} == {task_id}
    assert len(outcome_of(service_redis, task_id, "retrying")) == 2
    assert dlq_store.entries_for_record(kind, key) == []


def test_exhausted_retries_are_dead_lettered_once_with_args_and_the_api_text(
    celery_app, service_redis, dlq_store, service_settings
):
    kind, key = new_record()
    script(service_redis, kind, key, "transient")

    task_id = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, task_id, "dead-lettered"), message="the dead letter")
    expected_attempts = service_settings.transfer_max_retries + 1
    assert len(runs(service_redis, kind, key)) == expected_attempts
    [entry] = dlq_store.entries_for_record(kind, key)
    assert entry["classification"] == "transient-exhausted"
    assert entry["task_name"] == SCRIPTED
    assert entry["task_id"] == task_id
    assert entry["args"] == [kind, key] and entry["kwargs"] == {}
    assert entry["queue"] == "transfers"
    assert entry["error_class"] == "TransientError"
    assert entry["error"] == "Service Unavailable"
    assert entry["status_code"] == 503
    assert entry["attempts"] == expected_attempts
    assert entry["status"] == "new"
    assert len(outcome_of(service_redis, task_id, "dead-lettered")) == 1
