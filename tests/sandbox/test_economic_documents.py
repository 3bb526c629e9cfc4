"""Sales documents and journals in the e-conomic sandbox: server-side pricing, booking, orders, vouchers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.economic import EconomicSandbox
from sandbox.economic.testing import CUSTOMER, PRODUCT, SUPPLIER, client, draft_invoice, serve


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def http(server: tuple[EconomicSandbox, str]) -> Iterator[httpx.Client]:
    server[0].reset()
    with client(server[1]) as session:
        assert session.post("customers", json=CUSTOMER).status_code == 201
        assert session.post("products", json={**PRODUCT, "unit": {"unitNumber": 1}}).status_code == 201
        assert session.post("suppliers", json=SUPPLIER).status_code == 201
        yield session


def year_of(http: httpx.Client) -> str:
    return http.get("accounting-years").json()["collection"][0]["year"]


# ------------------------------------------------------------------------------------------------ invoices


def test_draft_invoice_is_priced_by_the_server(http: httpx.Client) -> None:
    body = draft_invoice(
        1,
        "P-1",
        lines=[
            {"product": {"productNumber": "P-1"}, "quantity": 2, "unitNetPrice": 100.0},
            {
                "product": {"productNumber": "P-1"},
                "quantity": 1,
                "discountPercentage": 10.0,
            },  # sales price 100
        ],
        netAmount=1.0,
    )
    created = http.post("invoices/drafts", json=body)
    assert created.status_code == 201, created.text
    draft = created.json()
    assert [line["totalNetAmount"] for line in draft["lines"]] == [200.0, 90.0]
    assert draft["netAmount"] == 290.0 and draft["vatAmount"] == 72.5 and draft["grossAmount"] == 362.5
    assert draft["lines"][1]["description"] == "Bike bell" and draft["lines"][1]["unit"]["unitNumber"] == 1
    assert [line["lineNumber"] for line in draft["lines"]] == [1, 2]
    assert draft["dueDate"] == "2026-03-10"  # net 8 days from 2026-03-02
    assert draft["exchangeRate"] == 100.0
    assert draft["costPriceInBaseCurrency"] == 120.0
    listed = http.get("invoices/drafts").json()["collection"][0]
    assert "lines" not in listed  # collection items are not full documents


def test_foreign_currency_and_exempt_zone(http: httpx.Client) -> None:
    body = draft_invoice(1, "P-1", currency="EUR", recipient={"name": "x", "vatZone": {"vatZoneNumber": 2}})
    draft = http.post("invoices/drafts", json=body).json()
    assert draft["vatAmount"] == 0.0 and draft["grossAmount"] == 200.0
    assert draft["exchangeRate"] == 746.0 and draft["grossAmountInBaseCurrency"] == 1492.0


def test_draft_invoice_validation(http: httpx.Client) -> None:
    no_product = draft_invoice(1, "P-1", lines=[{"quantity": 1, "unitNetPrice": 5}])
    answer = http.post("invoices/drafts", json=no_product)
    assert answer.status_code == 400
    assert answer.json()["errors"]["lines"][0]["arrayIndex"] == 0
    assert answer.json()["errors"]["lines"][0]["product"]["errors"][0]["errorCode"] == "E04730"
    unknown = draft_invoice(1, "NOPE")
    assert (
        http.post("invoices/drafts", json=unknown).json()["errors"]["lines"][0]["product"]["errors"][0][
            "errorCode"
        ]
        == "E06000"
    )
    too_precise = draft_invoice(
        1, "P-1", lines=[{"product": {"productNumber": "P-1"}, "unitNetPrice": 1.005}]
    )
    assert (
        http.post("invoices/drafts", json=too_precise).json()["errors"]["lines"][0]["unitNetPrice"]["errors"][
            0
        ]["errorCode"]
        == "E04740"
    )
    missing_vat_zone = draft_invoice(1, "P-1", recipient={"name": "x"})
    assert (
        http.post("invoices/drafts", json=missing_vat_zone).json()["errors"]["recipient"]["vatZone"][
            "errors"
        ][0]["errorCode"]
        == "E04042"
    )
    bad_currency = draft_invoice(1, "P-1", currency="ZUL")
    assert (
        http.post("invoices/drafts", json=bad_currency).json()["errors"]["currency"]["errors"][0]["errorCode"]
        == "E06000"
    )


def test_due_date_follows_the_payment_terms(http: httpx.Client) -> None:
    terms = http.post("payment-terms", json={"name": "By date", "paymentTermsType": "dueDate"}).json()
    month = http.post(
        "payment-terms", json={"name": "Month+15", "paymentTermsType": "invoiceMonth", "daysOfCredit": 15}
    ).json()
    by_date = draft_invoice(1, "P-1", paymentTerms={"paymentTermsNumber": terms["paymentTermsNumber"]})
    assert (
        http.post("invoices/drafts", json=by_date).json()["errors"]["dueDate"]["errors"][0]["errorCode"]
        == "E04042"
    )
    given = http.post("invoices/drafts", json={**by_date, "dueDate": "2026-04-01"}).json()
    assert given["dueDate"] == "2026-04-01"
    end_of_month = draft_invoice(1, "P-1", paymentTerms={"paymentTermsNumber": month["paymentTermsNumber"]})
    assert http.post("invoices/drafts", json=end_of_month).json()["dueDate"] == "2026-04-15"


def test_put_replaces_lines_and_lines_can_be_added(http: httpx.Client) -> None:
    draft = http.post("invoices/drafts", json=draft_invoice(1, "P-1")).json()
    number = draft["draftInvoiceNumber"]
    replaced = http.put(f"invoices/drafts/{number}", json=draft_invoice(1, "P-1", lines=[]))
    assert (
        replaced.status_code == 200
        and replaced.json().get("lines", []) == []
        and replaced.json()["netAmount"] == 0
    )
    added = http.post(
        f"invoices/drafts/{number}/lines",
        json={"lines": [{"product": {"productNumber": "P-1"}, "quantity": 3}]},
    )
    assert added.status_code == 201
    assert added.json()["netAmount"] == 300.0 and added.json()["lines"][0]["lineNumber"] == 1


def test_delete_draft_answers_with_the_deleted_items(http: httpx.Client) -> None:
    for _ in range(3):
        http.post("invoices/drafts", json=draft_invoice(1, "P-1"))
    one = http.delete("invoices/drafts/1")
    assert one.status_code == 200
    assert one.json()["message"] == "Deleted invoice." and one.json()["deletedCount"] == 1
    assert one.json()["deletedItems"][0]["draftInvoiceNumber"] == 1
    again = http.delete("invoices/drafts/1")
    assert again.status_code == 404 and again.json()["errorCode"] == "E06000"
    rest = http.delete("invoices/drafts")
    assert rest.json()["message"] == "Deleted 2 invoices." and rest.json()["deletedCount"] == 2


def test_booking_moves_the_draft_and_locks_its_references(http: httpx.Client) -> None:
    http.post("invoices/drafts", json=draft_invoice(1, "P-1"))
    http.post("invoices/drafts", json=draft_invoice(1, "P-1"))
    blocked = http.delete("customers/1")
    assert blocked.status_code == 400  # a draft references the customer
    booked = http.post("invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}})
    assert booked.status_code == 201, booked.text
    invoice = booked.json()
    assert (
        invoice["bookedInvoiceNumber"] == 1
        and invoice["grossAmount"] == 250.0
        and invoice["remainder"] == 250.0
    )
    assert invoice["paymentTerms"]["paymentTermsType"] == "net" and invoice["lines"][0]["vatRate"] == 25.0
    assert "lastUpdated" not in invoice
    assert http.get("invoices/drafts/1").status_code == 404
    chosen = http.post(
        "invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 2}, "bookWithNumber": 1000}
    )
    assert chosen.json()["bookedInvoiceNumber"] == 1000
    assert http.post("invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 2}}).status_code == 400
    assert http.delete("invoices/booked/1").status_code == 405
    assert http.delete("products/P-1").status_code == 400
    since = http.get(
        "invoices/booked", params={"filter": "bookedInvoiceNumber$gt:1", "sort": "bookedInvoiceNumber"}
    ).json()
    assert [i["bookedInvoiceNumber"] for i in since["collection"]] == [1000]


def test_book_with_put_and_number_in_url(http: httpx.Client) -> None:
    http.post("invoices/drafts", json=draft_invoice(1, "P-1"))
    mismatch = http.put(
        "invoices/booked/7", json={"draftInvoice": {"draftInvoiceNumber": 1}, "bookWithNumber": 8}
    )
    assert mismatch.status_code == 400
    booked = http.put("invoices/booked/7", json={"draftInvoice": {"draftInvoiceNumber": 1}})
    assert booked.status_code == 201 and booked.json()["bookedInvoiceNumber"] == 7


def test_customer_templates_prefill_a_draft_that_can_be_posted(http: httpx.Client) -> None:
    links = http.get("customers/1/templates").json()
    invoice = http.get(links["invoice"]).json()
    assert invoice["customer"]["customerNumber"] == 1 and invoice["recipient"]["name"] == CUSTOMER["name"]
    line = http.get(links["invoiceline"] + "/P-1", params={"quantity": 3}).json()
    assert line["quantity"] == 3 and line["unitNetPrice"] == 100.0 and line["unit"]["unitNumber"] == 1
    body = {k: v for k, v in invoice.items() if k != "self"}
    body["layout"] = {"layoutNumber": 19}
    body["lines"] = [{k: v for k, v in line.items() if k != "self"}]
    created = http.post("invoices/drafts", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["netAmount"] == 300.0
    assert http.get("customers/99/templates/invoice").status_code == 404
    assert http.get("customers/1/templates/invoiceline/NOPE").status_code == 404


# ------------------------------------------------------------------------------------------------ orders


def test_orders_move_between_drafts_sent_and_back(http: httpx.Client) -> None:
    order = http.post("orders/drafts", json=draft_invoice(1, "P-1"))
    assert order.status_code == 201
    document = order.json()
    assert document["netAmount"] == 200.0 and "lastUpdated" in document
    sent = http.post("orders/sent", json=document)
    assert sent.status_code == 201 and sent.json()["orderNumber"] == document["orderNumber"]
    assert http.get("orders/drafts").json()["collection"] == []
    assert http.get("orders/sent/1").status_code == 200
    assert http.put("orders/sent/1", json=document).status_code == 405  # a sent order cannot be modified
    back = http.post("orders/drafts", json=sent.json())
    assert back.status_code == 201 and http.get("orders/drafts/1").status_code == 200
    updated = http.get("orders/drafts", params={"filter": "lastUpdated$gte:2000-01-01"}).json()
    assert updated["pagination"]["results"] == 1
    assert set(http.get("orders").json()) == {"drafts", "sent", "archived", "self"}


# ------------------------------------------------------------------------------------------------ journals


def supplier_invoice(year: str, **extra: Any) -> dict[str, Any]:
    entry = {
        "supplier": {"supplierNumber": 1},
        "amount": 1250.0,
        "date": f"{year}-05-03",
        "contraAccount": {"accountNumber": 3600},
        "contraVatAccount": {"vatCode": "I25"},
        "supplierInvoiceNumber": "F-1001",
        "currency": {"code": "EUR"},
        **extra,
    }
    return {"accountingYear": {"year": year}, "entries": {"supplierInvoices": [entry]}}


def test_voucher_post_answers_with_an_array_and_creates_entries(http: httpx.Client) -> None:
    year = year_of(http)
    created = http.post("journals/2/vouchers", json=supplier_invoice(year))
    assert created.status_code == 201, created.text
    vouchers = created.json()
    assert isinstance(vouchers, list) and len(vouchers) == 1
    voucher = vouchers[0]
    assert voucher["voucherNumber"] == 1 and voucher["self"].endswith(f"journals/2/vouchers/{year}-1")
    entry = voucher["entries"]["supplierInvoices"][0]
    assert entry["entryType"] == "supplierInvoice" and entry["journalEntryNumber"] == 1
    assert http.get(f"journals/2/vouchers/{year}-1").json() == voucher
    entries = http.get("journals/2/entries").json()["collection"]
    assert [e["supplierInvoiceNumber"] for e in entries] == ["F-1001"]
    bulk = http.post("journals/2/vouchers", json=[supplier_invoice(year), supplier_invoice(year)])
    assert [v["voucherNumber"] for v in bulk.json()] == [2, 3]
    assert http.delete("journals/2/entries/1").status_code == 204
    assert http.get(f"journals/2/vouchers/{year}-1").status_code == 404
    assert http.get("journals/2/entries").json()["pagination"]["results"] == 2


def test_voucher_validation(http: httpx.Client) -> None:
    year = year_of(http)
    wrong_year = supplier_invoice("1999")
    assert (
        http.post("journals/2/vouchers", json=wrong_year).json()["errors"]["accountingYear"]["errors"][0][
            "errorCode"
        ]
        == "E06000"
    )
    outside = supplier_invoice(year, date="1999-01-01")
    errors = http.post("journals/2/vouchers", json=outside).json()["errors"]
    assert errors["entries"]["supplierInvoices"][0]["date"]["errors"][0]["errorCode"] == "E07080"
    neither = supplier_invoice(year)
    del neither["entries"]["supplierInvoices"][0]["supplier"]
    del neither["entries"]["supplierInvoices"][0]["contraAccount"]
    assert http.post("journals/2/vouchers", json=neither).status_code == 400
    no_amount = supplier_invoice(year)
    del no_amount["entries"]["supplierInvoices"][0]["amount"]
    assert (
        http.post("journals/2/vouchers", json=no_amount).json()["errors"]["entries"]["supplierInvoices"][0][
            "amount"
        ]["errors"][0]["errorCode"]
        == "E04042"
    )
    finance = {
        "accountingYear": {"year": year},
        "entries": {
            "financeVouchers": [
                {
                    "account": {"accountNumber": 1320},
                    "contraAccount": {"accountNumber": 5850},
                    "amount": 10.0,
                    "date": f"{year}-01-31",
                    "text": "Rackbeat stock adjustment",
                }
            ]
        },
    }
    restricted = http.post("journals/2/vouchers", json=finance)
    assert restricted.status_code == 400  # journal 2 only takes supplier invoices
    assert http.post("journals/1/vouchers", json=finance).status_code == 201
    bulk = http.post("journals/2/vouchers", json=[supplier_invoice(year), wrong_year])
    assert bulk.status_code == 400 and bulk.json()["errors"][0]["arrayIndex"] == 1
    assert http.post("journals/9/vouchers", json=finance).status_code == 404


def test_journalsapi_books_draft_entries_into_the_accounting_year(http: httpx.Client) -> None:
    year = year_of(http)
    assert (
        http.post("journals/2/vouchers", json=[supplier_invoice(year), supplier_invoice(year)]).status_code
        == 201
    )
    finance = {
        "accountingYear": {"year": year},
        "entries": {
            "financeVouchers": [
                {
                    "account": {"accountNumber": 1320},
                    "contraAccount": {"accountNumber": 5850},
                    "amount": 10.0,
                    "date": f"{year}-01-31",
                }
            ]
        },
    }
    assert http.post("journals/1/vouchers", json=finance).status_code == 201
    unknown = http.post("journalsapi/v15.0.0/journals/2/bookdraftentries", json={"entryNumbers": [3]})
    assert unknown.status_code == 400  # entry 3 is in journal 1
    assert (
        http.post("journalsapi/v15.0.0/journals/2/bookdraftentries", json={"entryNumbers": [1]}).status_code
        == 204
    )
    assert [e["journalEntryNumber"] for e in http.get("journals/2/entries").json()["collection"]] == [2]
    assert http.post("journalsapi/v15.0.0/journals/1/book").status_code == 204
    assert http.post("journalsapi/v15.0.0/entries/draft/2/book").status_code == 204
    assert http.get("journals/1/entries").json()["collection"] == []
    booked = http.get(f"accounting-years/{year}/entries", params={"sort": "entryNumber"}).json()["collection"]
    supplier_side = [e for e in booked if "supplier" in e]
    assert [e["amount"] for e in supplier_side] == [-1250.0, -1250.0]
    finance_sides = sorted(e["amount"] for e in booked if e["entryType"] == "financeVoucher")
    assert finance_sides == [-10.0, 10.0]
    first = booked[0]
    assert http.get(first["self"]).json() == first
    assert http.post("journalsapi/v15.0.0/journals/9/book").status_code == 404
