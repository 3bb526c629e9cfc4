"""Customer and customer group mappers, Rackbeat -> e-conomic: each rule of tasks/entities/customer.py and
customer_group.py is a test that fails when the rule breaks. Pure functions only; the flows through a
real worker are in tests/e2e/test_customers_e2e.py."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.entities import REGISTRY, get_spec, spec_for_event
from tasks.entities.base import MappingDefaults
from tasks.entities.customer import (
    customer_payload,
    depends_on,
    economic_key,
    embedded,
    primary_email,
)
from tasks.entities.customer_group import economic_key as group_key
from tasks.entities.customer_group import group_payload
from tasks.errors import MappingError
from tasks.sync.validation import validate_payload, writable_projection

REFS = {("customer_group", "3"): 3, ("payment_term", "2"): 17}


def rackbeat_customer(**fields: Any) -> dict[str, Any]:
    """A customer as the Rackbeat API shows it (see sandbox/rackbeat/records.py and the seed)."""
    record: dict[str, Any] = {
        "number": 1042,
        "company_name": "Nordvik Byg ApS",
        "company_vat": "DK29876547",
        "address_street": "Havnegade 4",
        "address_street2": None,
        "address_city": "Aarhus C",
        "address_zipcode": "8000",
        "address_country": "Danmark",
        "contact_email": "info@nordvik-byg.dk",
        "contact_phone": "+45 86 12 34 56",
        "locale": "da",
        "ean": None,
        "our_reference": None,
        "their_reference": "Jens",
        "attention": "Bogholderiet",
        "max_credit": 50000.0,
        "payment_terms_id": 2,
        "payment_terms": {"number": 2, "name": "Netto 14 dage", "type": "net", "maturity_days": 14},
        "employee_id": None,
        "employee": None,
        "general_discount_percentage": 5.0,
        "vat_zone": "domestic",
        "layout_id": None,
        "customer_group_id": 3,
        "currency": "DKK",
        "is_barred": False,
    }
    record.update(fields)
    return record


def payload(record: dict[str, Any], refs: dict[Any, Any] | None = None, **defaults: Any) -> dict[str, Any]:
    return customer_payload(
        record,
        REFS if refs is None else refs,
        MappingDefaults(
            **{"home_country": "DK", "customer_default_group": 1, "customer_default_layout": None, **defaults}
        ),
    )


def test_a_typical_customer_maps_to_a_valid_e_conomic_document() -> None:
    mapped = payload(rackbeat_customer())

    assert mapped == {
        "customerNumber": 1042,
        "name": "Nordvik Byg ApS",
        "currency": "DKK",
        "customerGroup": {"customerGroupNumber": 3},
        "paymentTerms": {"paymentTermsNumber": 17},
        "vatZone": {"vatZoneNumber": 1},
        "address": "Havnegade 4",
        "zip": "8000",
        "city": "Aarhus C",
        "country": "Danmark",
        "email": "info@nordvik-byg.dk",
        "telephoneAndFaxNumber": "+45 86 12 34 56",
        "corporateIdentificationNumber": "DK29876547",
        "creditLimit": 50000.0,
        "barred": False,
    }
    validate_payload(get_spec("customer").economic, mapped)


# --- only the primary e-mail ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "info@nordvik-byg.dk faktura@nordvik-byg.dk",
        "info@nordvik-byg.dk, faktura@nordvik-byg.dk",
        "info@nordvik-byg.dk;faktura@nordvik-byg.dk",
        "  info@nordvik-byg.dk\nfaktura@nordvik-byg.dk ",
    ],
)
def test_only_the_first_address_of_contact_email_is_sent(typed: str) -> None:
    assert payload(rackbeat_customer(contact_email=typed))["email"] == "info@nordvik-byg.dk"


def test_invoice_order_and_quote_e_mails_never_reach_e_conomic() -> None:
    record = rackbeat_customer(
        invoice_email="faktura@nordvik-byg.dk",
        order_email="ordre@nordvik-byg.dk",
        quote_email="tilbud@nordvik-byg.dk",
        contacts=[{"contact_email": "jens@nordvik-byg.dk", "cc_invoice": True}],
    )
    mapped = payload(record)

    assert mapped["email"] == "info@nordvik-byg.dk"
    assert [value for value in mapped.values() if isinstance(value, str) and "@" in value] == [
        "info@nordvik-byg.dk"
    ]


def test_a_customer_without_an_e_mail_sends_none() -> None:
    assert "email" not in payload(rackbeat_customer(contact_email=""))
    assert primary_email({"contact_email": None}) is None


# --- numbers ----------------------------------------------------------------------------------------


def test_rackbeat_number_is_the_e_conomic_number_when_it_fits() -> None:
    assert economic_key(rackbeat_customer(number=1)) == 1
    assert economic_key(rackbeat_customer(number="999999999")) == 999_999_999


@pytest.mark.parametrize("number", [0, 1_000_000_000, "K-12"])
def test_a_number_e_conomic_refuses_is_left_to_e_conomic(number: Any) -> None:
    record = rackbeat_customer(number=number)
    assert economic_key(record) is None
    assert "customerNumber" not in payload(record)


# --- dependencies -----------------------------------------------------------------------------------


def test_group_then_payment_terms_then_sales_person() -> None:
    record = rackbeat_customer(employee_id=4)
    assert depends_on(record) == [("customer_group", "3"), ("payment_term", "2"), ("employee", "4")]


def test_the_embedded_payment_terms_are_offered_to_spare_a_fetch() -> None:
    assert embedded(rackbeat_customer()) == {
        ("payment_term", "2"): {"number": 2, "name": "Netto 14 dage", "type": "net", "maturity_days": 14}
    }
    assert embedded(rackbeat_customer(payment_terms=None)) == {}


def test_a_customer_without_group_goes_to_the_default_group() -> None:
    record = rackbeat_customer(customer_group_id=None)
    assert ("customer_group", "3") not in depends_on(record)
    assert payload(record, customer_default_group=5)["customerGroup"] == {"customerGroupNumber": 5}


def test_an_unresolved_group_is_refused_not_defaulted() -> None:
    with pytest.raises(MappingError) as caught:
        payload(rackbeat_customer(), refs={("payment_term", "2"): 17})
    assert caught.value.field == "customerGroup"


def test_unresolved_payment_terms_are_refused() -> None:
    with pytest.raises(MappingError) as caught:
        payload(rackbeat_customer(), refs={("customer_group", "3"): 3})
    assert caught.value.field == "paymentTerms"


def test_sales_person_only_when_the_employee_is_bound() -> None:
    record = rackbeat_customer(employee_id=4)
    assert "salesPerson" not in payload(record)
    assert payload(record, refs={**REFS, ("employee", "4"): 40})["salesPerson"] == {"employeeNumber": 40}


# --- VAT zone -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "rackbeat_zone", "zone"),
    [
        ("Danmark", "domestic", 1),
        ("DK", "abroad", 1),  # the country decides, not a stale Rackbeat zone
        ("Tyskland", "domestic", 2),
        ("Sverige", "eu", 2),
        ("Norge", "domestic", 3),
        ("Grønland", "domestic", 3),  # Danish, but outside the EU
        ("Danmark", "domestic_exempt", 4),
        ("", "eu", 2),  # no country: Rackbeat's zone
        ("Atlantis", "abroad", 3),  # unreadable country: Rackbeat's zone
    ],
)
def test_vat_zone_follows_country_and_vat_setting(country: str, rackbeat_zone: str, zone: int) -> None:
    record = rackbeat_customer(address_country=country, vat_zone=rackbeat_zone)
    assert payload(record)["vatZone"] == {"vatZoneNumber": zone}


def test_the_home_country_setting_moves_the_zones() -> None:
    record = rackbeat_customer(address_country="Sverige", vat_zone="eu")
    assert payload(record, home_country="SE")["vatZone"] == {"vatZoneNumber": 1}
    assert payload(rackbeat_customer(address_country="Danmark"), home_country="SE")["vatZone"] == {
        "vatZoneNumber": 2
    }


def test_an_unknown_country_without_a_zone_is_refused_naming_the_field() -> None:
    with pytest.raises(MappingError) as caught:
        payload(rackbeat_customer(address_country="Atlantis", vat_zone=None))
    assert caught.value.field == "vatZone"


# --- layout, currency, barred, never sent -------------------------------------------------------------


def test_layout_is_the_same_number_else_the_default_else_none() -> None:
    assert payload(rackbeat_customer(layout_id=22))["layout"] == {"layoutNumber": 22}
    assert payload(rackbeat_customer(layout_id=22), customer_default_layout=19)["layout"] == {
        "layoutNumber": 22
    }
    assert payload(rackbeat_customer(), customer_default_layout=19)["layout"] == {"layoutNumber": 19}
    assert "layout" not in payload(rackbeat_customer())


def test_currency_is_upper_case_and_required() -> None:
    assert payload(rackbeat_customer(currency="eur"))["currency"] == "EUR"
    mapped = payload(rackbeat_customer(currency=None))
    with pytest.raises(MappingError) as caught:
        validate_payload(get_spec("customer").economic, mapped)
    assert caught.value.field == "currency"


def test_blocked_or_deleted_in_rackbeat_is_barred() -> None:
    assert payload(rackbeat_customer(is_barred=True))["barred"] is True
    assert payload(rackbeat_customer(is_deleted=True))["barred"] is True
    assert payload(rackbeat_customer())["barred"] is False


def test_fields_without_an_e_conomic_meaning_change_nothing() -> None:
    before = payload(rackbeat_customer())
    after = payload(
        rackbeat_customer(
            locale="en",
            their_reference="Ole",
            our_reference=7,
            attention="Indkøb",
            general_discount_percentage=10.0,
            updated_at="2026-01-01T00:00:00+00:00",
        )
    )
    assert after == before


def test_two_address_lines_become_one_field() -> None:
    record = rackbeat_customer(address_street2="Bygning B")
    assert payload(record)["address"] == "Havnegade 4\nBygning B"


def test_a_name_e_conomic_would_refuse_fails_before_the_call() -> None:
    mapped = payload(rackbeat_customer(company_name="x" * 256))
    with pytest.raises(MappingError) as caught:
        validate_payload(get_spec("customer").economic, mapped)
    assert caught.value.field == "name"


def test_barring_resends_every_writable_field_of_the_e_conomic_customer() -> None:
    document = {
        **payload(rackbeat_customer()),
        "customerGroup": {
            "customerGroupNumber": 3,
            "self": "https://restapi.e-conomic.com/customer-groups/3",
        },
        "email": "info@nordvik-byg.dk faktura@nordvik-byg.dk",  # kept as e-conomic has it
        "attention": {"customerContactNumber": 9, "self": "..."},
        "balance": 1200.0,
        "dueAmount": 0.0,
        "lastUpdated": "2026-01-01T00:00:00Z",
        "contacts": "...",
    }
    projected = writable_projection(get_spec("customer").economic, document)
    assert projected["customerGroup"] == {"customerGroupNumber": 3}
    assert projected["attention"] == {"customerContactNumber": 9}
    assert projected["email"] == "info@nordvik-byg.dk faktura@nordvik-byg.dk"
    assert not {"balance", "dueAmount", "lastUpdated", "contacts"} & projected.keys()


# --- customer groups ------------------------------------------------------------------------------------


def test_a_group_keeps_its_number_and_gets_the_debtor_account() -> None:
    group = {"number": 7, "name": " Byggemarkeder ", "is_draft": False}
    assert group_key(group) == 7
    assert group_payload(group, 5600) == {"name": "Byggemarkeder", "account": {"accountNumber": 5600}}
    validate_payload(get_spec("customer_group").economic, group_payload(group, 5600))


def test_a_group_name_over_fifty_characters_fails_before_the_call() -> None:
    with pytest.raises(MappingError) as caught:
        validate_payload(
            get_spec("customer_group").economic, group_payload({"number": 7, "name": "g" * 51}, 5600)
        )
    assert caught.value.field == "name"


# --- registration -------------------------------------------------------------------------------------


def test_customer_kinds_are_registered_with_their_webhooks() -> None:
    customer, action = spec_for_event("customer.deleted")  # type: ignore[misc]
    assert (customer.kind, action, customer.economic.barrable) == ("customer", "delete", True)
    group, action = spec_for_event("customer_group.updated")  # type: ignore[misc]
    assert (group.kind, action, group.economic.barrable) == ("customer_group", "upsert", False)
    assert REGISTRY["customer"].economic.resource == "customers"
    assert REGISTRY["customer_group"].economic.resource == "customer-groups"
