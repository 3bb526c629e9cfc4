"""The company as e-conomic holds it: pure functions from the neutral model to legacy REST records.

Records are what `GET /<resource>/<key>` answers (they validate against e-conomic's `*.get.schema.json`),
with every `self` link on the canonical base, as the e-conomic sandbox stores them. Booleans are always
written out (e-conomic's own demo answers carry `"barred": false` too).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sandbox.economic.ids import encode_key
from sandbox.seed.model import (
    Account,
    AccountingYear,
    Currency,
    Employee,
    Group,
    Journal,
    Layout,
    Line,
    Party,
    PaymentTerm,
    Product,
    ProductGroup,
    Project,
    ProjectGroup,
    SalesDocument,
    Unit,
    VatAccount,
    VatZone,
)
from sandbox.seed.randomness import economic_timestamp, money
from sandbox.seed.reference import PAYMENT_TERM_BY_NUMBER, UNIT_BY_NUMBER, VAT_ZONE_BY_NUMBER

CANONICAL_BASE = "https://restapi.e-conomic.com/"
Record = dict[str, Any]


def link(path: str) -> str:
    return CANONICAL_BASE + path


def self_link(table: str, key: object) -> str:
    return link(f"{table}/{encode_key(key)}")


@lru_cache(maxsize=4096)
def _target_link(table: str, key: object) -> str:
    """Self links of reference targets repeat on every record (groups, units, terms...): built once."""
    return self_link(table, key)


def ref(table: str, key_name: str, key: object, **extra: Any) -> Record:
    """A reference as e-conomic writes it: the target's key (plus any extra fields) and its self link."""
    return {key_name: key, **extra, "self": _target_link(table, key)}


# -- reference data ----------


def currency(c: Currency) -> Record:
    return {
        "code": c.code,
        "name": c.name,
        "isoNumber": c.iso_number,
        "self": self_link("currencies", c.code),
    }


def vat_zone(z: VatZone) -> Record:
    return {
        "vatZoneNumber": z.number,
        "name": z.name,
        "enabledForCustomer": z.for_customers,
        "enabledForSupplier": z.for_suppliers,
        "self": self_link("vat-zones", z.number),
    }


def account(a: Account) -> Record:
    record: Record = {
        "accountNumber": a.number,
        "accountType": a.type,
        "balance": 0.0,
        "barred": False,
        "blockDirectEntries": False,
        "debitCredit": a.debit_credit,
        "name": a.name,
        "accountingYears": link(f"accounts/{a.number}/accounting-years"),
    }
    if a.vat_code:
        record["vatAccount"] = ref("vat-accounts", "vatCode", a.vat_code)
    record["self"] = self_link("accounts", a.number)
    return record


def vat_account(v: VatAccount) -> Record:
    return {
        "vatCode": v.code,
        "name": v.name,
        "ratePercentage": v.rate,
        "barred": False,
        "account": ref("accounts", "accountNumber", v.account),
        "vatType": {
            "vatTypeNumber": v.type_number,
            "name": "Salgsmoms" if v.type_number == 1 else "Købsmoms",
            "self": link(f"vat-types/{v.type_number}"),
        },
        "self": self_link("vat-accounts", v.code),
    }


def payment_term(t: PaymentTerm) -> Record:
    return {
        "paymentTermsNumber": t.number,
        "name": t.name,
        "paymentTermsType": t.type,
        "daysOfCredit": t.days,
        "description": t.description,
        "self": self_link("payment-terms", t.number),
    }


def layout(lay: Layout) -> Record:
    return {
        "layoutNumber": lay.number,
        "name": lay.name,
        "deleted": False,
        "self": self_link("layouts", lay.number),
    }


def unit(u: Unit) -> Record:
    return {
        "unitNumber": u.number,
        "name": u.name,
        "products": link(f"units/{u.number}/products"),
        "self": self_link("units", u.number),
    }


def customer_group(g: Group) -> Record:
    return {
        "customerGroupNumber": g.number,
        "name": g.name,
        "account": ref("accounts", "accountNumber", g.account),
        "customers": link(f"customer-groups/{g.number}/customers"),
        "self": self_link("customer-groups", g.number),
    }


