"""The poster (tasks.sync.poster): a booked Rackbeat customer invoice into e-conomic exactly once, against
both sandboxes over loopback HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from clients.errors import TransientError
from tasks.entities.base import MappingDefaults
from tasks.errors import MappingError, TotalsDiffer
from tasks.settings import get_settings
from tasks.sync.bindings import BindingStore
from tasks.sync.connections import process_clients
from tasks.sync.exporter import Exporter
from tasks.sync.poster import Poster, PostingPolicy
from tasks.sync.results import TransferResult
from tasks.transfer import build_store
from tests.engine.test_exporter import economic_writes, export_settings, make_group, make_product, sandboxes  # noqa: F401  (fixtures)

DEFAULTS = MappingDefaults(customer_default_layout=19)


def post(key: Any, **policy: Any) -> TransferResult:
    poster = Poster(process_clients(), build_store(), DEFAULTS, policy=PostingPolicy(**policy))
    return poster.transfer("customer_invoice", str(key))


def booked_invoice(
    rackbeat: Any, *, booked: bool = True, customer: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    terms = rackbeat.sandbox.create("payment-terms", {"name": "Netto 8", "type": "net", "maturity_days": 8})
    group = make_group(rackbeat)
    make_product(rackbeat, "INV-1", group, sales_price=100.0)
    make_product(rackbeat, "INV-2", group, sales_price=12.5)
    party = rackbeat.sandbox.create(
        "customers",
        {
            "company_name": "Kunde A/S",
            "payment_terms_id": terms["number"],
            "address_country": "Danmark",
            "currency": "DKK",
            **(customer or {}),
        },
    )
    body = {
        "customer_id": party["number"],
        "invoice_date": "2026-11-30",
        "heading": "Levering uge 48",
        "lines": [
            {"item_id": "INV-1", "quantity": 2},
            {"item_id": "INV-2", "quantity": 3, "discount_percentage": 10},
        ],
        **fields,
    }
    return rackbeat.sandbox.create("customer-invoices", body, booked=booked)


def another_invoice(rackbeat: Any, like: dict[str, Any], item: str) -> dict[str, Any]:
    body = {
        "customer_id": like["customer_id"],
        "invoice_date": "2026-11-30",
        "lines": [{"item_id": item, "quantity": 1}],
    }
    return rackbeat.sandbox.create("customer-invoices", body, booked=True)


def drafts(economic: Any) -> list[dict[str, Any]]:
    return economic.sandbox.dump("invoices/drafts")


def booked(economic: Any) -> list[dict[str, Any]]:
    return economic.sandbox.dump("invoices/booked")


def invoice_writes(economic: Any) -> list[dict[str, Any]]:
    return [w for w in economic_writes(economic) if w["path"].startswith("/invoices")]


def test_a_booked_invoice_becomes_one_priced_draft_carrying_its_rackbeat_number(
    sandboxes: tuple[Any, Any],  # noqa: F811
    bindings: BindingStore,
) -> None:
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat)

    result = post(invoice["number"])

    [draft] = drafts(economic)
    assert result.outcome == "created" and result.economic_key == draft["draftInvoiceNumber"]
    assert draft["references"]["other"] == f"Rackbeat invoice {invoice['number']}"
    assert draft["notes"]["heading"] == "Levering uge 48"
    assert [(line["product"]["productNumber"], line["quantity"]) for line in draft["lines"]] == [
        ("INV-1", 2),
        ("INV-2", 3),
    ]
    assert f"{draft['grossAmount']:.2f}" == f"{invoice['total_total']:.2f}"
    binding = bindings.get("customer_invoice", str(invoice["number"]))
    assert binding is not None and binding.economic_resource == "invoices/drafts"

    writes = len(invoice_writes(economic))
    assert post(invoice["number"]).outcome == "unchanged"
    assert len(invoice_writes(economic)) == writes


def test_booking_uses_the_rackbeat_number_and_a_taken_one_falls_back_to_e_conomic_s(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    first = booked_invoice(rackbeat)
    second = rackbeat.sandbox.create(
        "customer-invoices",
        {
            "customer_id": first["customer_id"],
            "invoice_date": "2026-11-30",
            "lines": [{"item_id": "INV-1", "quantity": 1}],
        },
        booked=True,
    )
    # e-conomic already holds a booked invoice under the second one's number
    taken = post(first["number"], book=True, book_with_source_number=True)
    assert [b["bookedInvoiceNumber"] for b in booked(economic)] == [first["number"]] == [taken.economic_key]
    clash = rackbeat.sandbox.create(
        "customer-invoices",
        {
            "customer_id": first["customer_id"],
            "invoice_date": "2026-11-30",
            "lines": [{"item_id": "INV-2", "quantity": 1}],
        },
        booked=True,
    )
    assert post(second["number"], book=True).economic_key == second["number"]

    result = post(clash["number"], book=True)

    numbers = sorted(b["bookedInvoiceNumber"] for b in booked(economic))
    assert len(numbers) == 3 and len(set(numbers)) == 3
    assert result.outcome == "created" and result.economic_key in numbers
    assert drafts(economic) == []
    assert post(clash["number"], book=True).outcome == "unchanged"


def test_an_unbooked_invoice_is_never_sent(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat, booked=False)

    assert post(invoice["number"]).outcome == "ignored"
    assert invoice_writes(economic) == []


def test_a_lost_answer_is_found_by_its_reference_not_posted_twice(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat)
    reference = f"Rackbeat invoice {invoice['number']}"
    exporter = Exporter(process_clients(), build_store(), DEFAULTS)
    for kind, key in [("customer", invoice["customer_id"]), ("product", "INV-1"), ("product", "INV-2")]:
        exporter.transfer(kind, str(key))  # so the faults below meet the invoice's own write
    # every attempt of the call-level retry commits the draft and loses the answer
    economic.sandbox.faults.set(commit_then_fail=1 + get_settings().http_call_retries)
    with pytest.raises(TransientError):
        post(invoice["number"])
    assert [d["references"]["other"] for d in drafts(economic)] == [reference]  # written, never heard of
    economic.sandbox.idempotency.clear()  # past e-conomic's replay hour: only the reference can tell

    result = post(invoice["number"])

    [draft] = drafts(economic)
    assert (result.outcome, result.economic_key) == ("created", draft["draftInvoiceNumber"])
    assert post(invoice["number"]).outcome == "unchanged"


def test_a_different_price_in_e_conomic_takes_the_draft_back_and_names_both_totals(
    sandboxes: tuple[Any, Any],  # noqa: F811
    bindings: BindingStore,
) -> None:
    rackbeat, economic = sandboxes
    # Rackbeat charged no VAT (EU zone) to a customer e-conomic sees in Denmark, which charges 25 %
    invoice = booked_invoice(rackbeat, customer={"vat_zone": "eu"})

    with pytest.raises(TotalsDiffer) as refused:
        post(invoice["number"], book=True)

    assert refused.value.source_total == f"{invoice['total_total']:.2f}"
    assert "grossAmount" in refused.value.field_errors
    assert drafts(economic) == [] and booked(economic) == []
    assert bindings.get("customer_invoice", str(invoice["number"])) is None


def test_an_ean_invoice_without_their_reference_is_refused_naming_it(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat, customer={"ean": "5790000000001"})

    with pytest.raises(MappingError) as refused:
        post(invoice["number"], book=True)

    assert refused.value.field == "references.other"
    assert invoice_writes(economic) == []


def test_never_book_ean_keeps_an_ean_invoice_a_draft(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat, customer={"ean": "5790000000001"}, their_reference="Indkøb, Jens")

    result = post(invoice["number"], book=True, never_book_electronic=True)

    [draft] = drafts(economic)
    assert result.economic_key == draft["draftInvoiceNumber"] and draft["recipient"]["ean"] == "5790000000001"
    assert booked(economic) == []


def test_a_credit_note_goes_as_negative_quantities(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat, lines=[{"item_id": "INV-1", "quantity": -1}])

    post(invoice["number"], book=True)

    [credit] = booked(economic)
    assert credit["grossAmount"] < 0 and f"{credit['grossAmount']:.2f}" == f"{invoice['total_total']:.2f}"


# --- supplier invoices: journal vouchers ----------------------------------------------------------------

VOUCHERS = MappingDefaults(
    supplier_invoice_journal=2,
    supplier_invoice_accounts={"*": {"domestic": 1310, "eu": 1320, "abroad": 1320}},
)


def post_voucher(key: Any, defaults: MappingDefaults = VOUCHERS, **policy: Any) -> TransferResult:
    poster = Poster(process_clients(), build_store(), defaults, policy=PostingPolicy(**policy))
    return poster.transfer("supplier_invoice", str(key))


def booked_supplier_invoice(rackbeat: Any, **fields: Any) -> dict[str, Any]:
    terms = rackbeat.sandbox.create("payment-terms", {"name": "Netto 30", "type": "net", "maturity_days": 30})
    office = make_group(rackbeat, "Kontor")
    goods = make_group(rackbeat, "Varer")
    make_product(rackbeat, "PAPER", office, cost_price=40.0)
    make_product(rackbeat, "BOLT", goods, cost_price=2.0)
    supplier = rackbeat.sandbox.create(
        "suppliers",
        {
            "company_name": "Leverandør A/S",
            "payment_terms_id": terms["number"],
            "address_country": "Danmark",
            "currency": "DKK",
        },
    )
    body = {
        "supplier_id": supplier["number"],
        "invoice_date": "2026-11-30",
        "supplier_invoice_number": "F-1001",
        "lines": [
            {"item_id": "PAPER", "quantity": 3, "line_price": 40.0},
            {"item_id": "BOLT", "quantity": 100, "line_price": 2.0},
        ],
        **fields,
    }
    invoice = rackbeat.sandbox.create("supplier-invoices", body, booked=True)
    return {**invoice, "office_group": office["number"], "goods_group": goods["number"]}


def journal_entries(economic: Any) -> list[dict[str, Any]]:
    return economic.sandbox.dump("journal-entries")


def test_a_booked_supplier_invoice_becomes_one_voucher_one_entry_per_expense_account(
    sandboxes: tuple[Any, Any],  # noqa: F811
    bindings: BindingStore,
) -> None:
    rackbeat, economic = sandboxes
    invoice = booked_supplier_invoice(rackbeat)
    accounts = {"*": {"domestic": 1310}, str(invoice["office_group"]): {"domestic": 3600}}
    defaults = MappingDefaults(supplier_invoice_journal=2, supplier_invoice_accounts=accounts)

    result = post_voucher(invoice["number"], defaults)

    entries = journal_entries(economic)
    assert {e["contraAccount"]["accountNumber"]: e["amount"] for e in entries} == {3600: 150.0, 1310: 250.0}
    assert sum(e["amount"] for e in entries) == invoice["total_total"]
    assert {e["text"] for e in entries} == {f"Rackbeat supplier invoice {invoice['number']}"}
    assert {e["supplierInvoiceNumber"] for e in entries} == {"F-1001"}
    assert {e["contraVatAccount"]["vatCode"] for e in entries} == {"I25"}  # each account's own VAT code
    assert result.outcome == "created"
    binding = bindings.get("supplier_invoice", str(invoice["number"]))
    assert binding is not None and binding.economic_resource == "journals/vouchers"
    assert post_voucher(invoice["number"], defaults).outcome == "unchanged"
    assert len(journal_entries(economic)) == 2


def test_auto_booking_books_exactly_the_voucher_it_wrote(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_supplier_invoice(rackbeat)
    exporter = Exporter(process_clients(), build_store(), VOUCHERS)
    supplier = exporter.transfer("supplier", str(invoice["supplier_id"]))
    by_hand = {  # an entry a bookkeeper keeps in the same journal: it stays a draft
        "supplier": {"supplierNumber": supplier.economic_key},
        "amount": 10.0,
        "date": "2026-11-30",
        "contraAccount": {"accountNumber": 3600},
        "text": "by hand",
    }
    process_clients().economic.create(
        "journals/2/vouchers",
        {"accountingYear": {"year": "2026"}, "entries": {"supplierInvoices": [by_hand]}},
        idempotency_key="by-hand",
    )

    result = post_voucher(invoice["number"], book_vouchers=True)

    assert [e["text"] for e in journal_entries(economic)] == ["by hand"]
    year_entries = economic.sandbox.dump("booked-entries")
    booked = [e for e in year_entries if e.get("text", "").startswith("Rackbeat")]
    assert booked and result.economic_key.startswith("2026-")
    assert post_voucher(invoice["number"], book_vouchers=True).outcome == "unchanged"


def test_a_voucher_without_its_settings_is_refused_naming_them(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_supplier_invoice(rackbeat)

    with pytest.raises(MappingError, match="RBSYNC_SUPPLIER_INVOICE_JOURNAL"):
        post_voucher(invoice["number"], MappingDefaults())
    with pytest.raises(MappingError, match="RBSYNC_SUPPLIER_INVOICE_ACCOUNTS"):
        post_voucher(invoice["number"], MappingDefaults(supplier_invoice_journal=2))
    assert journal_entries(economic) == []


def test_a_lost_voucher_answer_is_found_by_its_text_not_posted_twice(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_supplier_invoice(rackbeat)
    Exporter(process_clients(), build_store(), VOUCHERS).transfer("supplier", str(invoice["supplier_id"]))
    economic.sandbox.faults.set(commit_then_fail=1 + get_settings().http_call_retries)
    with pytest.raises(TransientError):
        post_voucher(invoice["number"])
    economic.sandbox.idempotency.clear()

    result = post_voucher(invoice["number"])

    assert result.outcome == "created"
    assert len(journal_entries(economic)) == 1  # one account for both lines: one entry, posted once


def test_an_invoice_carries_its_e_conomic_project_and_one_e_conomic_lacks_is_refused_naming_it(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    for number in (7, 8):  # projects come from e-conomic and are copied to Rackbeat with their number
        rackbeat.sandbox.create("projects", {"number": number, "name": f"Projekt {number}"})
    economic.sandbox.store.put("projects", 7, {"number": 7, "name": "Projekt 7", "projectGroupNumber": 2})
    linked = booked_invoice(rackbeat, project_id=7, their_reference="Indkøb, Jens")
    lines = [{"item_id": "INV-1", "quantity": 1}]
    body = {
        "customer_id": linked["customer_id"],
        "invoice_date": "2026-11-30",
        "lines": lines,
        "project_id": 8,
    }
    missing = rackbeat.sandbox.create("customer-invoices", body, booked=True)

    post(linked["number"])
    with pytest.raises(MappingError) as refused:
        post(missing["number"])

    [draft] = drafts(economic)
    assert draft["project"]["projectNumber"] == 7 and draft["notes"]["textLine1"] == "Indkøb, Jens"
    assert refused.value.field == "project" and "no project 8" in str(refused.value)


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_the_users_pdf_goes_along_once_and_before_booking(sandboxes: tuple[Any, Any]) -> None:  # noqa: F811
    rackbeat, economic = sandboxes
    invoice = booked_supplier_invoice(rackbeat)
    rackbeat.sandbox.attach(
        "supplier-invoices", invoice["number"], "faktura-F-1001.pdf", PDF, "application/pdf"
    )

    result = post_voucher(invoice["number"], book_vouchers=True)
    again = post_voucher(invoice["number"], book_vouchers=True)

    attached = process_clients().economic.voucher_attachment(2, result.economic_key)
    assert attached is not None and again.outcome == "unchanged"
    uploads = [w for w in economic_writes(economic) if w["path"].endswith("/attachment/file")]
    assert len(uploads) == 1


def test_a_pdf_over_5_mb_stays_behind_with_a_dead_letter_of_its_own_naming_its_size(
    sandboxes: tuple[Any, Any],  # noqa: F811
    dlq_store: Any,
) -> None:
    rackbeat, economic = sandboxes
    invoice = booked_supplier_invoice(rackbeat)
    big = PDF + b"0" * (5 * 1024 * 1024)
    rackbeat.sandbox.attach("supplier-invoices", invoice["number"], "scan.pdf", big, "application/pdf")

    result = post_voucher(invoice["number"])

    assert result.outcome == "created" and len(journal_entries(economic)) == 1  # the voucher went
    assert process_clients().economic.voucher_attachment(2, result.economic_key) is None
    [letter] = [
        e for e in dlq_store.list(kind="supplier_invoice") if e["key"].startswith(f"{invoice['number']}:")
    ]
    assert letter["error_class"] == "AttachmentTooLarge" and f"{len(big):,} bytes" in letter["error"]
    assert letter["args"] == ["supplier_invoice", str(invoice["number"])]
