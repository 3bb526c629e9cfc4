"""The product mapper: pure, so these tests need nothing running."""

from __future__ import annotations

import pytest

from sandbox.seed import generate
from tasks.entities import REGISTRY, get_spec, product
from tasks.entities.base import MappingContext
from tasks.errors import MappingError
from tasks.sync.validation import validate_payload

GROUP_REF = {("product_group", "7"): 7}

STOCK_FIELDS = {
    "stock_quantity": 12.0,
    "in_order_quantity": 3.0,
    "available_quantity": 9.0,
    "purchased_quantity": 40.0,
    "used_in_production_quantity": 1.0,
    "min_stock": 5,
    "min_order": 2,
    "min_sales": 1,
}


def rackbeat_product(**overrides):
    record = {
        "number": "P-100",
        "name": "Steel bracket",
        "description": "Galvanised, 40 mm",
        "sales_price": 49.95,
        "cost_price": 21.5,
        "recommended_sales_price": 59.0,
        "barcode": "5701234567892",
        "is_barred": False,
        "group": {"number": 7, "name": "Hardware"},
        "unit": {"number": 2, "name": "pcs"},
    }
    record.update(overrides)
    return record


def test_maps_every_owned_field() -> None:
    payload = product.to_economic(rackbeat_product(), MappingContext(refs={**GROUP_REF, ("unit", "2"): 4}))
    assert payload == {
        "productNumber": "P-100",
        "name": "Steel bracket",
        "description": "Galvanised, 40 mm",
        "salesPrice": 49.95,
        "costPrice": 21.5,
        "recommendedPrice": 59.0,
        "barCode": "5701234567892",
        "barred": False,
        "productGroup": {"productGroupNumber": 7},
        "unit": {"unitNumber": 4},
    }


def test_no_stock_quantity_is_ever_sent() -> None:
    record = rackbeat_product(**STOCK_FIELDS)
    payload = product.to_economic(record, MappingContext(refs=GROUP_REF))
    flat = repr(payload)
    for value in ("12.0", "40.0"):
        assert value not in flat
    assert "inventory" not in payload
    assert not {"inStock", "available", "orderedByCustomers", "orderedFromSuppliers"} & set(payload)
    # The stock fields change nothing: the payload equals the one of the record without them.
    assert payload == product.to_economic(rackbeat_product(), MappingContext(refs=GROUP_REF))


def test_unit_is_left_out_until_the_unit_is_bound() -> None:
    payload = product.to_economic(rackbeat_product(), MappingContext(refs=GROUP_REF))
    assert "unit" not in payload
    assert product.depends_on(rackbeat_product()) == [("product_group", "7"), ("unit", "2")]


def test_bare_references_are_understood() -> None:
    record = rackbeat_product(group=7, unit=None)
    assert product.depends_on(record) == [("product_group", "7")]
    assert product.to_economic(record, MappingContext(refs=GROUP_REF))["productGroup"] == {
        "productGroupNumber": 7
    }


def test_empty_values_are_left_out_not_sent_as_null() -> None:
    record = rackbeat_product(description="  ", barcode=None, recommended_sales_price=None, cost_price="")
    payload = product.to_economic(record, MappingContext(refs=GROUP_REF))
    assert not {"description", "barCode", "recommendedPrice", "costPrice"} & set(payload)
    assert None not in payload.values()


def test_prices_are_rounded_to_two_decimals() -> None:
    payload = product.to_economic(
        rackbeat_product(sales_price=10.12345, cost_price="3.999"), MappingContext(refs=GROUP_REF)
    )
    assert payload["salesPrice"] == 10.12
    assert payload["costPrice"] == 4.0


def test_barred_follows_rackbeat() -> None:
    assert (
        product.to_economic(rackbeat_product(is_barred=True), MappingContext(refs=GROUP_REF))["barred"]
        is True
    )


def test_valid_numbers_are_kept() -> None:
    for number in ("1", "ZZ-TEST-1", "ABC/123+DEF", "My Awesome Product_5%", "x" * 25):
        assert product.economic_product_number(number) == number


@pytest.mark.parametrize(
    "number", ["A" * 26, "LONG-PRODUCT-NUMBER-FROM-RACKBEAT-0001", " padded", "tab\there"]
)
def test_numbers_economic_refuses_get_a_valid_stable_replacement(number: str) -> None:
    derived = product.economic_product_number(number)
    assert derived != number
    assert product.product_number_problem(derived) is None
    assert derived == product.economic_product_number(number)  # the same every time: retries land on it


def test_replacements_of_similar_numbers_differ() -> None:
    first = product.economic_product_number("LONG-PRODUCT-NUMBER-FROM-RACKBEAT-0001")
    second = product.economic_product_number("LONG-PRODUCT-NUMBER-FROM-RACKBEAT-0002")
    assert first != second
    assert first.startswith("LONG-PRODUCT-NUM")


def test_mapped_payload_uses_the_replacement_number() -> None:
    record = rackbeat_product(number="N" * 30)
    payload = product.to_economic(record, MappingContext(refs=GROUP_REF))
    assert payload["productNumber"] == product.SPEC.exports.economic_key(record)
    validate_payload(get_spec("product").economic, payload)


def test_a_mapped_product_passes_validation() -> None:
    validate_payload(
        get_spec("product").economic, product.to_economic(rackbeat_product(), MappingContext(refs=GROUP_REF))
    )


def test_a_product_without_a_resolved_group_is_refused_before_the_call() -> None:
    payload = product.to_economic(rackbeat_product(), MappingContext())
    with pytest.raises(MappingError) as caught:
        validate_payload(get_spec("product").economic, payload)
    assert caught.value.field == "productGroup"


def test_spec_is_registered_and_barrable() -> None:
    spec = REGISTRY["product"]
    assert spec is product.SPEC
    assert spec.economic.barrable
    assert spec.economic.resource == "products"
    assert spec.rackbeat.key_of({"number": 12}) == "12"


def test_the_embedded_group_and_unit_are_offered_as_the_dependencies_views() -> None:
    record = rackbeat_product()
    assert product.embedded(record) == {
        ("product_group", "7"): {"number": 7, "name": "Hardware"},
        ("unit", "2"): {"number": 2, "name": "pcs"},
    }
    assert product.embedded(rackbeat_product(group=7, unit=None)) == {}


def test_nothing_the_mapper_does_not_map_is_sent() -> None:
    """Every field of a seeded Rackbeat product, each with a value no mapped field has: none reaches
    the payload, which holds exactly the fields the mapper owns."""
    seeded = generate(seed=3, size="tiny").rackbeat()["products"][0]
    record = {**seeded, "group": {"number": 7, "name": "Hardware"}, "unit": {"number": 2, "name": "pcs"}}
    mapped_from = {
        "number",
        "name",
        "description",
        "sales_price",
        "cost_price",
        "recommended_sales_price",
        "barcode",
        "is_barred",
        "group",
        "unit",
    }
    for field in set(record) - mapped_from:
        record[field] = f"UNMAPPED-{field}"
    payload = product.to_economic(record, MappingContext(refs={**GROUP_REF, ("unit", "2"): 4}))
    assert "UNMAPPED" not in repr(payload)
    assert set(payload) <= {
        "productNumber",
        "name",
        "description",
        "salesPrice",
        "costPrice",
        "recommendedPrice",
        "barCode",
        "barred",
        "productGroup",
        "unit",
    }