def supplier_group(g: Group) -> Record:
    """Legacy GET shape (undocumented by e-conomic; the sandbox's own shape)."""
    return {
        "supplierGroupNumber": g.number,
        "name": g.name,
        "account": ref("accounts", "accountNumber", g.account),
        "self": self_link("supplier-groups", g.number),
    }


def product_group(g: ProductGroup) -> Record:
    return {
        "productGroupNumber": g.number,
        "name": g.name,
        "inventoryEnabled": g.inventory_enabled,
        "salesAccounts": link(f"product-groups/{g.number}/sales-accounts"),
        "products": link(f"product-groups/{g.number}/products"),
        "self": self_link("product-groups", g.number),
    }


def employee(e: Employee) -> Record:
    return {
        "employeeNumber": e.number,
        "name": e.name,
        "email": e.email,
        "phone": e.phone,
        "barred": False,
        "employeeGroup": {"employeeGroupNumber": 1, "self": link("employee-groups/1")},
        "customers": link(f"employees/{e.number}/customers"),
        "draftInvoices": link(f"employees/{e.number}/invoices/drafts"),
        "bookedInvoices": link(f"employees/{e.number}/invoices/booked"),
        "self": self_link("employees", e.number),
    }


def journal(j: Journal) -> Record:
    settings: Record = {"voucherNumbers": {"minimumVoucherNumber": 1}}
    if j.restricted_to:
        settings["entryTypeRestrictedTo"] = j.restricted_to
    return {
        "journalNumber": j.number,
        "name": j.name,
        "settings": settings,
        "vouchers": link(f"journals/{j.number}/vouchers"),
        "entries": link(f"journals/{j.number}/entries"),
        "templates": {
            "financeVoucher": link(f"journals/{j.number}/templates/financeVoucher"),
            "manualCustomerInvoice": link(f"journals/{j.number}/templates/manualCustomerInvoice"),
            "self": link(f"journals/{j.number}/templates"),
        },
        "self": self_link("journals", j.number),
    }


def accounting_year(y: AccountingYear) -> Record:
    base = f"accounting-years/{y.year}"
    return {
        "year": y.year,
        "fromDate": y.from_date.isoformat(),
        "toDate": y.to_date.isoformat(),
        "closed": y.closed,
        "periods": link(f"{base}/periods"),
        "entries": link(f"{base}/entries"),
        "totals": link(f"{base}/totals"),
        "vouchers": link(f"{base}/vouchers"),
        "self": self_link("accounting-years", y.year),
    }


def project_group(g: ProjectGroup) -> Record:
    """Projects live in e-conomic's OpenAPI Projects service: records carry `number`, no self link."""
    return {"number": g.number, "name": g.name, "type": g.type}


# -- master data ----------


def customer(p: Party) -> Record:
    """e-conomic keeps every invoice address in `email`, space-separated, primary first."""
    base = f"customers/{p.number}"
    record: Record = {
        "customerNumber": p.number,
        "name": p.name,
        "currency": p.currency,
        "customerGroup": ref("customer-groups", "customerGroupNumber", p.group),
        "paymentTerms": ref("payment-terms", "paymentTermsNumber", p.payment_term),
        "vatZone": ref("vat-zones", "vatZoneNumber", p.vat_zone),
        "layout": ref("layouts", "layoutNumber", p.layout),
        "salesPerson": ref("employees", "employeeNumber", p.employee),
        "address": p.address.street,
        "zip": p.address.zip,
        "city": p.address.city,
        "country": p.address.country,
        "email": " ".join((p.email, *p.extra_emails)),
        "telephoneAndFaxNumber": p.phone,
        "website": p.website,
        "creditLimit": p.credit_limit,
        "barred": p.barred,
        "balance": 0.0,
        "dueAmount": 0.0,
        "lastUpdated": economic_timestamp(p.updated_at),
        "contacts": link(f"{base}/contacts"),
        "deliveryLocations": link(f"{base}/delivery-locations"),
        "invoices": {
            "drafts": link(f"{base}/invoices/drafts"),
            "booked": link(f"{base}/invoices/booked"),
            "self": link(f"{base}/invoices"),
        },
        "templates": {
            "invoice": link(f"{base}/templates/invoice"),
            "invoiceLine": link(f"{base}/templates/invoiceline"),
            "self": link(f"{base}/templates"),
        },
        "totals": {
            "drafts": link(f"{base}/totals/drafts"),
            "booked": link(f"{base}/totals/booked"),
            "self": link(f"{base}/totals"),
        },
        "self": self_link("customers", p.number),
    }
    if p.corporate_id:
        record["corporateIdentificationNumber"] = p.corporate_id
    if p.ean:
        record["ean"] = p.ean
    return record


