"""Webhook registration against the Rackbeat sandbox, and a real delivery from it reaching the receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
import redis
from pydantic import SecretStr

from tasks.entities import REGISTRY
from tasks.settings import Settings
from tasks.webhooks import handled_events, receiver_url, register_from_settings
from tests.fixtures.sandboxes import RunningSandbox
from tests.fixtures.service import PROJECT_ROOT, settings_env, wait_for
from tests.web.support import WebProcess, queued_transfers, token_store

EVENTS = handled_events(REGISTRY.values())


@pytest.fixture
def rackbeat_settings(service_settings: Settings, rackbeat_sandbox: RunningSandbox) -> Settings:
    """Session settings with the Rackbeat sandbox as Rackbeat (the public URL is never called here)."""
    return service_settings.model_copy(
        update={
            "rackbeat_base_url": rackbeat_sandbox.api_url,
            "rackbeat_token": SecretStr(rackbeat_sandbox.token),
            "public_url": "http://127.0.0.1:1/",
        }
    )


@pytest.fixture(autouse=True)
def forget_tokens(service_redis: redis.Redis, service_settings: Settings) -> None:
    """Every test starts with no stored token, so a "first registration" really is the first."""
    service_redis.delete(f"rbsync:{service_settings.connection_id}:webhook-tokens")


def sandbox_hooks(rackbeat: RunningSandbox) -> list[dict]:
    return rackbeat.sandbox.webhooks.snapshot()


def test_the_registry_handles_events_to_register() -> None:
    assert "product.updated" in EVENTS and "product.deleted" in EVENTS
    assert sorted(set(EVENTS)) == EVENTS


def test_first_registration_stores_the_tokens_rackbeat_returns(
    rackbeat_settings: Settings, rackbeat_sandbox: RunningSandbox, service_redis: redis.Redis
) -> None:
    results = register_from_settings(rackbeat_settings)

    assert [r.event for r in results] == EVENTS
    assert {r.token for r in results} == {"stored"}
    hooks = {hook["event"]: hook for hook in sandbox_hooks(rackbeat_sandbox)}
    assert set(hooks) == set(EVENTS)
    store = token_store(service_redis, rackbeat_settings)
    for event in EVENTS:
        assert hooks[event]["url"] == "http://127.0.0.1:1/webhooks/rackbeat"
        stored = store.get(event)
        assert stored is not None and stored.get_secret_value() == hooks[event]["token"]


def test_registering_again_keeps_the_stored_tokens_and_creates_no_duplicates(
    rackbeat_settings: Settings, rackbeat_sandbox: RunningSandbox, service_redis: redis.Redis
) -> None:
    register_from_settings(rackbeat_settings)
    store = token_store(service_redis, rackbeat_settings)
    first = {event: store.get(event).get_secret_value() for event in EVENTS}  # type: ignore[union-attr]

    again = register_from_settings(rackbeat_settings)

    assert {r.token for r in again} == {"kept"}
    assert {event: store.get(event).get_secret_value() for event in EVENTS} == first  # type: ignore[union-attr]
    assert len(sandbox_hooks(rackbeat_sandbox)) == len(EVENTS)


def test_an_existing_webhook_without_a_stored_token_is_reported_missing(
    rackbeat_settings: Settings, service_redis: redis.Redis
) -> None:
    register_from_settings(rackbeat_settings)
    service_redis.delete(f"rbsync:{rackbeat_settings.connection_id}:webhook-tokens")  # e.g. a new Redis

    results = register_from_settings(rackbeat_settings)

    assert {r.token for r in results} == {"missing"}


def test_cli_registers_and_never_prints_a_token(
    rackbeat_settings: Settings, rackbeat_sandbox: RunningSandbox, service_redis: redis.Redis
) -> None:
    env = {**os.environ, **settings_env(rackbeat_settings)}
    command = [sys.executable, "-c", "from tasks.cli import main; main()", "webhooks", "register"]

    first = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    second = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert f"{len(EVENTS)} webhook(s) registered" in first.stdout
    assert first.stdout.count("token stored") == len(EVENTS)
    assert second.stdout.count("token kept") == len(EVENTS)
    output = first.stdout + first.stderr + second.stdout + second.stderr
    for hook in sandbox_hooks(rackbeat_sandbox):
        assert hook["token"] not in output
    assert rackbeat_sandbox.token not in output


def test_cli_fails_with_one_line_when_rackbeat_refuses(rackbeat_settings: Settings) -> None:
    wrong = rackbeat_settings.model_copy(update={"rackbeat_token": SecretStr("not-the-sandbox-token")})
    env = {**os.environ, **settings_env(wrong)}
    command = [sys.executable, "-c", "from tasks.cli import main; main()", "webhooks", "register"]

    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert "registration failed" in result.stderr
    assert "not-the-sandbox-token" not in result.stdout + result.stderr


def test_startup_registration_then_a_real_delivery_from_rackbeat_is_enqueued(
    web_process_factory: Callable[..., WebProcess],
    rackbeat_sandbox: RunningSandbox,
    service_redis: redis.Redis,
) -> None:
    web = web_process_factory(
        register_webhooks=True,
        rackbeat_base_url=rackbeat_sandbox.api_url,
        rackbeat_token=SecretStr(rackbeat_sandbox.token),
    )
    store = token_store(service_redis, web.settings)
    wait_for(lambda: store.events() >= set(EVENTS), timeout=30, message="start-up registration")
    assert {hook["url"] for hook in sandbox_hooks(rackbeat_sandbox)} == {
        receiver_url(web.settings.public_url)
    }

    api = httpx.Client(base_url=rackbeat_sandbox.api_url, headers=rackbeat_sandbox.headers, timeout=10)
    with api:
        assert api.post("product-groups", json={"number": 41, "name": "Goods"}).status_code in (200, 201)
        created = api.post(
            "products", json={"number": "W/41", "name": "Widget", "group_id": 41, "sales_price": 5}
        )
        assert created.status_code in (200, 201), created.text
        assert api.put("products/W%252F41", json={"name": "Widget 2"}).status_code == 200

    assert rackbeat_sandbox.sandbox.wait_for_webhooks(15)
    deliveries = rackbeat_sandbox.sandbox.dispatcher.log_entries()
    assert deliveries and all(entry["status"] == 202 for entry in deliveries), deliveries
    queued = queued_transfers(service_redis, web.settings)
    assert queued.count(("product", "W/41")) == 1  # created + updated coalesced into one transfer
    assert queued.count(("product_group", "41")) == 1
