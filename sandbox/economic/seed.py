"""A fresh, believable agreement: what a new Danish e-conomic company has before anyone adds data.

VAT zones, currencies, layouts, a small chart of accounts with VAT accounts, journals (one open to every
entry type, one restricted to supplier invoices), units, one payment term, one product group, one customer
group, one supplier group, one employee and the current accounting year.

"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.economic.references import self_link
from sandbox.economic.store import Store, link

BASE_CURRENCY = "DKK"
# Price in DKK of 100 units of the currency (e-conomic's exchange-rate convention).
EXCHANGE_RATES = {"DKK": 100.0, "EUR": 746.0, "NOK": 64.5, "SEK": 65.2, "USD": 690.0, "GBP": 870.0}
CURRENCIES = [
    ("DKK", "Danske kroner", "208"),
    ("EUR", "Euro", "978"),
    ("NOK", "Norske kroner", "578"),
    ("SEK", "Svenske kroner", "752"),
    ("USD", "US dollar", "840"),
    ("GBP", "Britiske pund", "826"),
]
VAT_ZONES = [
    (1, "Domestic", True, True),
    (2, "EU", True, True),
    (3, "Abroad", True, True),
    (4, "Domestic exempt", True, False),
]
# VAT rate per zone used when the sandbox prices a sales document.
VAT_RATE_BY_ZONE = {1: 0.25, 2: 0.0, 3: 0.0, 4: 0.0}
ACCOUNTS: list[tuple[int, str, str, str, str | None]] = [
    # number, name, accountType, debitCredit, vatCode
    (1000, "Income statement", "heading", "debit", None),
    (1010, "Sales of goods, domestic", "profitAndLoss", "credit", "U25"),
    (1020, "Sales of goods, EU", "profitAndLoss", "credit", None),
    (1030, "Sales of goods, abroad", "profitAndLoss", "credit", None),
    (1310, "Cost of goods sold", "profitAndLoss", "debit", "I25"),
    (1320, "Stock value adjustment", "profitAndLoss", "debit", None),
    (3600, "Office supplies", "profitAndLoss", "debit", "I25"),
    (5000, "Balance sheet", "heading", "debit", None),
    (5600, "Bank", "status", "debit", None),
    (5800, "Debtors", "status", "debit", None),
    (5850, "Inventory", "status", "debit", None),
    (6800, "Creditors", "status", "credit", None),
    (7010, "Sales VAT", "status", "credit", None),
    (7020, "Purchase VAT", "status", "debit", None),
]
VAT_ACCOUNTS = [("U25", "Sales VAT 25%", 25.0, 7010, 1), ("I25", "Purchase VAT 25%", 25.0, 7020, 2)]
LAYOUTS = [(19, "Standard layout"), (20, "Layout with logo")]
UNITS = [(1, "pcs."), (2, "hours"), (3, "kg")]


def _ref(table: str, key_name: str, key: Any) -> dict[str, Any]:
    return {key_name: key, "self": self_link(table, key)}


def seed(store: Store, today: datetime | None = None) -> None:
    """Fill ``store`` (assumed empty) with the fresh agreement."""
    year = (today or datetime.now(UTC)).year
    put = store.put
    for code, name, iso in CURRENCIES:
        put(
            "currencies",
            code,
            {"code": code, "name": name, "isoNumber": iso, "self": self_link("currencies", code)},
        )
    for number, name, for_customer, for_supplier in VAT_ZONES:
        put(
            "vat-zones",
            number,
            {
                "vatZoneNumber": number,
                "name": name,
                "enabledForCustomer": for_customer,
                "enabledForSupplier": for_supplier,
                "self": self_link("vat-zones", number),
            },
        )
    for number, name, kind, side, vat_code in ACCOUNTS:
        account: dict[str, Any] = {
            "accountNumber": number,
            "accountType": kind,
            "balance": 0.0,
            "blockDirectEntries": kind == "heading",
            "debitCredit": side,
            "name": name,
            "accountingYears": link(f"accounts/{number}/accounting-years"),
            "self": self_link("accounts", number),
        }
        if vat_code:
            account["vatAccount"] = _ref("vat-accounts", "vatCode", vat_code)
        put("accounts", number, account)
    for code, name, rate, account_number, type_number in VAT_ACCOUNTS:
        put(
            "vat-accounts",
            code,
            {
                "vatCode": code,
                "name": name,
                "ratePercentage": rate,
                "account": _ref("accounts", "accountNumber", account_number),
                "vatType": {
                    "vatTypeNumber": type_number,
                    "name": "Sales VAT" if type_number == 1 else "Purchase VAT",
                    "self": link(f"vat-types/{type_number}"),
                },
                "self": self_link("vat-accounts", code),
            },
        )
    for number, name in LAYOUTS:
        # layouts.layoutNumber.get: {layoutNumber, name, deleted, self} (economic-api.md §12.8)
        layout = {
            "layoutNumber": number,
            "name": name,
            "deleted": False,
            "self": self_link("layouts", number),
        }
        put("layouts", number, layout)
    for number, name in UNITS:
        put(
            "units",
            number,
            {
                "unitNumber": number,
                "name": name,
                "products": link(f"units/{number}/products"),
                "self": self_link("units", number),
            },
        )
    put(
        "payment-terms",
        1,
        {
            "paymentTermsNumber": 1,
            "name": "Net 8 days",
            "paymentTermsType": "net",
            "daysOfCredit": 8,
            "self": self_link("payment-terms", 1),
        },
    )
    put("product-groups", 1, product_group_record(1, "Goods with VAT"))
    store.meta_of("product-groups", 1)["domesticAccountId"] = 1010
    put(
        "customer-groups",
        1,
        {
            "customerGroupNumber": 1,
            "name": "Domestic customers",
            "account": _ref("accounts", "accountNumber", 5800),
            "customers": link("customer-groups/1/customers"),
            "self": self_link("customer-groups", 1),
        },
    )
    put("supplier-groups", 1, supplier_group_record(1, "Suppliers", 6800))
    put("employee-groups", 1, {"number": 1, "name": "Employees"})
    put("employees", 1, employee_record(1, "Sandbox Administrator", 1, email="admin@sandbox.invalid"))
    put("project-groups", 1, {"number": 1, "name": "Internal projects", "type": 1})
    put("project-groups", 2, {"number": 2, "name": "Customer projects", "type": 2})
    put("journals", 1, journal_record(1, "Daily journal", None, 5600))
    put("journals", 2, journal_record(2, "Supplier invoices", "supplierInvoice", None))
    put("accounting-years", str(year), accounting_year_record(str(year), f"{year}-01-01", f"{year}-12-31"))


def product_group_record(number: int, name: str) -> dict[str, Any]:
    return {
        "productGroupNumber": number,
        "name": name,
        "inventoryEnabled": False,
        "salesAccounts": link(f"product-groups/{number}/sales-accounts"),
        "products": link(f"product-groups/{number}/products"),
        "self": self_link("product-groups", number),
    }


def supplier_group_record(number: int, name: str, account_number: int) -> dict[str, Any]:
    return {
        "supplierGroupNumber": number,
        "name": name,
        "account": _ref("accounts", "accountNumber", account_number),
        "self": self_link("supplier-groups", number),
    }


def employee_record(
    number: int, name: str, group: int, *, email: str = "", phone: str = "", barred: bool = False
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "employeeNumber": number,
        "name": name,
        "employeeGroup": {"employeeGroupNumber": group, "self": link(f"employee-groups/{group}")},
    }
    if email:
        record["email"] = email
    if phone:
        record["phone"] = phone
    if barred:
        record["barred"] = True
    record.update(
        {
            "customers": link(f"employees/{number}/customers"),
            "draftInvoices": link(
                f"invoices/drafts?filter=references.salesPerson.employeeNumber$eq:{number}"
            ),
            "bookedInvoices": link(
                f"invoices/booked?filter=references.salesPerson.employeeNumber$eq:{number}"
            ),
            "self": self_link("employees", number),
        }
    )
    return record


def journal_record(
    number: int, name: str, restricted_to: str | None, finance_contra: int | None
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "voucherNumbers": {"minimumVoucherNumber": 1, "maximumVoucherNumber": 999999999}
    }
    if restricted_to:
        settings["entryTypeRestrictedTo"] = restricted_to
    if finance_contra:
        settings["contraAccounts"] = {"financeVouchers": _ref("accounts", "accountNumber", finance_contra)}
    return {
        "journalNumber": number,
        "name": name,
        "settings": settings,
        "entries": link(f"journals/{number}/entries"),
        "vouchers": link(f"journals/{number}/vouchers"),
        "templates": {
            "financeVoucher": link(f"journals/{number}/templates/financeVoucher"),
            "manualCustomerInvoice": link(f"journals/{number}/templates/manualCustomerInvoice"),
            "self": link(f"journals/{number}/templates"),
        },
        "self": self_link("journals", number),
    }


def accounting_year_record(year: str, from_date: str, to_date: str) -> dict[str, Any]:
    return {
        "year": year,
        "fromDate": from_date,
        "toDate": to_date,
        "closed": False,
        "entries": link(f"accounting-years/{year}/entries"),
        "periods": link(f"accounting-years/{year}/periods"),
        "totals": link(f"accounting-years/{year}/totals"),
        "vouchers": link(f"accounting-years/{year}/vouchers"),
        "self": self_link("accounting-years", year),
    }
