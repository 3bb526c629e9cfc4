"""The failure policy of SyncTask, run by a real in-process worker against the real Redis."""

from __future__ import annotations

import pickle
import uuid
from typing import Any

import pytest
from billiard.exceptions import TimeLimitExceeded

from clients.errors import PermanentError, RateLimitedError, ValidationFailed
from tasks.base import REPORT_REASON_LIMIT, DeadLettered, RedeliveryLimitExceeded, classify, retry_countdown
from tasks.errors import MappingError
from tasks.events import read_events
from tests.fixtures.service import wait_for
from tests.tasks.sample_tasks import SCRIPTED, runs, script

pytestmark = pytest.mark.usefixtures("celery_worker")


# --- the pure parts of the policy ---------------------------------------------------------------


@pytest.mark.parametrize(("retries", "ceiling"), [(0, 2), (1, 4), (3, 16), (7, 256), (8, 300), (30, 300)])
def test_backoff_is_full_jitter_under_a_capped_exponential_ceiling(retries: int, ceiling: float):
    assert retry_countdown(retries, base=2, cap=300, rng=lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)
    assert retry_countdown(retries, base=2, cap=300, rng=lambda: 0.0) == 0
    assert retry_countdown(retries, base=2, cap=300, rng=lambda: 0.5) == pytest.approx(ceiling / 2)


def test_retry_after_is_a_floor_with_a_small_spread_and_still_capped():
    assert retry_countdown(0, base=2, cap=300, retry_after=30, rng=lambda: 0.0) == 30
    assert retry_countdown(0, base=2, cap=300, retry_after=30, rng=lambda: 1.0) == 32
    assert retry_countdown(0, base=2, cap=300, retry_after=0.5, rng=lambda: 1.0) == 1.0
    assert retry_countdown(5, base=2, cap=300, retry_after=900, rng=lambda: 0.3) == 300


def test_failures_are_classified_for_the_dead_letter_queue():
    api = {"api": "economic", "method": "PUT", "url": "/x"}
    assert classify(ValidationFailed("bad", **api)) == "permanent"
    assert classify(PermanentError("gone", **api)) == "permanent"
    assert classify(RateLimitedError("slow down", retry_after=1, **api)) == "transient-exhausted"
    assert classify(RedeliveryLimitExceeded("lost")) == "worker-lost"
    assert classify(TimeLimitExceeded(2)) == "timeout"
    assert classify(KeyError("x")) == "unprocessable"


def test_what_celery_records_for_a_dead_letter_names_the_class_the_apis_words_and_the_entry():
    refused = ValidationFailed(
        "Validation error.",
        api="economic",
        method="PUT",
        url="/customers/1",
        status=400,
        field_errors={"currency": ["currency does not exist."]},
    )
    assert str(DeadLettered.of(refused, "194ade84cf43")) == (
        "ValidationFailed: currency: currency does not exist. (dead letter 194ade84cf43)"
    )
    mapping = MappingError("currency", "currency does not exist.", api="economic", resource="customers")
    assert (
        str(DeadLettered.of(mapping, "e1"))
        == "MappingError: currency: currency does not exist. (dead letter e1)"
    )
    assert str(DeadLettered.of(KeyError("surprise"), "e2")) == "KeyError: 'surprise' (dead letter e2)"
    # one line, and bounded: the worker's report to its parent must stay small
    long = DeadLettered.of(PermanentError("x\n" * 5000, api="rackbeat", method="GET", url="/x"), "e3")
    assert "\n" not in str(long) and len(str(long)) < REPORT_REASON_LIMIT + 60
    # it pickles as itself (an ApiError does not: Celery would rebuild it from a stand-in)
    copy = pickle.loads(pickle.dumps(DeadLettered.of(refused, "e4")))
    assert type(copy) is DeadLettered and str(copy).endswith("(dead letter e4)")
    assert (copy.error_class, copy.entry_id) == ("ValidationFailed", "e4")


# --- with a worker ------------------------------------------------------------------------------


def new_record() -> tuple[str, str]:
    return "product", f"P-{uuid.uuid4().hex[:8]}"


def events_for(client: Any, task_id: str) -> list[dict[str, Any]]:
    return [event for _, event in read_events(client, count=100000) if event["task_id"] == task_id]


