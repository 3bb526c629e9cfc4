"""Journals: vouchers (finance vouchers and supplier-invoice entries) and the draft entries they create.

``POST /journals/{n}/vouchers`` takes one voucher object or an array of them and answers 201 with an
**array** (§12.13). Each entry needs ``amount`` and ``date`` (schema); the sandbox also checks that the
accounting year exists and the date lies inside it, that the journal allows the entry type, that a finance
voucher names an ``account``, that a supplier invoice names a ``supplier`` or a ``contraAccount``, and that
every referenced account, supplier, VAT code and currency exists. The sign of a supplier-invoice amount is
not checked (the reference says it is undocumented). Entries land in ``/journals/{n}/entries`` with a
``journalEntryNumber``.

Two refusals rest on e-conomic's schemas and the reference's live finding: an entry dated in a closed
accounting year (``closed``: "closed for further transactions"; ``E07090`` on ``date``, see ``years.py``), and
a finance voucher whose ``account`` or ``contraAccount`` has ``blockDirectEntries`` (§12.13 [O: S5]: both
accounts had to allow direct entries; ``E07130`` on that field, naming the account). Only finance vouchers are
checked for ``blockDirectEntries``: the live finding is about them alone. Codes and texts are the sandbox's.

"""

from __future__ import annotations

from typing import Any

from sandbox.economic import attachments, years
from sandbox.economic import errors as codes
from sandbox.economic.errors import EconomicError, field_error, not_found, validation_error
from sandbox.economic.legacy import check_body, merge_errors
from sandbox.economic.references import Ref, resolve_all, self_link
from sandbox.economic.resources import Resource
from sandbox.economic.store import Store, link

ENTRY_TYPES = {
    "financeVouchers": "financeVoucher",
    "supplierInvoices": "supplierInvoice",
    "supplierPayments": "supplierPayment",
    "customerPayments": "customerPayment",
    "manualCustomerInvoices": "manualCustomerInvoice",
}
ENTRY_TYPE_NUMBERS = {
    "customerPayment": 2,
    "supplierInvoice": 3,
    "supplierPayment": 4,
    "financeVoucher": 5,
    "manualCustomerInvoice": 10,
}
ENTRIES = Resource(
    "journal-entries",
    "journalEntryNumber",
    schema_base="journals.journalNumber.entries",
    item_segment="entryNumber",
)
VOUCHERS_TABLE = "vouchers"
_ENTRY_REFS = (
    Ref("account", "accounts", "accountNumber", label="Account"),
    Ref("contraAccount", "accounts", "accountNumber", label="Contra account"),
    Ref("supplier", "suppliers", "supplierNumber", label="Supplier"),
    Ref("customer", "customers", "customerNumber", label="Customer"),
    Ref("vatAccount", "vat-accounts", "vatCode", key_type=str, label="VAT account"),
    Ref("contraVatAccount", "vat-accounts", "vatCode", key_type=str, label="Contra VAT account"),
    Ref("currency", "currencies", "code", key_type=str, label="Currency"),
    Ref("employee", "employees", "employeeNumber", label="Employee"),
    Ref("project", "projects", "projectNumber", label="Project"),
)


def voucher_key(year: str, number: int) -> str:
    return f"{year}-{number}"


def journal_or_404(store: Store, segment: str) -> dict[str, Any]:
    try:
        number = int(segment)
    except ValueError:
        raise not_found() from None
    journal = store.get("journals", number)
    if journal is None:
        raise not_found()
    return journal


def post_vouchers(store: Store, journal_segment: str, body: Any) -> list[dict[str, Any]]:
    journal = journal_or_404(store, journal_segment)
    documents = body if isinstance(body, list) else [body]
    prepared: list[dict[str, Any]] = []
    bulk_errors: list[dict[str, Any]] = []
    with store.lock:
        for index, document in enumerate(documents):
            try:
                prepared.append(_prepare_voucher(store, journal, document))
            except EconomicError as exc:
                if not isinstance(body, list):
                    raise
                bulk_errors.append({"arrayIndex": index, **(exc.errors or {})})
        if bulk_errors:
            raise EconomicError(400, "Validation error.", errors=bulk_errors)
        return [_store_voucher(store, journal, voucher) for voucher in prepared]


