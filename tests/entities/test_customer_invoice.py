"""Customer invoices -> e-conomic draft invoices: the pure mapping (tasks.entities.customer_invoice), and
which facts of the customer it takes from the invoice itself and which it asks the customer's record for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tasks.entities import customer_invoice
from tasks.entities.base import MappingContext, MappingDefaults, Record, RecordRef
from tasks.errors import MappingError

CUSTOMER = ("customer", "5")


class Asked(Mapping[RecordRef, Record]):
    """The related records, noting which ones the mapper asked for (as the poster reads them: on asking)."""

    def __init__(self, records: dict[RecordRef, Record]) -> None:
        self.records = records
        self.asked: list[RecordRef] = []

    def __getitem__(self, ref: RecordRef) -> Record:
        self.asked.append(ref)
        return self.records[ref]

    def __iter__(self) -> Iterator[RecordRef]:
        raise AssertionError("the mapper asks for records by ref; it does not list them")

    def __len__(self) -> int:
        return len(self.records)


def context(customer: dict[str, Any]) -> tuple[MappingContext, Asked]:
    related = Asked({CUSTOMER: {"number": 5, "company_name": "Kunde A/S", **customer}})
    refs = {CUSTOMER: 5, ("payment_term", "1"): 1, ("product", "INV-1"): "INV-1"}
    return MappingContext(
        refs=refs, related=related, defaults=MappingDefaults(customer_default_layout=19)
    ), related


def invoice(**fields: Any) -> dict[str, Any]:
    return {
        "number": 1021,
        "customer_id": 5,
        "payment_terms_id": 1,
        "invoice_date": "2026-11-30",
        "currency": "DKK",
        "address_country": "Danmark",
        "lines": [{"child_id": "INV-1", "child_type": "product", "quantity": 2, "line_price": 100.0}],
        # as Rackbeat embeds the customer: its name and VAT zone, not its EAN
        "customer": {"number": 5, "company_name": "Kunde A/S", "vat_zone": "domestic"},
        **fields,
    }


def test_the_customer_is_asked_for_its_ean_only_and_its_name_comes_from_the_invoice() -> None:
    mapping, related = context({"ean": None, "company_name": "Another name"})

    draft = customer_invoice.to_economic(invoice(), mapping)

    assert draft["recipient"]["name"] == "Kunde A/S" and "ean" not in draft["recipient"]
    assert set(related.asked) == {CUSTOMER}


def test_an_invoice_whose_embedded_customer_carries_its_ean_reads_no_customer() -> None:
    mapping, related = context({"ean": "5790000000001"})
    embedded = {"number": 5, "company_name": "Kunde A/S", "ean": None}

    draft = customer_invoice.to_economic(invoice(customer=embedded), mapping)

    assert related.asked == [] and "ean" not in draft["recipient"]
    assert not customer_invoice.is_electronic(invoice(customer=embedded), mapping)


def test_the_ean_read_from_the_customer_makes_an_ean_invoice_with_its_rules() -> None:
    mapping, _ = context({"ean": "5790000000001"})

    with pytest.raises(MappingError) as refused:
        customer_invoice.to_economic(invoice(), mapping)
    assert refused.value.field == "references.other"

    draft = customer_invoice.to_economic(invoice(their_reference="Indkøb, Jens"), mapping)
    assert draft["recipient"]["ean"] == "5790000000001"
    assert customer_invoice.is_electronic(invoice(), mapping)


def test_an_invoice_without_its_own_country_takes_the_customer_s() -> None:
    mapping, related = context({"ean": None, "address_country": "Sverige"})

    draft = customer_invoice.to_economic(invoice(address_country=None), mapping)

    assert draft["recipient"]["country"] == "Sverige" and draft["recipient"]["vatZone"] == {
        "vatZoneNumber": 2
    }
    assert set(related.asked) == {CUSTOMER}


def test_an_embedded_view_of_another_customer_is_not_taken_for_this_one() -> None:
    mapping, related = context({"ean": None})
    other = {"number": 6, "company_name": "Someone else", "ean": None}

    draft = customer_invoice.to_economic(invoice(customer=other), mapping)

    assert draft["recipient"]["name"] == "Kunde A/S" and set(related.asked) == {CUSTOMER}