def outcome_of(client: Any, task_id: str, outcome: str) -> list[dict[str, Any]]:
    return [event for event in events_for(client, task_id) if event["outcome"] == outcome]


def send(celery_app: Any, kind: str, key: str) -> str:
    return celery_app.send_task(SCRIPTED, args=[kind, key]).id


def failure_recorded(celery_app: Any, task_id: str) -> BaseException:
    """The exception Celery's result backend holds for a failed task (as any client reads it back)."""
    result = celery_app.AsyncResult(task_id)
    wait_for(lambda: result.state == "FAILURE", message="the failure to be recorded")
    assert isinstance(result.result, BaseException)
    return result.result


def test_transient_errors_are_retried_until_the_task_succeeds(celery_app, service_redis, dlq_store):
    kind, key = new_record()
    script(service_redis, kind, key, "transient", "transient", "ok")

    task_id = send(celery_app, kind, key)

    done = wait_for(lambda: outcome_of(service_redis, task_id, "replaced"), message="the transfer to succeed")
    assert done[0]["economic_key"] == f"E-{key}"
    attempts = runs(service_redis, kind, key)
    assert [run["retries"] for run in attempts] == [0, 1, 2]
    assert {run["task_id"] for run in attempts} == {task_id}
    retrying = outcome_of(service_redis, task_id, "retrying")
    assert len(retrying) == 2
    # why and how far along, for rbsync run's console (the scripted error is e-conomic's 503)
    assert [(r["reason"], r["attempt"], r["max_retries"]) for r in retrying] == [
        ("e-conomic 503", "1", "3"),
        ("e-conomic 503", "2", "3"),
    ]
    # the scripted task calls no API: each failed attempt made 0 calls (tests/tasks/test_retry_api_calls.py
    # counts real ones)
    assert [r["api_calls"] for r in retrying] == [0, 0]
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
    recorded = failure_recorded(celery_app, task_id)
    assert str(recorded) == f"TransientError: Service Unavailable (dead letter {entry['id']})"


def test_permanent_errors_are_dead_lettered_at_once_without_retry(celery_app, service_redis, dlq_store):
    kind, key = new_record()
    script(service_redis, kind, key, "validation", "ok")

    task_id = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, task_id, "dead-lettered"), message="the dead letter")
    assert len(runs(service_redis, kind, key)) == 1
    assert outcome_of(service_redis, task_id, "retrying") == []
    [entry] = dlq_store.entries_for_record(kind, key)
    assert entry["classification"] == "permanent"
    assert entry["error_class"] == "ValidationFailed"
    assert entry["error"] == "Validation failed."
    assert entry["field_errors"] == {"salesPrice": ["Must be a number."]}
    assert entry["status_code"] == 400
    assert entry["api"] == "economic"
    assert entry["attempts"] == 1
    # what Celery records (and Flower shows) says why in the API's words, and where to look
    recorded = failure_recorded(celery_app, task_id)
    assert type(recorded) is DeadLettered
    assert str(recorded) == f"ValidationFailed: salesPrice: Must be a number. (dead letter {entry['id']})"


def test_unexpected_exceptions_are_dead_lettered_as_unprocessable_without_retry(
    celery_app, service_redis, dlq_store
):
    kind, key = new_record()
    script(service_redis, kind, key, "boom", "ok")

    task_id = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, task_id, "dead-lettered"), message="the dead letter")
    assert len(runs(service_redis, kind, key)) == 1
    [entry] = dlq_store.entries_for_record(kind, key)
    assert entry["classification"] == "unprocessable"
    assert entry["error_class"] == "KeyError"
    assert "surprise" in entry["error"]
    assert "sample_tasks.py" in entry["traceback"]
    assert str(failure_recorded(celery_app, task_id)) == f"KeyError: 'surprise' (dead letter {entry['id']})"