def _prepare_voucher(store: Store, journal: dict[str, Any], document: Any) -> dict[str, Any]:
    voucher, found = check_body(document, "journals.journalNumber.vouchers.post")
    year_found = resolve_all(
        voucher,
        (Ref("accountingYear", "accounting-years", "year", key_type=str, label="Accounting year"),),
        store,
    )
    merge_errors(found, year_found)
    year = store.get("accounting-years", (voucher.get("accountingYear") or {}).get("year"))
    restricted = journal.get("settings", {}).get("entryTypeRestrictedTo")
    entries = voucher.get("entries") or {}
    entry_errors: dict[str, Any] = {}
    count = 0
    for group, entry_type in ENTRY_TYPES.items():
        problems = []
        for index, entry in enumerate(entries.get(group) or []):
            count += 1
            problem = _check_entry(store, entry, entry_type, restricted, year)
            if problem:
                problems.append({"arrayIndex": index, **problem})
        if problems:
            entry_errors[group] = problems
    if entry_errors:
        merge_errors(found, {"entries": entry_errors})
    if not count and "entries" not in found:
        found["entries"] = {
            "errors": [field_error(codes.REQUIRED_VALUE_MISSING, "A voucher needs at least one entry.")]
        }
    if found:
        raise validation_error(found)
    return voucher


def _check_entry(
    store: Store, entry: dict[str, Any], entry_type: str, restricted: str | None, year: dict[str, Any] | None
) -> dict[str, Any]:
    found = resolve_all(entry, _ENTRY_REFS, store)
    if restricted and restricted != entry_type:
        found.setdefault(
            "entryType",
            {
                "errors": [
                    field_error(
                        "E07120",
                        f"The journal only allows entries of type {restricted}.",
                        entry_type,
                        with_value=True,
                    )
                ]
            },
        )
    if entry_type == "financeVoucher" and "account" not in entry:
        found.setdefault(
            "account",
            {"errors": [field_error(codes.REQUIRED_VALUE_MISSING, "A finance voucher needs an account.")]},
        )
    if entry_type == "supplierInvoice" and "supplier" not in entry and "contraAccount" not in entry:
        found.setdefault(
            "supplier",
            {
                "errors": [
                    field_error(
                        codes.REQUIRED_VALUE_MISSING,
                        "A supplier invoice needs a supplier or a contraAccount.",
                    )
                ]
            },
        )
    if entry_type == "financeVoucher":
        for side in ("account", "contraAccount"):
            blocked = _blocked_account(store, entry.get(side))
            if blocked is not None and side not in found:
                message = f"Account {blocked} does not allow direct entries."
                found[side] = {
                    "errors": [field_error(codes.DIRECT_ENTRIES_BLOCKED, message, blocked, with_value=True)]
                }
    when = entry.get("date")
    if year is not None and isinstance(when, str) and not year["fromDate"] <= when <= year["toDate"]:
        found.setdefault(
            "date",
            {
                "errors": [
                    field_error(
                        "E07080", f"date must lie in accounting year {year['year']}.", when, with_value=True
                    )
                ]
            },
        )
    closed = years.closed_year(store, when, year["year"] if year is not None else None)
    if closed is not None:
        found.setdefault("date", {}).setdefault("errors", []).append(years.closed_field_error(closed, when))
    return found


def _blocked_account(store: Store, ref: Any) -> int | None:
    """The number of the (resolved) account ``ref`` when that account blocks direct entries, else None."""
    number = ref.get("accountNumber") if isinstance(ref, dict) else None
    account = store.get("accounts", number)
    return number if account is not None and account.get("blockDirectEntries") is True else None


