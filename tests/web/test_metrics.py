"""``GET /metrics`` end to end: transfers, a dead letter and a retry driven through the real in-process
Celery worker against both sandboxes over loopback HTTP, then read back from the receiver's page; and who
may read the page (loopback only without credentials, basic auth with them)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from sandbox.common.server import ServerThread
from tasks.celery import QUEUES
from tasks.deadletter import DeadLetterStore, parse_iso
from tasks.events import read_events, stream_key
from tasks.settings import Settings
from tasks.transfer import enqueue_export
from tests.e2e.test_products_e2e import wait_until_quiet
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import wait_for
from tests.web.support import registered_token
from web.app import create_app

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
USER = "prometheus"
DONE = ("created", "replaced", "unchanged")


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none): a UDP "connect" only picks
    the outgoing interface, nothing is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture
def metrics_password() -> str:
    return "pw-" + uuid.uuid4().hex


@pytest.fixture
def receiver(sandbox_settings: Settings, metrics_password: str) -> Iterator[ServerThread]:
    """The receiver app (with metrics credentials) on loopback, in this process."""
    settings = sandbox_settings.model_copy(
        update={"metrics_username": SecretStr(USER), "metrics_password": SecretStr(metrics_password)}
    )
    server = ServerThread(create_app(settings, register_webhooks=False)).start()
    yield server
    server.stop()


def final_events(client: redis.Redis, settings: Settings, since: str, kind: str, key: str) -> list[str]:
    rows = read_events(client, after=since, count=100_000, connection_id=settings.connection_id)
    return [
        e["outcome"] for _, e in rows if e["kind"] == kind and e["key"] == key and e["outcome"] != "retrying"
    ]


def service_requests(sandbox: Any, since: int) -> int:
    """Requests the service's clients sent to a sandbox since entry ``since`` of its request log."""
    return sum(
        1
        for entry in sandbox.sandbox.request_log.entries()[since:]
        if not entry["path"].startswith("/_sandbox")
    )


