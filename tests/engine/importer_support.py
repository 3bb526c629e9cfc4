"""Helpers shared by the import tests: writes to the e-conomic sandbox over its HTTP API (as a user of
e-conomic would make them: validated, stamped with `lastUpdated`, firing its webhooks), and reads of the
Rackbeat sandbox."""

from __future__ import annotations

import time
from typing import Any

import httpx

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def economic_call(economic: Any, method: str, path: str, body: Any = None) -> Any:
    """One request to the e-conomic sandbox as an e-conomic user (no Idempotency-Key: not the service)."""
    response = httpx.request(method, f"{economic.api_url}{path}", json=body, headers=economic.headers)
    response.raise_for_status()
    return response.json() if response.content else None


def economic_customer(economic: Any, number: int, **fields: Any) -> dict[str, Any]:
    """Create (or replace) customer `number` in e-conomic, in the fresh agreement's group 1 and terms 1."""
    body = {
        "customerNumber": number,
        "name": f"Customer {number}",
        "currency": "DKK",
        "customerGroup": {"customerGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "vatZone": {"vatZoneNumber": 1},
        **fields,
    }
    return economic_call(economic, "PUT", f"customers/{number}", body)


def economic_product(economic: Any, number: str, **fields: Any) -> dict[str, Any]:
    """Create (or replace) product `number` in e-conomic, in the fresh agreement's group 1, unit 1."""
    body = {
        "productNumber": number,
        "name": f"Product {number}",
        "productGroup": {"productGroupNumber": 1},
        "unit": {"unitNumber": 1},
        "salesPrice": 10.0,
        **fields,
    }
    return economic_call(economic, "PUT", f"products/{number}", body)


def rackbeat_record(rackbeat: Any, resource: str, key: Any) -> dict[str, Any] | None:
    return next((r for r in rackbeat.sandbox.dump(resource) if str(r["number"]) == str(key)), None)


def logged(running: Any, quiet_seconds: float = 0.06, timeout: float = 5.0) -> list[dict[str, Any]]:
    """A sandbox's request log once it has stopped growing: the sandbox appends an entry only after its
    answer went out, so a client can hold the answer a moment before the log has the request."""
    deadline = time.monotonic() + timeout
    entries = running.sandbox.request_log.entries()
    while time.monotonic() < deadline:
        time.sleep(quiet_seconds)
        later = running.sandbox.request_log.entries()
        if len(later) == len(entries):
            return later
        entries = later
    return entries


def clear_log(running: Any) -> None:
    """Empty a sandbox's request log once the requests already answered are in it."""
    logged(running)
    running.sandbox.request_log.clear()


def rackbeat_writes(rackbeat: Any) -> list[dict[str, Any]]:
    return [entry for entry in logged(rackbeat) if entry["method"] in WRITES]


def economic_writes(economic: Any) -> list[dict[str, Any]]:
    """Writes the service made to e-conomic (its client always sends an Idempotency-Key; a test's own
    writes, made like a user's, send none)."""
    return [entry for entry in logged(economic) if entry["method"] in WRITES and entry.get("idempotency_key")]
