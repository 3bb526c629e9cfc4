"""An account's ledger in the e-conomic sandbox over real HTTP: ``/accounts/{n}/accounting-years`` (the years,
one year, its ``/entries`` and ``/totals``) and ``/accounting-years/{y}/totals`` show what vouchers booked
through the Journals API put on each account; finance vouchers on accounts that block direct entries are
refused."""

# ruff: noqa: F811  (the fixtures imported from tests.sandbox.economic_years are parameters here)
from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.economic import schemas
from sandbox.economic.bodies import answer_problems
from tests.sandbox.economic_years import http, sandbox, server  # noqa: F401

STOCK = 5850  # Inventory (status account)
ADJUSTMENT = 1320  # Stock value adjustment (profit and loss)
BANK = 5600
BOOK = "journalsapi/v15.0.0/journals/1/bookdraftentries"


def finance_voucher(
    when: str, amount: float, account: int = STOCK, contra: int = ADJUSTMENT, **extra: Any
) -> Any:
    entry = {
        "account": {"accountNumber": account},
        "contraAccount": {"accountNumber": contra},
        "amount": amount,
        "date": when,
        "text": "Rackbeat Justering",
        **extra,
    }
    return {"accountingYear": {"year": when[:4]}, "entries": {"financeVouchers": [entry]}}


def book(http: httpx.Client, when: str, amount: float, **options: Any) -> None:
    """Post a finance voucher to journal 1 and book its entry through the Journals API."""
    created = http.post("journals/1/vouchers", json=finance_voucher(when, amount, **options))
    assert created.status_code == 201, created.text
    numbers = [e["journalEntryNumber"] for v in created.json() for e in v["entries"]["financeVouchers"]]
    booked = http.post(BOOK, json={"entryNumbers": numbers})
    assert booked.status_code == 204, booked.text


