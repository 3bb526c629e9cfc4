"""/healthz failures, the master-side policy and the fixed webhook token setting."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
import redis
from pydantic import SecretStr

from sandbox.common.server import ServerThread
from tasks.settings import Settings
from tests.web.support import WebProcess, free_port, queue_length, queued_transfers, registered_token
from web.app import create_app


@pytest.mark.parametrize("broken", ["redis", "broker", "both"])
def test_healthz_is_503_naming_what_is_unreachable(service_settings: Settings, broken: str) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    updates = {
        "redis": {"redis_url": closed},
        "broker": {"broker_url": closed},
        "both": {"redis_url": closed, "broker_url": closed},
    }[broken]
    settings = service_settings.model_copy(update=updates)

    with ServerThread(create_app(settings, register_webhooks=False)) as server:
        answer = httpx.get(f"{server.url}/healthz", timeout=20)

    assert answer.status_code == 503
    report = answer.json()
    failed = {name for name, value in report.items() if value != "ok"}
    assert failed == ({"redis", "broker"} if broken == "both" else {broken})
    assert all(value.startswith("error: ") for name, value in report.items() if name in failed)


def test_healthz_answers_without_a_password_in_the_report(service_settings: Settings) -> None:
    port = free_port()
    settings = service_settings.model_copy(update={"broker_url": f"redis://:s3cret-pw@127.0.0.1:{port}/0"})

    with ServerThread(create_app(settings, register_webhooks=False)) as server:
        answer = httpx.get(f"{server.url}/healthz", timeout=20)

    assert answer.status_code == 503
    assert "s3cret-pw" not in answer.text


def post(web: WebProcess, key: str, token: str, event: str) -> httpx.Response:
    return httpx.post(
        web.receiver_url,
        json={"key_name": "number", "key": key},
        headers={"Rackbeat-Webhook-Token": token, "Rackbeat-Webhook-Event": event},
        timeout=10,
    )


def test_events_for_a_kind_mastered_in_economic_are_not_pushed(
    web_process_factory: Callable[..., WebProcess], service_redis: redis.Redis
) -> None:
    web = web_process_factory(products_master="economic")
    token = uuid.uuid4().hex
    registered_token(service_redis, web.settings, "product.updated", token)
    registered_token(service_redis, web.settings, "product_group.updated", token)
    key = f"WEB-{uuid.uuid4().hex[:8]}"
    ignored_before = ignored_for_master(web)

    product = post(web, key, token, "product.updated")
    group = post(web, "77", token, "product_group.updated")

    assert product.status_code == 200
    assert product.json()["status"] == "ignored"
    assert "e-conomic is the master" in product.json()["reason"]
    # the setting covers products only: their groups still flow from Rackbeat
    assert group.status_code == 202
    assert queued_transfers(service_redis, web.settings) == [("product_group", "77")]
    # the session's earlier tests count into the same store: this delivery adds one
    assert ignored_for_master(web) == ignored_before + 1


def ignored_for_master(web: WebProcess) -> float:
    metrics = httpx.get(f"{web.url}/metrics", timeout=10).text
    found = re.search(
        r'^rbsync_webhooks_ignored_total\{reason="economic-master"\} (\S+)$', metrics, re.MULTILINE
    )
    return float(found.group(1)) if found else 0.0


def test_the_fixed_token_setting_is_accepted_for_any_event(
    web_process_factory: Callable[..., WebProcess], service_redis: redis.Redis
) -> None:
    fixed = uuid.uuid4().hex
    web = web_process_factory(webhook_token=SecretStr(fixed))
    key = f"WEB-{uuid.uuid4().hex[:8]}"

    accepted = post(web, key, fixed, "product.created")
    refused = post(web, key, uuid.uuid4().hex, "product.created")

    assert accepted.status_code == 202
    assert refused.status_code == 401
    assert queue_length(service_redis, web.settings) == 1
    assert fixed not in web.log()


def test_a_delivery_while_redis_is_unreachable_gets_503_so_rackbeat_delivers_again(
    service_settings: Settings,
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings = service_settings.model_copy(update={"redis_url": closed, "broker_url": closed})

    with ServerThread(create_app(settings, register_webhooks=False)) as server:
        answer = httpx.post(
            f"{server.url}/webhooks/rackbeat",
            json={"key": "1"},
            headers={"Rackbeat-Webhook-Token": "t", "Rackbeat-Webhook-Event": "product.updated"},
            timeout=20,
        )

    assert answer.status_code == 503
    assert answer.json()["status"] == "error"
