"""The constraints of the write schemas the service uses, kept in code.

Used only when e-conomic's schema folder is absent, so the sandbox validates the same way without it. Each
entry is a trimmed draft-03 schema holding the facts of the published file (required flags, lengths, ranges,
enums, decimals); descriptions are left out.

"""

from __future__ import annotations

from typing import Any


def _s(
    max_length: int | None = None, *, required: bool = False, min_length: int | None = None
) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    if max_length is not None:
        node["maxLength"] = max_length
    if min_length is not None:
        node["minLength"] = min_length
    if required:
        node["required"] = True
    return node


def _i(minimum: int | None = None, maximum: int | None = None, *, required: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        node["minimum"] = minimum
    if maximum is not None:
        node["maximum"] = maximum
    if required:
        node["required"] = True
    return node


def _n(decimals: int | None = 2, *, required: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "number"}
    if decimals is not None:
        node["maxDecimal"] = decimals
    if required:
        node["required"] = True
    return node


def _ref(key: str, key_node: dict[str, Any] | None = None, *, required: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {
        "type": "object",
        "properties": {key: key_node or {"type": "integer"}, "self": {"type": "string", "format": "uri"}},
    }
    if required:
        node["required"] = True
    return node


def _obj(properties: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        node["required"] = True
    return node


_PAYMENT_TERMS_TYPES = [
    "net",
    "invoiceMonth",
    "paidInCash",
    "prepaid",
    "dueDate",
    "factoring",
    "invoiceWeekStartingSunday",
    "invoiceWeekStartingMonday",
    "creditcard",
]

_CUSTOMER = {
    "customerNumber": _i(1, 999999999),
    "name": _s(255, required=True, min_length=1),
    "currency": _s(3, required=True, min_length=3),
    "customerGroup": _ref("customerGroupNumber", required=True),
    "paymentTerms": _ref("paymentTermsNumber", required=True),
    "vatZone": _ref("vatZoneNumber", required=True),
    "layout": _ref("layoutNumber"),
    "salesPerson": _ref("employeeNumber"),
    "address": _s(510),
    "zip": _s(30),
    "city": _s(50),
    "country": _s(50),
    "email": _s(255),
    "telephoneAndFaxNumber": _s(255),
    "mobilePhone": _s(50),
    "website": _s(255),
    "corporateIdentificationNumber": _s(40),
    "pNumber": _s(10, min_length=10),
    "ean": _s(13),
    "vatNumber": _s(20),
    "publicEntryNumber": _s(50),
    "creditLimit": _n(None),
    "barred": {"type": "boolean"},
}

_SUPPLIER = {
    "supplierNumber": _i(1, 999999999),
    "name": _s(255, required=True, min_length=1),
    "currency": _s(3, required=True, min_length=3),
    "paymentTerms": _ref("paymentTermsNumber", required=True),
    "supplierGroup": _ref("supplierGroupNumber", _i(1), required=True),
    "vatZone": _ref("vatZoneNumber", required=True),
    "address": _s(255),
    "zip": _s(10),
    "city": _s(50),
    "country": _s(50),
    "email": _s(100),
    "phone": _s(20),
    "bankAccount": _s(50),
    "corporateIdentificationNumber": _s(40),
    "defaultInvoiceText": _s(100),
    "barred": {"type": "boolean"},
    "costAccount": _ref("accountNumber"),
    "layout": _ref("layoutNumber"),
    "salesPerson": _ref("employeeNumber", _i(1)),
}

_PRODUCT = {
    "productNumber": _s(25, required=True, min_length=1),
    "name": _s(300, required=True, min_length=1),
    "productGroup": _ref("productGroupNumber", required=True),
    "description": _s(500),
    "costPrice": _n(),
    "recommendedPrice": _n(),
    "salesPrice": _n(),
    "barCode": _s(50),
    "barred": {"type": "boolean"},
    "unit": _ref("unitNumber"),
    "inventory": _obj({"packageVolume": _n(), "recommendedCostPrice": _n()}),
}

_PAYMENT_TERMS = {
    "name": _s(50, required=True),
    "paymentTermsType": {"type": "string", "enum": _PAYMENT_TERMS_TYPES, "required": True},
    "daysOfCredit": _i(0),
    "description": _s(1000),
    "percentageForPrepaidAmount": _n(),
    "percentageForRemainderAmount": _n(),
    "contraAccountForPrepaidAmount": _ref("accountNumber"),
    "contraAccountForRemainderAmount": _ref("accountNumber"),
}

_LINE = _obj(
    {
        "lineNumber": _i(1),
        "sortKey": _i(1),
        "description": _s(2500),
        "product": _ref("productNumber", _s(25)),
        "quantity": _n(),
        "unitNetPrice": _n(),
        "discountPercentage": _n(),
        "unitCostPrice": _n(),
        "unit": _ref("unitNumber"),
    }
)

_DRAFT_INVOICE = {
    "date": _s(required=True),
    "currency": _s(3, required=True),
    "exchangeRate": _n(6),
    "dueDate": _s(),
    "project": _ref("projectNumber", _i(1)),
    "deliveryLocation": _ref("deliveryLocationNumber", _i(1)),
    "customer": _ref("customerNumber", _i(1, 999999999), required=True),
    "layout": _ref("layoutNumber", required=True),
    "paymentTerms": _ref("paymentTermsNumber", required=True),
    "recipient": _obj(
        {
            "name": _s(250, required=True),
            "address": _s(250),
            "zip": _s(50),
            "city": _s(250),
            "country": _s(50),
            "ean": _s(13),
            "publicEntryNumber": _s(40),
            "vatZone": _ref("vatZoneNumber", required=True),
        },
        required=True,
    ),
    "delivery": _obj(
        {"address": _s(255), "zip": _s(30), "city": _s(50), "country": _s(50), "deliveryTerms": _s(100)}
    ),
    "notes": _obj({"heading": _s(250), "textLine1": _s(1000), "textLine2": _s(1000)}),
    "references": _obj({"other": _s(250), "salesPerson": _ref("employeeNumber")}),
    "lines": {"type": "array", "items": _LINE},
}

_ENTRY_COMMON = {
    "amount": _n(required=True),
    "date": _s(required=True),
    "text": _s(250),
    "currency": _ref("code", _s(3)),
    "exchangeRate": _n(6),
    "contraAccount": _ref("accountNumber", _i(1)),
    "contraVatAccount": _ref("vatCode", _s(5)),
}

_VOUCHER = {
    "voucherNumber": {"type": "number", "minimum": 1, "maximum": 999999999},
    "accountingYear": _ref("year", _s(), required=True),
    "journal": _ref("journalNumber", {"type": "number", "minimum": 1}),
    "entries": _obj(
        {
            "financeVouchers": {
                "type": "array",
                "items": _obj(
                    {
                        **_ENTRY_COMMON,
                        "account": _ref("accountNumber", _i(1)),
                        "vatAccount": _ref("vatCode", _s(5)),
                    }
                ),
            },
            "supplierInvoices": {
                "type": "array",
                "items": _obj(
                    {
                        **_ENTRY_COMMON,
                        "supplier": _ref("supplierNumber", _i(1)),
                        "supplierInvoiceNumber": _s(30),
                        "dueDate": _s(),
                    }
                ),
            },
        }
    ),
}


def _schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": "http://json-schema.org/draft-03/schema#", "type": "object", "properties": properties}


WRITE_SCHEMAS: dict[str, dict[str, Any]] = {
    "customers.post": _schema(_CUSTOMER),
    "customers.customerno.put": _schema(_CUSTOMER),
    "customer-groups.post": _schema(
        {
            "customerGroupNumber": _i(1, required=True),
            "name": _s(50),
            "account": _obj({"accountNumber": _i(required=True)}),
            "layout": _ref("layoutNumber"),
        }
    ),
    "customer-groups.customergroupnumber.put": _schema(
        {
            "name": _s(50),
            "account": _obj({"accountNumber": _i(required=True)}),
            "layout": _ref("layoutNumber"),
        }
    ),
    "suppliers.post": _schema(_SUPPLIER),
    "suppliers.suppliernumber.put": _schema({**_SUPPLIER, "supplierNumber": _i(1, 999999999, required=True)}),
    "products.post": _schema(_PRODUCT),
    "products.productnumber.put": _schema(_PRODUCT),
    "payment-terms.post": _schema(_PAYMENT_TERMS),
    "payment-terms.paymenttermsnumber.put": _schema(_PAYMENT_TERMS),
    "units.post": _schema({"name": _s(100, required=True)}),
    "units.unitnumber.put": _schema({"name": _s(100, required=True)}),
    "invoices.drafts.post": _schema(_DRAFT_INVOICE),
    "invoices.drafts.draftinvoicenumber.put": _schema(_DRAFT_INVOICE),
    "invoices.drafts.draftinvoicenumber.lines.post": _schema(
        {"lines": {"type": "array", "items": _LINE, "required": True}}
    ),
    "invoices.booked.post": _schema(
        {
            "draftInvoice": _ref("draftInvoiceNumber", _i(1), required=True),
            "bookWithNumber": _i(1),
            "sendBy": {"type": "string", "enum": ["none", "EAN", "Email"]},
        }
    ),
    "journals.journalnumber.vouchers.post": _schema(_VOUCHER),
}

_T = dict[str, str]


def _fields(**kinds: str) -> _T:
    return {name.replace("__", "."): kind for name, kind in kinds.items()}


_CUSTOMER_FILTER = _fields(
    address="string",
    balance="number",
    barred="boolean",
    city="string",
    corporateIdentificationNumber="string",
    country="string",
    creditLimit="number",
    currency="string",
    customerNumber="integer",
    ean="string",
    email="string",
    lastUpdated="string",
    name="string",
    publicEntryNumber="string",
    telephoneAndFaxNumber="string",
    mobilePhone="string",
    vatNumber="string",
    website="string",
    zip="string",
    customerGroup__customerGroupNumber="integer",
)
_PRODUCT_FILTER = _fields(
    productNumber="string",
    description="string",
    name="string",
    costPrice="number",
    recommendedPrice="number",
    salesPrice="number",
    barCode="string",
    barred="boolean",
    lastUpdated="string",
    unit__unitNumber="integer",
    productGroup__productGroupNumber="integer",
)
_DRAFT_FILTER = _fields(
    draftInvoiceNumber="integer",
    date="string",
    currency="string",
    exchangeRate="number",
    paymentTerms__paymentTermsNumber="integer",
    customer__customerNumber="integer",
    recipient__name="string",
    notes__heading="string",
    references__other="string",
    lastUpdated="string",
)

COLLECTION_FIELDS: dict[str, tuple[_T, _T]] = {
    "customers.get": (
        _CUSTOMER_FILTER,
        {
            k: v
            for k, v in _CUSTOMER_FILTER.items()
            if k not in ("barred", "customerGroup.customerGroupNumber")
        },
    ),
    "products.get": (
        _PRODUCT_FILTER,
        {
            k: v
            for k, v in _PRODUCT_FILTER.items()
            if k not in ("unit.unitNumber", "productGroup.productGroupNumber")
        },
    ),
    "suppliers.get": (
        _fields(
            name="string",
            supplierNumber="integer",
            barred="boolean",
            currency="string",
            email="string",
            supplierGroup__supplierGroupNumber="integer",
        ),
        {},
    ),
    "customer-groups.get": (
        _fields(customerGroupNumber="integer", name="string"),
        _fields(customerGroupNumber="integer", name="string"),
    ),
    "employees.get": (
        _fields(employeeNumber="integer", name="string", barred="boolean"),
        _fields(employeeNumber="integer", name="string"),
    ),
    "accounts.get": (
        _fields(accountNumber="integer", accountType="string", name="string", barred="boolean"),
        _fields(accountNumber="integer", accountType="string", name="string"),
    ),
    "invoices.drafts.get": (_DRAFT_FILTER, {k: v for k, v in _DRAFT_FILTER.items() if k != "lastUpdated"}),
    "invoices.booked.get": (
        _fields(
            bookedInvoiceNumber="integer",
            date="string",
            currency="string",
            customer__customerNumber="integer",
        ),
        _fields(bookedInvoiceNumber="integer", date="string"),
    ),
    "orders.drafts.get": (
        _fields(
            orderNumber="integer", date="string", customer__customerNumber="integer", lastUpdated="string"
        ),
        _fields(orderNumber="integer", date="string"),
    ),
    "orders.sent.get": (
        _fields(
            orderNumber="integer", date="string", customer__customerNumber="integer", lastUpdated="string"
        ),
        _fields(orderNumber="integer", date="string"),
    ),
    "orders.archived.get": (
        _fields(orderNumber="integer", date="string", customer__customerNumber="integer"),
        _fields(orderNumber="integer", date="string"),
    ),
    "journals.get": (
        _fields(journalNumber="integer", name="string"),
        _fields(journalNumber="integer", name="string"),
    ),
    "journals.journalnumber.entries.get": (
        _fields(
            account__accountNumber="integer",
            supplier__supplierNumber="integer",
            text="string",
            amount="number",
            date="string",
            entryType="string",
            voucher__voucherNumber="integer",
            journalEntryNumber="integer",
        ),
        _fields(amount="number", date="string", journalEntryNumber="integer"),
    ),
    "accounting-years.get": (
        _fields(fromDate="string", toDate="string", year="string"),
        _fields(fromDate="string", toDate="string", year="string"),
    ),
    "accounting-years.accountingyear.entries.get": (
        _fields(
            amount="number",
            date="string",
            entryNumber="integer",
            entryType="string",
            text="string",
            voucherNumber="integer",
            supplierInvoiceNumber="string",
        ),
        _fields(amount="number", date="string", entryNumber="integer", voucherNumber="integer"),
    ),
    "accounts.accountnumber.accounting-years.get": (
        _fields(fromDate="string", toDate="string", closed="boolean", year="string"),
        _fields(fromDate="string", toDate="string", closed="boolean", year="string"),
    ),
    "accounts.accountnumber.accounting-years.accountingyear.entries.get": (
        _fields(
            amount="number",
            amountInBaseCurrency="number",
            date="string",
            entryNumber="integer",
            entryType="string",
            text="string",
            voucherNumber="integer",
            supplierInvoiceNumber="string",
        ),
        _fields(
            amount="number",
            amountInBaseCurrency="number",
            date="string",
            entryNumber="integer",
            voucherNumber="integer",
        ),
    ),
}
