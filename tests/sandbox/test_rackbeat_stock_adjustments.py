"""``inventory-adjustments`` on the Rackbeat sandbox over real HTTP: create, refuse, book, list, value."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.sandbox.test_rackbeat_stock import BASICS, figures, new_product, set_clock, valuation

NO_CHANGE = "Adjustment can't be created, since no change is made."


@pytest.fixture
def admin(rackbeat_sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat_sandbox.url) as client:
        yield client
        client.put("/_sandbox/clock", json={"now": None})


@pytest.fixture
def api(rackbeat_sandbox) -> Iterator[httpx.Client]:
    """P-1 (10 @ 10) at the main location, P-VAN (0 @ 3) at the van."""
    rackbeat_sandbox.sandbox.load(BASICS)
    with httpx.Client(base_url=rackbeat_sandbox.api_url, headers=rackbeat_sandbox.headers) as client:
        new_product(client, "P-1", recommended_cost_price=10, stock_quantity=10)
        new_product(client, "P-VAN", recommended_cost_price=3, default_location_id=2)
        yield client


def create(api: httpx.Client, **body) -> httpx.Response:
    return api.post("inventory-adjustments", json=body)


def test_creating_answers_201_with_an_unbooked_regulation_and_moves_nothing(api, admin):
    set_clock(admin, "2026-03-29T23:30:00+02:00")
    response = create(
        api,
        item_id="P-1",
        adjustment_type="quantity",
        quantity=14,
        location=1,
        regulated_at="2026-03-28",
        reason="count",
    )
    assert response.status_code == 201, response.text
    regulation = response.json()["inventory_regulation"]
    assert regulation["id"] == 1 and regulation["is_booked"] is False and regulation["booked_at"] is None
    assert (regulation["reason"], regulation["regulated_at"], regulation["adjustment_type"]) == (
        "count",
        "2026-03-28",
        "quantity",
    )
    assert regulation["self"].endswith("/api/inventory-adjustments/1")
    assert regulation["lines"] == [
        {
            "id": 1,
            "item_id": "P-1",
            "child_type": "product",
            "name": "Product P-1",
            "location_id": 1,
            "quantity": 14.0,
            "quantity_before": 10.0,
            "cost_price": 10.0,
            "cost_price_before": 10.0,
        }
    ]
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == 10
    assert api.get("reports/ledger/P-1").json()["ledger_items"] == []
    defaulted = create(api, item_id="P-1", quantity=15).json()["inventory_regulation"]
    assert defaulted["regulated_at"] == "2026-03-29"  # the sandbox clock's day in Copenhagen
    assert defaulted["adjustment_type"] == "quantity" and defaulted["location_id"] == 1


def test_booking_sets_the_stock_to_the_target_and_writes_a_quantity_adjustment(api, admin):
    regulation = create(api, item_id="P-1", quantity=4, location=1).json()["inventory_regulation"]
    set_clock(admin, "2026-06-01T09:00:00+02:00")
    booked = api.post(f"inventory-adjustments/{regulation['id']}/book")
    assert booked.status_code == 200, booked.text
    shown = booked.json()["inventory_regulation"]
    assert shown["is_booked"] is True and shown["booked_at"] == "2026-06-01T09:00:00+02:00"
    assert api.get(f"inventory-adjustments/{regulation['id']}").json()["inventory_regulation"] == shown
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == 4
    [entry] = api.get("reports/ledger/P-1").json()["ledger_items"]
    assert (entry["type"], entry["quantity_before"], entry["quantity_after"]) == (
        "quantity adjustment",
        10,
        4,
    )
    assert entry["source"] == {"resource": "inventory-adjustments", "key": regulation["id"]}
    assert figures(valuation(api, "2026-05-31")) == {"P-1": (10.0, 10.0, 100.0)}
    assert figures(valuation(api, "2026-06-01")) == {"P-1": (4.0, 10.0, 40.0)}


def test_booking_twice_is_refused_and_changes_nothing_more(api):
    regulation = create(api, item_id="P-1", quantity=4, location=1).json()["inventory_regulation"]
    assert api.post(f"inventory-adjustments/{regulation['id']}/book").status_code == 200
    api.put("products/P-1", json={"stock_quantity": 7})
    again = api.post(f"inventory-adjustments/{regulation['id']}/book")
    assert again.status_code == 422
    assert list(again.json()["errors"]) == ["is_booked"]
    assert api.get("products/P-1").json()["product"]["stock_quantity"] == 7
    assert api.post("inventory-adjustments/99/book").status_code == 404
    assert api.get("inventory-adjustments/99").status_code == 404


def test_a_zero_delta_is_refused_with_rackbeats_message(api):
    refused = create(api, item_id="P-1", adjustment_type="quantity", quantity=10, location=1)
    assert refused.status_code == 422
    assert refused.json() == {"message": "The given data was invalid.", "errors": {"quantity": [NO_CHANGE]}}
    assert create(api, item_id="P-VAN", quantity="0").status_code == 422
    assert api.get("inventory-adjustments").json()["total"] == 0


def test_booking_is_refused_when_the_stock_already_reached_the_target(api):
    regulation = create(api, item_id="P-1", quantity=7, location=1).json()["inventory_regulation"]
    api.put("products/P-1", json={"stock_quantity": 7})
    refused = api.post(f"inventory-adjustments/{regulation['id']}/book")
    assert refused.status_code == 422 and refused.json()["errors"] == {"quantity": [NO_CHANGE]}
    assert (
        api.get(f"inventory-adjustments/{regulation['id']}").json()["inventory_regulation"]["is_booked"]
        is False
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"item_id": "NOPE", "quantity": 3, "location": 1}, "item_id"),
        ({"quantity": 3, "location": 1}, "item_id"),
        ({"item_id": "P-1", "quantity": 3, "location": 77}, "location"),
        ({"item_id": "P-1", "quantity": 3, "location": 2}, "location"),  # P-1 is held at 1
        ({"item_id": "P-1", "quantity": 3, "location": "main"}, "location"),
        ({"item_id": "P-1", "location": 1}, "quantity"),
        ({"item_id": "P-1", "quantity": "many", "location": 1}, "quantity"),
        ({"item_id": "P-1", "quantity": 3, "adjustment_type": "colour"}, "adjustment_type"),
        ({"item_id": "P-1", "quantity": 3, "regulated_at": "29-03-2026"}, "regulated_at"),
        ({"item_id": "P-1", "quantity": 3, "reason": 5}, "reason"),
        ({"item_id": "P-1", "adjustment_type": "value", "quantity": 3}, "cost_price"),
        ({"item_id": "P-1", "adjustment_type": "value", "cost_price": -1}, "cost_price"),
    ],
)
def test_bad_requests_are_422_naming_the_field(api, body, field):
    refused = create(api, **body)
    assert refused.status_code == 422, refused.text
    assert field in refused.json()["errors"]
    assert api.get("inventory-adjustments").json()["total"] == 0


def test_an_item_that_keeps_no_inventory_cannot_be_adjusted(api):
    new_product(api, "SERVICE", inventory_enabled=False)
    refused = create(api, item_id="SERVICE", quantity=3)
    assert refused.status_code == 422 and list(refused.json()["errors"]) == ["item_id"]


def test_the_older_request_form_names_item_number_and_location_number(api):
    created = create(api, item_number="P-VAN", location_number=2, quantity=6)
    assert created.status_code == 201, created.text
    assert created.json()["inventory_regulation"]["lines"][0]["item_id"] == "P-VAN"


def test_a_value_adjustment_sets_the_cost_price_and_keeps_the_quantity(api, admin):
    set_clock(admin, "2026-02-01T12:00:00+01:00")
    regulation = create(api, item_id="P-1", adjustment_type="value", cost_price=12.5, location=1)
    assert regulation.status_code == 201, regulation.text
    number = regulation.json()["inventory_regulation"]["id"]
    booked = api.post(f"inventory-adjustments/{number}/book").json()["inventory_regulation"]
    assert (booked["lines"][0]["cost_price"], booked["lines"][0]["quantity"]) == (12.5, 10.0)
    product = api.get("products/P-1").json()["product"]
    assert (product["stock_quantity"], product["cost_price"]) == (10, 12.5)
    [entry] = api.get("reports/ledger/P-1").json()["ledger_items"]
    assert (entry["type"], entry["cost_price_before"], entry["cost_price_after"]) == (
        "value adjustment",
        10,
        12.5,
    )
    assert figures(valuation(api, "2026-01-31")) == {"P-1": (10.0, 10.0, 100.0)}
    assert figures(valuation(api, "2026-02-01")) == {"P-1": (10.0, 12.5, 125.0)}
    same = create(api, item_id="P-1", adjustment_type="value", cost_price="12.5")
    assert same.status_code == 422 and same.json()["errors"] == {"cost_price": [NO_CHANGE]}


def test_the_list_is_a_206_page_with_filters(api):
    for target in (1, 2, 3):
        assert create(api, item_id="P-1", quantity=target, reason=f"r{target}").status_code == 201
    api.post("inventory-adjustments/2/book")
    listed = api.get("inventory-adjustments", params={"limit": 2})
    assert listed.status_code == 206
    body = listed.json()
    assert list(body) == ["inventory_regulations", "total", "pages", "limit", "page"]
    assert [r["id"] for r in body["inventory_regulations"]] == [1, 2]
    assert (body["total"], body["pages"], body["limit"], body["page"]) == (3, 2, 2, 1)
    booked = api.get("inventory-adjustments", params={"is_booked": "true"}).json()["inventory_regulations"]
    assert [r["id"] for r in booked] == [2]
    assert [
        r["id"]
        for r in api.get("inventory-adjustments", params={"search": "r3"}).json()["inventory_regulations"]
    ] == [3]
    assert api.delete("inventory-adjustments/1").status_code == 405
