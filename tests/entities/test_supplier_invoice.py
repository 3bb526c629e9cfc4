"""Supplier invoices -> journal vouchers: the pure mapping (tasks.entities.supplier_invoice)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tasks.entities import supplier_invoice
from tasks.entities.base import MappingContext, MappingDefaults, Record, RecordRef
from tasks.errors import MappingError

ACCOUNTS = {"*": {"domestic": 1310, "eu": 1320}, "7": {"domestic": 3600}}


def context(**defaults: Any) -> MappingContext:
    related = {
        ("supplier", "3"): {"number": 3, "address_country": "Danmark"},
        ("product", "PAPER"): {"number": "PAPER", "group_id": 7},
        ("product", "BOLT"): {"number": "BOLT", "group_id": 8},
    }
    chosen = {"supplier_invoice_journal": 2, "supplier_invoice_accounts": ACCOUNTS, **defaults}
    return MappingContext(refs={("supplier", "3"): 3}, related=related, defaults=MappingDefaults(**chosen))


def invoice(**fields: Any) -> dict[str, Any]:
    lines = [
        {"child_id": "PAPER", "total": 120.0, "vat_percentage": 25},
        {"child_id": "BOLT", "total": 82.5, "vat_percentage": 25},
    ]
    return {
        "number": 41,
        "supplier_id": 3,
        "invoice_date": "2026-11-30",
        "due_date": "2026-12-30",
        "total_total": 253.12,
        "currency": "dkk",
        "lines": lines,
        **fields,
    }


def test_one_entry_per_expense_account_adding_up_to_rackbeats_total() -> None:
    voucher = supplier_invoice.to_economic(invoice(), context())

    assert voucher["journal"] == {"journalNumber": 2} and voucher["accountingYear"] == {"year": "2026"}
    entries = voucher["entries"]["supplierInvoices"]
    # 82.5 + 25 % rounds to 103.13, but Rackbeat rounded its VAT once (253.12): the largest account absorbs it
    assert {e["contraAccount"]["accountNumber"]: e["amount"] for e in entries} == {3600: 149.99, 1310: 103.13}
    shared = {
        (e["supplier"]["supplierNumber"], e["text"], e["dueDate"], e["currency"]["code"]) for e in entries
    }
    assert shared == {(3, "Rackbeat supplier invoice 41", "2026-12-30", "DKK")}
    assert {e["supplierInvoiceNumber"] for e in entries} == {"41"}  # no supplier number: Rackbeat's


def test_lines_that_do_not_make_the_total_are_refused() -> None:
    with pytest.raises(MappingError, match=r"Rackbeat's total is 300\.00"):
        supplier_invoice.to_economic(invoice(total_total=300.0), context())


def test_the_account_follows_the_supplier_s_vat_zone() -> None:
    eu = context()
    related = {**eu.related, ("supplier", "3"): {"number": 3, "address_country": "Sverige"}}
    voucher = supplier_invoice.to_economic(
        invoice(lines=[{"child_id": "BOLT", "total": 100.0, "vat_percentage": 0}], total_total=100.0),
        MappingContext(refs=eu.refs, related=related, defaults=eu.defaults),
    )
    [entry] = voucher["entries"]["supplierInvoices"]
    assert entry["contraAccount"] == {"accountNumber": 1320}


@pytest.mark.parametrize(
    ("defaults", "setting"),
    [
        ({"supplier_invoice_journal": None}, "RBSYNC_SUPPLIER_INVOICE_JOURNAL"),
        ({"supplier_invoice_accounts": {"7": {"domestic": 3600}}}, "RBSYNC_SUPPLIER_INVOICE_ACCOUNTS"),
    ],
)
def test_missing_settings_are_refused_naming_them(defaults: dict[str, Any], setting: str) -> None:
    with pytest.raises(MappingError, match=re.escape(setting)):
        supplier_invoice.to_economic(invoice(), context(**defaults))


class Asked(Mapping[RecordRef, Record]):
    """The related records, noting which ones the mapper asked for (as the poster reads them: on asking)."""

    def __init__(self, records: Mapping[RecordRef, Record]) -> None:
        self.records = records
        self.asked: list[RecordRef] = []

    def __getitem__(self, ref: RecordRef) -> Record:
        self.asked.append(ref)
        return self.records[ref]

    def __iter__(self) -> Iterator[RecordRef]:
        raise AssertionError("the mapper asks for records by ref; it does not list them")

    def __len__(self) -> int:
        return len(self.records)


def asking(accounts: dict[str, dict[str, int]]) -> tuple[MappingContext, Asked]:
    given = context(supplier_invoice_accounts=accounts)
    related = Asked(given.related)
    return MappingContext(refs=given.refs, related=related, defaults=given.defaults), related


def test_an_invoice_carrying_its_zone_under_a_setting_without_group_rows_reads_nothing() -> None:
    mapping, related = asking({"*": {"domestic": 1310}, "7": {"eu": 3600}})  # no group row for domestic

    voucher = supplier_invoice.to_economic(invoice(address_country="Danmark", vat_zone="domestic"), mapping)

    assert related.asked == []
    [entry] = voucher["entries"]["supplierInvoices"]
    assert entry["contraAccount"] == {"accountNumber": 1310} and entry["amount"] == 253.12


def test_a_group_row_in_the_zone_has_each_line_s_product_read_for_its_group() -> None:
    mapping, related = asking(ACCOUNTS)

    voucher = supplier_invoice.to_economic(invoice(address_country="Danmark", vat_zone="domestic"), mapping)

    assert sorted(related.asked) == [("product", "BOLT"), ("product", "PAPER")]
    accounts = {e["contraAccount"]["accountNumber"] for e in voucher["entries"]["supplierInvoices"]}
    assert accounts == {3600, 1310}


def test_the_supplier_is_read_only_for_what_the_invoice_lacks() -> None:
    mapping, related = asking({"*": {"domestic": 1310, "eu": 1320}})
    embedded = {"number": 3, "vat_zone": "domestic"}  # as Rackbeat embeds it: no country

    supplier_invoice.to_economic(invoice(supplier=embedded), mapping)  # no country of its own

    assert related.asked == [("supplier", "3")]
