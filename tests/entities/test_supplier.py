"""Supplier groups, suppliers and the shared VAT-zone rule: pure mappers, so nothing needs to run."""

from __future__ import annotations

import pytest

from sandbox.economic.schemas import write_schema
from tasks.entities import REGISTRY, get_spec, spec_for_event, supplier, supplier_group
from tasks.entities._vat_zone import UnknownCountry, VatZone, country_code, vat_zone
from tasks.entities.base import MappingContext, MappingDefaults
from tasks.errors import MappingError
from tasks.sync.validation import validate_payload, writable_projection

DEFAULTS = MappingDefaults(home_country="DK", default_supplier_group=9)
REFS = {("supplier_group", "3"): 3, ("payment_term", "2"): 12}


def rackbeat_supplier(**overrides):
    record = {
        "number": 40012,
        "company_name": "Bauwerk Schmidt GmbH",
        "company_vat": "DE123456789",
        "address_street": "Industriestraße 12",
        "address_street2": None,
        "address_city": "Hamburg",
        "address_zipcode": "20095",
        "address_country": "Tyskland",
        "contact_email": "einkauf@bauwerk.de",
        "contact_phone": "+49 40 123456",
        "locale": "en",
        "currency": "EUR",
        "vat_zone": "eu",
        "payment_terms_id": 2,
        "payment_terms": {"number": 2, "name": "Netto 14 dage", "type": "net", "maturity_days": 14},
        "supplier_group_id": 3,
        "is_barred": False,
        "created_at": "2026-01-02T10:00:00+00:00",
        "updated_at": "2026-01-02T10:00:00+00:00",
    }
    record.update(overrides)
    return record


def test_a_supplier_maps_every_owned_field() -> None:
    assert supplier.supplier_payload(rackbeat_supplier(), REFS, DEFAULTS) == {
        "supplierNumber": 40012,
        "name": "Bauwerk Schmidt GmbH",
        "currency": "EUR",
        "paymentTerms": {"paymentTermsNumber": 12},
        "supplierGroup": {"supplierGroupNumber": 3},
        "vatZone": {"vatZoneNumber": 2},
        "address": "Industriestraße 12",
        "zip": "20095",
        "city": "Hamburg",
        "country": "Tyskland",
        "email": "einkauf@bauwerk.de",
        "phone": "+49 40 123456",
        "corporateIdentificationNumber": "DE123456789",
        "barred": False,
    }


def test_the_payload_passes_e_conomics_published_supplier_schema() -> None:
    from jsonschema import Draft3Validator

    payload = supplier.supplier_payload(rackbeat_supplier(), REFS, DEFAULTS)
    schema = write_schema("suppliers.supplierNumber.put")
    assert schema is not None
    errors = [error.message for error in Draft3Validator(schema).iter_errors(payload)]
    assert errors == []
    validate_payload(get_spec("supplier").economic, payload)


def test_nothing_unmapped_is_sent() -> None:
    record = rackbeat_supplier(locale="de", balance=1200.0, internal_note="do not send")
    payload = supplier.supplier_payload(record, REFS, DEFAULTS)
    assert "locale" not in str(payload) and "do not send" not in str(payload)
    assert set(payload) <= {rule.path for rule in supplier.WRITABLE_FIELDS}


def test_dependencies_are_the_group_and_the_payment_terms() -> None:
    assert supplier.depends_on(rackbeat_supplier()) == [("supplier_group", "3"), ("payment_term", "2")]
    assert supplier.depends_on(rackbeat_supplier(supplier_group_id=None)) == [("payment_term", "2")]


def test_the_embedded_payment_terms_are_offered_as_a_view() -> None:
    views = supplier.embedded(rackbeat_supplier())
    assert views == {("payment_term", "2"): rackbeat_supplier()["payment_terms"]}
    assert supplier.embedded(rackbeat_supplier(payment_terms=None)) == {}


def test_a_supplier_without_a_group_goes_to_the_default_group() -> None:
    payload = supplier.supplier_payload(rackbeat_supplier(supplier_group_id=None), REFS, DEFAULTS)
    assert payload["supplierGroup"] == {"supplierGroupNumber": 9}


