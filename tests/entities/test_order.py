"""Sent e-conomic orders -> Rackbeat orders: the pure mapping, the dependencies, the look-up by the carried
e-conomic order number and the refusal of an order Rackbeat has taken over (tasks.entities.order)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tasks.entities import REGISTRY, order
from tasks.entities.base import LegacyResource, MappingContext
from tasks.errors import MappingError

REFS = {
    ("customer", "5"): 105,
    ("product", "P-1"): "P-1",
    ("product", "P/2"): "P/2",
}


def sent_order(**fields: Any) -> dict[str, Any]:
    """A sent order as e-conomic's `GET /orders/sent/{n}` answers it (orders.sent.orderNumber.get)."""
    document: dict[str, Any] = {
        "orderNumber": 17,
        "date": "2026-11-30",
        "currency": "eur",
        "exchangeRate": 745.5,
        "netAmount": 260.0,
        "grossAmount": 325.0,
        "vatAmount": 65.0,
        "costPriceInBaseCurrency": 99.0,
        "marginPercentage": 61.9,
        "dueDate": "2026-12-08",
        "paymentTerms": {"paymentTermsNumber": 1, "daysOfCredit": 8, "name": "Netto 8"},
        "customer": {"customerNumber": 5, "self": "https://restapi.e-conomic.com/customers/5"},
        "recipient": {
            "name": "Kunde A/S",
            "address": "Hovedgaden 1",
            "zip": "8000",
            "city": "Aarhus",
            "country": "Danmark",
            "ean": "5790000000001",
            "attention": {"customerContactNumber": 3303},
            "vatZone": {"vatZoneNumber": 1},
        },
        "deliveryLocation": {"deliveryLocationNumber": 2202},
        "delivery": {
            "address": "Lagervej 9",
            "zip": "8200",
            "city": "Aarhus N",
            "country": "Danmark",
            "deliveryTerms": "Ab lager",
            "deliveryDate": "2026-12-04",
        },
        "notes": {"heading": "Forårsordre", "textLine1": "Leveres samlet", "textLine2": "Tak for ordren"},
        "references": {
            "customerContact": {"customerContactNumber": 3303},
            "salesPerson": {"employeeNumber": 4},
            "vendorReference": {"employeeNumber": 6606},
            "other": "PO-4711",
        },
        "layout": {"layoutNumber": 1919},
        "project": {"projectNumber": 7712},
        "lastUpdated": "2026-11-30T10:00:00Z",
        "lines": [
            {
                "lineNumber": 2,
                "sortKey": 2,
                "description": "Skruer, rustfri",
                "product": {"productNumber": "P/2"},
                "quantity": 3,
                "unitNetPrice": 20.0,
                "discountPercentage": 10.0,
                "unitCostPrice": 8.0,
                "unit": {"unitNumber": 4404, "name": "stk."},
                "departmentalDistribution": {"departmentalDistributionNumber": 5505},
            },
            {
                "lineNumber": 1,
                "sortKey": 1,
                "description": "Cykelklokke",
                "product": {"productNumber": "P-1"},
                "quantity": 2,
                "unitNetPrice": 100.0,
                "unitCostPrice": 40.0,
            },
            {"lineNumber": 3, "sortKey": 3, "description": "Husk gavepapir"},
        ],
        "self": "https://restapi.e-conomic.com/orders/sent/17",
    }
    document.update(fields)
    return document


def mapped(document: dict[str, Any] | None = None, refs: Mapping[Any, Any] = REFS) -> dict[str, Any]:
    return order.to_rackbeat(document or sent_order(), MappingContext(refs=refs))


# ------------------------------------------------------------------------------------------- the decisions


def test_sent_orders_are_imported_by_their_number_and_rackbeat_numbers_its_own() -> None:
    assert order.ECONOMIC_RESOURCE == "orders/sent"
    assert order.SPEC.imports is not None
    assert order.SPEC.imports.create_path == "orders/drafts", "created unbooked, so changes can follow"
    assert order.economic_key(sent_order()) == "17"
    assert "Sent orders are imported" in (order.__doc__ or "")


def test_the_e_conomic_order_number_travels_in_their_reference() -> None:
    body = mapped()
    assert body["their_reference"] == "e-conomic order 17" == order.reference(sent_order())
    assert "PO-4711" not in body["their_reference"], "the other reference goes to the note"


def test_the_customer_and_each_product_are_dependencies_once_customer_first() -> None:
    document = sent_order()
    document["lines"].append({"product": {"productNumber": "P-1"}, "quantity": 1, "sortKey": 4})
    assert order.dependencies(document) == [("customer", "5"), ("product", "P-1"), ("product", "P/2")]


