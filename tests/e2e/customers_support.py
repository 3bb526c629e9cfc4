"""Helpers for the customer-side end-to-end tests (customers, customer groups, payment terms).

The scenario handle (`Flow`), its fixture and the webhook receiver fixture come from the products e2e
module; what is here is only what customers need on top: Rackbeat records with the fields Rackbeat
requires, the e-conomic sandbox's writes to one resource in the order they arrived, and a receiver
served with settings of the test's choosing (e-conomic as master).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from clients.rackbeat import RackbeatClient
from sandbox.common.server import ServerThread
from tasks.entities import REGISTRY
from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tasks.webhooks import WebhookTokenStore, handled_events, register_webhooks
from tests.engine.test_exporter import WRITES
from web.app import create_app

CUSTOMER_RESOURCES = ("/customer-groups", "/payment-terms", "/customers")


class CustomerRecords:
    """Creates Rackbeat records through the sandbox itself (as a Rackbeat user would), so each fires its
    webhook unless `quietly` (a record that already existed before the receiver listened)."""

    def __init__(self, rackbeat: Any) -> None:
        self.sandbox = rackbeat.sandbox

    def group(self, number: int, name: str, *, quietly: bool = False) -> dict[str, Any]:
        return self.sandbox.create("customer-groups", {"number": number, "name": name}, suppress=quietly)

    def terms(
        self, name: str = "Netto 14 dage", days: int = 14, kind: str = "net", *, quietly: bool = False
    ) -> dict[str, Any]:
        body = {"name": name, "type": kind, "maturity_days": days}
        return self.sandbox.create("payment-terms", body, suppress=quietly)

    def customer(
        self,
        terms: dict[str, Any],
        group: dict[str, Any] | None = None,
        *,
        quietly: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "company_name": "Nordvik Byg ApS",
            "payment_terms_id": terms["number"],
            "address_country": "Danmark",
            "currency": "DKK",
            "contact_email": "info@nordvik-byg.dk",
        }
        if group is not None:
            body["customer_group_id"] = group["number"]
        return self.sandbox.create("customers", {**body, **fields}, suppress=quietly)


def customer_writes(economic: Any) -> list[tuple[str, str]]:
    """(method, path) of every write to the customer-side resources, in the order e-conomic got them."""
    return [
        (entry["method"], entry["path"])
        for entry in economic.sandbox.request_log.entries()
        if entry["method"] in WRITES and entry["path"].startswith(CUSTOMER_RESOURCES)
    ]


def all_writes(economic: Any) -> list[dict[str, Any]]:
    return [entry for entry in economic.sandbox.request_log.entries() if entry["method"] in WRITES]


def economic_record(economic: Any, resource: str, key_field: str, key: Any) -> dict[str, Any] | None:
    return next((row for row in economic.sandbox.dump(resource) if row[key_field] == key), None)


@contextmanager
def receiver_with(settings: Settings, client: redis.Redis, rackbeat: Any) -> Iterator[ServerThread]:
    """The webhook receiver built from `settings`, registered in the Rackbeat sandbox for every handled
    event (the products module's `receiver` fixture always uses the scenario's own settings)."""
    server = ServerThread(create_app(settings, register_webhooks=False)).start()
    tokens = WebhookTokenStore(
        client, lambda *parts: namespaced_key(*parts, connection_id=settings.connection_id)
    )
    try:
        with RackbeatClient(rackbeat.api_url, rackbeat.token) as api:
            register_webhooks(api, tokens, server.url, handled_events(REGISTRY.values()))
        yield server
    finally:
        server.stop()