@pytest.mark.parametrize(
    ("field", "ref", "economic_field"),
    [
        ("supplier_group_id", ("supplier_group", "3"), "supplierGroup"),
        ("payment_terms_id", ("payment_term", "2"), "paymentTerms"),
    ],
)
def test_a_reference_that_could_not_be_made_is_a_permanent_error_naming_the_field(
    field: str, ref: tuple[str, str], economic_field: str
) -> None:
    refs = {key: value for key, value in REFS.items() if key != ref}
    with pytest.raises(MappingError) as raised:
        supplier.supplier_payload(rackbeat_supplier(), refs, DEFAULTS)
    assert raised.value.field == economic_field
    assert f"{ref[0]} {ref[1]}" in str(raised.value)


def test_a_supplier_without_payment_terms_is_refused() -> None:
    with pytest.raises(MappingError) as raised:
        supplier.supplier_payload(rackbeat_supplier(payment_terms_id=None), REFS, DEFAULTS)
    assert raised.value.field == "paymentTerms"


@pytest.mark.parametrize(("country", "zone"), [("Danmark", 1), ("Sverige", 2), ("Norge", 3), ("USA", 3)])
def test_the_vat_zone_follows_the_country(country: str, zone: int) -> None:
    record = rackbeat_supplier(address_country=country, vat_zone=None)
    payload = supplier.supplier_payload(record, REFS, DEFAULTS)
    assert payload["vatZone"] == {"vatZoneNumber": zone}


def test_an_unknown_country_without_a_rackbeat_zone_is_refused_not_guessed() -> None:
    record = rackbeat_supplier(address_country="Atlantis", vat_zone=None)
    with pytest.raises(MappingError) as raised:
        supplier.supplier_payload(record, REFS, DEFAULTS)
    assert raised.value.field == "vatZone"
    assert "Atlantis" in str(raised.value)


def test_the_number_follows_rackbeat_where_e_conomic_can_take_it() -> None:
    assert supplier.economic_key(rackbeat_supplier(number=7)) == 7
    assert supplier.economic_key(rackbeat_supplier(number=1_000_000_000)) is None
    payload = supplier.supplier_payload(rackbeat_supplier(number=1_000_000_000), REFS, DEFAULTS)
    assert "supplierNumber" not in payload


def test_blocked_in_rackbeat_is_barred_in_e_conomic() -> None:
    assert supplier.supplier_payload(rackbeat_supplier(is_barred=True), REFS, DEFAULTS)["barred"] is True


def test_absent_values_are_left_out_and_text_is_trimmed() -> None:
    record = rackbeat_supplier(
        contact_phone=None, address_city="  ", company_name="  Bauwerk  ", currency="eur"
    )
    payload = supplier.supplier_payload(record, REFS, DEFAULTS)
    assert "phone" not in payload and "city" not in payload
    assert payload["name"] == "Bauwerk"
    assert payload["currency"] == "EUR"


def test_both_address_lines_are_kept() -> None:
    record = rackbeat_supplier(address_street2="Tor 3")
    assert supplier.supplier_payload(record, REFS, DEFAULTS)["address"] == "Industriestraße 12\nTor 3"


def test_a_value_longer_than_e_conomic_allows_fails_before_the_call() -> None:
    payload = supplier.supplier_payload(rackbeat_supplier(address_city="H" * 51), REFS, DEFAULTS)
    with pytest.raises(MappingError) as raised:
        validate_payload(get_spec("supplier").economic, payload)
    assert raised.value.field == "city"


def test_barring_sends_back_only_writable_fields() -> None:
    document = {
        **supplier.supplier_payload(rackbeat_supplier(), REFS, DEFAULTS),
        "supplierGroup": {"supplierGroupNumber": 3, "self": "https://restapi/supplier-groups/3"},
        "costAccount": {"accountNumber": 1310, "self": "https://restapi/accounts/1310"},
        "contacts": "https://restapi/suppliers/40012/contacts",
        "self": "https://restapi/suppliers/40012",
    }
    projected = writable_projection(get_spec("supplier").economic, document)
    assert projected["supplierGroup"] == {"supplierGroupNumber": 3}
    assert projected["costAccount"] == {"accountNumber": 1310}  # a bookkeeper's choice survives the bar
    assert "self" not in projected and "contacts" not in projected


