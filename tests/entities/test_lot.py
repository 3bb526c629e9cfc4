"""The lot mapper: a Rackbeat BOM becomes a plain e-conomic product. Pure, so nothing runs here."""

from __future__ import annotations

import pytest

from sandbox.seed import generate
from tasks.entities import REGISTRY, get_spec, lot, product, spec_for_event
from tasks.entities.base import MappingContext
from tasks.errors import MappingError
from tasks.sync.validation import validate_payload

REFS = {("product_group", "7"): 7, ("unit", "2"): 4}
STOCK_FIELDS = {  # values no mapped field has, so finding one in a payload means a quantity leaked
    "stock_quantity": 12345.5,
    "in_order_quantity": 333.25,
    "available_quantity": 12012.25,
    "purchased_quantity": 40404.0,
    "used_in_production_quantity": 1111.0,
    "min_stock": 5151,
    "min_order": 2121,
    "min_sales": 3131,
    "min_produced": 6161,
}


def rackbeat_lot(**overrides):
    record = {
        "number": "KIT-1000",
        "type": "lot",
        "name": "Bolt kit",
        "description": "Bolts and nuts",
        "sales_price": 99.0,
        "recommended_sales_price": 119.0,
        "cost_price": 10.0,
        "recommended_cost_price": 10.0,
        "barcode": "5701300000001",
        "is_barred": False,
        "cost_is_locked": False,
        "group": {"number": 7, "name": "Kits"},
        "unit": {"number": 2, "name": "set"},
        "lines": [
            {
                "id": 1,
                "child_type": "product",
                "product_id": "BOLT",
                "quantity": 4,
                "unit_price": 2.5,
                "line_price": 10.0,
            },
            {
                "id": 2,
                "child_type": "product",
                "product_id": "NUT",
                "quantity": 4,
                "unit_price": 0.755,
                "line_price": 3.02,
            },
        ],
    }
    record.update(overrides)
    return record


def test_a_lot_maps_like_a_product_with_its_own_cost() -> None:
    assert lot.to_economic(rackbeat_lot(), MappingContext(refs=REFS)) == {
        "productNumber": "KIT-1000",
        "name": "Bolt kit",
        "description": "Bolts and nuts",
        "salesPrice": 99.0,
        "costPrice": 13.02,  # 4 x 2.50 + 4 x 0.755
        "recommendedPrice": 119.0,
        "barCode": "5701300000001",
        "barred": False,
        "productGroup": {"productGroupNumber": 7},
        "unit": {"unitNumber": 4},
    }


def test_the_cost_follows_the_component_lines_not_the_lot_s_expected_cost() -> None:
    cheaper = rackbeat_lot(lines=[{"product_id": "BOLT", "quantity": 3, "unit_price": 2.0}])
    assert lot.to_economic(cheaper, MappingContext(refs=REFS))["costPrice"] == 6.0
    assert lot.lot_cost_price(rackbeat_lot(cost_price=500.0)) == 13.02


def test_a_locked_cost_is_the_lot_s_own() -> None:
    assert (
        lot.to_economic(rackbeat_lot(cost_is_locked=True, cost_price=17.499), MappingContext(refs=REFS))[
            "costPrice"
        ]
        == 17.5
    )


def test_a_lot_without_lines_keeps_its_own_cost() -> None:
    assert lot.to_economic(rackbeat_lot(lines=[]), MappingContext(refs=REFS))["costPrice"] == 10.0
    assert "costPrice" not in lot.to_economic(
        rackbeat_lot(lines=[], cost_price=None), MappingContext(refs=REFS)
    )


def test_no_stock_quantity_is_ever_sent() -> None:
    payload = lot.to_economic(rackbeat_lot(**STOCK_FIELDS), MappingContext(refs=REFS))
    assert payload == lot.to_economic(rackbeat_lot(), MappingContext(refs=REFS))
    assert "inventory" not in payload
    for value in STOCK_FIELDS.values():
        assert str(value) not in repr(payload)


def test_the_structure_never_reaches_e_conomic() -> None:
    payload = lot.to_economic(rackbeat_lot(), MappingContext(refs=REFS))
    assert "BOLT" not in repr(payload) and "lines" not in payload


def test_numbers_follow_rackbeat_and_are_derived_exactly_like_a_product_s() -> None:
    assert lot.SPEC.exports.economic_key(rackbeat_lot()) == "KIT-1000"
    long_number = "KIT-" + "9" * 30
    derived = lot.SPEC.exports.economic_key(rackbeat_lot(number=long_number))
    assert derived == product.SPEC.exports.economic_key({"number": long_number}) != long_number
    assert (
        lot.to_economic(rackbeat_lot(number=long_number), MappingContext(refs=REFS))["productNumber"]
        == derived
    )
    validate_payload(
        get_spec("product").economic,
        lot.to_economic(rackbeat_lot(number=long_number), MappingContext(refs=REFS)),
    )


def test_a_product_with_the_same_number_is_named_as_a_dependency() -> None:
    assert lot.depends_on(rackbeat_lot()) == [("product_group", "7"), ("unit", "2"), ("product", "KIT-1000")]


def test_a_lot_refuses_the_number_of_a_bound_product() -> None:
    with pytest.raises(MappingError) as caught:
        lot.to_economic(rackbeat_lot(), MappingContext(refs={**REFS, ("product", "KIT-1000"): "KIT-1000"}))
    assert caught.value.field == "productNumber"
    assert "Rackbeat product 'KIT-1000'" in caught.value.problem