def test_the_kind_is_imported_only_polled_with_the_orders_and_announced_by_no_rackbeat_event() -> None:
    spec = REGISTRY["order"]
    assert spec is order.SPEC and spec.exports is None and spec.posting is None
    assert spec.import_sources() == (LegacyResource("orders/sent"),)
    assert spec.rackbeat.resource == "orders" and not spec.rackbeat.events
    rules = spec.import_rules
    assert rules.poll == "orders" and rules.rackbeat_key(sent_order()) is None, "Rackbeat numbers its own"
    assert spec.economic_key_of(sent_order()) == 17
    assert rules.find_existing is order.find_existing and rules.may_update is order.may_update
    assert {"references.customerContact", "deliveryLocation", "exchangeRate"} <= set(rules.never_copied)


# ------------------------------------------------------------------------------------------- each field


def test_the_customer_is_rackbeats_number_for_the_e_conomic_customer() -> None:
    assert mapped()["customer_id"] == 105


def test_lines_carry_product_description_quantity_price_and_discount_in_the_documents_order() -> None:
    assert mapped()["lines"] == [
        {
            "item_id": "P-1",
            "quantity": 2.0,
            "line_price": 100.0,
            "discount_percentage": 0.0,
            "name": "Cykelklokke",
        },
        {
            "item_id": "P/2",
            "quantity": 3.0,
            "line_price": 20.0,
            "discount_percentage": 10.0,
            "name": "Skruer, rustfri",
        },
    ]


def test_a_line_takes_rackbeats_item_number_from_the_resolved_dependency() -> None:
    refs = {**REFS, ("product", "P-1"): "RB-P-1"}
    assert mapped(refs=refs)["lines"][0]["item_id"] == "RB-P-1"


def test_currency_dates_and_vat_zone() -> None:
    body = mapped()
    assert (body["currency"], body["order_date"], body["deliver_at"]) == ("EUR", "2026-11-30", "2026-12-04")
    assert body["vat_zone"] == "domestic"
    zones = {n: mapped(sent_order(recipient={"name": "X", "vatZone": {"vatZoneNumber": n}}))["vat_zone"]
             for n in (1, 2, 3, 4)}  # fmt: skip
    assert zones == {1: "domestic", 2: "eu", 3: "abroad", 4: "domestic_exempt"}


def test_the_recipients_address_and_the_delivery_address_on_the_document() -> None:
    body = mapped()
    assert {k: body[k] for k in ("address_street", "address_zipcode", "address_city", "address_country")} == {
        "address_street": "Hovedgaden 1",
        "address_zipcode": "8000",
        "address_city": "Aarhus",
        "address_country": "Danmark",
    }
    assert body["delivery_address"] == {
        "name": "Kunde A/S",
        "street": "Lagervej 9",
        "zipcode": "8200",
        "city": "Aarhus N",
        "country": "Danmark",
    }


def test_heading_and_a_note_of_the_text_lines_the_text_only_lines_and_the_other_reference() -> None:
    body = mapped()
    assert body["heading"] == "Forårsordre"
    assert body["note"] == "Leveres samlet\n\nHusk gavepapir\n\nTak for ordren\n\nReference: PO-4711"


def test_payment_terms_and_sales_person_go_only_where_rackbeat_has_them_bound() -> None:
    assert "payment_terms_id" not in mapped() and "employee_id" not in mapped()
    bound = mapped(refs={**REFS, ("payment_term", "1"): 3, ("employee", "4"): 8})
    assert (bound["payment_terms_id"], bound["employee_id"]) == (3, 8)


def test_what_e_conomic_cleared_is_cleared_in_rackbeat_too() -> None:
    bare = sent_order(recipient={"name": "Kunde A/S", "vatZone": {"vatZoneNumber": 1}})
    for name in ("delivery", "notes", "references"):
        bare.pop(name)
    body = mapped(bare)
    assert body["deliver_at"] is None and body["delivery_address"] is None
    assert body["address_street"] is None and body["address_city"] is None
    assert (body["heading"], body["note"]) == ("", "Husk gavepapir")


def test_the_mapping_is_stable_so_an_unchanged_order_hashes_the_same() -> None:
    shuffled = sent_order()
    shuffled["lines"] = list(reversed(shuffled["lines"]))
    assert json.dumps(mapped(shuffled), sort_keys=True) == json.dumps(mapped(), sort_keys=True)


# ------------------------------------------------------------------------------------------- never copied


def test_the_body_holds_only_the_fields_the_import_owns() -> None:
    owned = {
        "customer_id",
        "their_reference",
        "currency",
        "order_date",
        "deliver_at",
        "heading",
        "note",
        "address_street",
        "address_zipcode",
        "address_city",
        "address_country",
        "delivery_address",
        "lines",
        "vat_zone",
    }
    assert set(mapped()) == owned


def leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("contact persons (attention, customer contact)", 3303),
        ("the delivery location: master data, only the address on the order goes", 2202),
        ("delivery terms", "Ab lager"),
        ("e-conomic's exchange rate", 745.5),
        ("e-conomic's amounts", 325.0),
        ("cost prices", 40.0),
        ("the layout", 1919),
        ("the project", 7712),
        ("units", 4404),
        ("units", "stk."),
        ("departmental distribution", 5505),
        ("the vendor reference", 6606),
        ("the EAN", "5790000000001"),
        ("the due date (Rackbeat derives its own from the payment terms)", "2026-12-08"),
    ],
)
def test_never_copied(rule: str, value: Any) -> None:
    assert value not in set(leaves(mapped())), rule


def test_no_price_is_looked_up_per_customer_or_currency_the_documents_own_go() -> None:
    document = sent_order(currency="SEK")
    document["lines"][1]["unitNetPrice"] = 123.456
    body = mapped(document)
    assert body["currency"] == "SEK" and body["lines"][0]["line_price"] == 123.46


# ------------------------------------------------------------------------------------------- refusals


def test_an_unresolved_customer_is_refused_naming_rackbeats_field() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(refs={k: v for k, v in REFS.items() if k[0] != "customer"})
    assert refused.value.api == "rackbeat" and refused.value.resource == "orders"
    assert list(refused.value.field_errors) == ["customer_id"]
    assert "e-conomic customer 5" in refused.value.message


def test_an_unresolved_product_is_refused_naming_the_line() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(refs={k: v for k, v in REFS.items() if k != ("product", "P/2")})
    assert list(refused.value.field_errors) == ["lines.1.item_id"]


def test_an_order_of_text_lines_only_is_refused_rackbeat_needs_an_item() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(sent_order(lines=[{"lineNumber": 1, "description": "Ring mig"}]))
    assert list(refused.value.field_errors) == ["lines"]


def test_an_order_without_a_customer_is_refused() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(sent_order(customer=None))
    assert list(refused.value.field_errors) == ["customer_id"]


# ------------------------------------------------------------------------------------------- the look-up


class Listing:
    """A Rackbeat client's `iter`, answering from a list and noting what it was asked."""

    def __init__(self, orders: list[dict[str, Any]]) -> None:
        self.orders = orders
        self.asked: list[tuple[str, str, dict[str, Any]]] = []

    def iter(
        self, resource: str, plural: str, params: Mapping[str, Any] | None = None, limit: int = 1000
    ) -> Iterator[dict[str, Any]]:
        self.asked.append((resource, plural, dict(params or {})))
        wanted = (params or {}).get("simple_filter[their_reference]")
        yield from (o for o in self.orders if o.get("their_reference") == wanted)


def test_the_order_is_looked_up_by_the_reference_it_carries_in_one_exact_filter() -> None:
    rackbeat = Listing(
        [
            {"number": 3, "their_reference": "e-conomic order 170"},
            {"number": 9, "their_reference": "e-conomic order 17"},
        ]
    )
    found = order.find_existing(rackbeat, sent_order())
    assert found is not None and found["number"] == 9
    assert rackbeat.asked == [("orders", "orders", {"simple_filter[their_reference]": "e-conomic order 17"})]


def test_no_order_carries_the_reference_yet() -> None:
    assert order.find_existing(Listing([{"number": 1, "their_reference": "x"}]), sent_order()) is None


def test_of_two_orders_carrying_it_the_oldest_is_kept_in_step() -> None:
    twins = [{"number": n, "their_reference": "e-conomic order 17"} for n in (12, 4)]
    found = order.find_existing(Listing(twins), sent_order())
    assert found is not None and found["number"] == 4


# ------------------------------------------------------------------------------------------- may_update


def test_an_unbooked_rackbeat_order_follows_e_conomics_changes() -> None:
    draft = {"number": 9, "is_booked": False, "is_shipped": False, "is_invoiced": False}
    assert order.may_update(draft) is None


@pytest.mark.parametrize(
    ("flag", "label"),
    [
        ("is_booked", "booked"),
        ("is_shipped", "shipped"),
        ("is_partly_shipped", "partly shipped"),
        ("is_invoiced", "invoiced"),
        ("is_partly_invoiced", "partly invoiced"),
        ("is_archived", "archived"),
        ("is_cancelled", "cancelled"),
    ],
)
def test_an_order_rackbeat_has_taken_over_is_never_overwritten_and_the_reason_says_why(
    flag: str, label: str
) -> None:
    reason = order.may_update({"number": 9, "their_reference": "e-conomic order 17", flag: True})
    assert reason == f"Rackbeat order 9 (e-conomic order 17) is {label}: Rackbeat has taken it over"


def test_the_reason_names_every_state_rackbeat_has_moved_it_to() -> None:
    reason = order.may_update({"number": 9, "is_booked": True, "is_shipped": True, "is_invoiced": True})
    assert reason == "Rackbeat order 9 is booked, shipped, invoiced: Rackbeat has taken it over"