def _store_voucher(store: Store, journal: dict[str, Any], voucher: dict[str, Any]) -> dict[str, Any]:
    journal_number = journal["journalNumber"]
    year = voucher["accountingYear"]["year"]
    number = voucher.get("voucherNumber")
    if number is None:
        minimum = journal.get("settings", {}).get("voucherNumbers", {}).get("minimumVoucherNumber", 1)
        # Booked vouchers keep their numbers (and their attachments): a new voucher never takes one.
        used = [
            v["voucherNumber"]
            for table in (VOUCHERS_TABLE, attachments.BOOKED_VOUCHERS_TABLE)
            for v in store.table(table).values()
            if v["journal"]["journalNumber"] == journal_number and v["accountingYear"]["year"] == year
        ]
        number = max([minimum - 1, *used]) + 1
    number = int(number)
    key = voucher_key(year, number)
    voucher_self = link(f"journals/{journal_number}/vouchers/{key}")
    journal_ref = {"journalNumber": journal_number, "self": self_link("journals", journal_number)}
    year_ref = {"year": year, "self": self_link("accounting-years", year)}
    existing = store.get(VOUCHERS_TABLE, f"{journal_number}/{key}")
    grouped: dict[str, list[dict[str, Any]]] = dict(existing["entries"]) if existing else {}
    for group, entry_type in ENTRY_TYPES.items():
        for entry in (voucher.get("entries") or {}).get(group) or []:
            entry_number = store.next_number(ENTRIES.path)
            stored = {
                **entry,
                "journalEntryNumber": entry_number,
                "entryType": entry_type,
                "journal": journal_ref,
                "voucher": {"voucherNumber": number, "accountingYear": year_ref, "self": voucher_self},
            }
            if entry_type == "supplierInvoice":
                stored["remainder"] = entry["amount"]
                stored["remainderInDefaultCurrency"] = entry["amount"]
            stored["self"] = link(f"journals/{journal_number}/entries/{entry_number}")
            store.put(
                ENTRIES.path,
                entry_number,
                {
                    **stored,
                    "metaData": {
                        "delete": {
                            "description": "Delete entry.",
                            "href": stored["self"],
                            "httpMethod": "delete",
                        }
                    },
                },
            )
            grouped.setdefault(group, []).append(stored)
    record = {
        "accountingYear": year_ref,
        "journal": journal_ref,
        "voucherNumber": number,
        "entries": grouped,
        "attachment": link(f"journals/{journal_number}/vouchers/{key}/attachment"),
        "self": voucher_self,
    }
    store.put(VOUCHERS_TABLE, f"{journal_number}/{key}", record)
    return record


def journal_vouchers(store: Store, journal_number: int) -> list[dict[str, Any]]:
    return [
        v for v in store.table(VOUCHERS_TABLE).values() if v["journal"]["journalNumber"] == journal_number
    ]


def journal_entries(store: Store, journal_number: int) -> list[dict[str, Any]]:
    return [e for e in store.table(ENTRIES.path).values() if e["journal"]["journalNumber"] == journal_number]


def delete_entry(store: Store, journal_number: int, segment: str, *, booked: bool = False) -> None:
    """Remove a draft entry; its voucher goes with its last entry, and, unless the entry was ``booked``, so
    does the voucher's attachment."""
    try:
        entry_number = int(segment)
    except ValueError:
        raise not_found() from None
    with store.lock:
        entry = store.get(ENTRIES.path, entry_number)
        if entry is None or entry["journal"]["journalNumber"] != journal_number:
            raise not_found()
        store.delete(ENTRIES.path, entry_number)
        voucher_ref = entry["voucher"]
        year = voucher_ref["accountingYear"]["year"]
        key = f"{journal_number}/{voucher_key(year, voucher_ref['voucherNumber'])}"
        voucher = store.get(VOUCHERS_TABLE, key)
        if voucher is not None:
            remaining = {
                group: [e for e in rows if e["journalEntryNumber"] != entry_number]
                for group, rows in voucher["entries"].items()
            }
            remaining = {group: rows for group, rows in remaining.items() if rows}
            if remaining:
                store.put(VOUCHERS_TABLE, key, {**voucher, "entries": remaining})
            else:
                store.delete(VOUCHERS_TABLE, key)
                if not booked and not store.exists(attachments.BOOKED_VOUCHERS_TABLE, key):
                    attachments.drop(store, key)


# ------------------------------------------------------------------------------------------------ booking

BOOKED_ENTRIES = Resource(
    "booked-entries",
    "entryNumber",
    schema_base="accounting-years.accountingYear.entries",
    item_segment="entryNumber",
)
_SIDES = (("account", 1), ("contraAccount", -1))


