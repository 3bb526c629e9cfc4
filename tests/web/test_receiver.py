"""POST /webhooks/rackbeat over real HTTP against a real `python -m web`, real Redis and the real broker.

"Nothing enqueued" is checked where it would show: the receiver's broker queue (its own prefix, no worker
consumes it) and the record's pending marker.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from tasks.sync.pending import PendingMarkers
from tests.web.support import WebProcess, post, queue_length, queued_transfers, registered_token
from web.deliveries import MAX_BODY_BYTES
from web.metrics import WebhookMetrics

PRODUCT_EVENT = "product.updated"


def new_key() -> str:
    return f"WEB-{uuid.uuid4().hex[:10]}"


def new_token() -> str:
    return uuid.uuid4().hex  # 32 characters, like Rackbeat's


def pending(client: redis.Redis, web: WebProcess, kind: str, key: str) -> str | None:
    return PendingMarkers(client, web.settings.connection_id).get(kind, key)


def metrics(client: redis.Redis, web: WebProcess) -> WebhookMetrics:
    from tasks.redis import key as namespaced_key

    return WebhookMetrics(client, lambda *p: namespaced_key(*p, connection_id=web.settings.connection_id))


@pytest.fixture
def token(service_redis: redis.Redis, web_process: WebProcess) -> str:
    """A fresh token registered for product.updated (as registration would have stored it)."""
    value = new_token()
    registered_token(service_redis, web_process.settings, PRODUCT_EVENT, value)
    return value


@pytest.mark.parametrize(
    "presented",
    [
        None,  # no header at all
        "",
        "wrong-token",
        "UPPERCASE-OF-THE-RIGHT-ONE",
        "PREFIX-OF-THE-RIGHT-ONE",
    ],
)
def test_missing_or_wrong_token_is_refused_and_nothing_is_enqueued(
    service_redis: redis.Redis, web_process: WebProcess, token: str, presented: str | None
) -> None:
    if presented == "UPPERCASE-OF-THE-RIGHT-ONE":
        presented = token.upper()
    elif presented == "PREFIX-OF-THE-RIGHT-ONE":
        presented = token[:-1]
    key = new_key()
    before = queue_length(service_redis, web_process.settings)

    answer = post(web_process, {"key_name": "number", "key": key}, presented)

    assert answer.status_code == 401
    assert answer.json()["status"] == "refused"
    assert token not in answer.text
    assert queue_length(service_redis, web_process.settings) == before
    assert pending(service_redis, web_process, "product", key) is None


def test_a_token_registered_for_another_event_is_refused(
    service_redis: redis.Redis, web_process: WebProcess
) -> None:
    other = new_token()
    registered_token(service_redis, web_process.settings, "product_group.updated", other)
    registered_token(service_redis, web_process.settings, PRODUCT_EVENT, new_token())
    key = new_key()

    answer = post(web_process, {"key": key}, other, event=PRODUCT_EVENT)

    assert answer.status_code == 401
    assert pending(service_redis, web_process, "product", key) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"this is not json", "not valid JSON"),
        (b"", "empty"),
        (b'[{"key": "1"}]', "must be a JSON object"),
        (b'"1021"', "must be a JSON object"),
        (b'{"key_name": "number"}', "no 'key'"),
        (b'{"key": null}', "string or an integer"),
        (b'{"key": {"number": "1"}}', "string or an integer"),
        (b'{"key": 10.5}', "string or an integer"),
        (b'{"key": true}', "string or an integer"),
        (b'{"key": ""}', "empty"),
        (json.dumps({"key": "K" * 500}).encode(), "longer than"),
        (json.dumps({"key": "1", "data": "x" * (MAX_BODY_BYTES + 10)}).encode(), "longer than"),
    ],
)
def test_malformed_bodies_get_400_with_the_reason_and_nothing_is_enqueued(
    service_redis: redis.Redis, web_process: WebProcess, token: str, body: bytes, message: str
) -> None:
    before = queue_length(service_redis, web_process.settings)

    answer = post(web_process, body, token)

    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]
    assert queue_length(service_redis, web_process.settings) == before
    assert pending(service_redis, web_process, "product", "1") is None


def test_unknown_event_is_acknowledged_counted_and_not_enqueued(
    service_redis: redis.Redis, web_process: WebProcess
) -> None:
    event = f"gadget_{uuid.uuid4().hex[:6]}.created"
    token = new_token()
    registered_token(service_redis, web_process.settings, event, token)
    counters = metrics(service_redis, web_process)
    before = queue_length(service_redis, web_process.settings)

    first = post(web_process, {"key_name": "id", "key": 5}, token, event=event)
    second = post(web_process, {"key_name": "id", "key": 6}, token, event=event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["status"] == "ignored"
    assert counters.ignored_events()[event] == 2
    assert queue_length(service_redis, web_process.settings) == before


def test_a_burst_for_one_record_enqueues_one_transfer(
    service_redis: redis.Redis, web_process: WebProcess, token: str
) -> None:
    key = new_key()
    # Rackbeat retries and fires created+updated close together: many identical deliveries in flight at once.
    bodies = [{"key_name": "number", "key": key}] * 20

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda body: post(web_process, body, token), bodies))

    assert [answer.status_code for answer in answers] == [202] * 20
    assert sum(answer.json()["enqueued"] for answer in answers) == 1
    assert queued_transfers(service_redis, web_process.settings).count(("product", key)) == 1
    assert pending(service_redis, web_process, "product", key) is not None


def test_events_for_two_records_enqueue_two_transfers(
    service_redis: redis.Redis, web_process: WebProcess, token: str
) -> None:
    first, second = new_key(), new_key()
    before = queue_length(service_redis, web_process.settings)

    for key in (first, second, first, second):
        assert post(web_process, {"key_name": "number", "key": key}, token).status_code == 202

    queued = queued_transfers(service_redis, web_process.settings)
    assert queued.count(("product", first)) == 1
    assert queued.count(("product", second)) == 1
    assert queue_length(service_redis, web_process.settings) == before + 2


def test_integer_and_string_keys_of_one_record_coalesce(
    service_redis: redis.Redis, web_process: WebProcess
) -> None:
    token = new_token()
    registered_token(service_redis, web_process.settings, "product_group.updated", token)
    number = int(uuid.uuid4().int % 10**9)

    answers = [
        post(web_process, {"key": number}, token, event="product_group.updated"),
        post(web_process, {"key": str(number)}, token, event="product_group.updated"),
    ]

    assert [a.json()["enqueued"] for a in answers] == [True, False]
    assert queued_transfers(service_redis, web_process.settings).count(("product_group", str(number))) == 1


def test_event_from_the_body_when_the_header_is_absent(
    service_redis: redis.Redis, web_process: WebProcess, token: str
) -> None:
    key = new_key()

    answer = post(web_process, {"event": PRODUCT_EVENT, "key": key}, token, event=None)

    assert answer.status_code == 202
    assert ("product", key) in queued_transfers(service_redis, web_process.settings)


def test_a_delete_event_enqueues_the_same_transfer(
    service_redis: redis.Redis, web_process: WebProcess
) -> None:
    token = new_token()
    registered_token(service_redis, web_process.settings, "product.deleted", token)
    key = new_key()

    answer = post(web_process, {"key_name": "number", "key": key}, token, event="product.deleted")

    assert answer.status_code == 202
    assert ("product", key) in queued_transfers(service_redis, web_process.settings)


def scrape(web: WebProcess) -> dict[str, float]:
    answer = httpx.get(f"{web.url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in answer.text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_page_counts_each_outcome(
    service_redis: redis.Redis, web_process: WebProcess, token: str
) -> None:
    before = scrape(web_process)
    key = new_key()

    post(web_process, {"key": key}, "wrong")
    post(web_process, {"key": key}, None)
    post(web_process, b"{", token)
    post(web_process, {"key": key}, token)
    post(web_process, {"key": key}, token)
    unknown = f"gadget_{uuid.uuid4().hex[:6]}.updated"
    registered_token(service_redis, web_process.settings, unknown, token)
    post(web_process, {"key": key}, token, event=unknown)

    after = scrape(web_process)
    delta = {name: after[name] - before.get(name, 0) for name in after}
    assert delta["rbsync_webhooks_received_total"] == 6
    assert delta['rbsync_webhooks_refused_total{reason="bad-token"}'] == 1
    assert delta['rbsync_webhooks_refused_total{reason="missing-token"}'] == 1
    assert delta['rbsync_webhooks_refused_total{reason="malformed"}'] == 1
    assert delta["rbsync_webhooks_accepted_total"] == 2
    assert delta["rbsync_webhooks_enqueued_total"] == 1
    assert delta["rbsync_webhooks_coalesced_total"] == 1
    assert delta['rbsync_webhooks_ignored_total{reason="unhandled-event"}'] == 1
    assert after[f'rbsync_webhooks_ignored_by_event_total{{event="{unknown}"}}'] == 1


def test_healthz_reports_redis_and_broker(web_process: WebProcess) -> None:
    answer = httpx.get(f"{web_process.url}/healthz", timeout=10)

    assert answer.status_code == 200
    assert answer.json() == {"redis": "ok", "broker": "ok"}


def test_a_key_named_differently_from_the_kinds_lookup_field_is_not_guessed(
    service_redis: redis.Redis, web_process: WebProcess, token: str
) -> None:
    # products are looked up by number; an id that equals some other product's number must not move it
    number_like_id = str(uuid.uuid4().int % 10**6)
    before = queue_length(service_redis, web_process.settings)

    answer = post(web_process, {"key_name": "id", "key": number_like_id}, token)

    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"
    assert "key_name must be 'number'" in answer.json()["reason"]
    assert queue_length(service_redis, web_process.settings) == before
    assert pending(service_redis, web_process, "product", number_like_id) is None
