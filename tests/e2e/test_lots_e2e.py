"""Lots (BOMs) and units, Rackbeat -> e-conomic, end to end: both sandboxes, the real Redis, the in-process
Celery worker, the webhook receiver on loopback (fixtures shared with the product e2e tests). What
e-conomic received is read from its sandbox's own request log and store."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.deadletter import DeadLetterStore
from tasks.sync.bindings import BindingStore
from tests.e2e.test_products_e2e import Flow, e2e, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("celery_worker", "receiver")


def make_lot(
    flow: Flow, number: str, group: dict[str, Any], components: list[tuple[str, float]], **fields: Any
) -> dict[str, Any]:
    body = {
        "number": number,
        "name": f"Kit {number}",
        "group_id": group["number"],
        "sales_price": 99.0,
        "lines": [{"product_id": item, "quantity": quantity} for item, quantity in components],
    }
    return flow.rackbeat.sandbox.create("lots", {**body, **fields})


def components_in_economic(flow: Flow, group: dict[str, Any], *costs: tuple[str, float]) -> list[str]:
    """Products with these expected costs, each transferred before a lot uses it (so no component's own
    first transfer lands while a lot reads it, which would queue that lot once more)."""
    numbers = []
    for stem, cost in costs:
        number = flow.number(stem)
        flow.product(number, group, recommended_cost_price=cost)
        assert flow.wait_outcome("product", number) == ["created"]
        numbers.append(number)
    return numbers


def set_cost_price(flow: Flow, number: str, cost_price: float) -> None:
    """A component's cost price moves, and Rackbeat says so with `product.updated` for it alone.

    Rackbeat moves a cost price with purchases and its API takes none, so the sandbox record is set as
    a purchase would leave it, then an empty update fires the product's own webhook."""
    flow.rackbeat.sandbox.load({"products": [{"number": number, "cost_price": cost_price}]})
    flow.rackbeat.sandbox.update("products", number, {})


def economic_unit(flow: Flow, unit_number: int) -> dict[str, Any]:
    [unit] = [u for u in flow.economic.sandbox.dump("units") if u["unitNumber"] == unit_number]
    return unit


def test_a_lot_is_created_updated_left_alone_and_barred_through_webhooks(e2e: Flow) -> None:  # noqa: F811
    group = e2e.group("Kits")
    unit = e2e.rackbeat.sandbox.create("units", {"name": f"set {e2e.suffix}"})
    bolt, nut = components_in_economic(e2e, group, ("BOLT", 2.5), ("NUT", 0.75))
    number = e2e.number("KIT")
    make_lot(
        e2e,
        number,
        group,
        [(bolt, 4), (nut, 4)],
        unit_id=unit["number"],
        recommended_sales_price=120.0,
        barcode="5701300000001",
    )

    assert e2e.wait_outcome("lot", number) == ["created"]
    [stored] = e2e.economic_products(number)
    assert stored["costPrice"] == 13.0  # 4 x 2.50 + 4 x 0.75, from the BOM lines
    assert (stored["name"], stored["salesPrice"], stored["recommendedPrice"], stored["barCode"]) == (
        f"Kit {number}",
        99.0,
        120.0,
        "5701300000001",
    )
    assert stored["productGroup"]["productGroupNumber"] == group["number"]
    assert economic_unit(e2e, stored["unit"]["unitNumber"])["name"] == f"set {e2e.suffix}"
    assert stored["barred"] is False

    e2e.rackbeat.sandbox.update("lots", number, {"name": "Bolt kit, large"})
    assert e2e.wait_outcome("lot", number, count=2)[-1] == "replaced"
    assert e2e.economic_products(number)[0]["name"] == "Bolt kit, large"
    writes = len(e2e.writes_to(f"/products/{number}"))

    # nothing mapped changes: stock, minimums, physical data stay in Rackbeat
    e2e.rackbeat.sandbox.update("lots", number, {"stock_quantity": 42, "min_stock": 3, "min_produced": 2})
    assert e2e.wait_outcome("lot", number, count=3)[-1] == "unchanged"
    assert len(e2e.writes_to(f"/products/{number}")) == writes == 2

    e2e.rackbeat.sandbox.delete("lots", number)
    assert e2e.wait_outcome("lot", number, count=4)[-1] == "barred"
    [barred] = e2e.economic_products(number)
    assert barred["barred"] is True
    assert barred["name"] == "Bolt kit, large" and barred["costPrice"] == 13.0


def test_the_lot_cost_follows_its_lines(e2e: Flow) -> None:  # noqa: F811
    group = e2e.group("Kits")
    [part] = components_in_economic(e2e, group, ("PART", 10.0))
    number = e2e.number("COSTKIT")
    make_lot(e2e, number, group, [(part, 3)])
    assert e2e.wait_outcome("lot", number) == ["created"]
    assert e2e.economic_products(number)[0]["costPrice"] == 30.0

    # the BOM takes one more of the part; a line price is not the part's cost, its product's is
    e2e.rackbeat.sandbox.update(
        "lots",
        number,
        {
            "lines": [{"product_id": part, "quantity": 4, "unit_price": 12.5}],
        },
    )
    assert e2e.wait_outcome("lot", number, count=2)[-1] == "replaced"
    assert e2e.economic_products(number)[0]["costPrice"] == 40.0

    # someone fixes the cost in Rackbeat: the locked cost wins over the lines
    e2e.rackbeat.sandbox.update("lots", number, {"cost_is_locked": True})
    assert e2e.wait_outcome("lot", number, count=3)[-1] == "replaced"
    assert e2e.economic_products(number)[0]["costPrice"] == 0.0  # the lot's own, never bought: 0