@pytest.mark.usefixtures("celery_worker")
def test_metrics_count_transfers_a_dead_letter_and_a_retry_from_a_real_worker(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
    receiver: ServerThread,
    metrics_password: str,
    celery_app: Any,
) -> None:
    forget_records(redis_client, session_namespace)
    wait_until_quiet(sandbox_settings, redis_client)
    auth = basic(USER, metrics_password)

    def scrape() -> tuple[str, Samples]:
        answer = httpx.get(f"{receiver.url}/metrics", headers=auth, timeout=10)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        return answer.text, samples(answer.text)

    _, before = scrape()
    last = redis_client.xrevrange(stream_key(sandbox_settings.connection_id), count=1)
    since = str(last[0][0]) if last else "0"
    rackbeat_log = len(rackbeat_sandbox.sandbox.request_log.entries())
    economic_log = len(economic_sandbox.sandbox.request_log.entries())

    # 1. a webhook delivery -> the receiver queues it -> transferred
    group = rackbeat_sandbox.sandbox.create("product-groups", {"name": "Metrics " + uuid.uuid4().hex[:6]})
    group_key = str(group["number"])
    token = uuid.uuid4().hex
    registered_token(redis_client, sandbox_settings, "product_group.updated", token)
    delivery = httpx.post(
        f"{receiver.url}/webhooks/rackbeat",
        json={"key": group["number"]},
        headers={"Rackbeat-Webhook-Token": token, "Rackbeat-Webhook-Event": "product_group.updated"},
        timeout=10,
    )
    assert delivery.status_code == 202, delivery.text
    [delivered] = wait_for(
        lambda: final_events(redis_client, sandbox_settings, since, "product_group", group_key),
        timeout=20,
        message="the delivered group to be transferred",
    )
    assert delivered in DONE

    # 2. a product e-conomic cannot take (a description over its limit) -> dead-lettered at once
    broken = f"MET-{uuid.uuid4().hex[:6].upper()}"
    rackbeat_sandbox.sandbox.create(
        "products",
        {
            "number": broken,
            "name": "Walnut cabinet",
            "group_id": group["number"],
            "sales_price": 10.0,
            "description": "A walnut cabinet. " * 40,
        },
    )
    assert enqueue_export("product", broken)
    wait_for(
        lambda: "dead-lettered" in final_events(redis_client, sandbox_settings, since, "product", broken),
        timeout=20,
        message="the broken product to be dead-lettered",
    )
    dead_letters = DeadLetterStore(redis_client, sandbox_settings.connection_id)
    [entry] = dead_letters.entries_for_record("product", broken)

    # 3. e-conomic answers 429 three times (one call's attempts) -> the transfer is retried, then done
    retried = rackbeat_sandbox.sandbox.create("product-groups", {"name": "Retried " + uuid.uuid4().hex[:6]})
    retried_key = str(retried["number"])
    economic_sandbox.sandbox.faults.set(rate_limit_burst=3, retry_after_seconds=1)
    assert enqueue_export("product_group", retried_key)
    [retried_outcome] = wait_for(
        lambda: final_events(redis_client, sandbox_settings, since, "product_group", retried_key),
        timeout=30,
        message="the rate-limited group to be transferred after its retry",
    )
    assert retried_outcome in DONE
    assert economic_sandbox.sandbox.faults.counters["rate_limited_429"] == 3

    # 4. the change poll runs on the worker and notes its success
    polled = celery_app.send_task("rbsync.poll_rackbeat_changes").get(timeout=30)
    assert polled is not None
    wait_until_quiet(sandbox_settings, redis_client)

    after: Samples = {}

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    def requests_settled() -> tuple[str, Samples] | None:
        """The page once every request the sandboxes logged is counted (a poll-queued transfer may still
        be finishing its last call)."""
        nonlocal after
        text, after = scrape()
        counted = (
            delta("rbsync_api_requests_total", api="rackbeat"),
            delta("rbsync_api_requests_total", api="economic"),
        )
        logged = (
            service_requests(rackbeat_sandbox, rackbeat_log),
            service_requests(economic_sandbox, economic_log),
        )
        return (text, after) if counted == logged else None

    text, after = wait_for(requests_settled, timeout=15, interval=0.2, message="every logged request counted")

    # transfers by kind and outcome, retries by error class
    for outcome in {delivered, retried_outcome}:
        expected = [delivered, retried_outcome].count(outcome)
        assert delta("rbsync_transfers_total", kind="product_group", outcome=outcome) >= expected
    assert delta("rbsync_transfers_total", kind="product_group", outcome="retrying") >= 1
    assert delta("rbsync_transfers_total", kind="product", outcome="dead-lettered") >= 1
    assert delta("rbsync_transfer_retries_total", error_class="RateLimitedError") >= 1
    # latency: both groups timed (the dead letter and the product's dependency are not), the retried one
    # with its wait for the retry (at least the 1 s Retry-After) included
    count = delta("rbsync_transfer_latency_seconds_count", kind="product_group")
    assert count >= 2
    assert delta("rbsync_transfer_latency_seconds_bucket", kind="product_group", le="+Inf") == count
    assert delta("rbsync_transfer_latency_seconds_bucket", kind="product_group", le="0.5") <= count - 1
    assert delta("rbsync_transfer_latency_seconds_sum", kind="product_group") >= 1.0
    # API use: every request the sandboxes saw (waited for above), and the three 429s
    assert delta("rbsync_api_requests_total", api="economic") >= 3
    assert delta("rbsync_api_rate_limited_total", api="economic") == 3
    assert delta("rbsync_api_rate_limited_total", api="rackbeat") == 0
    for api in ("rackbeat", "economic"):
        assert 0.0 <= value(after, "rbsync_api_budget_used_ratio", api=api) <= 1.0
        assert ("rbsync_api_budget_used_ratio", frozenset({("api", api)})) in after
    # the open dead letter, by kind and error class, and the oldest one's age
    labels = {"kind": "product", "error_class": entry["error_class"]}
    assert delta("rbsync_dead_letters_open", **labels) == 1
    oldest = value(after, "rbsync_dead_letter_oldest_open_age_seconds")
    assert oldest >= time.time() - parse_iso(entry["first_failed_at"]) - 2
    # queues, polls, webhooks
    for queue in QUEUES:
        assert ("rbsync_queue_length", frozenset({("queue", queue)})) in after
    assert value(after, "rbsync_poll_last_success_timestamp_seconds", schedule="poll-rackbeat-changes") > (
        time.time() - 60
    )
    assert value(after, "rbsync_poll_last_success_timestamp_seconds", schedule="stale-pending-markers") > 0
    assert delta("rbsync_webhooks_received_total") >= 1
    assert delta("rbsync_webhooks_enqueued_total") >= 1
    # no secret anywhere on the page
    for secret in (
        metrics_password,
        token,
        sandbox_settings.rackbeat_token.get_secret_value(),
        sandbox_settings.economic_app_secret_token.get_secret_value(),
        sandbox_settings.economic_agreement_grant_token.get_secret_value(),
    ):
        assert secret not in text

    # a dead letter closed by an operator leaves the gauge at once
    assert dead_letters.discard(entry["id"], "metrics test")
    _, closed = scrape()
    assert value(closed, "rbsync_dead_letters_open", **labels) == value(
        before, "rbsync_dead_letters_open", **labels
    )
    # the poll above may have queued transfers the shared in-process worker is still busy with: let them
    # finish, so the next test's transfers do not queue behind them
    wait_until_quiet(sandbox_settings, redis_client)


# --- who may read /metrics ----------------------------------------------------------------------------


