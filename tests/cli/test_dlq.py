"""``rbsync dlq`` and the retry task, end to end: real worker, real Redis, the click commands in-process."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from tasks.cli import main
from tasks.dlq_tasks import RETRY_TASK_NAME
from tasks.events import read_events
from tests.fixtures.service import wait_for
from tests.tasks.sample_tasks import SCRIPTED, runs, script

pytestmark = pytest.mark.usefixtures("celery_worker")


def rbsync(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def dead_letter(
    celery_app: Any, client: Any, store: Any, *steps: str, kind: str = "product"
) -> dict[str, Any]:
    """Run the scripted task until it is dead-lettered; return its entry."""
    key = f"P-{uuid.uuid4().hex[:8]}"
    script(client, kind, key, *steps)
    celery_app.send_task(SCRIPTED, args=[kind, key])
    return wait_for(lambda: (store.entries_for_record(kind, key) or [None])[0], message="a dead letter")


def succeeded(client: Any, task_id: str) -> bool:
    events = [event for _, event in read_events(client, count=10**6)]
    return any(event["task_id"] == task_id and event["outcome"] == "replaced" for event in events)


def test_retry_runs_the_task_again_under_a_new_id_and_resolves_the_entry(
    celery_app, service_redis, dlq_store
):
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent", "ok")

    result = rbsync("dlq", "retry", entry["id"])

    assert result.exit_code == 0, result.output
    retried = dlq_store.get(entry["id"])
    [retry] = retried["retries"]
    assert retry["task_id"] != entry["task_id"]
    assert retry["task_id"] in result.output
    wait_for(lambda: dlq_store.get(entry["id"])["status"] == "resolved", message="the entry to be resolved")
    attempts = runs(service_redis, entry["kind"], entry["key"])
    assert [run["task_id"] for run in attempts] == [entry["task_id"], retry["task_id"]]
    assert succeeded(service_redis, retry["task_id"])


def test_a_second_retry_of_the_same_entry_is_refused(celery_app, service_redis, dlq_store):
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent", "ok")
    assert rbsync("dlq", "retry", entry["id"]).exit_code == 0
    wait_for(lambda: dlq_store.get(entry["id"])["status"] == "resolved", message="the entry to be resolved")

    again = rbsync("dlq", "retry", entry["id"])

    assert again.exit_code != 0
    assert "not retried" in again.output
    assert len(dlq_store.get(entry["id"])["retries"]) == 1
    assert len(runs(service_redis, entry["kind"], entry["key"])) == 2


def test_the_retry_task_itself_refuses_an_entry_already_retrying(celery_app, service_redis, dlq_store):
    """Two retry requests racing past the CLI's check (or sent from Flower): only one replays."""
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent", "sleep:0.5")

    first = celery_app.send_task(RETRY_TASK_NAME, args=[entry["id"]])
    second = celery_app.send_task(RETRY_TASK_NAME, args=[entry["id"]])
    answers = [first.get(timeout=20), second.get(timeout=20)]

    assert sorted(answer["retried"] for answer in answers) == [False, True]
    wait_for(lambda: dlq_store.get(entry["id"])["status"] == "resolved", message="the entry to be resolved")
    assert len(runs(service_redis, entry["kind"], entry["key"])) == 2


def test_a_retry_that_fails_again_reopens_the_same_entry_and_says_so(celery_app, service_redis, dlq_store):
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent")

    result = rbsync("dlq", "retry", entry["id"], "--wait", "20")

    assert result.exit_code == 1, result.output
    again = dlq_store.get(entry["id"])
    assert again["failures"] == 2
    assert again["status"] == "new"
    assert again["task_id"] == again["retries"][0]["task_id"]
    assert len(dlq_store.entries_for_record(entry["kind"], entry["key"])) == 1
    assert f"FAILED again (task {again['task_id']})" in result.output
    assert f"PermanentError 409 from economic: {again['error']}" in result.output


def test_a_waited_retry_reports_the_transfer_not_just_the_request(celery_app, service_redis, dlq_store):
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent", "ok")

    result = rbsync("dlq", "retry", entry["id"], "--wait", "20", "--json")

    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["transfer"]["outcome"] == "succeeded"
    assert answer["transfer"]["status"] == "resolved"
    assert dlq_store.get(entry["id"])["status"] == "resolved", "reported only once it was"


