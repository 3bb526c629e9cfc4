"""Helpers for the supplier, supplier group and employee end-to-end tests (webhooks -> worker -> e-conomic).

The flow itself (`Flow`, the `e2e` and `receiver` fixtures) is the products tests'; what is here is what
those kinds add: the payment terms a supplier needs, writes to OpenAPI collections (where an update is a
PUT to the collection, so a record's writes are told apart by the key in the body), and a bookkeeper's
own edits in e-conomic.
"""

from __future__ import annotations

import uuid
from typing import Any

from clients.economic import EconomicClient
from tasks.entities import REGISTRY
from tasks.settings import Settings
from tasks.sync.bindings import BindingStore
from tests.e2e.test_products_e2e import Flow
from tests.engine.test_exporter import WRITES

SANDBOX_PAYMENT_TERMS = 1
"""The payment terms every fresh e-conomic sandbox has ("Net 8 days")."""


def rackbeat_payment_terms(flow: Flow) -> dict[str, Any]:
    """Payment terms in Rackbeat that e-conomic has too.

    While the `payment_term` kind is not registered, the engine only looks its binding up, so the test
    binds it to the sandbox's own terms (as an earlier start-up sync would have); once the kind exists,
    the engine exports it inside the supplier's transfer and the binding is not needed.
    """
    terms = flow.rackbeat.sandbox.create(
        "payment-terms", {"name": "Netto 8 dage", "type": "net", "maturity_days": 8}
    )
    if "payment_term" not in REGISTRY:
        BindingStore(flow.redis, flow.settings.connection_id).put(
            "payment_term",
            str(terms["number"]),
            economic_key=SANDBOX_PAYMENT_TERMS,
            payload_hash="-",
            economic_resource="payment-terms",
        )
    return terms


def expected_payment_terms(flow: Flow, terms: dict[str, Any]) -> Any:
    """The e-conomic number the supplier's payment terms should have."""
    binding = BindingStore(flow.redis, flow.settings.connection_id).get("payment_term", str(terms["number"]))
    assert binding is not None, "the payment terms were never bound"
    return binding.economic_key


def collection_writes(flow: Flow, path: str, key_field: str, key: Any) -> list[dict[str, Any]]:
    """Writes to an OpenAPI collection (`/suppliersapi/v2.0.0/Groups`) about the record `key`."""
    return [
        entry
        for entry in flow.economic.sandbox.request_log.entries()
        if entry["method"] in WRITES
        and entry["path"] == path
        and isinstance(entry.get("body"), dict)
        and entry["body"].get(key_field) == key
    ]


def unique_number(low: int = 100, high: int = 999_999) -> int:
    """A record number unlikely to meet one from another test in the same session."""
    return low + uuid.uuid4().int % (high - low)


def economic_client(settings: Settings) -> EconomicClient:
    """A client for the e-conomic sandbox, used to play a bookkeeper editing a record there."""
    return EconomicClient(
        base_url=settings.economic_base_url,
        openapi_base_url=settings.economic_openapi_base_url,
        app_secret_token=settings.economic_app_secret_token.get_secret_value(),
        agreement_grant_token=settings.economic_agreement_grant_token.get_secret_value(),
    )


def bookkeeper_edit(settings: Settings, service_path: str, route: str, key: int, **changes: Any) -> None:
    """Change an OpenAPI record in e-conomic as a person would: read it, PUT it back changed."""
    with economic_client(settings) as economic:
        current = economic.openapi_get(service_path, f"{route}/{key}")
        economic.openapi_put(
            service_path, route, {**current, **changes}, idempotency_key=f"bookkeeper-{uuid.uuid4().hex}"
        )