def test_a_lot_never_overwrites_a_product_with_the_same_number(e2e: Flow) -> None:  # noqa: F811
    group = e2e.group()
    number = e2e.number("TWIN")
    e2e.product(number, group, sales_price=5.0)
    assert e2e.wait_outcome("product", number) == ["created"]

    # Rackbeat keeps item numbers unique across products and lots; its sandbox does not
    e2e.rackbeat.sandbox.create("lots", {"number": number, "name": "Impostor", "group_id": group["number"]})

    assert e2e.wait_outcome("lot", number) == ["dead-lettered"]
    [entry] = DeadLetterStore(e2e.redis, e2e.settings.connection_id).entries_for_record("lot", number)
    assert entry["error_class"] == "MappingError"
    assert list(entry["field_errors"]) == ["productNumber"]
    [stored] = e2e.economic_products(number)
    assert stored["name"] == f"Item {number}" and stored["salesPrice"] == 5.0
    assert len(e2e.writes_to(f"/products/{number}")) == 1  # the product's own, nothing from the lot
    assert BindingStore(e2e.redis, e2e.settings.connection_id).get("lot", number) is None


def test_a_unit_is_created_once_renamed_and_left_alone_when_deleted(e2e: Flow) -> None:  # noqa: F811
    unit = e2e.rackbeat.sandbox.create("units", {"name": f"box {e2e.suffix}"})
    key = str(unit["number"])
    assert e2e.wait_outcome("unit", key) == ["created"]
    binding = BindingStore(e2e.redis, e2e.settings.connection_id).get("unit", key)
    assert binding is not None
    assert economic_unit(e2e, binding.economic_key)["name"] == f"box {e2e.suffix}"

    e2e.rackbeat.sandbox.update("units", unit["number"], {"name": f"crate {e2e.suffix}"})
    assert e2e.wait_outcome("unit", key, count=2)[-1] == "replaced"
    assert economic_unit(e2e, binding.economic_key)["name"] == f"crate {e2e.suffix}"
    assert [
        e["method"]
        for e in e2e.economic.sandbox.request_log.entries()
        if e["path"].startswith("/units") and e["method"] in ("POST", "PUT")
    ] == ["POST", "PUT"]

    e2e.rackbeat.sandbox.delete("units", unit["number"])
    assert e2e.wait_outcome("unit", key, count=3)[-1] == "ignored"
    assert economic_unit(e2e, binding.economic_key)["name"] == f"crate {e2e.suffix}"


def test_a_component_s_new_cost_reaches_its_lot_without_a_lot_webhook(e2e: Flow) -> None:  # noqa: F811
    group = e2e.group("Kits")
    bolt, nut = components_in_economic(e2e, group, ("BOLT", 2.5), ("NUT", 0.75))
    number = e2e.number("KIT")
    make_lot(e2e, number, group, [(bolt, 4), (nut, 4)])
    assert e2e.wait_outcome("lot", number) == ["created"]
    assert e2e.economic_products(number)[0]["costPrice"] == 13.0
    assert e2e.rackbeat.sandbox.wait_for_webhooks()
    deliveries = len(e2e.rackbeat.sandbox.dispatcher.log_entries())

    set_cost_price(e2e, bolt, 3.1)

    assert e2e.wait_outcome("product", bolt, count=2)[-1] == "replaced"
    assert e2e.wait_outcome("lot", number, count=2) == ["created", "replaced"]
    [stored] = e2e.economic_products(number)
    assert stored["costPrice"] == 15.4  # 4 x 3.10 + 4 x 0.75
    assert e2e.economic_products(bolt)[0]["costPrice"] == 3.1
    # Rackbeat said nothing about the lot, and its BOM lines still carry the old price
    assert e2e.rackbeat.sandbox.wait_for_webhooks()
    sent = [entry["event"] for entry in e2e.rackbeat.sandbox.dispatcher.log_entries()[deliveries:]]
    assert sent == ["product.updated"]
    lines = e2e.rackbeat.sandbox.get("lots", number)["lines"]
    assert [line["unit_price"] for line in lines] == [2.5, 0.75]

    # a change the lot does not read is written for the component and re-checks the lot, nothing more
    e2e.rackbeat.sandbox.update("products", nut, {"name": "Hex nut"})
    assert e2e.wait_outcome("product", nut, count=2)[-1] == "replaced"
    assert e2e.wait_outcome("lot", number, count=3)[-1] == "unchanged"
    lot_writes = len(e2e.writes_to(f"/products/{number}"))
    assert lot_writes == 2