def test_retry_with_wait_0_says_it_only_queued_the_retry(celery_app, service_redis, dlq_store):
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent", "ok")

    result = rbsync("dlq", "retry", entry["id"], "--wait", "0")

    assert result.exit_code == 0, result.output
    assert "retry queued" in result.output and "not waiting" in result.output
    wait_for(lambda: dlq_store.get(entry["id"])["status"] == "resolved", message="the entry to be resolved")


@pytest.mark.parametrize("command", [("list",), ("retry", "--all-matching")])
def test_an_unknown_kind_is_refused_with_the_valid_ones(command):
    result = rbsync("dlq", *command, "--kind", "prodcut")

    assert result.exit_code == 2
    assert "'prodcut' is not a known kind" in result.output
    for kind in ("product", "customer", "supplier_group", "unknown"):
        assert kind in result.output


@pytest.mark.parametrize("command", [("list",), ("retry", "--all-matching", "--kind", "product")])
def test_an_unknown_error_class_is_refused_with_the_valid_ones(command):
    result = rbsync("dlq", *command, "--error-class", "ValidationError")

    assert result.exit_code == 2
    assert "'ValidationError' is not a known error class" in result.output
    for error_class in ("ValidationFailed", "TransientError", "MappingError", "RedeliveryLimitExceeded"):
        assert error_class in result.output
    assert "RecordBusy" not in result.output, "never dead-lettered"


def test_a_kind_or_error_class_outside_the_taxonomy_is_valid_while_an_entry_has_it(
    celery_app, service_redis, dlq_store
):
    """Test kinds here, and the exception name of an unprocessable entry, are not in the registry."""
    kind = f"kind{uuid.uuid4().hex[:6]}"
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent", kind=kind)

    result = rbsync("dlq", "list", "--kind", kind, "--error-class", "PermanentError", "--json")

    assert result.exit_code == 0, result.output
    assert [listed["id"] for listed in json.loads(result.output)] == [entry["id"]]
    assert kind in rbsync("dlq", "list", "--kind", "no-such-kind").output, "named as present"


def test_batch_retry_replays_only_matching_new_entries(celery_app, service_redis, dlq_store):
    kind = f"kind{uuid.uuid4().hex[:6]}"
    matching = [
        dead_letter(celery_app, service_redis, dlq_store, "permanent", "ok", kind=kind) for _ in range(2)
    ]
    other = dead_letter(celery_app, service_redis, dlq_store, "validation", "ok", kind=kind)

    result = rbsync(
        "dlq",
        "retry",
        "--all-matching",
        "--kind",
        kind,
        "--error-class",
        "PermanentError",
        "--per-second",
        "50",
        "--json",
    )

    assert result.exit_code == 0, result.output
    requested = json.loads(result.output.strip().splitlines()[-1])
    assert sorted(item["entry_id"] for item in requested) == sorted(entry["id"] for entry in matching)
    for entry in matching:
        wait_for(lambda entry=entry: dlq_store.get(entry["id"])["status"] == "resolved", message="resolution")
    assert dlq_store.get(other["id"])["status"] == "new"


def test_discard_keeps_the_reason_and_closes_the_entry(celery_app, service_redis, dlq_store):
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent")

    result = rbsync("dlq", "discard", entry["id"], "--reason", "product deleted in Rackbeat")

    assert result.exit_code == 0, result.output
    discarded = dlq_store.get(entry["id"])
    assert discarded["status"] == "discarded"
    assert discarded["discard_reason"] == "product deleted in Rackbeat"
    assert rbsync("dlq", "retry", entry["id"]).exit_code != 0
    assert rbsync("dlq", "discard", entry["id"], "--reason", "again").exit_code != 0


def test_list_and_show_for_people_and_scripts(celery_app, service_redis, dlq_store):
    kind = f"kind{uuid.uuid4().hex[:6]}"
    entry = dead_letter(celery_app, service_redis, dlq_store, "validation", kind=kind)

    table = rbsync("dlq", "list", "--kind", kind)
    as_json = rbsync("dlq", "list", "--kind", kind, "--error-class", "ValidationFailed", "--json")
    none_old = rbsync("dlq", "list", "--kind", kind, "--older-than", "2h", "--json")
    shown = rbsync("dlq", "show", entry["id"])

    assert table.exit_code == 0 and entry["id"] in table.output and "ValidationFailed" in table.output
    assert "1 entry" in table.output
    [listed] = json.loads(as_json.output)
    assert listed["id"] == entry["id"] and listed["args"] == [kind, entry["key"]]
    assert json.loads(none_old.output) == []
    assert "salesPrice: Must be a number." in shown.output
    assert "Validation failed." in shown.output
    assert rbsync("dlq", "show", "no-such-entry").exit_code != 0