def supplier(p: Party) -> Record:
    record: Record = {
        "supplierNumber": p.number,
        "name": p.name,
        "currency": p.currency,
        "paymentTerms": ref("payment-terms", "paymentTermsNumber", p.payment_term),
        "supplierGroup": ref("supplier-groups", "supplierGroupNumber", p.group),
        "vatZone": ref("vat-zones", "vatZoneNumber", p.vat_zone),
        "layout": ref("layouts", "layoutNumber", p.layout),
        "salesPerson": ref("employees", "employeeNumber", p.employee),
        "address": p.address.street,
        "zip": p.address.zip,
        "city": p.address.city,
        "country": p.address.country,
        "email": p.email,
        "phone": p.phone,
        "bankAccount": p.bank_account,
        "barred": p.barred,
        "contacts": link(f"suppliers/{p.number}/contacts"),
        "self": self_link("suppliers", p.number),
    }
    if p.corporate_id:
        record["corporateIdentificationNumber"] = p.corporate_id
    return record


def product(p: Product) -> Record:
    """Products and lots alike: e-conomic has no bill of materials, a lot is an ordinary product."""
    u = UNIT_BY_NUMBER[p.unit]
    own = self_link("products", p.number)
    record: Record = {
        "productNumber": p.number,
        "name": p.name,
        "description": p.description,
        "costPrice": p.cost_price,
        "recommendedPrice": p.recommended_price,
        "salesPrice": p.sales_price,
        "barred": p.barred,
        "lastUpdated": economic_timestamp(p.updated_at),
        "unit": ref("units", "unitNumber", u.number, name=u.name),
        "productGroup": ref("product-groups", "productGroupNumber", p.group),
        "inventory": {"recommendedCostPrice": p.cost_price},
        "invoices": {
            "drafts": f"{own}/invoices/drafts",
            "booked": f"{own}/invoices/booked",
            "self": f"{own}/invoices",
        },
        "pricing": {"currencySpecificSalesPrices": f"{own}/pricing/currency-specific-sales-prices"},
        "self": own,
    }
    if p.barcode:
        record["barCode"] = p.barcode
    return record


def project(p: Project) -> Record:
    """A project in the OpenAPI Projects shape (`number`, no self link), as the e-conomic sandbox keeps it;
    legacy documents refer to it as `{"projectNumber": n, "self": ".../projects/n"}`."""
    record: Record = {
        "number": p.number,
        "name": p.name,
        "projectGroupNumber": p.group,
        "description": p.description,
        "isBarred": p.barred,
        "isClosed": p.closed,
        "isMainProject": False,
        "responsibleEmployeeNumber": p.employee,
        "deliveryDate": f"{p.delivery_date.isoformat()}T00:00:00",
        "lastUpdated": economic_timestamp(p.updated_at),
    }
    if p.customer is not None:
        record["customerNumber"] = p.customer
    return record


# -- documents ----------


def _line_vat(line: Line) -> float:
    return money(money(line.net_amount) * line.vat_rate / 100)


def _totals(d: SalesDocument) -> Record:
    """Document totals from the rounded line totals, so net + VAT = gross to the øre."""
    rate = d.exchange_rate / 100
    net = money(sum(money(line.net_amount) for line in d.lines))
    vat = money(sum(_line_vat(line) for line in d.lines))
    gross = money(net + vat)
    cost = money(sum(line.quantity * line.unit_cost for line in d.lines))
    return {
        "netAmount": net,
        "netAmountInBaseCurrency": money(net * rate),
        "grossAmount": gross,
        "grossAmountInBaseCurrency": money(gross * rate),
        "vatAmount": vat,
        "roundingAmount": 0.0,
        "costPriceInBaseCurrency": money(cost * rate),
        "marginInBaseCurrency": money((net - cost) * rate),
        "marginPercentage": money((net - cost) / net * 100) if net else 0.0,
    }


