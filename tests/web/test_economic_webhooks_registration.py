"""Registering e-conomic's webhooks (tasks.economic_webhooks, `rbsync webhooks register --economic`) against
the e-conomic sandbox's webhooks API, and a delivery the sandbox then makes reaching the receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from clients.economic import EconomicClient
from sandbox.common.server import ServerThread
from tasks.economic_webhooks import (
    EVENT_TYPES,
    FORM,
    POST_DATA,
    RECEIVER_PREFIX,
    SERVICE,
    TOKEN_HEADER,
    imports_kind,
    register_economic_webhooks,
)
from tasks.settings import Settings
from tests.fixtures.sandboxes import RunningSandbox
from tests.fixtures.service import PROJECT_ROOT, settings_env, settings_for_sandboxes, wait_for

PUBLIC = "http://127.0.0.1:1"


def new_token() -> str:
    return "economic-hook-" + uuid.uuid4().hex


@pytest.fixture
def economic(economic_sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    economic_sandbox.sandbox.webhooks_api.superuser = True
    yield economic_sandbox
    economic_sandbox.sandbox.webhooks_api.superuser = True


@pytest.fixture
def client(economic: RunningSandbox) -> Iterator[EconomicClient]:
    tokens = economic.tokens
    with EconomicClient(
        economic.api_url, economic.api_url, tokens["app_secret_token"], tokens["agreement_grant_token"]
    ) as api:
        yield api


def registered(client: EconomicClient) -> dict[str, dict[str, Any]]:
    return {item["eventType"]: item for item in client.openapi_iter(SERVICE, "webhooks")}


def test_one_webhook_per_imported_kind_with_the_token_in_a_custom_header(client: EconomicClient) -> None:
    token = SecretStr(new_token())
    results = register_economic_webhooks(client, PUBLIC, token, ["customer", "product"])

    assert [(r.kind, r.outcome) for r in results] == [
        ("customer", "created"),
        ("product", "created"),
        ("order", "not-imported"),
        ("project", "not-imported"),
    ]
    hooks = registered(client)
    assert set(hooks) == {"CUSTOMER_UPDATED", "PRODUCT_UPDATED"}
    customer = hooks["CUSTOMER_UPDATED"]
    assert customer["url"] == f"{PUBLIC}{RECEIVER_PREFIX}/customer"
    assert customer["contentType"] == FORM and customer["postData"] == POST_DATA
    assert customer["customHeaders"] == [{"key": TOKEN_HEADER, "value": token.get_secret_value()}]
    assert token.get_secret_value() not in repr(results)


def test_registering_again_changes_only_what_differs_and_removes_kinds_no_longer_imported(
    client: EconomicClient,
) -> None:
    token = SecretStr(new_token())
    register_economic_webhooks(client, PUBLIC, token, ["customer", "product", "order"])
    writes_before = registered(client)

    again = register_economic_webhooks(client, PUBLIC, token, ["customer", "product", "order"])
    assert {r.outcome for r in again if r.kind != "project"} == {"unchanged"}
    assert registered(client) == writes_before  # not even lastUpdated moved

    rotated = SecretStr(new_token())
    changed = register_economic_webhooks(client, PUBLIC, rotated, ["customer", "order"])
    assert [(r.kind, r.outcome) for r in changed] == [
        ("customer", "updated"),
        ("product", "removed"),
        ("order", "updated"),
        ("project", "not-imported"),
    ]
    hooks = registered(client)
    assert set(hooks) == {"CUSTOMER_UPDATED", "ORDER_UPDATED"}
    assert hooks["ORDER_UPDATED"]["customHeaders"][0]["value"] == rotated.get_secret_value()


def test_a_webhook_of_someone_else_is_not_removed(client: EconomicClient) -> None:
    other = {
        "eventType": "PRODUCT_UPDATED",
        "name": "another integration",
        "url": "https://elsewhere.example/hook",
        "contentType": FORM,
    }
    client.openapi_post(SERVICE, "webhooks", other, idempotency_key=uuid.uuid4().hex)
    results = register_economic_webhooks(client, PUBLIC, SecretStr(new_token()), ["customer"])
    assert [r.outcome for r in results if r.kind == "product"] == ["not-imported"]
    assert registered(client)["PRODUCT_UPDATED"]["url"] == "https://elsewhere.example/hook"


class OffersOnlyCustomers:
    """An agreement whose GET /EventTypes lacks the types named after the UI's (not documented by name)."""

    def __init__(self, real: EconomicClient) -> None:
        self.real = real

    def openapi_get(self, service_path: str, path: str, params: Any = None) -> Any:
        answer = self.real.openapi_get(service_path, path, params)
        return (
            [item for item in answer if item["name"] == "CUSTOMER_UPDATED"]
            if path == "EventTypes"
            else answer
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_an_event_type_the_agreement_does_not_offer_is_reported_not_registered(
    client: EconomicClient,
) -> None:
    results = register_economic_webhooks(
        OffersOnlyCustomers(client), PUBLIC, SecretStr(new_token()), ["customer", "product"]
    )
    assert [(r.kind, r.outcome) for r in results][:2] == [("customer", "created"), ("product", "not-offered")]
    assert set(registered(client)) == {"CUSTOMER_UPDATED"}


def test_the_kinds_registered_are_the_imported_ones_and_projects_only_with_project_management_on(
    service_settings: Settings,
) -> None:
    from tasks.sync.direction import Directions

    economic_master = service_settings.model_copy(update={"customers_master": "economic"})
    with_projects = economic_master.model_copy(update={"project_management_enabled": True})
    imported = Directions.of(economic_master).imported
    off, on = imports_kind(economic_master), imports_kind(with_projects)
    for kind in EVENT_TYPES:
        assert on(kind) == (kind in imported)
        assert off(kind) == (kind in imported and kind != "project")
    assert not imports_kind(service_settings)("customer")  # Rackbeat owns customers by default


# ------------------------------------------------------------------------------------------- the CLI


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings_env(settings)}
    if settings.economic_webhook_token is None:
        env.pop("RBSYNC_ECONOMIC_WEBHOOK_TOKEN", None)
    command = [sys.executable, "-c", "from tasks.cli import main; main()", "webhooks", "register", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def cli_settings(service_settings: Settings, rackbeat_server: Any, economic: RunningSandbox) -> Settings:
    return settings_for_sandboxes(service_settings, rackbeat_server, economic).model_copy(
        update={
            "public_url": PUBLIC,
            "customers_master": "economic",
            "products_master": "economic",
            "economic_webhook_token": SecretStr(new_token()),
        }
    )


def test_cli_registers_prints_each_event_type_and_never_the_token(
    cli_settings: Settings, client: EconomicClient
) -> None:
    result = cli(cli_settings, "--economic")
    assert result.returncode == 0, result.stderr
    assert "CUSTOMER_UPDATED" in result.stdout and "created" in result.stdout
    assert "skipped: these settings do not import project changes" in result.stdout
    assert cli_settings.economic_webhook_token is not None
    secret = cli_settings.economic_webhook_token.get_secret_value()
    assert secret not in result.stdout + result.stderr
    assert {"CUSTOMER_UPDATED", "PRODUCT_UPDATED"} <= set(registered(client))

    again = cli(cli_settings, "--economic")
    assert again.returncode == 0 and "already registered" in again.stdout


def test_cli_refuses_without_the_token_setting(cli_settings: Settings, client: EconomicClient) -> None:
    result = cli(cli_settings.model_copy(update={"economic_webhook_token": None}), "--economic")
    assert result.returncode == 1
    assert "RBSYNC_ECONOMIC_WEBHOOK_TOKEN is unset" in result.stderr
    assert registered(client) == {}


def test_cli_names_the_superuser_role_when_e_conomic_answers_403(
    cli_settings: Settings, economic: RunningSandbox
) -> None:
    economic.sandbox.webhooks_api.superuser = False
    result = cli(cli_settings, "--economic")
    assert result.returncode == 1
    assert "registration failed" in result.stderr and "Superuser" in result.stderr
    assert cli_settings.economic_webhook_token is not None
    assert cli_settings.economic_webhook_token.get_secret_value() not in result.stdout + result.stderr


def test_cli_refuses_a_loopback_public_url_for_a_remote_e_conomic(cli_settings: Settings) -> None:
    remote = cli_settings.model_copy(update={"economic_openapi_base_url": "https://apis.e-conomic.com/"})
    result = cli(remote, "--economic")
    assert result.returncode == 2
    assert "e-conomic at apis.e-conomic.com can never reach" in result.stderr


# ------------------------------------------------------------------------------------------- delivery


def test_a_change_in_e_conomic_reaches_the_receiver_authenticated_by_the_registered_header(
    sandbox_settings: Settings, economic: RunningSandbox, client: EconomicClient
) -> None:
    from web.app import create_app

    # Customers stay Rackbeat's here, so the authentic delivery is acknowledged and counted, not imported:
    # this test is about the path and the header, without a worker.
    token = new_token()
    settings = sandbox_settings.model_copy(update={"economic_webhook_token": SecretStr(token)})
    app = create_app(settings, register_webhooks=False)
    with ServerThread(app) as receiver:
        register_economic_webhooks(client, receiver.url, SecretStr(token), list(EVENT_TYPES))
        created = httpx.post(
            economic.api_url + "customers",
            headers=economic.headers,
            json={
                "name": "Hooked ApS",
                "currency": "DKK",
                "customerGroup": {"customerGroupNumber": 1},
                "paymentTerms": {"paymentTermsNumber": 1},
                "vatZone": {"vatZoneNumber": 1},
            },
        )
        assert created.status_code == 201
        number = created.json()["customerNumber"]
        assert economic.sandbox.wait_for_webhooks()
        metrics = app.state.economic_metrics
        wait_for(lambda: metrics.ignored_kinds().get("customer"), message="the delivery to be counted")
    [delivery] = [d for d in economic.sandbox.webhooks.deliveries if d["event"] == "customer"]
    assert delivery["url"] == f"{receiver.url}{RECEIVER_PREFIX}/customer"
    assert delivery["body"] == f"old=&new={number}"
    assert delivery["status"] == 200  # authentic, and not imported under these settings
    assert token not in str(economic.sandbox.webhooks.deliveries)