def book_journal(store: Store, journal_number: int, entry_numbers: list[int] | None = None) -> list[int]:
    """Book a journal's draft entries (all, or the listed ones): each entry becomes booked entries on its
    account and contra account (the contra side with the opposite sign), filed under its accounting year, and
    leaves the journal. Returns the new booked entry numbers. The journal must exist; listed numbers must be
    draft entries of this journal (else ``ValueError`` naming them), and none may lie in a closed accounting
    year (else ``years.YearClosedError``, a ``ValueError``; nothing is booked)."""
    with store.lock:
        drafts = journal_entries(store, journal_number)
        if entry_numbers is not None:
            wanted = set(entry_numbers)
            unknown = sorted(wanted - {entry["journalEntryNumber"] for entry in drafts})
            if unknown:
                raise ValueError(f"not draft entries of journal {journal_number}: {unknown}")
            drafts = [entry for entry in drafts if entry["journalEntryNumber"] in wanted]
        closed: dict[str, list[int]] = {}
        for entry in drafts:
            year = years.closed_year(store, entry.get("date"), entry["voucher"]["accountingYear"]["year"])
            if year is not None:
                closed.setdefault(year, []).append(entry["journalEntryNumber"])
        if closed:
            raise years.YearClosedError({year: sorted(numbers) for year, numbers in closed.items()})
        booked: list[int] = []
        for entry in sorted(drafts, key=lambda e: e["journalEntryNumber"]):
            booked += _book_entry(store, entry)
            _mark_voucher_booked(store, entry)
            delete_entry(store, journal_number, str(entry["journalEntryNumber"]), booked=True)
    return booked


def _mark_voucher_booked(store: Store, entry: dict[str, Any]) -> None:
    """Remember the entry's voucher as booked: it keeps its number and its attachment."""
    voucher = entry["voucher"]
    year = voucher["accountingYear"]["year"]
    key = f"{entry['journal']['journalNumber']}/{voucher_key(year, voucher['voucherNumber'])}"
    if not store.exists(attachments.BOOKED_VOUCHERS_TABLE, key):
        store.put(
            attachments.BOOKED_VOUCHERS_TABLE,
            key,
            {
                "journal": entry["journal"],
                "accountingYear": voucher["accountingYear"],
                "voucherNumber": voucher["voucherNumber"],
                "self": voucher["self"],
            },
        )


def _book_entry(store: Store, entry: dict[str, Any]) -> list[int]:
    year = entry["voucher"]["accountingYear"]["year"]
    currency = (entry.get("currency") or {}).get("code", "DKK")
    rate = float(entry.get("exchangeRate") or 100.0)
    numbers = []
    sides = [(side, sign) for side, sign in _SIDES if side in entry]
    if entry.get("entryType") == "supplierInvoice" and "supplier" in entry:
        sides = [("supplier", -1), *[(s, -sign) for s, sign in sides if s == "contraAccount"]]
    for side, sign in sides:
        number = store.next_number(BOOKED_ENTRIES.path)
        amount = round(float(entry["amount"]) * sign, 2)
        record: dict[str, Any] = {
            "entryNumber": number,
            "entryType": entry.get("entryType", "financeVoucher"),
            "date": entry["date"],
            "amount": amount,
            "amountInBaseCurrency": round(amount * rate / 100, 2),
            "currency": currency,
            "voucherNumber": entry["voucher"]["voucherNumber"],
        }
        if side == "supplier":
            record["supplier"] = entry["supplier"]
            record["remainder"] = amount
            record["remainderInBaseCurrency"] = record["amountInBaseCurrency"]
        else:
            record["account"] = entry[side]
        for name in ("text", "supplierInvoiceNumber", "dueDate"):
            if name in entry:
                record[name] = entry[name]
        record["self"] = link(f"accounting-years/{year}/entries/{number}")
        store.put(BOOKED_ENTRIES.path, number, record)
        store.meta_of(BOOKED_ENTRIES.path, number)["year"] = year
        numbers.append(number)
    return numbers


def year_entries(store: Store, year: str) -> list[dict[str, Any]]:
    table = store.table(BOOKED_ENTRIES.path)
    return [
        entry
        for number, entry in table.items()
        if store.meta_of(BOOKED_ENTRIES.path, number).get("year") == year
    ]
