"""The product's import mapper (e-conomic -> Rackbeat): pure, one test per rule of tasks/entities/product.py,
and one per thing the seed README says is never copied."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.entities import product
from tasks.entities.base import MappingContext
from tasks.errors import MappingError

REFS = {("product_group", "1"): "1", ("unit", "2"): "9"}


def document(**fields: Any) -> dict[str, Any]:
    return {
        "productNumber": "P-100",
        "name": "Widget",
        "salesPrice": 10.005,
        "productGroup": {"productGroupNumber": 1, "self": "x"},
        "unit": {"unitNumber": 2, "name": "kg", "self": "x"},
        "lastUpdated": "2026-01-02T03:04:05Z",
        **fields,
    }


def mapped(refs: dict[tuple[str, str], Any] | None = None, **fields: Any) -> dict[str, Any]:
    return product.to_rackbeat(document(**fields), MappingContext(refs=REFS if refs is None else refs))


def test_the_number_is_kept_and_group_and_unit_become_rackbeats() -> None:
    body = mapped(description="A fine widget", barCode="5701234567892", barred=True)
    assert product.SPEC.import_rules.rackbeat_key(document()) == "P-100"
    assert (body["name"], body["description"], body["barcode"], body["is_barred"]) == (
        "Widget",
        "A fine widget",
        "5701234567892",
        True,
    )
    assert (body["group_id"], body["unit_id"]) == (1, 9)
    assert product.import_dependencies(document()) == [("product_group", "1"), ("unit", "2")]


def test_prices_go_to_their_rackbeat_fields_rounded() -> None:
    body = mapped(recommendedPrice=20, costPrice=4.444)
    assert (body["sales_price"], body["recommended_sales_price"], body["recommended_cost_price"]) == (
        10.01,
        20.0,
        4.44,
    )
    assert "cost_price" not in body, "Rackbeat's cost price follows its purchases"
    assert mapped(salesPrice=None)["sales_price"] == 0.0, "Rackbeat requires a sales price"


def test_an_unresolved_group_is_refused_naming_the_rackbeat_field() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(refs={("unit", "2"): "9"})
    assert (refused.value.api, refused.value.field) == ("rackbeat", "group_id")


def test_a_product_without_a_unit_clears_it() -> None:
    doc = document()
    del doc["unit"]
    assert product.to_rackbeat(doc, MappingContext(refs=REFS))["unit_id"] is None


# --- never copied (seed README, "What is NOT synchronised") -------------------------------------------


def test_never_copied_currency_prices() -> None:
    body = mapped(
        pricing={
            "currencySpecificSalesPrices": [{"currency": {"code": "EUR"}, "price": 1.5}],
            "self": "https://x/products/P-100/pricing/currency-specific-sales-prices",
        }
    )
    assert body == mapped()
    assert 1.5 not in body.values()


def test_never_copied_stock_figures() -> None:
    body = mapped(inventory={"inStock": 40, "available": 30, "recommendedCostPrice": 3.0, "packageVolume": 2})
    assert body == mapped()
    assert not {"stock_quantity", "available_quantity", "min_stock"} & set(body)


def test_never_copied_the_departmental_distribution() -> None:
    assert mapped(departmentalDistribution={"departmentalDistributionNumber": 1}) == mapped()


def test_the_spec_names_what_is_never_copied_and_bars_a_product_gone_from_economic() -> None:
    rules = product.SPEC.import_rules
    assert {"pricing.currencySpecificSalesPrices", "inventory"} <= set(rules.never_copied)
    assert rules.when_gone == {"is_barred": True}
    assert rules.poll == "master"