def entries(http: httpx.Client, account: int, year: str, **params: Any) -> dict[str, Any]:
    answer = http.get(f"accounts/{account}/accounting-years/{year}/entries", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


# ------------------------------------------------------------------------------------------------ entries


def test_a_booked_voucher_shows_on_both_accounts_with_opposite_signs(http: httpx.Client) -> None:
    book(http, "2026-03-10", 250.75)
    book(http, "2025-06-01", 99.0)  # another year
    book(http, "2026-03-11", 10.0, account=BANK, contra=ADJUSTMENT)  # another account
    stock = entries(http, STOCK, "2026")["collection"]
    assert [(e["account"]["accountNumber"], e["amount"], e["date"]) for e in stock] == [
        (STOCK, 250.75, "2026-03-10")
    ]
    assert stock[0]["entryType"] == "financeVoucher" and stock[0]["text"] == "Rackbeat Justering"
    contra = entries(http, ADJUSTMENT, "2026")["collection"]
    assert [(e["amount"], e["date"]) for e in contra] == [(-250.75, "2026-03-10"), (-10.0, "2026-03-11")]
    assert [e["amount"] for e in entries(http, STOCK, "2025")["collection"]] == [99.0]
    # The same booked entries as the year's own list shows, filed under the year.
    year_list = http.get("accounting-years/2026/entries", params={"pagesize": 1000}).json()["collection"]
    on_stock = [e for e in year_list if e.get("account", {}).get("accountNumber") == STOCK]
    assert on_stock == stock
    assert http.get(stock[0]["self"]).json() == stock[0]


def test_unbooked_drafts_are_not_on_the_account(http: httpx.Client) -> None:
    assert http.post("journals/1/vouchers", json=finance_voucher("2026-03-10", 5.0)).status_code == 201
    assert entries(http, STOCK, "2026")["collection"] == []


def test_the_services_queries_find_the_year_and_the_value_booked_up_to_a_date(http: httpx.Client) -> None:
    for when, amount in (
        ("2026-03-01", 100.0),
        ("2026-03-29", 20.5),
        ("2026-03-30", 7.0),
        ("2025-12-31", 1.0),
    ):
        book(http, when, amount)
    years = http.get(
        "accounting-years", params={"filter": "fromDate$lte:2026-03-29$and:toDate$gte:2026-03-29"}
    ).json()["collection"]
    assert [y["year"] for y in years] == ["2026"]
    up_to = entries(http, STOCK, years[0]["year"], filter="date$lte:2026-03-29", pagesize=1000)
    assert [e["date"] for e in up_to["collection"]] == ["2026-03-01", "2026-03-29"]
    assert sum(e["amount"] for e in up_to["collection"]) == 120.5
    assert sum(e["amountInBaseCurrency"] for e in up_to["collection"]) == 120.5
    assert up_to["pagination"]["results"] == 2 and up_to["pagination"]["resultsWithoutFilter"] == 3
    assert "filter=date%24lte%3A2026-03-29" in up_to["self"]
    since = entries(http, STOCK, "2026", filter="date$gte:2026-03-29$and:amount$lt:10")["collection"]
    assert [e["amount"] for e in since] == [7.0]


def test_entries_page_with_pagesize_and_follow_next_page(http: httpx.Client) -> None:
    for day in range(1, 6):
        book(http, f"2026-04-0{day}", float(day))
    first = entries(http, STOCK, "2026", pagesize=2)
    page = first["pagination"]
    assert (
        page["results"] == 5 and page["pageSize"] == 2 and page["lastPage"].endswith("skippages=2&pagesize=2")
    )
    seen = [e["amount"] for e in first["collection"]]
    following = page.get("nextPage")
    while following:
        body = http.get(following).json()
        seen += [e["amount"] for e in body["collection"]]
        following = body["pagination"].get("nextPage")
    assert seen == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert entries(http, STOCK, "2026", pagesize=2, skippages=3)["collection"] == []
    assert (
        http.get(f"accounts/{STOCK}/accounting-years/2026/entries", params={"pagesize": 1001}).status_code
        == 400
    )


def test_entries_sort_and_refuse_unknown_filter_fields(http: httpx.Client) -> None:
    for when, amount in (("2026-05-02", 3.0), ("2026-05-01", 9.0), ("2026-05-03", 6.0)):
        book(http, when, amount)
    by_amount = entries(http, STOCK, "2026", sort="-amount")["collection"]
    assert [e["amount"] for e in by_amount] == [9.0, 6.0, 3.0]
    by_date = entries(http, STOCK, "2026", sort="date")["collection"]
    assert [e["date"] for e in by_date] == ["2026-05-01", "2026-05-02", "2026-05-03"]
    refused = http.get(
        f"accounts/{STOCK}/accounting-years/2026/entries", params={"filter": "account.accountNumber$eq:5850"}
    )
    assert refused.status_code == 400
    assert "date" in refused.json()["allowedFilteringFields"]


def test_totals_add_up_in_base_currency(http: httpx.Client) -> None:
    book(http, "2026-02-01", 100.0)
    book(http, "2026-02-02", -40.25)
    book(http, "2026-02-03", 10.0, currency={"code": "EUR"}, exchangeRate=746.0)  # 74.60 DKK
    book(http, "2025-02-03", 1000.0)
    stock = http.get(f"accounts/{STOCK}/accounting-years/2026/totals").json()
    listed = entries(http, STOCK, "2026")["collection"]
    assert stock["totalInBaseCurrency"] == round(sum(e["amountInBaseCurrency"] for e in listed), 2) == 134.35
    assert stock["account"]["accountNumber"] == STOCK
    assert (stock["fromDate"], stock["toDate"]) == ("2026-01-01", "2026-12-31")
    assert stock["self"].endswith(f"/accounts/{STOCK}/accounting-years/2026/totals")
    contra = http.get(f"accounts/{ADJUSTMENT}/accounting-years/2026/totals").json()
    assert contra["totalInBaseCurrency"] == -134.35
    assert http.get(f"accounts/{BANK}/accounting-years/2026/totals").json()["totalInBaseCurrency"] == 0.0
    year = http.get("accounting-years/2026/totals").json()
    totals = {t["account"]["accountNumber"]: t["totalInBaseCurrency"] for t in year["collection"]}
    assert totals == {ADJUSTMENT: -134.35, STOCK: 134.35}
    assert [t["account"]["accountNumber"] for t in year["collection"]] == [ADJUSTMENT, STOCK]
    assert http.get(year["collection"][1]["self"]).json() == stock
    last_year = http.get("accounting-years/2025/totals").json()["collection"]
    assert {t["account"]["accountNumber"]: t["totalInBaseCurrency"] for t in last_year} == {
        ADJUSTMENT: -1000.0,
        STOCK: 1000.0,
    }


# ------------------------------------------------------------------------------------------------ years


def test_an_accounts_years_list_and_item(http: httpx.Client, server: Any) -> None:
    listed = http.get(f"accounts/{STOCK}/accounting-years").json()
    years = [(y["year"], y["fromDate"], y["closed"]) for y in listed["collection"]]
    assert ("2025", "2025-01-01", False) in years and ("2026", "2026-01-01", False) in years
    assert [y[1] for y in years] == sorted(y[1] for y in years)
    assert http.put("_sandbox/accounting-years/2025", json={"closed": True}).status_code == 200
    closed = http.get(f"accounts/{STOCK}/accounting-years", params={"filter": "closed$eq:true"}).json()
    assert [y["year"] for y in closed["collection"]] == ["2025"]
    newest = http.get(
        f"accounts/{STOCK}/accounting-years", params={"sort": "-fromDate", "pagesize": 1}
    ).json()
    assert newest["collection"][0]["fromDate"] == max(y[1] for y in years)
    item = http.get(f"accounts/{STOCK}/accounting-years/2026").json()
    assert item["self"] == f"{server[1]}accounts/{STOCK}/accounting-years/2026"
    assert item["entries"] == f"{server[1]}accounts/{STOCK}/accounting-years/2026/entries"
    assert item["totals"] == f"{server[1]}accounts/{STOCK}/accounting-years/2026/totals"
    assert (item["year"], item["fromDate"], item["toDate"], item["closed"]) == (
        "2026",
        "2026-01-01",
        "2026-12-31",
        False,
    )
    assert http.get(item["entries"]).status_code == 200 and http.get(item["totals"]).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "accounts/9999/accounting-years",
        "accounts/abc/accounting-years",
        "accounts/9999/accounting-years/2026/entries",
        f"accounts/{STOCK}/accounting-years/1999",
        f"accounts/{STOCK}/accounting-years/1999/entries",
        f"accounts/{STOCK}/accounting-years/1999/totals",
        f"accounts/{STOCK}/accounting-years/2026/periods",
        "accounting-years/1999/totals",
    ],
)
def test_unknown_accounts_and_years_answer_the_usual_404(http: httpx.Client, path: str) -> None:
    answer = http.get(path)
    assert answer.status_code == 404
    body = answer.json()
    assert body["errorCode"] == "E06000" and body["httpStatusCode"] == 404 and body["logId"]


