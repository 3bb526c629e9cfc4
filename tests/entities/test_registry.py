"""The registry, the product group mapper and the pre-call validator (all pure)."""

from __future__ import annotations

import pytest

from tasks.entities import REGISTRY, get_spec, product_group, spec_for_event
from tasks.entities.base import LegacyResource, MappingContext, OpenApiRoute
from tasks.errors import DependencyCycle, MappingError
from tasks.sync.refs import idempotency_key, payload_hash
from tasks.sync.validation import validate_payload, writable_projection


def test_every_registered_kind_is_complete() -> None:
    assert {"product", "product_group"} <= set(REGISTRY)
    for kind, spec in REGISTRY.items():
        assert spec.kind == kind
        assert isinstance(spec.economic.target, LegacyResource | OpenApiRoute)
        # an exported kind is announced by Rackbeat's events; an import-only one needs none (projects)
        assert spec.rackbeat.events or spec.exports is None, kind


@pytest.mark.parametrize(
    ("event", "kind", "action"),
    [
        ("product.created", "product", "upsert"),
        ("product.updated", "product", "upsert"),
        ("product.deleted", "product", "delete"),
        ("product_group.updated", "product_group", "upsert"),
    ],
)
def test_events_resolve_to_a_kind_and_an_action(event: str, kind: str, action: str) -> None:
    found = spec_for_event(event)
    assert found is not None
    spec, found_action = found
    assert (spec.kind, found_action) == (kind, action)


def test_unknown_events_are_not_handled() -> None:
    assert spec_for_event("plugin.uninstalled") is None


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="product_group"):
        get_spec("galaxy")


def test_product_group_goes_through_the_products_openapi_service() -> None:
    spec = REGISTRY["product_group"]
    assert spec.economic.target == OpenApiRoute("productsapi", "v2.0.0", "productgroups")
    assert spec.economic.resource == "productsapi/productgroups"
    assert not spec.economic.barrable


def test_product_group_mapping() -> None:
    payload = product_group.to_economic(
        {"number": 12, "name": " Hardware ", "has_inventory": True}, MappingContext()
    )
    account = product_group.DOMESTIC_SALES_ACCOUNT
    assert payload == {"id": 12, "name": "Hardware", "domesticAccountId": account}
    validate_payload(get_spec("product_group").economic, payload)


def test_a_group_name_over_50_characters_is_refused_naming_the_field() -> None:
    payload = product_group.to_economic({"number": 3, "name": "G" * 51}, MappingContext())
    with pytest.raises(MappingError) as caught:
        validate_payload(get_spec("product_group").economic, payload)
    error = caught.value
    assert error.field == "name"
    assert error.field_errors == {"name": ["is 51 characters long; e-conomic allows at most 50"]}
    assert error.status is None
    assert "name" in str(error)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "productGroup": {"productGroupNumber": 1}}, "productNumber"),
        (
            {"productNumber": "A" * 26, "name": "x", "productGroup": {"productGroupNumber": 1}},
            "productNumber",
        ),
        ({"productNumber": "A", "name": "", "productGroup": {"productGroupNumber": 1}}, "name"),
        ({"productNumber": "A", "name": "x" * 301, "productGroup": {"productGroupNumber": 1}}, "name"),
        (
            {"productNumber": "A", "name": "x", "productGroup": {"productGroupNumber": 0}},
            "productGroup.productGroupNumber",
        ),
        ({"productNumber": "A", "name": "x", "productGroup": {}}, "productGroup.productGroupNumber"),
        (
            {
                "productNumber": "A",
                "name": "x",
                "productGroup": {"productGroupNumber": 1},
                "barCode": "9" * 51,
            },
            "barCode",
        ),
        (
            {"productNumber": "A", "name": "x", "productGroup": {"productGroupNumber": 1}, "salesPrice": "1"},
            "salesPrice",
        ),
        (
            {
                "productNumber": "A",
                "name": "x",
                "productGroup": {"productGroupNumber": 1},
                "description": None,
            },
            "description",
        ),
        (
            {
                "productNumber": "A",
                "name": "x",
                "productGroup": {"productGroupNumber": 1},
                "inventory": {"recommendedCostPrice": 1.005},
            },
            "inventory.recommendedCostPrice",
        ),
    ],
)
def test_validator_names_the_field_e_conomic_would_refuse(payload: dict, field: str) -> None:
    with pytest.raises(MappingError) as caught:
        validate_payload(get_spec("product").economic, payload)
    assert caught.value.field == field


def test_validator_accepts_the_limits_themselves() -> None:
    validate_payload(
        get_spec("product").economic,
        {
            "productNumber": "A" * 25,
            "name": "x" * 300,
            "barCode": "9" * 50,
            "description": "d" * 500,
            "productGroup": {"productGroupNumber": 1},
        },
    )


def test_mapping_errors_are_permanent_and_json_safe() -> None:
    import json

    from tasks.base import classify, failure_details

    error = DependencyCycle([("a", "1"), ("b", "2"), ("a", "1")], api="economic", resource="products")
    assert error.permanent and classify(error) == "permanent"
    details = json.loads(json.dumps(failure_details(error)))
    assert details["field_errors"] == {"dependencies": ["dependency cycle a:1 -> b:2 -> a:1"]}
    assert (details["api"], details["error_class"]) == ("economic", "DependencyCycle")


def test_writable_projection_keeps_only_what_a_replace_may_send() -> None:
    document = {
        "productNumber": "P-1",
        "name": "Bolt",
        "salesPrice": 2.5,
        "barred": False,
        "lastUpdated": "2026-01-01T00:00:00Z",
        "self": "https://restapi.e-conomic.com/products/P-1",
        "inventory": {"inStock": 40, "available": 30, "recommendedCostPrice": 1.2},
        "productGroup": {"productGroupNumber": 7, "name": "Hardware", "self": "x", "salesAccounts": "y"},
        "unit": {"unitNumber": 2, "name": "pcs", "self": "z"},
    }
    assert writable_projection(get_spec("product").economic, document) == {
        "productNumber": "P-1",
        "name": "Bolt",
        "salesPrice": 2.5,
        "barred": False,
        "inventory": {"recommendedCostPrice": 1.2},
        "productGroup": {"productGroupNumber": 7},
        "unit": {"unitNumber": 2},
    }


def test_hash_ignores_key_order_and_idempotency_key_tracks_the_change() -> None:
    assert payload_hash({"a": 1, "b": 2}) == payload_hash({"b": 2, "a": 1})
    first = idempotency_key("c1", "product", "P-1", None, "h1", None)
    assert first == idempotency_key("c1", "product", "P-1", None, "h1", None)
    assert (
        len(
            {
                first,
                idempotency_key("c2", "product", "P-1", None, "h1", None),
                idempotency_key("c1", "product", "P-1", "h1", "h2", None),
                idempotency_key("c1", "product", "P-2", None, "h1", None),
            }
        )
        == 4
    )
    # The same transition made again after a successful write in between is a new write.
    again = idempotency_key("c1", "product", "P-1", "h1", "h2", "2026-11-26T14:00:00.000Z")
    assert again != idempotency_key("c1", "product", "P-1", "h1", "h2", "2026-11-26T13:00:00.000Z")