def test_spec_shares_the_product_resource_and_is_barrable() -> None:
    spec = REGISTRY["lot"]
    assert spec is lot.SPEC
    assert spec.economic.resource == "products" == product.SPEC.economic.resource
    assert spec.economic.barrable
    assert spec_for_event("lot.created") == (spec, "upsert")
    assert spec_for_event("lot.deleted") == (spec, "delete")


def test_seed_lots_map_to_valid_products_with_the_summed_cost() -> None:
    data = generate(seed=7, size="tiny").rackbeat()
    lots = data["lots"]
    assert lots
    for seeded in lots:
        record = {**seeded, "group": seeded["group_id"], "unit": seeded["unit_id"]}
        refs = {(kind, key): int(key) for kind, key in lot.depends_on(record)[:-1]}
        payload = lot.to_economic(record, MappingContext(refs=refs))
        validate_payload(get_spec("product").economic, payload)
        expected = round(sum(line["quantity"] * line["unit_price"] for line in record["lines"]), 2)
        assert payload["costPrice"] == pytest.approx(expected)
        assert payload["costPrice"] == pytest.approx(record["cost_price"], abs=0.01 * len(record["lines"]))


def component(number: str, cost_price: float | None, **fields) -> dict:
    return {"number": number, "type": "product", "cost_price": cost_price, **fields}


def test_the_components_are_the_lot_s_related_records_each_once() -> None:
    record = rackbeat_lot(
        lines=[
            {"child_type": "product", "product_id": "BOLT", "quantity": 4},
            {"child_type": "lot", "product_id": "SUBKIT", "quantity": 1},
            {"child_type": "product", "product_id": "BOLT", "quantity": 2},
            {"child_type": "product", "child_id": 77, "quantity": 1},  # numbers may come as ints
            {"quantity": 1},  # no item at all: nothing to read
        ]
    )
    assert lot.components(record) == [("product", "BOLT"), ("lot", "SUBKIT"), ("product", "77")]
    assert lot.SPEC.exports.related_refs(record) == lot.components(record)


def test_the_cost_follows_the_components_current_cost_not_the_line_prices() -> None:
    related = {("product", "BOLT"): component("BOLT", 3.0), ("product", "NUT"): component("NUT", 1.1)}
    assert lot.lot_cost_price(rackbeat_lot(), related) == 16.4  # 4 x 3.00 + 4 x 1.10
    assert lot.to_economic(rackbeat_lot(), MappingContext(refs=REFS, related=related))["costPrice"] == 16.4


def test_a_component_rackbeat_no_longer_has_counts_at_its_line_price() -> None:
    related = {("product", "BOLT"): component("BOLT", 3.0)}  # NUT is gone (404)
    assert lot.lot_cost_price(rackbeat_lot(), related) == 15.02  # 4 x 3.00 + 4 x 0.755
    no_cost = {**related, ("product", "NUT"): component("NUT", None)}
    assert lot.lot_cost_price(rackbeat_lot(), no_cost) == 15.02


def test_a_nested_lot_counts_at_its_own_cost_from_its_lines() -> None:
    washers = {"product_id": "WASHER", "quantity": 10, "unit_price": 0.2}
    subkit = rackbeat_lot(number="SUBKIT", lines=[washers])
    nested = {"child_type": "lot", "product_id": "SUBKIT", "quantity": 2, "unit_price": 9.0}
    record = rackbeat_lot(lines=[nested])
    assert lot.lot_cost_price(record, {("lot", "SUBKIT"): subkit}) == 4.0  # 2 x (10 x 0.20)
    locked = {**subkit, "cost_is_locked": True, "cost_price": 5.5}
    assert lot.lot_cost_price(record, {("lot", "SUBKIT"): locked}) == 11.0


def test_a_locked_cost_ignores_the_components() -> None:
    related = {("product", "BOLT"): component("BOLT", 300.0)}
    record = rackbeat_lot(cost_is_locked=True, cost_price=17.5)
    assert lot.to_economic(record, MappingContext(refs=REFS, related=related))["costPrice"] == 17.5


def test_the_spec_maps_a_lot_with_its_related_records_and_a_product_without() -> None:
    related = {("product", "BOLT"): component("BOLT", 3.0), ("product", "NUT"): component("NUT", 1.1)}
    maps = lot.SPEC.export_rules.to_economic
    assert maps(rackbeat_lot(), MappingContext(refs=REFS, related=related)) == lot.to_economic(
        rackbeat_lot(), MappingContext(refs=REFS, related=related)
    )
    assert (
        maps(rackbeat_lot(), MappingContext(refs=REFS))["costPrice"] == 13.02
    )  # nothing fetched: line prices
    item = {"number": "BOLT", "name": "Bolt", "cost_price": 2.5, "group": {"number": 7}}
    assert product.SPEC.export_rules.related is None and product.SPEC.export_rules.related_refs(item) == []
    # a kind without `related` ignores what the engine has at hand
    product_maps = product.SPEC.export_rules.to_economic
    assert product_maps(item, MappingContext(refs=REFS, related=related)) == product.to_economic(
        item, MappingContext(refs=REFS)
    )
