"""Supplier groups and suppliers, Rackbeat -> e-conomic, end to end: changes made in the Rackbeat sandbox
reach the e-conomic sandbox through webhooks, the receiver and the session's real worker. Writes are
counted from the e-conomic sandbox's own request log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.suppliers_support import (
    bookkeeper_edit,
    collection_writes,
    expected_payment_terms,
    rackbeat_payment_terms,
    unique_number,
)
from tests.e2e.test_products_e2e import Flow, e2e, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("celery_worker", "receiver")

GROUPS_PATH = "/suppliersapi/v2.0.0/Groups"


def economic_supplier(flow: Flow, number: int) -> dict[str, Any] | None:
    found = [s for s in flow.economic.sandbox.dump("suppliers") if s["supplierNumber"] == number]
    return found[0] if found else None


def economic_supplier_group(flow: Flow, number: int) -> dict[str, Any] | None:
    found = [g for g in flow.economic.sandbox.dump("supplier-groups") if g["supplierGroupNumber"] == number]
    return found[0] if found else None


def supplier_writes(flow: Flow, number: int) -> list[dict[str, Any]]:
    return flow.writes_to(f"/suppliers/{number}")


def test_a_supplier_arrives_with_its_new_group_then_follows_updates_and_is_barred_when_deleted(
    e2e: Flow,  # noqa: F811
) -> None:
    terms = rackbeat_payment_terms(e2e)
    group = e2e.rackbeat.sandbox.create("supplier-groups", {"number": unique_number(), "name": "Tyske"})
    number = unique_number()
    e2e.rackbeat.sandbox.create(
        "suppliers",
        {
            "number": number,
            "company_name": "Bauwerk Schmidt GmbH",
            "payment_terms_id": terms["number"],
            "supplier_group_id": group["number"],
            "address_country": "Tyskland",
            "address_city": "Hamburg",
            "currency": "EUR",
            "contact_email": "einkauf@bauwerk.de",
            "vat_zone": "eu",
        },
    )

    assert e2e.wait_outcome("supplier", str(number)) == ["created"]
    stored = economic_supplier(e2e, number)
    assert stored is not None
    assert stored["name"] == "Bauwerk Schmidt GmbH"
    assert stored["supplierGroup"]["supplierGroupNumber"] == group["number"]
    assert stored["paymentTerms"]["paymentTermsNumber"] == expected_payment_terms(e2e, terms)
    assert stored["vatZone"]["vatZoneNumber"] == 2  # Germany, seen from Denmark
    assert (stored["currency"], stored["city"], stored["barred"]) == ("EUR", "Hamburg", False)
    # the group did not exist in e-conomic: made inside the supplier's transfer, before the supplier
    new_group = economic_supplier_group(e2e, group["number"])
    assert new_group is not None and new_group["account"]["accountNumber"] == 6800
    log = [(entry["method"], entry["path"]) for entry in e2e.economic.sandbox.request_log.entries()]
    assert log.index(("POST", GROUPS_PATH)) < log.index(("PUT", f"/suppliers/{number}"))

    e2e.rackbeat.sandbox.update("suppliers", number, {"address_city": "Kiel", "address_country": "Danmark"})
    assert e2e.wait_outcome("supplier", str(number), count=2)[-1] == "replaced"
    stored = economic_supplier(e2e, number)
    assert (stored["city"], stored["vatZone"]["vatZoneNumber"]) == ("Kiel", 1)
    writes = len(supplier_writes(e2e, number))

    e2e.rackbeat.sandbox.update("suppliers", number, {"locale": "de"})  # nothing e-conomic holds
    assert e2e.wait_outcome("supplier", str(number), count=3)[-1] == "unchanged"
    assert len(supplier_writes(e2e, number)) == writes == 2

    e2e.rackbeat.sandbox.delete("suppliers", number)
    assert e2e.wait_outcome("supplier", str(number), count=4)[-1] == "barred"
    stored = economic_supplier(e2e, number)
    assert stored["barred"] is True
    assert (stored["name"], stored["city"]) == ("Bauwerk Schmidt GmbH", "Kiel")  # the rest is kept


def test_a_supplier_blocked_in_rackbeat_is_barred_and_lifted_again(e2e: Flow) -> None:  # noqa: F811
    terms = rackbeat_payment_terms(e2e)
    number = unique_number()
    e2e.rackbeat.sandbox.create(
        "suppliers",
        {
            "number": number,
            "company_name": "Dansk Søm A/S",
            "payment_terms_id": terms["number"],
            "address_country": "Danmark",
            "currency": "DKK",
        },
    )
    assert e2e.wait_outcome("supplier", str(number)) == ["created"]
    assert economic_supplier(e2e, number)["supplierGroup"]["supplierGroupNumber"] == 1  # the default group

    e2e.rackbeat.sandbox.update("suppliers", number, {"is_barred": True})
    assert e2e.wait_outcome("supplier", str(number), count=2)[-1] == "replaced"
    assert economic_supplier(e2e, number)["barred"] is True

    e2e.rackbeat.sandbox.update("suppliers", number, {"is_barred": False})
    assert e2e.wait_outcome("supplier", str(number), count=3)[-1] == "replaced"
    assert economic_supplier(e2e, number)["barred"] is False


def test_a_supplier_group_is_created_renamed_and_left_alone_when_deleted(e2e: Flow) -> None:  # noqa: F811
    number = unique_number()
    e2e.rackbeat.sandbox.create("supplier-groups", {"number": number, "name": "Udenlandske"})
    assert e2e.wait_outcome("supplier_group", str(number)) == ["created"]
    assert economic_supplier_group(e2e, number)["name"] == "Udenlandske"

    # a bookkeeper moves the group to another creditor account; Rackbeat renames it
    bookkeeper_edit(e2e.settings, "suppliersapi/v2.0.0", "Groups", number, accountNumber=5800)
    e2e.rackbeat.sandbox.update("supplier-groups", number, {"name": "Udenlandske leverandører"})
    assert e2e.wait_outcome("supplier_group", str(number), count=2)[-1] == "replaced"
    stored = economic_supplier_group(e2e, number)
    assert stored["name"] == "Udenlandske leverandører"
    assert stored["account"]["accountNumber"] == 5800  # the bookkeeper's account survives the update
    writes = len(collection_writes(e2e, GROUPS_PATH, "number", number))

    e2e.rackbeat.sandbox.update("supplier-groups", number, {"name": "Udenlandske leverandører"})
    assert e2e.wait_outcome("supplier_group", str(number), count=3)[-1] == "unchanged"
    assert len(collection_writes(e2e, GROUPS_PATH, "number", number)) == writes

    e2e.rackbeat.sandbox.delete("supplier-groups", number)
    assert e2e.wait_outcome("supplier_group", str(number), count=4)[-1] == "ignored"
    assert economic_supplier_group(e2e, number) is not None  # e-conomic cannot bar groups: kept
    assert len(collection_writes(e2e, GROUPS_PATH, "number", number)) == writes


def test_suppliers_sharing_new_groups_create_each_group_once(e2e: Flow) -> None:  # noqa: F811
    terms = rackbeat_payment_terms(e2e)
    groups = [
        e2e.rackbeat.sandbox.create("supplier-groups", {"number": unique_number(), "name": f"Fælles {i}"})
        for i in range(3)
    ]
    numbers = [unique_number() for _ in range(12)]
    for index, number in enumerate(numbers):
        e2e.rackbeat.sandbox.create(
            "suppliers",
            {
                "number": number,
                "company_name": f"Leverandør {index}",
                "payment_terms_id": terms["number"],
                "supplier_group_id": groups[index % 3]["number"],
                "address_country": "Danmark",
                "currency": "DKK",
            },
        )

    for number in numbers:
        assert e2e.wait_outcome("supplier", str(number)) == ["created"]
    for index, number in enumerate(numbers):
        stored = economic_supplier(e2e, number)
        assert stored["supplierGroup"]["supplierGroupNumber"] == groups[index % 3]["number"]
    for group in groups:
        writes = collection_writes(e2e, GROUPS_PATH, "number", group["number"])
        posts = [entry for entry in writes if entry["method"] == "POST"]
        assert len(posts) == 1, group
        assert economic_supplier_group(e2e, group["number"]) is not None
