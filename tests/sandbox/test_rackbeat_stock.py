"""The Rackbeat sandbox's stock history over real HTTP: the clock, stock moves written to the ledger, and
``reports/valuation`` read as of a past day (Copenhagen days, summer time included), persistence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.common.server import ServerThread

BASICS: dict[str, list[dict[str, Any]]] = {
    "product-groups": [{"number": 1, "name": "Tools"}],
    "payment-terms": [{"number": 1, "name": "Net 14", "maturity_days": 14, "type": "net"}],
    "locations": [{"number": 1, "name": "Main", "is_default": True}, {"number": 2, "name": "Van"}],
    "customers": [{"number": 10, "company_name": "Acme ApS", "payment_terms_id": 1}],
    "suppliers": [{"number": 70, "company_name": "Parts AB", "payment_terms_id": 1, "vat_zone": "eu"}],
}


# -- helpers (also used by test_rackbeat_stock_adjustments.py) --
def set_clock(admin: httpx.Client, now: str | None) -> dict:
    response = admin.put("/_sandbox/clock", json={"now": now})
    assert response.status_code == 200, response.text
    return response.json()


def new_product(api: httpx.Client, number: str, **extra: Any) -> dict:
    body = {"number": number, "name": f"Product {number}", "group": 1, "sales_price": 100} | extra
    response = api.post("products", json=body)
    assert response.status_code == 201, response.text
    return response.json()["product"]


def receive(api: httpx.Client, lines: list[dict]) -> dict:
    """A supplier invoice booked with ``mark_received``."""
    draft = api.post("supplier-invoices/drafts", json={"supplier_id": 70, "lines": lines})
    assert draft.status_code == 201, draft.text
    number = draft.json()["supplier_invoice"]["number"]
    booked = api.post(f"supplier-invoices/{number}/book", json={"mark_received": True})
    assert booked.status_code == 200, booked.text
    return booked.json()["supplier_invoice"]


def sell(api: httpx.Client, lines: list[dict]) -> dict:
    """A customer invoice created booked."""
    response = api.post("customer-invoices", json={"customer_id": 10, "lines": lines})
    assert response.status_code == 201, response.text
    return response.json()["customer_invoice"]


def adjust(api: httpx.Client, item: str, quantity: float, location: int, **extra: Any) -> dict:
    """An inventory adjustment to ``quantity``, created then booked."""
    body = {
        "item_id": item,
        "adjustment_type": "quantity",
        "quantity": quantity,
        "location": location,
        "regulated_at": "2026-03-01",
        "reason": "counted",
    } | extra
    created = api.post("inventory-adjustments", json=body)
    assert created.status_code == 201, created.text
    booked = api.post(f"inventory-adjustments/{created.json()['inventory_regulation']['id']}/book")
    assert booked.status_code == 200, booked.text
    return booked.json()["inventory_regulation"]


def valuation(api: httpx.Client, date_to: str | None = None, location: int | None = None) -> dict:
    params: dict[str, Any] = {}
    if date_to is not None:
        params["date_to"] = date_to
    if location is not None:
        params["location"] = location
    response = api.get("reports/valuation", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def figures(report: dict) -> dict[str, tuple[float, float, float]]:
    """number -> (quantity, cost price, value)."""
    return {x["number"]: (x["quantity"], x["cost_price"], x["value"]) for x in report["lineables"]}


def total(api: httpx.Client, date_to: str | None = None) -> tuple[float, dict[int, float]]:
    params = {"date_to": date_to} if date_to else {}
    response = api.get("reports/valuation/total", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["total_value"], {loc["number"]: loc["value"] for loc in body["locations"]}


# -- fixtures --
@pytest.fixture
def api(rackbeat_sandbox) -> Iterator[httpx.Client]:
    rackbeat_sandbox.sandbox.load(BASICS)
    with httpx.Client(base_url=rackbeat_sandbox.api_url, headers=rackbeat_sandbox.headers) as client:
        yield client


@pytest.fixture
def admin(rackbeat_sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat_sandbox.url) as client:
        yield client
        client.put("/_sandbox/clock", json={"now": None})


# -- the clock --
def test_the_clock_follows_the_machine_until_fixed_and_a_reset_unfixes_it(admin, rackbeat_sandbox):
    shown = admin.get("/_sandbox/clock").json()
    assert shown["fixed"] is False
    assert abs(datetime.fromisoformat(shown["now"]) - datetime.now(UTC)) < timedelta(seconds=30)

    fixed = set_clock(admin, "2026-03-29T23:30:00+02:00")
    assert fixed == {"now": "2026-03-29T23:30:00+02:00", "today": "2026-03-29", "fixed": True}
    assert admin.get("/_sandbox/clock").json() == fixed
    assert set_clock(admin, "2026-03-29T22:30:00Z")["today"] == "2026-03-30"  # 00:30 in Copenhagen

    assert set_clock(admin, None)["fixed"] is False
    set_clock(admin, "2020-01-01T12:00:00+01:00")
    assert admin.post("/_sandbox/reset").status_code == 200
    after_reset = admin.get("/_sandbox/clock").json()
    assert after_reset["fixed"] is False and not after_reset["now"].startswith("2020-")


@pytest.mark.parametrize(
    "body",
    [
        {"now": "2026-03-29T23:30:00"},  # no offset
        {"now": "2026-03-29"},
        {"now": "tomorrow"},
        {"now": 1774819800},
        {"today": "2026-03-29"},
        ["2026-03-29T23:30:00+02:00"],
    ],
)
def test_the_clock_refuses_anything_but_a_datetime_with_an_offset_or_null(admin, body):
    refused = admin.put("/_sandbox/clock", json=body)
    assert refused.status_code == 422
    assert "now" in refused.json()["message"]
    assert admin.get("/_sandbox/clock").json()["fixed"] is False


def test_the_clock_dates_each_stock_move_in_the_ledger(api, admin):
    new_product(api, "P-1", recommended_cost_price=10)
    set_clock(admin, "2026-03-02T10:00:00+01:00")
    receive(api, [{"item_id": "P-1", "quantity": 10, "line_price": 12}])
    set_clock(admin, "2026-07-05T15:00:00Z")
    sell(api, [{"item_id": "P-1", "quantity": 3}])

    ledger = api.get("reports/ledger/P-1")
    assert ledger.status_code == 206
    items = ledger.json()["ledger_items"]
    assert [(e["type"], e["moved_at"]) for e in items] == [
        ("receipt", "2026-03-02T10:00:00+01:00"),
        ("shipment", "2026-07-05T17:00:00+02:00"),  # shown in Copenhagen time
    ]
    assert items[0] | {"id": 0, "source": {}} == {
        "id": 0,
        "moved_at": "2026-03-02T10:00:00+01:00",
        "type": "receipt",
        "item_number": "P-1",
        "item_type": "product",
        "location": 1,
        "quantity_before": 0.0,
        "quantity_after": 10.0,
        "cost_price_before": 10.0,
        "cost_price_after": 12.0,
        "source": {},
    }
    assert items[1]["source"]["resource"] == "customer-invoices"
    assert api.get("reports/ledger/NOPE").status_code == 404


# -- the valuation as of a day --
@pytest.fixture
def history(api, admin) -> httpx.Client:
    """P-1 held at the van (2), P-2 and the seeded P-3 at the main location (1):

    2026-03-02 10:00  receipt   P-1 +10 @ 12, P-2 +5 @ 4
    2026-03-05 15:00  sale      P-1 -3, P-2 -1
    2026-03-10 09:00  adjusted  P-1 to 20
    2026-03-12 08:00  receipt   P-1 +10 @ 15 (average cost 13)
    P-3 was loaded with 2 @ 50 and never moved.
    """
    new_product(api, "P-1", recommended_cost_price=10, default_location_id=2)
    new_product(api, "P-2", recommended_cost_price=4)
    seeded = {"number": "P-3", "name": "Seeded", "group_id": 1, "stock_quantity": 2, "cost_price": 50}
    admin.post("/_sandbox/load", json={"products": [seeded]}).raise_for_status()
    set_clock(admin, "2026-03-02T10:00:00+01:00")
    receive(api, [{"item_id": "P-1", "quantity": 10, "line_price": 12}, {"item_id": "P-2", "quantity": 5}])
    set_clock(admin, "2026-03-05T15:00:00+01:00")
    sell(api, [{"item_id": "P-1", "quantity": 3}, {"item_id": "P-2", "quantity": 1}])
    set_clock(admin, "2026-03-10T09:00:00+01:00")
    adjust(api, "P-1", 20, location=2)
    set_clock(admin, "2026-03-12T08:00:00+01:00")
    receive(api, [{"item_id": "P-1", "quantity": 10, "line_price": 15}])
    return api


def test_the_valuation_as_of_each_day_gives_the_figures_of_that_moment(history):
    seeded = {"P-3": (2.0, 50.0, 100.0)}
    assert figures(valuation(history, "2026-03-01")) == seeded  # before any move: nothing but the seed
    after_receipt = {"P-1": (10.0, 12.0, 120.0), "P-2": (5.0, 4.0, 20.0)} | seeded
    assert figures(valuation(history, "2026-03-02")) == after_receipt
    assert figures(valuation(history, "2026-03-04")) == after_receipt
    after_sale = {"P-1": (7.0, 12.0, 84.0), "P-2": (4.0, 4.0, 16.0)} | seeded
    assert figures(valuation(history, "2026-03-05")) == after_sale
    assert valuation(history, "2026-03-05")["total_value"] == 200.0
    after_adjustment = after_sale | {"P-1": (20.0, 12.0, 240.0)}
    assert figures(valuation(history, "2026-03-11")) == after_adjustment
    now = after_adjustment | {"P-1": (30.0, 13.0, 390.0)}
    assert figures(valuation(history, "2026-03-12")) == now
    assert figures(valuation(history, "2031-01-01")) == now
    assert figures(valuation(history)) == now  # no date_to: the figures now


def test_the_valuation_as_of_a_day_per_location_and_in_total(history):
    assert figures(valuation(history, "2026-03-05", location=2)) == {"P-1": (7.0, 12.0, 84.0)}
    main = valuation(history, "2026-03-05", location=1)
    assert figures(main) == {"P-2": (4.0, 4.0, 16.0), "P-3": (2.0, 50.0, 100.0)}
    assert main["total_value"] == 116.0 and main["location"] == 1
    assert total(history, "2026-03-01") == (100.0, {1: 100.0})
    assert total(history, "2026-03-05") == (200.0, {1: 116.0, 2: 84.0})
    assert total(history, "2026-03-11") == (356.0, {1: 116.0, 2: 240.0})
    assert total(history) == (506.0, {1: 116.0, 2: 390.0})


def test_a_move_late_on_the_day_summer_time_starts_counts_for_that_day_and_one_after_midnight_not(api, admin):
    new_product(api, "P-1", recommended_cost_price=10)
    set_clock(admin, "2026-03-29T23:30:00+02:00")  # 21:30 UTC; CEST began at 02:00 that night
    adjust(api, "P-1", 5, location=1)
    set_clock(admin, "2026-03-29T22:30:00Z")  # 00:30 on 30 March in Copenhagen
    adjust(api, "P-1", 8, location=1)

    assert figures(valuation(api, "2026-03-28")) == {}
    assert figures(valuation(api, "2026-03-29")) == {"P-1": (5.0, 10.0, 50.0)}
    assert figures(valuation(api, "2026-03-30")) == {"P-1": (8.0, 10.0, 80.0)}
    assert total(api, "2026-03-29") == (50.0, {1: 50.0})


def test_a_day_in_winter_time_ends_at_midnight_copenhagen_too(api, admin):
    new_product(api, "P-1", recommended_cost_price=10)
    set_clock(admin, "2026-01-15T23:59:59+01:00")
    adjust(api, "P-1", 4, location=1)
    set_clock(admin, "2026-01-16T00:00:00+01:00")
    adjust(api, "P-1", 6, location=1)
    assert figures(valuation(api, "2026-01-15")) == {"P-1": (4.0, 10.0, 40.0)}
    assert figures(valuation(api, "2026-01-16")) == {"P-1": (6.0, 10.0, 60.0)}


def test_sales_beyond_stock_stay_negative_lines_and_a_credit_note_puts_stock_back(api, admin):
    new_product(api, "P-1", recommended_cost_price=10)
    set_clock(admin, "2026-04-01T12:00:00+02:00")
    sell(api, [{"item_id": "P-1", "quantity": 4}])
    set_clock(admin, "2026-04-02T12:00:00+02:00")
    sell(api, [{"item_id": "P-1", "quantity": -1}])  # credit note

    as_of_first = valuation(api, "2026-04-01")
    assert figures(as_of_first) == {"P-1": (-4.0, 10.0, -40.0)}
    assert as_of_first["total_value"] == -40.0
    assert figures(valuation(api, "2026-04-02")) == {"P-1": (-3.0, 10.0, -30.0)}
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == -3


def test_an_invoice_moves_stock_when_it_is_booked_not_while_a_draft(api, admin):
    new_product(api, "P-1", recommended_cost_price=10, stock_quantity=9)
    lot_group_item = {"number": "L-1", "name": "Kit", "group": 1, "stock_quantity": 4}
    assert api.post("lots", json=lot_group_item).status_code == 201
    off = new_product(api, "S-1", inventory_enabled=False, stock_quantity=3)
    assert off["inventory_enabled"] is False
    lines = [
        {"item_id": "P-1", "quantity": 2},
        {"item_id": "L-1", "quantity": 1},
        {"item_id": "S-1", "quantity": 1},
    ]
    draft = api.post("customer-invoices/drafts", json={"customer_id": 10, "lines": lines}).json()
    number = draft["customer_invoice"]["number"]
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == 9
    assert api.post(f"customer-invoices/{number}/book").status_code == 200
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == 7
    assert api.get("lots/L-1").json()["lot"]["stock_quantity"] == 3
    assert api.get("products/S-1").json()["product"]["stock_quantity"] == 3  # keeps no inventory

    order = api.post("orders", json={"customer_id": 10, "lines": [{"item_id": "P-1", "quantity": 5}]}).json()
    converted = api.post(f"orders/{order['order']['number']}/convert-to-invoice", params={"book": "false"})
    assert converted.status_code == 200
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == 7  # a draft again
    api.post(f"customer-invoices/{converted.json()['invoice_id']}/book")
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == 2


def test_a_put_of_the_stock_quantity_is_written_to_the_ledger(api, admin):
    new_product(api, "P-1", recommended_cost_price=10)
    set_clock(admin, "2026-05-01T12:00:00+02:00")
    assert api.put("products/P-1", json={"stock_quantity": 6}).status_code == 200
    set_clock(admin, "2026-05-03T12:00:00+02:00")
    assert api.put("products/P-1", json={"name": "Renamed"}).status_code == 200  # no stock change
    [entry] = api.get("reports/ledger/P-1").json()["ledger_items"]
    assert (entry["type"], entry["quantity_before"], entry["quantity_after"]) == ("quantity adjustment", 0, 6)
    assert figures(valuation(api, "2026-04-30")) == {}
    assert figures(valuation(api, "2026-05-01")) == {"P-1": (6.0, 10.0, 60.0)}


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026-03-29T10:00:00", "29-03-2026", "20260329"])
def test_a_malformed_date_to_is_a_422_naming_the_field(api, bad):
    for path in ("reports/valuation", "reports/valuation/total"):
        refused = api.get(path, params={"date_to": bad})
        assert refused.status_code == 422, path
        assert list(refused.json()["errors"]) == ["date_to"]


# -- what a stock move does not do --
class Receiver:
    """A webhook receiver on loopback that records every delivery's event."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()
        self.server = ServerThread(Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])]))

    async def endpoint(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.events.append(body["event"])
        return Response(status_code=204)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.server.start()
    yield hook
    hook.server.stop()


def test_stock_moves_fire_no_product_webhook_and_leave_updated_at_alone(
    api, admin, receiver, rackbeat_sandbox
):
    new_product(api, "P-1", recommended_cost_price=10)
    lot = api.post("lots", json={"number": "L-1", "name": "Kit", "group": 1, "stock_quantity": 4})
    assert lot.status_code == 201
    long_ago = "2025-01-01T00:00:00+00:00"  # so a move that stamped updated_at would show, even this second
    stamps = {
        "products": [{"number": "P-1", "updated_at": long_ago}],
        "lots": [{"number": "L-1", "updated_at": long_ago}],
    }
    admin.post("/_sandbox/load", json=stamps).raise_for_status()
    url = receiver.server.url + "/hook"
    events = (
        "product.updated",
        "product.created",
        "lot.updated",
        "supplier_invoice.booked",
        "customer_invoice.booked",
    )
    for event in events:
        assert api.post("webhooks", json={"event": event, "url": url}).status_code == 201
    before = api.get("products/P-1").json()["product"]
    lot_before = api.get("lots/L-1").json()["lot"]

    set_clock(admin, "2030-01-01T10:00:00+01:00")  # far from the machine's clock, so a leak would show
    receive(api, [{"item_id": "P-1", "quantity": 10, "line_price": 12}])
    sell(api, [{"item_id": "P-1", "quantity": 3}, {"item_id": "L-1", "quantity": 1}])
    adjust(api, "P-1", 20, location=1)
    adjust(api, "P-1", 0, location=1, adjustment_type="value", cost_price=15)
    assert rackbeat_sandbox.sandbox.wait_for_webhooks(10)

    after = api.get("products/P-1").json()["product"]
    assert (after["stock_quantity"], after["cost_price"]) == (20, 15)  # the moves happened
    assert after["updated_at"] == before["updated_at"] == long_ago
    lot_after = api.get("lots/L-1").json()["lot"]
    assert lot_after["stock_quantity"] == 3 and lot_after["updated_at"] == lot_before["updated_at"]
    assert sorted(receiver.events) == ["customer_invoice.booked", "supplier_invoice.booked"]


# -- persistence and reset --
def test_the_ledger_and_the_adjustments_survive_a_restart_and_a_reset_clears_them(
    tmp_path, rackbeat_server_factory
):
    state = tmp_path / "rackbeat.json"
    first = rackbeat_server_factory(state_file=str(state), state_debounce_seconds=0.05)
    first.sandbox.load(BASICS)
    with (
        httpx.Client(base_url=first.api_url, headers=first.headers) as api,
        httpx.Client(base_url=first.url) as admin,
    ):
        new_product(api, "P-1", recommended_cost_price=10)
        set_clock(admin, "2026-03-02T10:00:00+01:00")
        receive(api, [{"item_id": "P-1", "quantity": 10, "line_price": 12}])
        set_clock(admin, "2026-03-05T10:00:00+01:00")
        regulation = adjust(api, "P-1", 4, location=1)
        created = api.post("inventory-adjustments", json={"item_id": "P-1", "quantity": 1, "location": 1})
        assert created.status_code == 201
    first.stop()

    second = rackbeat_server_factory(state_file=str(state))
    with httpx.Client(base_url=second.api_url, headers=second.headers) as api:
        assert figures(valuation(api, "2026-03-01")) == {}
        assert figures(valuation(api, "2026-03-02")) == {"P-1": (10.0, 12.0, 120.0)}
        assert figures(valuation(api, "2026-03-05")) == {"P-1": (4.0, 12.0, 48.0)}
        assert api.get("reports/ledger/P-1").json()["total"] == 2
        shown = api.get(f"inventory-adjustments/{regulation['id']}").json()["inventory_regulation"]
        assert {k: v for k, v in shown.items() if k != "self"} == {
            k: v for k, v in regulation.items() if k != "self"
        }
        listed = api.get("inventory-adjustments").json()
        assert [r["is_booked"] for r in listed["inventory_regulations"]] == [True, False]
        again = api.post("inventory-adjustments", json={"item_id": "P-1", "quantity": 2, "location": 1})
        assert again.json()["inventory_regulation"]["id"] == 3  # numbering continues after the restored ones

        counts = httpx.get(second.url + "/_sandbox/counts").json()
        assert (counts["stock-ledger"], counts["inventory-adjustments"]) == (2, 3)
        httpx.post(second.url + "/_sandbox/reset").raise_for_status()
        counts = httpx.get(second.url + "/_sandbox/counts").json()
        assert (counts["stock-ledger"], counts["inventory-adjustments"]) == (0, 0)
        assert api.get("inventory-adjustments").json()["total"] == 0


def test_snapshot_and_restore_keep_the_ledger_in_process(rackbeat_sandbox, api, admin):
    new_product(api, "P-1", recommended_cost_price=10)
    set_clock(admin, "2026-03-02T10:00:00+01:00")
    adjust(api, "P-1", 3, location=1)
    sandbox = rackbeat_sandbox.sandbox
    saved = sandbox.snapshot()
    set_clock(admin, "2026-03-03T10:00:00+01:00")
    adjust(api, "P-1", 9, location=1)
    sandbox.restore(saved)
    assert [e["quantity_after"] for e in api.get("reports/ledger/P-1").json()["ledger_items"]] == [3]
    assert figures(valuation(api, "2026-03-03")) == {"P-1": (3.0, 10.0, 30.0)}
    assert sandbox.dump("stock-ledger")[0]["type"] == "quantity adjustment"
    assert sandbox.dump("inventory-adjustments")[0]["is_booked"] is True