@pytest.fixture
def open_receiver(service_settings: Settings) -> Iterator[ServerThread]:
    """The receiver without metrics credentials, listening on every interface."""
    server = ServerThread(create_app(service_settings, register_webhooks=False), host="0.0.0.0").start()
    yield server
    server.stop()


def test_without_credentials_only_this_machine_reads_the_metrics(open_receiver: ServerThread) -> None:
    local = httpx.get(f"http://127.0.0.1:{open_receiver.port}/metrics", timeout=10)
    assert local.status_code == 200 and "rbsync_transfers_total" in local.text

    # a reverse proxy on this host connects from loopback too, but says whom it forwards
    forwarded = httpx.get(
        f"http://127.0.0.1:{open_receiver.port}/metrics",
        headers={"X-Forwarded-For": "203.0.113.9"},
        timeout=10,
    )
    assert forwarded.status_code == 403

    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to call from")
    remote = httpx.get(f"http://{address}:{open_receiver.port}/metrics", timeout=10)
    assert remote.status_code == 403
    assert "rbsync_" not in remote.text


def test_blank_credentials_are_none_as_in_a_copied_env_example(service_settings: Settings) -> None:
    settings = service_settings.model_copy(
        update={"metrics_username": SecretStr(""), "metrics_password": SecretStr("")}
    )
    server = ServerThread(create_app(settings, register_webhooks=False)).start()
    try:
        assert httpx.get(f"{server.url}/metrics", timeout=10).status_code == 200  # loopback
    finally:
        server.stop()


def test_with_credentials_basic_auth_is_required_and_checked(
    service_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "pw-" + uuid.uuid4().hex
    settings = service_settings.model_copy(
        update={"metrics_username": SecretStr(USER), "metrics_password": SecretStr(password)}
    )
    server = ServerThread(create_app(settings, register_webhooks=False)).start()
    url = f"{server.url}/metrics"
    try:
        missing = httpx.get(url, timeout=10)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Basic realm=")
        for headers in (
            basic(USER, "wrong"),
            basic("someone", password),
            basic(USER, password + "x"),
            {"Authorization": "Bearer " + password},
            {"Authorization": "Basic not-base64!"},
        ):
            refused = httpx.get(url, headers=headers, timeout=10)
            assert refused.status_code == 401, headers
            assert password not in refused.text
        right = httpx.get(url, headers=basic(USER, password), timeout=10)
        assert right.status_code == 200
        assert "rbsync_webhooks_received_total" in right.text and password not in right.text
        # credentials are not a loopback exemption's business: they are asked of every caller alike
        assert httpx.get(url, headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10).status_code == 401
    finally:
        server.stop()
    assert password not in caplog.text and "Authorization" not in caplog.text


@pytest.mark.parametrize(
    ("username", "password", "named"),
    [
        ("prometheus", None, "RBSYNC_METRICS_PASSWORD"),
        (None, "secret", "RBSYNC_METRICS_USERNAME"),
        ("prometheus", " ", "RBSYNC_METRICS_PASSWORD"),
        ("", "secret", "RBSYNC_METRICS_USERNAME"),
    ],
)
def test_half_set_credentials_stop_the_receiver_with_one_line(
    service_settings: Settings, username: str | None, password: str | None, named: str
) -> None:
    settings = service_settings.model_copy(
        update={
            "metrics_username": SecretStr(username) if username is not None else None,
            "metrics_password": SecretStr(password) if password is not None else None,
        }
    )
    with pytest.raises(SystemExit) as stopped:
        create_app(settings, register_webhooks=False)
    message = str(stopped.value)
    assert message.startswith(f"rbsync: setting {named}: ") and "\n" not in message
    assert "secret" not in message


def test_the_page_is_prometheus_clients_exposition(service_settings: Settings) -> None:
    """Each family has its HELP and TYPE once, counters end in _total, the histogram has its buckets."""
    server = ServerThread(create_app(service_settings, register_webhooks=False)).start()
    try:
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
    finally:
        server.stop()
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    expected = {
        "rbsync_queue_length": "gauge",
        "rbsync_transfers": "counter",
        "rbsync_transfer_retries": "counter",
        "rbsync_transfer_latency_seconds": "histogram",
        "rbsync_api_requests": "counter",
        "rbsync_api_rate_limited": "counter",
        "rbsync_api_budget_used_ratio": "gauge",
        "rbsync_dead_letters_open": "gauge",
        "rbsync_dead_letter_oldest_open_age_seconds": "gauge",
        "rbsync_poll_last_success_timestamp_seconds": "gauge",
        "rbsync_webhooks_received": "counter",
        "rbsync_api_credentials_ok": "gauge",
    }
    assert {name: families.get(name) for name in expected} == expected
    assert json.dumps(text).count("# TYPE rbsync_transfers_total counter") == 1
