"""Helpers for tests and benchmarks: serve an EconomicSandbox on loopback and talk to it with httpx."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from sandbox.common.server import ServerThread
from sandbox.economic.app import EconomicSandbox

APP_SECRET = "test-app-secret"
GRANT = "test-grant"


def auth_headers(app_secret: str = APP_SECRET, grant: str = GRANT) -> dict[str, str]:
    return {"X-AppSecretToken": app_secret, "X-AgreementGrantToken": grant}


@contextmanager
def serve(**options: Any) -> Iterator[tuple[EconomicSandbox, str]]:
    """A fresh sandbox on an ephemeral loopback port: yields (sandbox, base URL with a trailing slash)."""
    options.setdefault("app_secret_token", APP_SECRET)
    options.setdefault("agreement_grant_token", GRANT)
    sandbox = EconomicSandbox(**options)
    server = ServerThread(sandbox.app).start()
    try:
        yield sandbox, server.url + "/"
    finally:
        server.stop()
        sandbox.close()


def client(base_url: str, **options: Any) -> httpx.Client:
    """An authenticated httpx client for the sandbox at ``base_url``."""
    headers = {**auth_headers(), **options.pop("headers", {})}
    return httpx.Client(base_url=base_url, headers=headers, timeout=options.pop("timeout", 10.0), **options)


CUSTOMER = {
    "name": "Nordic Bikes ApS",
    "currency": "DKK",
    "customerGroup": {"customerGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 1},
}
PRODUCT = {
    "productNumber": "P-1",
    "name": "Bike bell",
    "productGroup": {"productGroupNumber": 1},
    "salesPrice": 100.0,
    "costPrice": 40.0,
}
SUPPLIER = {
    "name": "Bell Factory GmbH",
    "currency": "EUR",
    "supplierGroup": {"supplierGroupNumber": 1},
    "paymentTerms": {"paymentTermsNumber": 1},
    "vatZone": {"vatZoneNumber": 2},
}


def draft_invoice(customer_number: int, product_number: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2026-03-02",
        "currency": "DKK",
        "customer": {"customerNumber": customer_number},
        "layout": {"layoutNumber": 19},
        "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": "Nordic Bikes ApS", "vatZone": {"vatZoneNumber": 1}},
        "lines": [{"product": {"productNumber": product_number}, "quantity": 2, "unitNetPrice": 100.0}],
    }
    body.update(extra)
    return body


def logged_requests(sandbox: EconomicSandbox, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The request log once it holds ``count`` entries: the log middleware records a request just after the
    client has its answer, so a test reading the log at once could miss the last one."""
    waited = 0.0
    while len(sandbox.request_log) < count and waited < timeout:
        threading.Event().wait(0.01)
        waited += 0.01
    return sandbox.request_log.entries()
