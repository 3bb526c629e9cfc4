"""Accounting years: which year holds a date, and the ``closed`` flag that refuses new transactions.

The fact this rests on is e-conomic's own schema: every accounting year has a ``closed`` boolean,
"If true this indicates that the accounting year is closed for further transactions"
(``accounting-years.accountingYear.get``; "Determines if the accounting year is closed for further
transactions" in ``accounting-years.get`` and ``accounts.accountNumber.accounting-years.*``). The reference
documents neither how the API refuses such a transaction nor the error's text, so **the error codes and
texts below are the sandbox's own** (in e-conomic's shapes, §5.1 and §5.2). Every refusal names the year:
"Accounting year 2026 is closed."

What is refused while a year is closed (a year "holds" a date when ``fromDate <= date <= toDate``):

- ``POST /journals/{n}/vouchers`` with an entry dated in a closed year, or filed under a closed
  ``accountingYear``: 400 validation error, ``E07090`` on that entry's ``date`` (nothing is stored; in a bulk
  post the other vouchers are refused too, as for any validation error). The OpenAPI
  ``journalsapi/.../draft-entries`` POST/PUT answers 400 problem+json, ``AccountingYearClosed`` on ``date``.
- Booking journal entries (``journalsapi/.../journals/{n}/book`` and ``.../bookdraftentries``) when any entry
  to book lies in a closed year: 400 problem+json ``ValidationFailed`` with an ``AccountingYearClosed`` error
  on ``entryNumbers``; nothing is booked (all or nothing).
- Booking a draft invoice (``POST /invoices/booked``, ``PUT /invoices/booked/{n}``) dated in a closed year:
  400 validation error, ``E07090`` on ``draftInvoice.date``; the draft stays.

What is not refused, and why:

- Creating or changing a **draft invoice** dated in a closed year is allowed. The reference does not say
  what e-conomic does; a draft invoice books nothing (no entry reaches the ledger until it is booked), so it
  is not a "transaction" in the schema's sense, and refusing only at booking lets a client fix the draft's
  date and then book it. A journal voucher differs: it files entries under an accounting year, so it is
  refused at once.
- Entries booked before the year was closed stay, and reads (entries, totals) are never refused. Draft
  entries already in a journal stay there; they cannot be booked until the year is reopened.

A year is closed or reopened by the test/admin route ``PUT /_sandbox/accounting-years/{year}`` with
``{"closed": true|false}`` (see ``app.py``), or by loading it with ``"closed": true``.

"""

from __future__ import annotations

from typing import Any

from sandbox.economic.errors import YEAR_CLOSED, field_error
from sandbox.economic.ids import decode_key
from sandbox.economic.store import Store

TABLE = "accounting-years"
#: The OpenAPI services' error code for the same refusal (the sandbox's own, in their PascalCase style).
PROBLEM_CODE = "AccountingYearClosed"


class YearClosedError(ValueError):
    """Booking was refused: the listed draft entries lie in closed accounting years."""

    def __init__(self, closed: dict[str, list[int]]) -> None:
        self.closed = closed
        super().__init__(" ".join(closed_message(year) for year in closed))


def closed_message(year: str) -> str:
    return f"Accounting year {year} is closed."


def closed_field_error(year: str, value: Any) -> dict[str, Any]:
    """The legacy annotated error for a value that falls in a closed year."""
    return field_error(YEAR_CLOSED, closed_message(year), value, with_value=True)


def closed_problem(year: str, prop: str) -> dict[str, Any]:
    """One entry of an OpenAPI problem's ``errors`` list for the same refusal."""
    return {"message": closed_message(year), "errorCode": PROBLEM_CODE, "property": prop}


def is_closed(record: dict[str, Any] | None) -> bool:
    return bool(record and record.get("closed") is True)


def holding(store: Store, when: Any) -> dict[str, Any] | None:
    """The accounting year whose ``fromDate..toDate`` holds the date ``when`` (ISO text), or None."""
    if not isinstance(when, str):
        return None
    for record in store.table(TABLE).values():
        if str(record.get("fromDate", "")) <= when <= str(record.get("toDate", "")):
            return record
    return None


def closed_year(store: Store, when: Any, year_key: Any = None) -> str | None:
    """The closed year a transaction dated ``when`` (and filed under ``year_key``, when given) would fall
    in: the named year if it is closed, else the year holding the date if that one is; None when both are
    open (or unknown)."""
    named = store.get(TABLE, year_key) if isinstance(year_key, str) else None
    if named is not None and is_closed(named):
        return str(named["year"])
    found = holding(store, when)
    return str(found["year"]) if found is not None and is_closed(found) else None


def set_closed(store: Store, segment: str, closed: bool) -> dict[str, Any]:
    """Close or reopen a year (the admin route); ``KeyError`` when the year does not exist."""
    key = decode_key(segment)
    with store.lock:
        record = store.get(TABLE, key)
        if record is None:
            raise KeyError(key)
        updated = dict(record)
        updated["closed"] = closed
        if "closed" not in record:  # keep the record's property order: closed after toDate, as served
            updated = _with_closed_after_to_date(record, closed)
        store.put(TABLE, key, updated)
        return updated


def _with_closed_after_to_date(record: dict[str, Any], closed: bool) -> dict[str, Any]:
    ordered: dict[str, Any] = {}
    for name, value in record.items():
        ordered[name] = value
        if name == "toDate":
            ordered["closed"] = closed
    ordered.setdefault("closed", closed)
    return ordered