def test_rate_limited_retry_waits_at_least_retry_after(celery_app, service_redis, service_settings):
    kind, key = new_record()
    retry_after = 1.5
    script(service_redis, kind, key, f"ratelimited:{retry_after}", "ok")

    task_id = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, task_id, "replaced"), message="the transfer to succeed")
    [retrying] = outcome_of(service_redis, task_id, "retrying")
    assert retrying["error_class"] == "RateLimitedError"
    assert retry_after <= retrying["retry_in"] <= service_settings.retry_backoff_max_seconds
    second = runs(service_redis, kind, key)[1]
    assert second["eta"] is not None, "the retry was not scheduled with an ETA"


def test_lock_contention_retries_without_spending_retries(
    celery_app, service_redis, dlq_store, service_settings
):
    kind, key = new_record()
    busy = ["busy"] * (service_settings.transfer_max_retries + 2)
    script(service_redis, kind, key, *busy, "transient", "ok")

    task_id = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, task_id, "replaced"), timeout=60, message="the transfer")
    retries = [run["retries"] for run in runs(service_redis, kind, key)]
    assert retries == [0] * (len(busy) + 1) + [1]
    assert dlq_store.entries_for_record(kind, key) == []


def test_a_later_success_supersedes_the_records_open_entry(celery_app, service_redis, dlq_store):
    kind, key = new_record()
    script(service_redis, kind, key, "permanent", "ok")
    failed = send(celery_app, kind, key)
    wait_for(lambda: outcome_of(service_redis, failed, "dead-lettered"), message="the dead letter")

    succeeded = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, succeeded, "replaced"), message="the second transfer")
    [entry] = dlq_store.entries_for_record(kind, key)
    assert entry["status"] == "superseded"
    assert entry["history"][-1]["detail"] == succeeded


def test_repeated_failures_of_one_record_update_its_open_entry(celery_app, service_redis, dlq_store):
    kind, key = new_record()
    script(service_redis, kind, key, "permanent")
    first = send(celery_app, kind, key)
    wait_for(lambda: outcome_of(service_redis, first, "dead-lettered"), message="the first dead letter")

    second = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, second, "dead-lettered"), message="the second dead letter")
    [entry] = dlq_store.entries_for_record(kind, key)
    assert entry["failures"] == 2
    assert entry["attempts"] == 2
    assert entry["task_id"] == second
    assert entry["first_failed_at"] <= entry["last_failed_at"]


def test_re_applying_the_settings_leaves_the_app_able_to_send(celery_app, service_redis, service_settings):
    """configure() used to close kombu's shared pools: the next send failed with 'Acquire on closed pool'."""
    from tests.fixtures.service import apply_settings

    kind, key = new_record()
    script(service_redis, kind, key, "ok")
    send(celery_app, kind, key)
    apply_settings(service_settings)
    apply_settings(service_settings)

    task_id = send(celery_app, kind, key)

    wait_for(lambda: outcome_of(service_redis, task_id, "replaced"), message="the transfer after re-applying")


def test_a_message_for_an_unknown_task_is_dead_lettered_as_unprocessable(celery_app, dlq_store):
    kind, key = new_record()

    task_id = celery_app.send_task("rbsync.no_such_task", args=[kind, key], kwargs={"why": "typo"}).id

    entry = wait_for(lambda: (dlq_store.entries_for_record(kind, key) or [None])[0], message="a dead letter")
    assert entry["classification"] == "unprocessable"
    assert entry["error_class"] == "NotRegistered"
    assert entry["task_name"] == "rbsync.no_such_task" and entry["task_id"] == task_id
    assert entry["args"] == [kind, key] and entry["kwargs"] == {"why": "typo"}


def test_a_message_in_a_refused_format_is_dead_lettered_as_unprocessable(celery_app, dlq_store):
    """accept_content is JSON only: a pickled task message is refused unread, and recorded."""
    task_id = str(uuid.uuid4())
    with celery_app.producer_or_acquire() as producer:
        producer.publish(
            ([], {}, {}),
            serializer="pickle",
            routing_key="transfers",
            exchange="transfers",
            headers={"task": SCRIPTED, "id": task_id, "lang": "py", "retries": 0, "argsrepr": "()"},
        )

    entry = wait_for(
        lambda: (dlq_store.entries_for_record("unknown", task_id) or [None])[0], message="the dead letter"
    )
    assert entry["classification"] == "unprocessable"
    assert entry["task_name"] == SCRIPTED
    assert entry["args"] == []
