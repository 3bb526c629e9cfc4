"""The supplier's import mapper (e-conomic -> Rackbeat, the start-up sync): pure, one test per rule of
tasks/entities/supplier.py, and one per thing the seed README says is never copied."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.economic.schemas import schema_dir
from tasks.entities import supplier
from tasks.entities.base import MappingContext, MappingDefaults
from tasks.errors import MappingError
from tasks.settings import Settings
from tasks.sync.direction import owner
from tests.entities.test_dependency_imports import FakeRackbeat

SCHEMA = schema_dir() / "suppliers.supplierNumber.get.schema.json"
REFS = {("supplier_group", "2"): "2", ("payment_term", "3"): "17"}


def document(**fields: Any) -> dict[str, Any]:
    return {
        "supplierNumber": 70001,
        "name": "Aarhus Pladecenter ApS",
        "currency": "DKK",
        "supplierGroup": {"supplierGroupNumber": 2, "self": "x"},
        "paymentTerms": {"paymentTermsNumber": 3, "self": "x"},
        "vatZone": {"vatZoneNumber": 1, "self": "x"},
        "address": "Smedevej 3",
        "zip": "8000",
        "city": "Aarhus C",
        "country": "Denmark",
        "email": "ordre@aarhus-pladecenter.dk",
        "phone": "+45 34 24 55 72",
        "corporateIdentificationNumber": "81404321",
        "barred": False,
        **fields,
    }


def mapped(refs: dict[tuple[str, str], Any] | None = None, **fields: Any) -> dict[str, Any]:
    return supplier.to_rackbeat(document(**fields), MappingContext(refs=REFS if refs is None else refs))


def test_the_supplier_keeps_its_number_and_arrives_in_its_group_with_its_terms() -> None:
    body = mapped()
    assert supplier.SPEC.import_rules.rackbeat_key(document()) == 70001
    assert supplier.SPEC.economic_key_of(document()) == 70001
    assert (body["company_name"], body["currency"]) == ("Aarhus Pladecenter ApS", "DKK")
    assert (body["supplier_group_id"], body["payment_terms_id"]) == (2, 17)
    assert supplier.import_dependencies(document()) == [("supplier_group", "2"), ("payment_term", "3")]
    assert (body["contact_phone"], body["company_vat"], body["is_barred"]) == (
        "+45 34 24 55 72",
        "81404321",
        False,
    )


def test_terms_that_cannot_be_resolved_are_refused_naming_the_rackbeat_field() -> None:
    with pytest.raises(MappingError) as refused:
        mapped(refs={("supplier_group", "2"): "2"})
    assert (refused.value.api, refused.value.field) == ("rackbeat", "payment_terms_id")


def test_a_group_that_could_not_be_resolved_is_sent_as_null() -> None:
    assert mapped(refs={("payment_term", "3"): "17"})["supplier_group_id"] is None


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
    body = mapped(address="Smedevej 3\r\nHal 2", zip=None, phone="")
    assert (body["address_street"], body["address_street2"]) == ("Smedevej 3", "Hal 2")
    assert (body["address_zipcode"], body["contact_phone"]) == (None, None), "null clears it in Rackbeat"


def test_a_supplier_is_found_at_its_number_and_matched_by_number_only() -> None:
    rules = supplier.SPEC.import_rules
    assert rules.find_existing is not None
    rackbeat = FakeRackbeat({"suppliers": [{"number": 70001, "company_name": "Other"}]})
    assert rules.find_existing(rackbeat, document()) == {"number": 70001, "company_name": "Other"}
    assert rules.find_existing(rackbeat, document(supplierNumber=70002)) is None
    assert rules.match_on == (("number",),)


def test_rackbeat_owns_suppliers_after_the_startup_sync_so_no_poll_and_nothing_is_retired() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rackbeat_token="t",
        economic_app_secret_token="t",
        economic_agreement_grant_token="t",
    )
    rules = supplier.SPEC.import_rules
    assert owner(supplier.SPEC, settings) == "rackbeat"
    assert (rules.poll, rules.when_gone) == (None, None)


def test_an_imported_supplier_exports_back_as_economic_has_it() -> None:
    """Both directions agree: the export of the Rackbeat supplier the import made is e-conomic's supplier."""
    rackbeat = {"number": 70001, **mapped(address="Smedevej 3\nHal 2")}
    back = {("supplier_group", "2"): 2, ("payment_term", "17"): 3}
    body = supplier.supplier_payload(rackbeat, back, MappingDefaults())
    expected = document(address="Smedevej 3\nHal 2")
    for name in ("supplierNumber", "name", "currency", "address", "zip", "city", "country", "email", "phone"):
        assert body[name] == expected[name], name
    assert body["supplierGroup"] == {"supplierGroupNumber": 2}
    assert body["paymentTerms"] == {"paymentTermsNumber": 3}
    assert body["vatZone"] == {"vatZoneNumber": 1}


# --- never copied (seed README, "What is NOT synchronised") -------------------------------------------


def test_never_copied_every_email_but_the_primary_one() -> None:
    assert mapped(email="ordre@example.com faktura@example.com")["contact_email"] == "ordre@example.com"


def test_never_copied_contact_persons() -> None:
    body = mapped(
        attention={"supplierContactNumber": 7},
        supplierContact={"supplierContactNumber": 8},
        contacts="https://x/suppliers/70001/contacts",
    )
    assert body == mapped()


def test_never_copied_what_rackbeat_has_no_field_for() -> None:
    body = mapped(
        layout={"layoutNumber": 19},
        salesPerson={"employeeNumber": 5},
        costAccount={"accountNumber": 1310},
        bankAccount="1409 7195553819",
        remittanceAdvice={"creditorId": "x"},
        defaultInvoiceText="Thanks",
    )
    assert body == mapped()
    assert set(body) == {
        "company_name",
        "currency",
        "supplier_group_id",
        "payment_terms_id",
        "vat_zone",
        "address_street",
        "address_street2",
        "address_zipcode",
        "address_city",
        "address_country",
        "contact_email",
        "contact_phone",
        "company_vat",
        "is_barred",
    }


@pytest.mark.skipif(not SCHEMA.is_file(), reason=f"e-conomic's schemas not found at {SCHEMA}")
def test_never_copied_names_fields_of_economics_supplier_which_has_no_delivery_addresses_or_prices() -> None:
    """There is nothing to leave out for delivery addresses or currency prices: e-conomic's published
    supplier has neither. Every name the spec lists is a field it does have."""
    properties = set(json.loads(SCHEMA.read_text())["properties"])
    assert not {name for name in properties if "deliver" in name.lower() or "pric" in name.lower()}
    for entry in supplier.SPEC.import_rules.never_copied:
        assert entry.split(" ")[0] in properties, entry
    for name in ("attention", "supplierContact", "contacts"):
        assert name in supplier.SPEC.import_rules.never_copied
