"""Closed accounting years in the e-conomic sandbox over real HTTP: the admin route closes and reopens a year,
and while it is closed a voucher, a booking of draft entries and a booking of an invoice dated in it are
refused with the year named; reopening lets them through."""

# ruff: noqa: F811  (the fixtures imported from tests.sandbox.economic_years are parameters here)
from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.economic import EconomicSandbox
from sandbox.economic.seed import accounting_year_record
from sandbox.economic.testing import CUSTOMER, PRODUCT, draft_invoice
from tests.sandbox.economic_years import http, sandbox, server  # noqa: F401

BOOK_ENTRIES = "journalsapi/v15.0.0/journals/1/bookdraftentries"
BOOK_JOURNAL = "journalsapi/v15.0.0/journals/1/book"
DRAFT_ENTRIES = "journalsapi/v15.0.0/draft-entries"
CLOSED_2026 = "Accounting year 2026 is closed."


def close(http: httpx.Client, year: str, closed: bool = True) -> dict[str, Any]:
    answer = http.put(f"_sandbox/accounting-years/{year}", json={"closed": closed})
    assert answer.status_code == 200, answer.text
    return answer.json()


def voucher(when: str, amount: float = 100.0) -> dict[str, Any]:
    entry = {
        "account": {"accountNumber": 5850},
        "contraAccount": {"accountNumber": 1320},
        "amount": amount,
        "date": when,
        "text": "Rackbeat Justering",
    }
    return {"accountingYear": {"year": when[:4]}, "entries": {"financeVouchers": [entry]}}


def post_voucher(http: httpx.Client, when: str) -> list[int]:
    created = http.post("journals/1/vouchers", json=voucher(when))
    assert created.status_code == 201, created.text
    return [e["journalEntryNumber"] for v in created.json() for e in v["entries"]["financeVouchers"]]


def booked_on_stock(http: httpx.Client, year: str) -> list[float]:
    body = http.get(f"accounts/5850/accounting-years/{year}/entries").json()
    return [entry["amount"] for entry in body["collection"]]


# ------------------------------------------------------------------------------------------------ the flag


def test_the_admin_route_closes_and_reopens_a_year(http: httpx.Client, server: Any) -> None:
    assert http.get("accounting-years/2026").json()["closed"] is False
    answer = close(http, "2026")
    assert answer["closed"] is True and answer["year"] == "2026"
    assert answer["self"] == f"{server[1]}accounting-years/2026"
    assert http.get("accounting-years/2026").json()["closed"] is True
    assert http.get("accounts/5850/accounting-years/2026").json()["closed"] is True
    assert http.get("accounting-years/2025").json()["closed"] is False
    assert http.get("_sandbox/accounting-years/2026").json()["closed"] is True
    assert close(http, "2026", closed=False)["closed"] is False
    assert http.get("accounting-years/2026").json()["closed"] is False


@pytest.mark.parametrize("body", [{}, {"closed": "yes"}, {"closed": None}, [True]])
def test_the_admin_route_wants_a_boolean(http: httpx.Client, body: Any) -> None:
    assert http.put("_sandbox/accounting-years/2026", json=body).status_code == 422
    assert http.get("accounting-years/2026").json()["closed"] is False


def test_the_admin_route_knows_only_existing_years(http: httpx.Client) -> None:
    assert http.put("_sandbox/accounting-years/1999", json={"closed": True}).status_code == 404
    assert http.get("_sandbox/accounting-years/1999").status_code == 404


def test_a_year_loaded_closed_is_closed(http: httpx.Client, sandbox: EconomicSandbox) -> None:
    sandbox.load(
        {"accounting-years": [{**accounting_year_record("2026", "2026-01-01", "2026-12-31"), "closed": True}]}
    )
    assert http.get("accounting-years/2026").json()["closed"] is True
    refused = http.post("journals/1/vouchers", json=voucher("2026-03-10"))
    assert refused.status_code == 400
    assert CLOSED_2026 in refused.text


def test_a_reset_brings_back_open_years(http: httpx.Client) -> None:
    for year in http.get("accounting-years").json()["collection"]:
        close(http, year["year"])
    assert http.post("_sandbox/reset").status_code == 200
    after = http.get("accounting-years").json()["collection"]
    assert after and all(year["closed"] is False for year in after)


# ------------------------------------------------------------------------------------------------ vouchers


def test_a_voucher_dated_in_a_closed_year_is_refused_naming_the_year(http: httpx.Client) -> None:
    close(http, "2026")
    answer = http.post("journals/1/vouchers", json=voucher("2026-03-10"))
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"] == "Validation error." and body["httpStatusCode"] == 400 and body["logId"]
    entry = body["errors"]["entries"]["financeVouchers"][0]
    assert entry["arrayIndex"] == 0
    assert entry["date"]["errors"] == [
        {
            "errorCode": "E07090",
            "message": CLOSED_2026,
            "value": "2026-03-10",
            "developerHint": "Correct the value and try again.",
        }
    ]
    assert http.get("journals/1/entries").json()["collection"] == []
    # The open year next to it still takes vouchers; reopening lets the refused one through.
    assert post_voucher(http, "2025-12-31")
    close(http, "2026", closed=False)
    assert post_voucher(http, "2026-03-10")


def test_a_voucher_filed_under_a_closed_year_is_refused_naming_that_year(http: httpx.Client) -> None:
    close(http, "2025")
    misfiled = {**voucher("2026-01-05"), "accountingYear": {"year": "2025"}}
    answer = http.post("journals/1/vouchers", json=misfiled)
    assert answer.status_code == 400
    errors = answer.json()["errors"]["entries"]["financeVouchers"][0]["date"]["errors"]
    assert [(e["errorCode"], e["message"]) for e in errors] == [
        ("E07080", "date must lie in accounting year 2025."),
        ("E07090", "Accounting year 2025 is closed."),
    ]