def _line(line: Line, rate: float, *, booked: bool) -> Record:
    u = UNIT_BY_NUMBER[line.unit]
    total = money(line.net_amount)
    record: Record = {
        "lineNumber": line.number,
        "sortKey": line.number,
        "description": line.description,
        "product": ref("products", "productNumber", line.product),
        "quantity": line.quantity,
        "unitNetPrice": line.unit_price,
        "discountPercentage": line.discount,
        "unitCostPrice": line.unit_cost,
        "totalNetAmount": total,
        "unit": ref("units", "unitNumber", u.number, name=u.name),
    }
    if booked:
        record["vatRate"] = line.vat_rate
        record["vatAmount"] = _line_vat(line)
    else:
        margin = line.net_amount - line.quantity * line.unit_cost
        record["marginInBaseCurrency"] = money(margin * rate / 100)
        record["marginPercentage"] = money(margin / line.net_amount * 100) if line.net_amount else 0.0
    return record


def _document(d: SalesDocument, table: str, key_name: str, *, booked: bool) -> Record:
    c = d.customer
    term = PAYMENT_TERM_BY_NUMBER[d.payment_term]
    zone = VAT_ZONE_BY_NUMBER[d.vat_zone]
    recipient: Record = {
        "name": c.name,
        "address": c.address.street,
        "zip": c.address.zip,
        "city": c.address.city,
        "country": c.address.country,
        "vatZone": ref("vat-zones", "vatZoneNumber", zone.number),
    }
    if c.ean:
        recipient["ean"] = c.ean
    record: Record = {
        key_name: d.number,
        "date": d.date.isoformat(),
        "dueDate": d.due_date.isoformat(),
        "currency": d.currency,
        "exchangeRate": d.exchange_rate,
        **_totals(d),
        "paymentTerms": ref(
            "payment-terms",
            "paymentTermsNumber",
            term.number,
            daysOfCredit=term.days,
            name=term.name,
            paymentTermsType=term.type,
        ),
        "customer": ref("customers", "customerNumber", c.number),
        "recipient": recipient,
        "notes": {"heading": d.heading},
        "references": {"salesPerson": ref("employees", "employeeNumber", d.employee)},
        "layout": ref("layouts", "layoutNumber", d.layout),
        "lines": [_line(line, d.exchange_rate, booked=booked) for line in d.lines],
        "self": self_link(table, d.number),
    }
    if d.project is not None:
        record["project"] = ref("projects", "projectNumber", d.project)
    return record


def draft_invoice(d: SalesDocument) -> Record:
    record = _document(d, "invoices/drafts", "draftInvoiceNumber", booked=False)
    base = f"invoices/drafts/{d.number}"
    record.update(
        {
            "lastUpdated": economic_timestamp(d.updated_at),
            "pdf": {"download": link(f"{base}/pdf")},
            "soap": {"currentInvoiceHandle": {"id": d.number}},
            "templates": {
                "bookingInstructions": link(f"{base}/templates/booking-instructions"),
                "self": link(f"{base}/templates"),
            },
        }
    )
    return record


def booked_invoice(d: SalesDocument) -> Record:
    record = _document(d, "invoices/booked", "bookedInvoiceNumber", booked=True)
    for draft_only in ("costPriceInBaseCurrency", "marginInBaseCurrency", "marginPercentage"):
        record.pop(draft_only)
    record.update(
        {
            "remainder": 0.0 if d.paid else record["grossAmount"],
            "remainderInBaseCurrency": 0.0 if d.paid else record["grossAmountInBaseCurrency"],
            "pdf": {"download": link(f"invoices/booked/{d.number}/pdf")},
            "sent": link(f"invoices/booked/{d.number}/sent"),
        }
    )
    return record


def order(d: SalesDocument, *, sent: bool) -> Record:
    table = "orders/sent" if sent else "orders/drafts"
    record = _document(d, table, "orderNumber", booked=False)
    if sent:
        for line in record["lines"]:
            line.pop("totalNetAmount")
    base = f"orders/drafts/{d.number}"
    record.update(
        {
            "lastUpdated": economic_timestamp(d.updated_at),
            "pdf": {"download": link(f"{table}/{d.number}/pdf")},
            "soap": {"orderHandle": {"id": d.number}},
            "templates": {
                "upgradeInstructions": link(f"{base}/templates/upgrade-instructions"),
                "self": link(f"{base}/templates"),
            },
        }
    )
    return record
