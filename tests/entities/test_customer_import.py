"""The customer's import mapper (e-conomic -> Rackbeat): pure, one test per rule of
tasks/entities/customer.py, and one per thing the seed README says is never copied."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.entities import customer
from tasks.entities.base import MappingContext, MappingDefaults
from tasks.errors import MappingError

REFS = {("customer_group", "2"): "2", ("payment_term", "3"): "17"}


def document(**fields: Any) -> dict[str, Any]:
    return {
        "customerNumber": 42,
        "name": "Hansen ApS",
        "currency": "DKK",
        "customerGroup": {"customerGroupNumber": 2, "self": "x"},
        "paymentTerms": {"paymentTermsNumber": 3, "self": "x"},
        "vatZone": {"vatZoneNumber": 1, "self": "x"},
        "lastUpdated": "2026-01-02T03:04:05Z",
        **fields,
    }


def mapped(refs: dict[tuple[str, str], Any] | None = None, **fields: Any) -> dict[str, Any]:
    return customer.to_rackbeat(document(**fields), MappingContext(refs=REFS if refs is None else refs))


def test_the_customer_keeps_its_number_and_its_group_and_terms_become_rackbeats() -> None:
    body = mapped()
    assert customer.SPEC.import_rules.rackbeat_key(document()) == 42
    assert (body["company_name"], body["currency"]) == ("Hansen ApS", "DKK")
    assert (body["customer_group_id"], body["payment_terms_id"]) == (2, 17)
    assert customer.import_dependencies(document()) == [("customer_group", "2"), ("payment_term", "3")]


def test_the_customer_arrives_with_its_group_terms_layout_and_employee_imported_first_in_that_order() -> None:
    full = document(layout={"layoutNumber": 19}, salesPerson={"employeeNumber": 5})
    assert customer.import_dependencies(full) == [
        ("customer_group", "2"),
        ("payment_term", "3"),
        ("layout", "19"),
        ("employee", "5"),
    ]
    refs = {**REFS, ("layout", "19"): "19", ("employee", "5"): "5"}
    body = customer.to_rackbeat(full, MappingContext(refs=refs))
    assert (body["customer_group_id"], body["payment_terms_id"], body["layout_id"], body["employee_id"]) == (
        2,
        17,
        19,
        5,
    )


def test_the_layout_is_rackbeats_copy_which_the_export_sends_back_as_the_same_layout() -> None:
    """Layouts are created in Rackbeat at e-conomic's number, and the export sends `layout_id` as the
    e-conomic layout number: the imported customer goes back with the layout it came with."""
    body = mapped(refs={**REFS, ("layout", "19"): "19"}, layout={"layoutNumber": 19})
    assert body["layout_id"] == 19
    back = customer.customer_payload(
        {"number": 42, **body},
        {("customer_group", "2"): 2, ("payment_term", "17"): 3},
        MappingDefaults(),
    )
    assert back["layout"] == {"layoutNumber": 19}


def test_a_customer_without_a_layout_or_with_one_not_resolved_has_none() -> None:
    assert mapped()["layout_id"] is None
    assert mapped(layout={"layoutNumber": 19})["layout_id"] is None


def test_terms_that_cannot_be_resolved_are_refused_naming_the_rackbeat_field() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(refs={("customer_group", "2"): "2"})
    assert (refused.value.api, refused.value.field) == ("rackbeat", "payment_terms_id")


@pytest.mark.parametrize(
    ("zone", "name"), [(1, "domestic"), (2, "eu"), (3, "abroad"), (4, "domestic_exempt")]
)
def test_the_vat_zone_number_becomes_rackbeats_zone(zone: int, name: str) -> None:
    assert mapped(vatZone={"vatZoneNumber": zone})["vat_zone"] == name


def test_an_unknown_vat_zone_is_refused_not_guessed() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(vatZone={"vatZoneNumber": 9})
    assert refused.value.field == "vat_zone"


def test_the_address_lines_are_split_and_a_cleared_field_is_sent_as_null() -> None:
    body = mapped(address="Main Street 1\r\nBuilding B\nThird line", city="Aarhus")
    assert (body["address_street"], body["address_street2"]) == ("Main Street 1", "Building B\nThird line")
    assert body["address_city"] == "Aarhus"
    assert body["address_zipcode"] is None and body["ean"] is None, "null clears it in Rackbeat"


def test_the_sales_person_goes_along_only_when_bound() -> None:
    assert mapped(salesPerson={"employeeNumber": 5})["employee_id"] is None
    assert (
        mapped(refs={**REFS, ("employee", "5"): "8"}, salesPerson={"employeeNumber": 5})["employee_id"] == 8
    )


def test_barred_and_credit_limit() -> None:
    body = mapped(barred=True, creditLimit=1234.567)
    assert (body["is_barred"], body["max_credit"]) == (True, 1234.57)


# --- never copied (seed README, "What is NOT synchronised") -------------------------------------------


def test_never_copied_every_email_but_the_primary_one() -> None:
    assert mapped(email="first@example.com invoice@example.com order@example.com")["contact_email"] == (
        "first@example.com"
    )


def test_never_copied_contact_persons() -> None:
    body = mapped(attention={"customerContactNumber": 7}, customerContact={"customerContactNumber": 8})
    assert body == mapped()


def test_never_copied_delivery_addresses() -> None:
    body = mapped(
        defaultDeliveryLocation={"deliveryLocationNumber": 3},
        deliveryLocations="https://x/delivery-locations",
    )
    assert body == mapped()


def test_never_copied_special_prices_and_discount_groups() -> None:
    assert mapped(priceGroup={"priceGroupNumber": 2}) == mapped()


def test_never_copied_anything_rackbeat_has_no_field_for() -> None:
    body = mapped(website="example.com", pNumber="1234567890", balance=99.0)
    assert body == mapped()
    assert set(body) == {
        "company_name",
        "currency",
        "customer_group_id",
        "payment_terms_id",
        "layout_id",
        "employee_id",
        "vat_zone",
        "address_street",
        "address_street2",
        "address_zipcode",
        "address_city",
        "address_country",
        "contact_email",
        "contact_phone",
        "company_vat",
        "ean",
        "max_credit",
        "is_barred",
    }


def test_the_spec_names_what_is_never_copied_and_bars_a_customer_gone_from_economic() -> None:
    rules = customer.SPEC.import_rules
    for name in ("attention", "customerContact", "deliveryLocations", "priceGroup"):
        assert name in rules.never_copied
    assert "layout" not in rules.never_copied, "the layout arrives with the customer"
    assert rules.when_gone == {"is_barred": True}
    assert rules.poll == "master"