def test_a_bulk_post_with_one_voucher_in_a_closed_year_is_refused_whole(http: httpx.Client) -> None:
    close(http, "2025")
    answer = http.post("journals/1/vouchers", json=[voucher("2026-01-05"), voucher("2025-12-30")])
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert [e["arrayIndex"] for e in errors] == [1]
    message = errors[0]["entries"]["financeVouchers"][0]["date"]["errors"][0]["message"]
    assert message == "Accounting year 2025 is closed."
    assert http.get("journals/1/entries").json()["collection"] == []


def test_an_openapi_draft_entry_dated_in_a_closed_year_is_refused(http: httpx.Client) -> None:
    close(http, "2026")
    entry = {
        "entryTypeNumber": 5,
        "journalNumber": 1,
        "date": "2026-03-10",
        "amount": 5.0,
        "currency": "DKK",
        "accountNumber": 5850,
        "contraAccountNumber": 1320,
    }
    refused = http.post(DRAFT_ENTRIES, json=entry)
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"] == [
        {"message": CLOSED_2026, "errorCode": "AccountingYearClosed", "property": "date"}
    ]
    close(http, "2026", closed=False)
    assert http.post(DRAFT_ENTRIES, json=entry).status_code == 201


# ----------------------------------------------------------------------------------------- booking entries


@pytest.mark.parametrize("path", [BOOK_ENTRIES, BOOK_JOURNAL])
def test_booking_draft_entries_into_a_closed_year_is_refused(http: httpx.Client, path: str) -> None:
    open_year = post_voucher(http, "2025-11-30")
    closed_year = post_voucher(http, "2026-03-10")
    close(http, "2026")
    body = {"entryNumbers": open_year + closed_year} if path == BOOK_ENTRIES else None
    answer = http.post(path, json=body) if body else http.post(path)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["errorCode"] == "ValidationFailed" and problem["status"] == 400
    assert problem["errors"] == [
        {"message": CLOSED_2026, "errorCode": "AccountingYearClosed", "property": "entryNumbers"}
    ]
    assert CLOSED_2026 in problem["detail"] and str(closed_year[0]) in problem["detail"]
    # All or nothing: the entry in the open year was not booked either; both drafts stay in the journal.
    drafts = [e["journalEntryNumber"] for e in http.get("journals/1/entries").json()["collection"]]
    assert drafts == open_year + closed_year
    assert booked_on_stock(http, "2025") == [] and booked_on_stock(http, "2026") == []
    close(http, "2026", closed=False)
    again = http.post(path, json=body) if body else http.post(path)
    assert again.status_code == 204, again.text
    assert booked_on_stock(http, "2025") == [100.0] and booked_on_stock(http, "2026") == [100.0]
    assert http.get("journals/1/entries").json()["collection"] == []


def test_entries_in_an_open_year_book_while_another_year_is_closed(http: httpx.Client) -> None:
    open_year = post_voucher(http, "2025-11-30")
    post_voucher(http, "2026-03-10")
    close(http, "2026")
    assert http.post(BOOK_ENTRIES, json={"entryNumbers": open_year}).status_code == 204
    assert booked_on_stock(http, "2025") == [100.0]


def test_what_was_booked_before_closing_stays_readable(http: httpx.Client) -> None:
    assert http.post(BOOK_ENTRIES, json={"entryNumbers": post_voucher(http, "2026-03-10")}).status_code == 204
    close(http, "2026")
    assert booked_on_stock(http, "2026") == [100.0]
    assert http.get("accounts/5850/accounting-years/2026/totals").json()["totalInBaseCurrency"] == 100.0
    assert http.get("accounting-years/2026/entries").json()["pagination"]["results"] == 2


# ------------------------------------------------------------------------------------------------ invoices


def _draft(http: httpx.Client, when: str) -> int:
    assert http.post("customers", json=CUSTOMER).status_code in (200, 201)
    http.post("products", json=PRODUCT)
    created = http.post("invoices/drafts", json=draft_invoice(1, str(PRODUCT["productNumber"]), date=when))
    assert created.status_code == 201, created.text
    return int(created.json()["draftInvoiceNumber"])


def test_booking_an_invoice_dated_in_a_closed_year_is_refused(http: httpx.Client) -> None:
    close(http, "2026")
    number = _draft(http, "2026-03-02")  # creating the draft is allowed (see sandbox/economic/years.py)
    answer = http.post("invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": number}})
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"] == "Validation error."
    error = body["errors"]["draftInvoice"]["date"]["errors"][0]
    assert (
        error["message"] == CLOSED_2026 and error["errorCode"] == "E07090" and error["value"] == "2026-03-02"
    )
    by_number = http.put(f"invoices/booked/{number}", json={"draftInvoice": {"draftInvoiceNumber": number}})
    assert by_number.status_code == 400 and CLOSED_2026 in by_number.text
    assert http.get(f"invoices/drafts/{number}").status_code == 200
    assert http.get("invoices/booked").json()["collection"] == []
    close(http, "2026", closed=False)
    booked = http.post("invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": number}})
    assert booked.status_code == 201, booked.text
    assert http.get(f"invoices/drafts/{number}").status_code == 404


def test_an_invoice_dated_in_an_open_year_books_while_another_is_closed(http: httpx.Client) -> None:
    close(http, "2025")
    number = _draft(http, "2026-03-02")
    booked = http.post("invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": number}})
    assert booked.status_code == 201, booked.text
    refused = http.post(
        "invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": _draft(http, "2025-12-31")}}
    )
    assert refused.status_code == 400 and "Accounting year 2025 is closed." in refused.text