def test_the_ledger_views_are_read_only(http: httpx.Client) -> None:
    for path in (f"accounts/{STOCK}/accounting-years/2026/entries", "accounting-years/2026/totals"):
        assert http.post(path, json={}).status_code == 405


@pytest.mark.skipif(not schemas.schemas_available(), reason="e-conomic's schema folder is absent")
def test_every_answer_matches_its_published_schema(http: httpx.Client) -> None:
    book(http, "2026-03-10", 250.75)
    book(http, "2026-03-11", 10.0, currency={"code": "EUR"}, exchangeRate=746.0)
    http.put("_sandbox/accounting-years/2025", json={"closed": True})
    base = f"accounts/{STOCK}/accounting-years"
    answers = {
        base: "accounts.accountNumber.accounting-years.get",
        f"{base}/2026": "accounts.accountNumber.accounting-years.accountingYear.get",
        f"{base}/2025": "accounts.accountNumber.accounting-years.accountingYear.get",
        f"{base}/2026/entries": "accounts.accountNumber.accounting-years.accountingYear.entries.get",
        f"accounts/{ADJUSTMENT}/accounting-years/2026/entries": (
            "accounts.accountNumber.accounting-years.accountingYear.entries.get"
        ),
        f"{base}/2026/totals": "accounts.accountNumber.accounting-years.accountingYear.totals.get",
        f"accounts/{BANK}/accounting-years/2026/totals": (
            "accounts.accountNumber.accounting-years.accountingYear.totals.get"
        ),
        "accounting-years/2026/totals": "accounting-years.accountingYear.totals.get",
        "accounting-years/2025": "accounting-years.accountingYear.get",
    }
    for path, schema_name in answers.items():
        body = http.get(path).json()
        assert body.get("collection", [body]), f"{path} is empty, so its items were not checked"
        assert answer_problems(schema_name, body) == [], path