def test_supplier_events_and_spec() -> None:
    spec = REGISTRY["supplier"]
    assert spec.economic.barrable is True
    assert spec.economic.resource == "suppliers"
    assert spec_for_event("supplier.deleted") == (spec, "delete")
    assert spec_for_event("supplier_group.updated") == (REGISTRY["supplier_group"], "upsert")


# ------------------------------------------------------------------------------------- supplier groups


def test_a_supplier_group_keeps_its_number_and_gets_the_creditor_account() -> None:
    payload = supplier_group.supplier_group_payload({"number": 14, "name": " Udenlandske "}, 6810)
    assert payload == {"number": 14, "name": "Udenlandske", "accountNumber": 6810}
    assert supplier_group.economic_key({"number": "14"}) == 14


def test_a_supplier_group_update_keeps_the_account_a_bookkeeper_chose() -> None:
    spec = REGISTRY["supplier_group"]
    assert spec.economic.keep_on_update == ("accountNumber",)
    assert spec.economic.barrable is False
    assert spec.economic.resource == "suppliersapi/Groups"


def test_a_supplier_group_name_over_50_characters_fails_before_the_call() -> None:
    payload = supplier_group.supplier_group_payload({"number": 2, "name": "G" * 51}, 6800)
    with pytest.raises(MappingError) as raised:
        validate_payload(get_spec("supplier_group").economic, payload)
    assert raised.value.field == "name"


def test_the_creditor_account_comes_from_the_settings(service_settings) -> None:
    assert service_settings.supplier_group_creditor_account == 6800
    payload = supplier_group.to_economic({"number": 2, "name": "Dansk"}, MappingContext())
    assert payload["accountNumber"] == 6800


# ------------------------------------------------------------------------------------------ VAT zones


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("DK", "DK"),
        ("dk", "DK"),
        ("Danmark", "DK"),
        ("Tyskland", "DE"),
        ("Deutschland", "DE"),
        ("Holland", "NL"),
        ("UK", "GB"),
        ("Færøerne", "FO"),
        ("", None),
        (None, None),
        ("Atlantis", None),
    ],
)
def test_countries_are_read_as_codes_or_names(country: str | None, code: str | None) -> None:
    assert country_code(country) == code


@pytest.mark.parametrize(
    ("country", "home", "zone"),
    [
        ("Danmark", "DK", VatZone.DOMESTIC),
        ("Tyskland", "DK", VatZone.EU),
        ("Norge", "DK", VatZone.ABROAD),
        ("Grønland", "DK", VatZone.ABROAD),  # outside the EU VAT area although Danish
        ("Norge", "NO", VatZone.DOMESTIC),
        ("Danmark", "NO", VatZone.ABROAD),  # a company outside the EU trades with the EU as abroad
    ],
)
def test_the_zone_is_seen_from_the_home_country(country: str, home: str, zone: VatZone) -> None:
    assert vat_zone(country, home) is zone


def test_the_country_wins_over_a_stale_rackbeat_zone_but_exemption_stays() -> None:
    assert vat_zone("Sverige", "DK", "domestic") is VatZone.EU
    assert vat_zone("Danmark", "DK", "domestic_exempt") is VatZone.DOMESTIC_EXEMPT


def test_without_a_readable_country_rackbeat_s_zone_decides_then_domestic() -> None:
    assert vat_zone("Atlantis", "DK", "abroad") is VatZone.ABROAD
    assert vat_zone(None, "DK", None) is VatZone.DOMESTIC
    with pytest.raises(UnknownCountry):
        vat_zone("Atlantis", "DK", None)


def test_the_home_country_is_the_companys_setting_shared_with_customers(service_settings) -> None:
    assert service_settings.company_home_country == "DK"
    assert MappingDefaults.from_settings(service_settings).home_country == "DK"
    record = rackbeat_supplier(address_country="Danmark", vat_zone=None)
    assert supplier.to_economic(record, MappingContext(refs=REFS))["vatZone"] == {"vatZoneNumber": 1}
