"""The Rackbeat sandbox's orders as the order import writes and finds them (tasks/entities/order.py).

Facts (rackbeat-api.md): `POST orders/drafts` creates an unbooked order and `POST orders/{n}/book` books it
(2.2); the order's fields, `their_reference`, `delivery_address` and the `is_*` flags (2.3, Order); a booked
order's lines are locked (1.7); `simple_filter[<field>]` is an exact list filter and `is_booked` a boolean
one (1.4); `suppress_webhooks=true` in the query or the body of a write fires no webhook (1.4, 3.2).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.common.server import ServerThread

REFERENCE = "e-conomic order 17"


@pytest.fixture
def rackbeat(rackbeat_server_factory: Any) -> Any:
    running = rackbeat_server_factory(webhook_backoff_seconds=0.02, webhook_backoff_max_seconds=0.1)
    running.sandbox.load(
        {
            "product-groups": [{"number": 1, "name": "Tools"}],
            "payment-terms": [{"number": 1, "name": "Net 8", "maturity_days": 8, "type": "net"}],
            "customers": [{"number": 5, "company_name": "Kunde A/S", "payment_terms_id": 1}],
            "products": [
                {"number": "P-1", "name": "Bell", "group_id": 1, "sales_price": 100},
                {"number": "P/2", "name": "Screws", "group_id": 1, "sales_price": 20},
            ],
        }
    )
    return running


@pytest.fixture
def api(rackbeat: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat.api_url, headers=rackbeat.headers) as client:
        yield client


def order_body(reference: str = REFERENCE, **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": 5,
        "their_reference": reference,
        "currency": "EUR",
        "vat_zone": "domestic",
        "order_date": "2026-11-30",
        "deliver_at": "2026-12-04",
        "heading": "Forårsordre",
        "note": "Leveres samlet",
        "address_street": "Hovedgaden 1",
        "address_zipcode": "8000",
        "address_city": "Aarhus",
        "address_country": "Danmark",
        "delivery_address": {
            "name": "Kunde A/S",
            "street": "Lagervej 9",
            "zipcode": "8200",
            "city": "Aarhus N",
        },
        "lines": [
            {
                "item_id": "P-1",
                "name": "Cykelklokke",
                "quantity": 2,
                "line_price": 100,
                "discount_percentage": 0,
            },
            {"item_id": "P/2", "name": "Skruer", "quantity": 3, "line_price": 20, "discount_percentage": 10},
        ],
        **fields,
    }


def draft(api: httpx.Client, body: dict[str, Any], **params: str) -> dict[str, Any]:
    created = api.post("orders/drafts", json=body, params=params)
    assert created.status_code == 201, created.text
    return created.json()["order"]


def test_a_draft_order_is_unbooked_and_keeps_what_was_written(api: httpx.Client) -> None:
    order = draft(api, order_body())
    assert (order["is_booked"], order["is_shipped"], order["is_invoiced"]) == (False, False, False)
    kept = {name: order[name] for name in order_body() if name != "lines"}
    assert kept == {name: value for name, value in order_body().items() if name != "lines"}
    fields = ("item_id", "name", "quantity", "line_price", "discount_percentage")
    lines = [tuple(line[name] for name in fields) for line in order["lines"]]
    assert lines == [("P-1", "Cykelklokke", 2, 100, 0), ("P/2", "Skruer", 3, 20, 10)]
    assert order["total_subtotal"] == 254.0 and order["customer"]["number"] == 5


def test_is_draft_in_the_body_creates_an_unbooked_order_and_a_replace_ignores_it(api: httpx.Client) -> None:
    """What the order import sends while the importer has no per-kind create path (tasks/entities/order.py,
    `DRAFT_FIELD`); the sandbox's reading of drafts (its package docstring)."""
    created = api.post("orders", json={**order_body(), "is_draft": True})
    assert created.status_code == 201 and created.json()["order"]["is_booked"] is False
    number = created.json()["order"]["number"]
    assert api.post(f"orders/{number}/book", json={}).status_code == 200
    replaced = api.put(f"orders/{number}", json={"heading": "Changed", "is_draft": True})
    assert replaced.status_code == 200 and replaced.json()["order"]["is_booked"] is True
    assert api.post("orders", json=order_body("e-conomic order 18")).json()["order"]["is_booked"] is True


def test_their_reference_finds_exactly_one_order(api: httpx.Client) -> None:
    draft(api, order_body("e-conomic order 170"))
    wanted = draft(api, order_body())
    found = api.get("orders", params={"simple_filter[their_reference]": REFERENCE})
    assert found.status_code == 206
    assert [order["number"] for order in found.json()["orders"]] == [wanted["number"]]
    none = api.get("orders", params={"simple_filter[their_reference]": "e-conomic order 1"}).json()
    assert (none["orders"], none["total"]) == ([], 0)


def test_a_draft_follows_replacements_until_booked_then_its_lines_are_locked(api: httpx.Client) -> None:
    number = draft(api, order_body())["number"]
    changed = api.put(f"orders/{number}", json=order_body(lines=[{"item_id": "P-1", "quantity": 5}]))
    assert changed.status_code == 200 and changed.json()["order"]["lines"][0]["quantity"] == 5
    assert api.post(f"orders/{number}/book", json={}).json()["order"]["is_booked"] is True
    booked = api.get("orders", params={"simple_filter[their_reference]": REFERENCE, "is_booked": "true"})
    assert [order["number"] for order in booked.json()["orders"]] == [number]
    locked = api.put(f"orders/{number}", json=order_body(lines=[{"item_id": "P-1", "quantity": 9}]))
    assert locked.status_code == 422 and "lines" in locked.json()["errors"]


class Hook:
    """A webhook receiver noting each event it was sent."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.arrived = threading.Event()
        self.server = ServerThread(
            Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])
        ).start()

    async def endpoint(self, request: Request) -> Response:
        self.events.append(request.headers["rackbeat-webhook-event"])
        self.arrived.set()
        return Response(status_code=204)


def test_order_writes_with_suppress_webhooks_fire_nothing(api: httpx.Client, rackbeat: Any) -> None:
    hook = Hook()
    try:
        for event in ("order.created", "order.updated"):
            api.post("webhooks", json={"event": event, "url": hook.server.url + "/hook"})
        quiet = draft(api, order_body(), suppress_webhooks="true")
        body = {**order_body(), "heading": "Changed", "suppress_webhooks": True}
        assert api.put(f"orders/{quiet['number']}", json=body).status_code == 200
        assert rackbeat.sandbox.wait_for_webhooks()
        assert hook.events == []

        loud = draft(api, order_body("e-conomic order 18"))
        assert hook.arrived.wait(5) and rackbeat.sandbox.wait_for_webhooks()
        assert hook.events == ["order.created"], loud
    finally:
        hook.server.stop()
