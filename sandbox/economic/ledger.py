"""An account's view of the ledger: its accounting years, its booked entries per year, its year totals.

Routes (GET only, legacy REST; every answer follows its published schema):

- ``/accounts/{n}/accounting-years`` (``accounts.accountNumber.accounting-years.get``): every accounting year
  of the agreement (the chart of accounts spans them all), paged, filterable and sortable on ``fromDate``,
  ``toDate``, ``closed`` and ``year`` as the schema flags them; default order ``fromDate`` ascending.
- ``/accounts/{n}/accounting-years/{y}`` (``...accountingYear.get``): one of them.
- ``/accounts/{n}/accounting-years/{y}/entries`` (``...accountingYear.entries.get``): the entries booked on
  the account in that year, as ``/accounting-years/{y}/entries`` shows them (the contra side of a voucher
  carries the opposite sign, see ``journals._book_entry``); paged, filtered and sorted on the fields the
  schema flags (``date``, ``amount``, ``entryNumber`` ...); default order ``entryNumber`` ascending.
- ``/accounts/{n}/accounting-years/{y}/totals`` (``...accountingYear.totals.get``): the sum of those
  entries' ``amountInBaseCurrency`` (0.0 when there are none) with the year's dates.
- ``/accounting-years/{y}/totals`` (``accounting-years.accountingYear.totals.get``): one such total per
  account that has entries in the year, by account number (the sandbox's choice: the schema calls it "the
  chart of accounts with the years total", and an account without entries has nothing to total). The schema
  flags no field filterable or sortable, so a filter or sort is refused as on other collections.

An unknown account or year answers the usual 404 (``E06000``). The per-account year items link to their
``entries`` and ``totals`` only: the sandbox serves no periods and no per-account vouchers, so it links to
none.

"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.economic import journals, legacy
from sandbox.economic.errors import not_found
from sandbox.economic.ids import encode_key
from sandbox.economic.resources import ACCOUNTING_YEARS, ACCOUNTS
from sandbox.economic.schemas import collection_fields
from sandbox.economic.store import Store, link

YEARS_SCHEMA = "accounts.accountNumber.accounting-years.get"
ENTRIES_SCHEMA = "accounts.accountNumber.accounting-years.accountingYear.entries.get"
YEAR_TOTALS_SCHEMA = "accounting-years.accountingYear.totals.get"


def account_answer(store: Store, account_segment: str, rest: list[str], params: Mapping[str, str]) -> Any:
    """The body for ``/accounts/{n}/accounting-years[/{y}[/entries|/totals]]`` (``rest`` is what follows
    ``accounting-years``)."""
    with store.lock:
        account = legacy.get_item(store, ACCOUNTS, account_segment)
        number = account["accountNumber"]
        if not rest:
            return _account_years(store, number, params)
        year = legacy.get_item(store, ACCOUNTING_YEARS, rest[0])
        if len(rest) == 1:
            return _account_year(number, year)
        if len(rest) == 2 and rest[1] == "entries":
            return _account_entries(store, number, year, params)
        if len(rest) == 2 and rest[1] == "totals":
            return _account_total(number, year, _entries_on(store, number, year))
        raise not_found("The resource")


def year_totals(store: Store, year_segment: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The body for ``/accounting-years/{y}/totals``."""
    with store.lock:
        year = legacy.get_item(store, ACCOUNTING_YEARS, year_segment)
        by_account: dict[int, list[dict[str, Any]]] = {}
        for entry in journals.year_entries(store, year["year"]):
            number = (entry.get("account") or {}).get("accountNumber")
            if isinstance(number, int):
                by_account.setdefault(number, []).append(entry)
        rows = [_account_total(number, year, by_account[number]) for number in sorted(by_account)]
        filterable, sortable = collection_fields(YEAR_TOTALS_SCHEMA)
        page = legacy.parse_page(params)
        selected = legacy.select(rows, params, filterable, sortable, None)
        path = f"accounting-years/{encode_key(year['year'])}/totals"
        return legacy.collection_body(path, selected, len(rows), params, page)


def _base(account_number: int, year: dict[str, Any]) -> str:
    return f"accounts/{account_number}/accounting-years/{encode_key(year['year'])}"


def _account_year(account_number: int, year: dict[str, Any]) -> dict[str, Any]:
    base = _base(account_number, year)
    return {
        "year": year["year"],
        "fromDate": year["fromDate"],
        "toDate": year["toDate"],
        "closed": year.get("closed") is True,
        "entries": link(f"{base}/entries"),
        "totals": link(f"{base}/totals"),
        "self": link(base),
    }


def _account_years(store: Store, account_number: int, params: Mapping[str, str]) -> dict[str, Any]:
    rows = [_account_year(account_number, year) for year in store.table(ACCOUNTING_YEARS.path).values()]
    filterable, sortable = collection_fields(YEARS_SCHEMA)
    page = legacy.parse_page(params)
    selected = legacy.select(rows, params, filterable, sortable, "fromDate")
    return legacy.collection_body(
        f"accounts/{account_number}/accounting-years", selected, len(rows), params, page
    )


def _entries_on(store: Store, account_number: int, year: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        entry
        for entry in journals.year_entries(store, year["year"])
        if (entry.get("account") or {}).get("accountNumber") == account_number
    ]


def _account_entries(
    store: Store, account_number: int, year: dict[str, Any], params: Mapping[str, str]
) -> dict[str, Any]:
    rows = _entries_on(store, account_number, year)
    filterable, sortable = collection_fields(ENTRIES_SCHEMA)
    page = legacy.parse_page(params)
    selected = legacy.select(rows, params, filterable, sortable, "entryNumber")
    path = f"{_base(account_number, year)}/entries"
    return legacy.collection_body(path, selected, len(rows), params, page)


def _account_total(
    account_number: int, year: dict[str, Any], entries: list[dict[str, Any]]
) -> dict[str, Any]:
    total = sum(float(entry.get("amountInBaseCurrency", entry.get("amount", 0.0))) for entry in entries)
    return {
        "totalInBaseCurrency": round(total, 2) + 0.0,  # + 0.0: never -0.0
        "account": {"accountNumber": account_number, "self": ACCOUNTS.self_link(account_number)},
        "fromDate": year["fromDate"],
        "toDate": year["toDate"],
        "self": link(f"{_base(account_number, year)}/totals"),
    }
