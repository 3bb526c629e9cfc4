"""DeadLetterStore against the real Redis: one open entry per record, atomic transitions, filters."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from clients.errors import ValidationFailed
from tasks.base import failure_details
from tasks.deadletter import DeadLetterStore, Failure


def failure(kind: str = "product", key: str | None = None, **changes: Any) -> Failure:
    values: dict[str, Any] = {
        "task_name": "rbsync.export_record",
        "task_id": str(uuid.uuid4()),
        "args": [kind, key or f"P-{uuid.uuid4().hex[:8]}"],
        "kwargs": {},
        "queue": "transfers",
        "kind": kind,
        "key": key or "",
        "classification": "permanent",
        "error_class": "ValidationFailed",
        "error": "Validation failed.",
        "field_errors": {"name": ["Required."]},
        "status_code": 400,
        "api": "economic",
        "attempts": 1,
        "worker": "w1@test",
    }
    values.update(changes)
    if not values["key"]:
        values["key"] = values["args"][1]
    return Failure(**values)


def test_a_failure_becomes_a_full_json_record_that_never_expires(dlq_store: DeadLetterStore, service_redis):
    entry = dlq_store.record_failure(failure(args=["product", "P-1", []], kwargs={"flags": {}}, key="P-1"))

    stored = json.loads(service_redis.hget(dlq_store.entries_key, entry["id"]))
    assert stored == dlq_store.get(entry["id"]) == entry
    assert stored["args"] == ["product", "P-1", []] and stored["kwargs"] == {"flags": {}}
    assert stored["status"] == "new" and stored["retries"] == [] and stored["failures"] == 1
    assert stored["history"][0]["event"] == "failed"
    for name in (dlq_store.entries_key, dlq_store.order_key, dlq_store.record_key("product", "P-1")):
        assert service_redis.ttl(name) == -1, f"{name} must not expire"


def test_the_same_record_failing_again_updates_its_open_entry(dlq_store: DeadLetterStore):
    key = f"P-{uuid.uuid4().hex[:8]}"
    first = dlq_store.record_failure(failure(key=key, attempts=4, classification="transient-exhausted"))
    second = dlq_store.record_failure(failure(key=key, error="Still broken", attempts=1))
    other_task = dlq_store.record_failure(failure(key=key, task_name="rbsync.import_record"))

    assert second["id"] == first["id"]
    assert other_task["id"] != first["id"], "another task's failure of the record is its own entry"
    entry = dlq_store.get(first["id"])
    assert entry["attempts"] == 5 and entry["failures"] == 2
    assert entry["error"] == "Still broken" and entry["classification"] == "permanent"
    assert entry["first_failed_at"] == first["first_failed_at"]
    assert len(dlq_store.entries_for_record("product", key)) == 2


def test_concurrent_failures_of_one_record_make_one_entry(dlq_store: DeadLetterStore):
    key = f"P-{uuid.uuid4().hex[:8]}"
    barrier = threading.Barrier(6)

    def fail() -> None:
        barrier.wait()
        dlq_store.record_failure(failure(key=key))

    threads = [threading.Thread(target=fail) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [entry] = dlq_store.entries_for_record("product", key)
    assert entry["failures"] == 6


def test_only_one_of_concurrent_retries_wins(dlq_store: DeadLetterStore):
    entry = dlq_store.record_failure(failure())
    outcomes: list[bool] = []
    barrier = threading.Barrier(8)

    def retry(number: int) -> None:
        barrier.wait()
        outcomes.append(dlq_store.mark_retrying(entry["id"], retry_task_id=f"t{number}"))

    threads = [threading.Thread(target=retry, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count(True) == 1
    assert len(dlq_store.get(entry["id"])["retries"]) == 1
    assert dlq_store.mark_retrying("no-such-entry") is False


def test_success_resolves_the_retried_entry_and_supersedes_the_rest(dlq_store: DeadLetterStore):
    key = f"P-{uuid.uuid4().hex[:8]}"
    retried = dlq_store.record_failure(failure(key=key))
    dlq_store.mark_retrying(retried["id"], retry_task_id="replay-1")
    older = dlq_store.record_failure(failure(key=key, task_name="rbsync.other"))
    closed = dlq_store.record_failure(failure(key=key, task_name="rbsync.third"))
    dlq_store.discard(closed["id"], "not needed")

    changed = dlq_store.resolve_for_record("product", key, task_id="replay-1")

    assert sorted(changed) == sorted([retried["id"], older["id"]])
    assert dlq_store.get(retried["id"])["status"] == "resolved"
    assert dlq_store.get(older["id"])["status"] == "superseded"
    assert dlq_store.get(closed["id"])["status"] == "discarded"
    assert dlq_store.resolve_for_record("product", key) == []


def test_resolve_can_be_limited_to_one_task(dlq_store: DeadLetterStore):
    key = f"P-{uuid.uuid4().hex[:8]}"
    export = dlq_store.record_failure(failure(key=key))
    imported = dlq_store.record_failure(failure(key=key, task_name="rbsync.import_record"))

    dlq_store.resolve_for_record("product", key, task_name="rbsync.export_record")

    assert dlq_store.get(export["id"])["status"] == "superseded"
    assert dlq_store.get(imported["id"])["status"] == "new"


def test_discard_needs_a_reason_and_an_open_entry(dlq_store: DeadLetterStore):
    entry = dlq_store.record_failure(failure())
    with pytest.raises(ValueError):
        dlq_store.discard(entry["id"], "  ")

    assert dlq_store.discard(entry["id"], "duplicate of another record") is True
    assert dlq_store.discard(entry["id"], "again") is False
    assert dlq_store.mark_retrying(entry["id"]) is False
    stored = dlq_store.get(entry["id"])
    assert stored["discard_reason"] == "duplicate of another record"
    assert stored["history"][-1]["event"] == "discarded"


def test_reopen_undoes_a_retry_that_could_not_be_sent(dlq_store: DeadLetterStore):
    entry = dlq_store.record_failure(failure())
    assert dlq_store.reopen(entry["id"], "broker down") is False
    dlq_store.mark_retrying(entry["id"], retry_task_id="t1")

    assert dlq_store.reopen(entry["id"], "broker down") is True
    assert dlq_store.get(entry["id"])["status"] == "new"


def test_list_filters_and_streams_oldest_first(dlq_store: DeadLetterStore):
    kind = f"kind{uuid.uuid4().hex[:6]}"
    now = 1_900_000_000.0
    old = dlq_store.record_failure(failure(kind=kind, at=now - 7200, error_class="TransientError"))
    mid = dlq_store.record_failure(failure(kind=kind, at=now - 1800))
    new = dlq_store.record_failure(failure(kind=kind, at=now - 60))
    dlq_store.discard(mid["id"], "handled by hand")
    many = [dlq_store.record_failure(failure(kind=kind, at=now - 30)) for _ in range(250)]  # > one page

    def ids(**filters: Any) -> list[str]:
        return [entry["id"] for entry in dlq_store.list(kind=kind, now=now, **filters)]

    assert ids()[:3] == [old["id"], mid["id"], new["id"]]
    assert len(ids()) == 253
    assert ids(older_than=3600) == [old["id"]]
    assert ids(newer_than=120)[:1] == [new["id"]] and len(ids(newer_than=120)) == 251
    assert ids(error_class="TransientError") == [old["id"]]
    assert ids(status="discarded") == [mid["id"]]
    assert ids(older_than=600, status="new") == [old["id"]]
    assert many[0]["id"] in ids(newer_than=40)


def test_counts_per_status(dlq_store: DeadLetterStore):
    before = dlq_store.counts()
    entry = dlq_store.record_failure(failure())
    dlq_store.mark_retrying(entry["id"])
    dlq_store.record_failure(failure())

    after = dlq_store.counts()

    assert after["retrying"] == before["retrying"] + 1
    assert after["new"] == before["new"] + 1
    assert after["total"] == before["total"] + 2
    assert dlq_store.oldest_open_age() is not None


def test_an_api_error_is_recorded_with_its_own_text_and_no_token(
    dlq_store: DeadLetterStore, service_settings
):
    error = ValidationFailed(
        "Customer group does not exist.",
        api="economic",
        method="PUT",
        url="https://restapi.example/customers/7",
        status=400,
        field_errors={"customerGroup.customerGroupNumber": ["Customer group 9 not found."]},
        body='{"message": "Customer group does not exist."}',
    )
    entry = dlq_store.record_failure(failure(**failure_details(error)))

    assert entry["error"] == "Customer group does not exist."
    assert entry["field_errors"] == {"customerGroup.customerGroupNumber": ["Customer group 9 not found."]}
    assert entry["status_code"] == 400 and entry["error_class"] == "ValidationFailed"
    raw = json.dumps(entry)
    for secret in (
        service_settings.rackbeat_token,
        service_settings.economic_app_secret_token,
        service_settings.economic_agreement_grant_token,
    ):
        assert secret.get_secret_value() not in raw