# ---------------------------------------------------------------------------------------- blocked accounts


@pytest.mark.parametrize(
    ("side", "account", "contra"), [("account", 1000, ADJUSTMENT), ("contraAccount", STOCK, 5000)]
)
def test_a_finance_voucher_on_an_account_that_blocks_direct_entries_is_refused(
    http: httpx.Client, side: str, account: int, contra: int
) -> None:
    blocked = account if side == "account" else contra
    assert http.get(f"accounts/{blocked}").json()["blockDirectEntries"] is True
    answer = http.post("journals/1/vouchers", json=finance_voucher("2026-03-10", 5.0, account, contra))
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"] == "Validation error."
    entry = body["errors"]["entries"]["financeVouchers"][0]
    assert entry["arrayIndex"] == 0 and set(entry) == {"arrayIndex", side}
    error = entry[side]["errors"][0]
    assert error["message"] == f"Account {blocked} does not allow direct entries."
    assert error["errorCode"] == "E07130" and error["value"] == blocked
    assert http.get("journals/1/entries").json()["collection"] == []
    # The same voucher on accounts open to direct entries goes through.
    assert http.post("journals/1/vouchers", json=finance_voucher("2026-03-10", 5.0)).status_code == 201


def test_a_blocked_account_by_self_link_is_refused_too(http: httpx.Client, server: Any) -> None:
    voucher = finance_voucher("2026-03-10", 5.0)
    voucher["entries"]["financeVouchers"][0]["account"] = {"self": f"{server[1]}accounts/5000"}
    answer = http.post("journals/1/vouchers", json=voucher)
    assert answer.status_code == 400
    assert (
        "Account 5000"
        in answer.json()["errors"]["entries"]["financeVouchers"][0]["account"]["errors"][0]["message"]
    )


def test_an_openapi_finance_draft_entry_on_a_blocked_account_is_refused(http: httpx.Client) -> None:
    entry = {
        "entryTypeNumber": 5,
        "journalNumber": 1,
        "date": "2026-03-10",
        "amount": 5.0,
        "currency": "DKK",
        "accountNumber": STOCK,
        "contraAccountNumber": 1000,
    }
    refused = http.post("journalsapi/v15.0.0/draft-entries", json=entry)
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert {
        "message": "Account 1000 does not allow direct entries.",
        "errorCode": "DirectEntriesBlocked",
        "property": "contraAccountNumber",
    } in refused.json()["errors"]
    allowed = http.post(
        "journalsapi/v15.0.0/draft-entries", json={**entry, "contraAccountNumber": ADJUSTMENT}
    )
    assert allowed.status_code == 201, allowed.text
