"""The poster (tasks.sync.poster): a booked Rackbeat customer invoice into e-conomic exactly once, against
both sandboxes over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from clients.errors import TransientError
from tasks.entities.base import MappingDefaults
from tasks.errors import MappingError, PostedDocumentChanged, TotalsDiffer
from tasks.settings import get_settings
from tasks.sync.bindings import BindingStore
from tasks.sync.claims import PostingClaims
from tasks.sync.connections import process_clients
from tasks.sync.exporter import Exporter
from tasks.sync.poster import Poster, PostingPolicy
from tasks.sync.results import TransferResult
from tasks.transfer import build_store
from tests.engine.test_exporter import (  # noqa: F401  (fixtures)
    economic_writes,
    export_settings,
    make_group,
    make_product,
    sandboxes,
)

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


# --- calls per document: what the bindings already know is not read again ------------------------------


def requests_since(rackbeat: Any, economic: Any, marks: tuple[int, int]) -> list[str]:
    """`METHOD api path` of each request either sandbox served since `marks` (their logs' lengths)."""
    served = [("rackbeat", e) for e in rackbeat.sandbox.request_log.entries()[marks[0] :]]
    served += [("e-conomic", e) for e in economic.sandbox.request_log.entries()[marks[1] :]]
    return sorted(f"{entry['method']} {api} {entry['path'].removeprefix('/api')}" for api, entry in served)


def marks(rackbeat: Any, economic: Any) -> tuple[int, int]:
    return len(rackbeat.sandbox.request_log), len(economic.sandbox.request_log)


def posted_as_the_task_does(kind: str, key: Any, defaults: MappingDefaults, **policy: Any) -> TransferResult:
    """A posting as `rbsync.export_record` runs it: afterwards every record it brought across (the document
    and the dependencies it exported) is marked with the Rackbeat version it saw."""
    store = build_store()
    result = Poster(process_clients(), store, defaults, policy=PostingPolicy(**policy)).transfer(
        kind, str(key)
    )
    for done in result.all_results():
        if done.source_version:
            store.bindings.mark_seen(done.kind, done.key, done.source_version, datetime.now(UTC))
    return result


def test_an_invoice_whose_customer_terms_and_products_were_brought_across_costs_four_calls(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    first = booked_invoice(rackbeat)
    posted_as_the_task_does("customer_invoice", first["number"], DEFAULTS, book=True)  # exports them all
    second = another_invoice(rackbeat, first, "INV-2")
    before = marks(rackbeat, economic)

    result = posted_as_the_task_does("customer_invoice", second["number"], DEFAULTS, book=True)

    # the invoice, its customer (for its EAN: the customer the invoice embeds carries its name, not its
    # EAN), the draft and its booking; the customer and the product are referred to by their bindings'
    # keys, unread, and the terms the invoice embeds map to what was written for them
    assert requests_since(rackbeat, economic, before) == [
        f"GET rackbeat /customer-invoices/{second['number']}",
        f"GET rackbeat /customers/{first['customer_id']}",
        "POST e-conomic /invoices/booked",
        "POST e-conomic /invoices/drafts",
    ]
    assert (result.outcome, result.api_calls) == ("created", 4)
    terms = str(second["payment_terms_id"])
    assert [(d.kind, d.key, d.outcome, d.api_calls) for d in result.dependencies] == [
        ("payment_term", terms, "unchanged", 0)
    ]
    [draft_booked] = [b for b in booked(economic) if b["bookedInvoiceNumber"] == result.economic_key]
    assert draft_booked["customer"]["customerNumber"] == first["customer_id"]
    assert draft_booked["recipient"]["name"] == "Kunde A/S"
    assert f"{draft_booked['grossAmount']:.2f}" == f"{second['total_total']:.2f}"


def test_a_dependency_not_yet_brought_across_is_still_exported_first(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    first = booked_invoice(rackbeat)
    posted_as_the_task_does("customer_invoice", first["number"], DEFAULTS)
    make_product(rackbeat, "INV-NEW", make_group(rackbeat, "Nyt"), sales_price=40.0)
    second = another_invoice(rackbeat, first, "INV-NEW")

    result = posted_as_the_task_does("customer_invoice", second["number"], DEFAULTS)

    transferred = [(d.kind, d.key, d.outcome) for d in result.dependencies if d.outcome != "unchanged"]
    assert transferred == [("product", "INV-NEW", "created")]
    assert "INV-NEW" in {p["productNumber"] for p in economic.sandbox.dump("products")}
    [draft] = [d for d in drafts(economic) if d["draftInvoiceNumber"] == result.economic_key]
    assert [line["product"]["productNumber"] for line in draft["lines"]] == ["INV-NEW"]


def test_payment_terms_changed_since_they_were_brought_across_are_transferred_before_the_invoice(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    first = booked_invoice(rackbeat)
    posted_as_the_task_does("customer_invoice", first["number"], DEFAULTS, book=True)
    terms = first["payment_terms_id"]
    # renamed in Rackbeat; the terms' own transfer has not run yet (e-conomic derives the due date from its
    # copy of the terms, so an invoice must not be booked against an older one)
    rackbeat.sandbox.update("payment-terms", terms, {"name": "Netto 8 dage"}, suppress=True)
    second = another_invoice(rackbeat, first, "INV-1")

    result = posted_as_the_task_does("customer_invoice", second["number"], DEFAULTS, book=True)

    assert [(d.kind, d.key, d.outcome) for d in result.dependencies] == [
        ("payment_term", str(terms), "replaced")
    ]
    assert [t["name"] for t in economic.sandbox.dump("payment-terms") if t["name"].startswith("Netto 8")] == [
        "Netto 8 dage"
    ]


def test_a_customer_given_an_ean_since_it_was_brought_across_makes_the_next_invoice_an_ean_invoice(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    first = booked_invoice(rackbeat)
    posted_as_the_task_does("customer_invoice", first["number"], DEFAULTS, book=True)
    # the customer's own transfer has not run yet: its binding still holds the version without an EAN
    rackbeat.sandbox.update("customers", first["customer_id"], {"ean": "5790000000001"}, suppress=True)
    second = another_invoice(rackbeat, first, "INV-1")

    with pytest.raises(MappingError) as refused:  # an EAN invoice needs their reference
        posted_as_the_task_does("customer_invoice", second["number"], DEFAULTS, book=True)

    assert refused.value.field == "references.other"
    third = rackbeat.sandbox.create(
        "customer-invoices",
        {
            "customer_id": first["customer_id"],
            "invoice_date": "2026-11-30",
            "their_reference": "Indkøb, Jens",
            "lines": [{"item_id": "INV-1", "quantity": 1}],
        },
        booked=True,
    )
    result = posted_as_the_task_does(
        "customer_invoice", third["number"], DEFAULTS, book=True, never_book_electronic=True
    )
    [draft] = drafts(economic)  # kept a draft, with the EAN read at posting
    assert draft["draftInvoiceNumber"] == result.economic_key and draft["recipient"]["ean"] == "5790000000001"


def test_a_supplier_invoice_whose_supplier_was_brought_across_costs_five_calls(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    first = booked_supplier_invoice(rackbeat)
    posted_as_the_task_does("supplier_invoice", first["number"], VOUCHERS, book_vouchers=True)
    body = {
        "supplier_id": first["supplier_id"],
        "invoice_date": "2026-11-30",
        "supplier_invoice_number": "F-1002",
        "lines": [{"item_id": "BOLT", "quantity": 10, "line_price": 2.0}],
    }
    second = rackbeat.sandbox.create("supplier-invoices", body, booked=True)
    before = marks(rackbeat, economic)

    result = posted_as_the_task_does("supplier_invoice", second["number"], VOUCHERS, book_vouchers=True)

    # the invoice carries its supplier's country and VAT zone, and the setting has no row by product group,
    # so neither the supplier nor the product is read; the voucher's entries are booked by the numbers the
    # post answered with
    assert requests_since(rackbeat, economic, before) == [
        "GET e-conomic /accounts/1310",
        f"GET rackbeat /supplier-invoices/{second['number']}",
        f"GET rackbeat /supplier-invoices/{second['number']}/attachments",
        "POST e-conomic /journals/2/vouchers",
        "POST e-conomic /journalsapi/v15.0.0/journals/2/bookdraftentries",
    ]
    assert (result.outcome, result.api_calls) == ("created", 5)
    texts = [e["text"] for e in economic.sandbox.dump("booked-entries") if "supplier" in e]
    assert texts.count(f"Rackbeat supplier invoice {second['number']}") == 1
    assert journal_entries(economic) == []


def test_a_voucher_bound_by_an_attempt_that_died_before_its_pdf_gets_the_pdf_before_booking(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    invoice = booked_supplier_invoice(rackbeat)
    key = str(invoice["number"])
    posted = post_voucher(key)  # posted, not booked
    # what an attempt killed between binding the voucher and attaching the user's PDF leaves: the voucher
    # bound, its claim still at the post, no attachment in e-conomic
    rackbeat.sandbox.attach("supplier-invoices", invoice["number"], "faktura.pdf", PDF, "application/pdf")
    PostingClaims(build_store().bindings.client, get_settings().connection_id).mark(
        "supplier_invoice", key, "post"
    )
    assert process_clients().economic.voucher_attachment(2, posted.economic_key) is None

    result = post_voucher(key, book_vouchers=True)

    assert result.outcome == "created"
    assert process_clients().economic.voucher_attachment(2, posted.economic_key) is not None
    uploads = [w for w in economic_writes(economic) if w["path"].endswith("/attachment/file")]
    assert len(uploads) == 1
    assert post_voucher(key, book_vouchers=True).outcome == "unchanged"


def test_a_repeated_delivery_of_a_booked_invoice_costs_the_read_of_the_invoice_only(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat)
    posted = post(invoice["number"], book=True)
    before = marks(rackbeat, economic)

    again = post(invoice["number"], book=True)

    assert (again.outcome, again.economic_key, again.api_calls) == ("unchanged", posted.economic_key, 1)
    assert requests_since(rackbeat, economic, before) == [
        f"GET rackbeat /customer-invoices/{invoice['number']}"
    ]


def test_an_invoice_changed_in_rackbeat_after_booking_is_refused_not_posted_again(
    sandboxes: tuple[Any, Any],  # noqa: F811
) -> None:
    rackbeat, economic = sandboxes
    invoice = booked_invoice(rackbeat)
    post(invoice["number"], book=True)
    writes = len(invoice_writes(economic))
    # unbooked, changed and booked again in Rackbeat (the sandbox refuses to change a booked invoice, so
    # its stored record is changed as Rackbeat would hold it afterwards)
    stored = rackbeat.sandbox.get("customer-invoices", invoice["number"])
    rackbeat.sandbox.store.collections["customer-invoices"].put({**stored, "invoice_date": "2026-12-01"})

    with pytest.raises(PostedDocumentChanged, match="changed after it was posted"):
        post(invoice["number"], book=True)

    assert len(invoice_writes(economic)) == writes and len(booked(economic)) == 1
