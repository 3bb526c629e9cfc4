"""tasks.metrics on its own: the counters a transfer event, a rate-limit bucket and a poll leave in Redis,
and what ``ServiceCollector`` makes of them (real Redis; each test in a connection id of its own)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from clients.ratelimit import RedisTokenBucket
from tasks.deadletter import DeadLetterStore, Failure
from tasks.events import record_event
from tasks.metrics import (
    DLQ_OVERLAP_SECONDS,
    LATENCY_BUCKETS,
    PRIORITY_SUFFIXES,
    ServiceCollector,
    bucket_field,
    budget_share,
    record_poll_success,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def namespace(redis_client: redis.Redis, session_namespace: str) -> Iterator[str]:
    """A connection id of its own under the session's, so counters start at zero; removed afterwards."""
    name = f"{session_namespace}-m{uuid.uuid4().hex[:6]}"
    yield name
    keys = list(redis_client.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        redis_client.delete(*keys)


def scrape(client: redis.Redis, namespace: str, prefix: str = "") -> tuple[str, Samples]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(client, client, connection_id=namespace, broker_prefix=prefix))
    text = generate_latest(registry).decode()
    found = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return text, found


def at(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def failure(kind: str, key: str, error_class: str, when: float) -> Failure:
    return Failure(
        task_name="rbsync.export_record",
        task_id=uuid.uuid4().hex,
        args=[kind, key],
        kwargs={},
        queue="transfers",
        kind=kind,
        key=key,
        classification="permanent",
        error_class=error_class,
        error="refused",
        at=when,
    )


def test_events_count_transfers_by_kind_and_outcome_and_retries_by_error_class(
    redis_client: redis.Redis, namespace: str
) -> None:
    for outcome in ("created", "created", "replaced", "retrying", "dead-lettered"):
        failed = outcome in {"retrying", "dead-lettered"}
        record_event(
            redis_client,
            kind="product",
            key="P1",
            outcome=outcome,
            task_id=uuid.uuid4().hex,
            connection_id=namespace,
            error_class="TransientError" if failed else None,
        )
    record_event(redis_client, kind="unit", key="3", outcome="retrying", task_id="t", connection_id=namespace)

    _, found = scrape(redis_client, namespace)

    assert at(found, "rbsync_transfers_total", kind="product", outcome="created") == 2
    assert at(found, "rbsync_transfers_total", kind="product", outcome="replaced") == 1
    assert at(found, "rbsync_transfers_total", kind="product", outcome="dead-lettered") == 1
    assert at(found, "rbsync_transfers_total", kind="unit", outcome="retrying") == 1
    assert at(found, "rbsync_transfer_retries_total", error_class="TransientError") == 1
    assert at(found, "rbsync_transfer_retries_total", error_class="unknown") == 1
    # outside a worker no message stamped the queueing time: counted, not timed
    assert at(found, "rbsync_transfer_latency_seconds_count", kind="product") is None


def test_latency_buckets_are_fixed_and_the_last_one_is_open() -> None:
    assert bucket_field(0.0) == "le:0.1"
    assert bucket_field(0.1) == "le:0.1"
    assert bucket_field(0.11) == "le:0.25"
    assert bucket_field(LATENCY_BUCKETS[-1]) == f"le:{LATENCY_BUCKETS[-1]:g}"
    assert bucket_field(LATENCY_BUCKETS[-1] + 1) == "le:+Inf"


def test_the_latency_histogram_is_cumulative_with_its_sum_and_count(
    redis_client: redis.Redis, namespace: str
) -> None:
    """The hash holds counts per bucket; the exposition adds them up, as Prometheus expects."""
    histogram = f"rbsync:{namespace}:metrics:latency:customer"
    redis_client.sadd(f"rbsync:{namespace}:metrics:latency-kinds", "customer")
    redis_client.hset(histogram, mapping={"le:0.25": 2, "le:5": 1, "le:+Inf": 1, "count": 4, "sum": 7300.5})

    _, found = scrape(redis_client, namespace)

    assert at(found, "rbsync_transfer_latency_seconds_bucket", kind="customer", le="0.1") == 0
    assert at(found, "rbsync_transfer_latency_seconds_bucket", kind="customer", le="0.25") == 2
    assert at(found, "rbsync_transfer_latency_seconds_bucket", kind="customer", le="2.5") == 2
    assert at(found, "rbsync_transfer_latency_seconds_bucket", kind="customer", le="5") == 3
    assert at(found, "rbsync_transfer_latency_seconds_bucket", kind="customer", le="3600") == 3
    assert at(found, "rbsync_transfer_latency_seconds_bucket", kind="customer", le="+Inf") == 4
    assert at(found, "rbsync_transfer_latency_seconds_count", kind="customer") == 4
    assert at(found, "rbsync_transfer_latency_seconds_sum", kind="customer") == 7300.5


def test_the_rate_limiter_counts_requests_and_429s_and_shows_the_budget_in_use(
    redis_client: redis.Redis, namespace: str
) -> None:
    credential = "cred-" + uuid.uuid4().hex
    bucket = RedisTokenBucket(redis_client, "economic", credential, 10, 60, namespace=namespace)
    other = RedisTokenBucket(redis_client, "rackbeat", credential + "x", 100, 60, namespace=namespace)
    for _ in range(4):
        assert bucket.acquire()
    assert other.try_acquire() == 0.0
    bucket.available()  # a look is no request

    text, found = scrape(redis_client, namespace)
    assert at(found, "rbsync_api_requests_total", api="economic") == 4
    assert at(found, "rbsync_api_requests_total", api="rackbeat") == 1
    assert at(found, "rbsync_api_rate_limited_total", api="economic") == 0
    share = at(found, "rbsync_api_budget_used_ratio", api="economic")
    assert share is not None and 0.35 < share <= 0.4  # 4 of 10, refilling at 1 per 6 s
    assert credential not in text and bucket.key.rsplit(":", 1)[1] not in text

    bucket.penalize(30)  # a 429: every process backs off for 30 s
    _, found = scrape(redis_client, namespace)
    assert at(found, "rbsync_api_rate_limited_total", api="economic") == 1
    assert at(found, "rbsync_api_budget_used_ratio", api="economic") == 1.0

    redis_client.delete(other.key)  # expired: unused for two windows
    _, found = scrape(redis_client, namespace)
    assert at(found, "rbsync_api_budget_used_ratio", api="rackbeat") == 0.0
    assert not redis_client.sismember(f"rbsync:{namespace}:metrics:ratelimit-buckets", other.key)


def test_budget_share_refills_over_the_window_and_stays_between_0_and_1() -> None:
    assert budget_share(["0", "100", "10", "60"], now=100) == 1.0
    assert budget_share(["0", "100", "10", "60"], now=130) == pytest.approx(0.5)
    assert budget_share(["0", "100", "10", "60"], now=1000) == 0.0
    assert budget_share(["-5", "100", "10", "60"], now=100) == 1.0  # reservations queued beyond the budget
    assert budget_share(["0", "160", "10", "60"], now=100) == 1.0  # penalised until ts
    assert budget_share([None, None, None, None], now=100) is None


def test_open_dead_letters_by_kind_and_error_class_and_the_oldest_age(
    redis_client: redis.Redis, namespace: str
) -> None:
    store = DeadLetterStore(redis_client, namespace)
    now = time.time()
    old = store.record_failure(failure("product", "P1", "ValidationFailed", now - 7200))
    store.record_failure(failure("product", "P2", "ValidationFailed", now - 60))
    store.record_failure(failure("customer", "C1", "MappingError", now - 30))

    _, found = scrape(redis_client, namespace)  # the first scrape indexes the existing entries
    assert at(found, "rbsync_dead_letters_open", kind="product", error_class="ValidationFailed") == 2
    assert at(found, "rbsync_dead_letters_open", kind="customer", error_class="MappingError") == 1
    age = at(found, "rbsync_dead_letter_oldest_open_age_seconds")
    assert age is not None and 7199 <= age <= 7300

    # closed ones leave (and leave the index); a late writer within the overlap is still found
    assert store.discard(old["id"], "test")
    store.resolve_for_record("customer", "C1")
    store.record_failure(failure("unit", "U1", "TransientError", now - DLQ_OVERLAP_SECONDS / 2))
    _, found = scrape(redis_client, namespace)
    assert at(found, "rbsync_dead_letters_open", kind="product", error_class="ValidationFailed") == 1
    assert at(found, "rbsync_dead_letters_open", kind="customer", error_class="MappingError") is None
    assert at(found, "rbsync_dead_letters_open", kind="unit", error_class="TransientError") == 1
    age = at(found, "rbsync_dead_letter_oldest_open_age_seconds")
    assert age is not None and DLQ_OVERLAP_SECONDS / 2 - 1 <= age <= DLQ_OVERLAP_SECONDS
    index = f"rbsync:{namespace}:metrics:dlq-open"
    assert old["id"] not in redis_client.smembers(index)
    assert redis_client.scard(index) == 2

    for entry in store.list():
        store.discard(entry["id"], "test")
    _, found = scrape(redis_client, namespace)
    assert at(found, "rbsync_dead_letter_oldest_open_age_seconds") == 0.0
    assert redis_client.scard(index) == 0


def test_queue_lengths_add_up_kombus_priority_lists_under_the_broker_prefix(
    redis_client: redis.Redis, namespace: str
) -> None:
    prefix = f"{namespace}:broker:"
    redis_client.rpush(f"{prefix}transfers", "a", "b")
    redis_client.rpush(f"{prefix}transfers{PRIORITY_SUFFIXES[2]}", "c")
    redis_client.rpush(f"{prefix}dlq", "d")

    _, found = scrape(redis_client, namespace, prefix)

    assert at(found, "rbsync_queue_length", queue="transfers") == 3
    assert at(found, "rbsync_queue_length", queue="dlq") == 1
    assert at(found, "rbsync_queue_length", queue="polls") == 0
    assert at(found, "rbsync_queue_length", queue="bulk") == 0


def test_polls_note_their_last_success(redis_client: redis.Redis, namespace: str) -> None:
    before = time.time()
    record_poll_success(redis_client, "poll-rackbeat-changes", connection_id=namespace)

    _, found = scrape(redis_client, namespace)

    stamp = at(found, "rbsync_poll_last_success_timestamp_seconds", schedule="poll-rackbeat-changes")
    assert stamp is not None and before <= stamp <= time.time()
    assert at(found, "rbsync_poll_last_success_timestamp_seconds", schedule="poll-rackbeat-deletions") is None
