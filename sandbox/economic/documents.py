"""Sales documents (draft and booked invoices, orders) and their server-side rules.

Pricing (§15.12): each line's ``totalNetAmount = quantity x unitNetPrice x (1 - discountPercentage/100)``;
``netAmount`` is their sum; VAT comes from the recipient's VAT zone (25 % domestic, 0 % otherwise, the
sandbox's reading of a Danish agreement); ``grossAmount = net + VAT``. A line naming a product takes the
product's name, sales price, cost price and unit where the line leaves them out; ``quantity`` defaults to 1.
``exchangeRate`` defaults to the sandbox's rate table (100 for DKK). ``dueDate`` follows the payment terms
(``net``: date + days of credit; ``invoiceMonth``: end of month + days; ``dueDate``: required from the
caller, E04042; other types: the document date). Booking refuses a draft dated in a closed accounting year;
creating or changing such a draft is allowed (the choice and its reason: ``years.py``).

"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from sandbox.economic import errors as codes
from sandbox.economic import years
from sandbox.economic.errors import EconomicError, field_error, not_found, validation_error
from sandbox.economic.legacy import WriteHooks, check_body, finish_record, merge_errors
from sandbox.economic.references import Ref, resolve_all, self_link
from sandbox.economic.resources import CUSTOMERS, PRODUCTS, Resource
from sandbox.economic.seed import EXCHANGE_RATES, VAT_RATE_BY_ZONE
from sandbox.economic.store import Store, link

_DOCUMENT_REFS = (
    Ref("customer", "customers", "customerNumber", label="Customer"),
    Ref("layout", "layouts", "layoutNumber", label="Layout"),
    Ref("paymentTerms", "payment-terms", "paymentTermsNumber", label="Payment terms"),
    Ref("recipient.vatZone", "vat-zones", "vatZoneNumber", label="VAT zone"),
    Ref("references.salesPerson", "employees", "employeeNumber", label="Sales person"),
    Ref("references.vendorReference", "employees", "employeeNumber", label="Vendor reference"),
    Ref("project", "projects", "projectNumber", label="Project"),
)
_LINE_REFS = (
    Ref("product", "products", "productNumber", key_type=str, label="Product"),
    Ref("unit", "units", "unitNumber", label="Unit"),
)


def _draft_links(kind: str, key: Any) -> dict[str, Any]:
    base = f"{kind}/drafts/{key}"
    templates = {"self": link(f"{base}/templates")}
    if kind == "invoices":
        templates = {"bookingInstructions": link(f"{base}/templates/booking-instructions"), **templates}
    handle = {"currentInvoiceHandle": {"id": key}} if kind == "invoices" else {"orderHandle": {"id": key}}
    return {"pdf": {"download": link(f"{base}/pdf")}, "templates": templates, "soap": handle}


DRAFT_INVOICES = Resource(
    "invoices/drafts",
    "draftInvoiceNumber",
    schema_base="invoices.drafts",
    item_segment="draftInvoiceNumber",
    writable=True,
    deletable=True,
    assign_key=True,
    last_updated=True,
    refs=_DOCUMENT_REFS,
    links=lambda key: _draft_links("invoices", key),
)
BOOKED_INVOICES = Resource(
    "invoices/booked",
    "bookedInvoiceNumber",
    schema_base="invoices.booked",
    item_segment="bookedInvoiceNumber",
)
DRAFT_ORDERS = Resource(
    "orders/drafts",
    "orderNumber",
    schema_base="orders.drafts",
    item_segment="orderNumber",
    writable=True,
    deletable=True,
    assign_key=True,
    last_updated=True,
    refs=_DOCUMENT_REFS,
    webhook="order",
    links=lambda key: _draft_links("orders", key),
    # One order keeps its number from draft to sent to archived (economic-api.md 12.10): one series.
    number_series=("orders/sent", "orders/archived"),
)
SENT_ORDERS = Resource(
    "orders/sent",
    "orderNumber",
    schema_base="orders.sent",
    item_segment="orderNumber",
    last_updated=True,
    webhook="order",
    links=lambda key: _draft_links("orders", key),
)
ARCHIVED_ORDERS = Resource(
    "orders/archived", "orderNumber", schema_base="orders.archived", item_segment="orderNumber"
)
# Read-only: one record per booked invoice that was sent when it was booked (see ``sent_record``).
SENT_INVOICES = Resource("invoices/sent", "id", schema_base="invoices.sent", item_segment="id")
DOCUMENT_RESOURCES = (
    DRAFT_INVOICES,
    BOOKED_INVOICES,
    SENT_INVOICES,
    DRAFT_ORDERS,
    SENT_ORDERS,
    ARCHIVED_ORDERS,
)


def without_lines(record: dict[str, Any]) -> dict[str, Any]:
    """Collection items of sales documents carry no ``lines`` (§8)."""
    if "lines" not in record:
        return record
    return {name: value for name, value in record.items() if name != "lines"}


# ------------------------------------------------------------------------------------------------ pricing


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def price_document(store: Store, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """Validate lines and currency, derive the due date and compute every read-only amount."""
    found: dict[str, Any] = {}
    currency = str(record.get("currency", "")).upper()
    if not store.exists("currencies", currency):
        found["currency"] = {
            "errors": [
                field_error(
                    codes.NOT_FOUND, "currency does not exist.", record.get("currency"), with_value=True
                )
            ]
        }
    record["currency"] = currency
    line_errors = _prepare_lines(store, record.get("lines") or [])
    if line_errors:
        found["lines"] = line_errors
    _derive_due_date(store, record, found)
    if found:
        raise validation_error(found)
    rate = record.get("exchangeRate") or EXCHANGE_RATES.get(currency, 100.0)
    record["exchangeRate"] = rate
    zone = (record.get("recipient") or {}).get("vatZone", {}).get("vatZoneNumber", 1)
    vat_rate = VAT_RATE_BY_ZONE.get(zone, 0.0)
    net = cost = 0.0
    for line in record.get("lines") or []:
        net += line["totalNetAmount"]
        cost += line.get("unitCostPrice", 0.0) * line.get("quantity", 0.0)
    net = _money(net)
    vat = _money(net * vat_rate)
    base = rate / 100.0
    record.update(
        {
            "netAmount": net,
            "netAmountInBaseCurrency": _money(net * base),
            "vatAmount": vat,
            "grossAmount": _money(net + vat),
            "grossAmountInBaseCurrency": _money((net + vat) * base),
            "roundingAmount": 0.0,
            "costPriceInBaseCurrency": _money(cost * base),
            "marginInBaseCurrency": _money((net - cost) * base),
            "marginPercentage": _money((net - cost) / net * 100) if net else 0.0,
        }
    )


def _prepare_lines(store: Store, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        found = resolve_all(line, _LINE_REFS, store)
        if "product" not in line and ("quantity" in line or "unitNetPrice" in line):
            merge_errors(
                found,
                {
                    "product": {
                        "errors": [
                            field_error(
                                codes.DEPENDENT_VALUE_MISSING,
                                "product must have a value when quantity or unitNetPrice is set.",
                            )
                        ]
                    }
                },
            )
        if found:
            problems.append({"arrayIndex": index, **found})
            continue
        product = store.get("products", line["product"]["productNumber"]) if "product" in line else None
        if product is not None:
            line.setdefault("description", product.get("name", ""))
            line.setdefault("unitNetPrice", product.get("salesPrice", 0.0))
            line.setdefault("unitCostPrice", product.get("costPrice", 0.0))
            if "unit" not in line and isinstance(product.get("unit"), dict):
                line["unit"] = {"unitNumber": product["unit"]["unitNumber"], "self": product["unit"]["self"]}
            line.setdefault("quantity", 1.0)
        if "unit" in line:  # e-conomic shows a line's unit with its name
            unit = store.get("units", line["unit"]["unitNumber"]) or {}
            line["unit"] = {**line["unit"], "name": unit.get("name", "")}
        line.setdefault("lineNumber", index + 1)
        line.setdefault("sortKey", line["lineNumber"])
        quantity = float(line.get("quantity", 0.0))
        price = float(line.get("unitNetPrice", 0.0))
        discount = float(line.get("discountPercentage", 0.0))
        line["totalNetAmount"] = _money(quantity * price * (1 - discount / 100))
        cost = float(line.get("unitCostPrice", 0.0)) * quantity
        line["marginInBaseCurrency"] = _money(line["totalNetAmount"] - cost)
        line["marginPercentage"] = (
            _money((line["totalNetAmount"] - cost) / line["totalNetAmount"] * 100)
            if line["totalNetAmount"]
            else 0.0
        )
    return problems


def _derive_due_date(store: Store, record: dict[str, Any], found: dict[str, Any]) -> None:
    terms = store.get("payment-terms", (record.get("paymentTerms") or {}).get("paymentTermsNumber"))
    try:
        issued = date.fromisoformat(str(record.get("date")))
    except ValueError:
        found["date"] = {
            "errors": [
                field_error(
                    codes.WRONG_TYPE, "date must be a date (YYYY-MM-DD).", record.get("date"), with_value=True
                )
            ]
        }
        return
    if terms is None:
        return
    kind = terms.get("paymentTermsType")
    days = int(terms.get("daysOfCredit", 0) or 0)
    if kind == "dueDate":
        if "dueDate" not in record:
            found["dueDate"] = {
                "errors": [
                    field_error(
                        codes.REQUIRED_VALUE_MISSING,
                        "dueDate is required with payment terms of type dueDate.",
                    )
                ]
            }
        elif str(record["dueDate"]) < str(record["date"]):
            found["dueDate"] = {
                "errors": [
                    field_error(
                        "E04760", "dueDate cannot be earlier than date.", record["dueDate"], with_value=True
                    )
                ]
            }
        return
    if kind == "net":
        due = issued + timedelta(days=days)
    elif kind == "invoiceMonth":
        month_end = issued.replace(day=calendar.monthrange(issued.year, issued.month)[1])
        due = month_end + timedelta(days=days)
    else:
        due = issued
    record["dueDate"] = due.isoformat()


DOCUMENT_HOOKS = WriteHooks(prepare=price_document)


# ------------------------------------------------------------------------------------------------ booking


def book_draft(
    store: Store, body: Any, *, url_number: int | None = None, today: date | None = None
) -> dict[str, Any]:
    """``POST /invoices/booked`` (or ``PUT /invoices/booked/{n}``): turn a draft into a booked invoice.

    A draft dated in a closed accounting year is refused (``E07090`` on ``draftInvoice.date``; see
    ``years.py``, which also says why creating such a draft is allowed). A ``sendBy`` other than ``none``
    also records the invoice under ``/invoices/sent`` (``sent_record``), dated ``today`` (the sandbox's
    clock)."""
    request, found = check_body(body, "invoices.booked.post")
    if "draftInvoice" not in request:  # the schema leaves it optional; booking without it cannot work
        found.setdefault(
            "draftInvoice",
            {"errors": [field_error(codes.REQUIRED_VALUE_MISSING, "Property 'draftInvoice' is required.")]},
        )
    if found:
        raise validation_error(found)
    with store.lock:
        found = resolve_all(
            request,
            (Ref("draftInvoice", "invoices/drafts", "draftInvoiceNumber", label="Draft invoice"),),
            store,
        )
        if found:
            raise validation_error(found)
        draft_date = (store.get("invoices/drafts", request["draftInvoice"]["draftInvoiceNumber"]) or {}).get(
            "date"
        )
        closed = years.closed_year(store, draft_date)
        if closed is not None:  # closed for further transactions (years.py); the draft stays
            raise validation_error(
                {"draftInvoice": {"date": {"errors": [years.closed_field_error(closed, draft_date)]}}}
            )
        number = request.get("bookWithNumber")
        if url_number is not None:
            if number is not None and number != url_number:
                raise validation_error(
                    {
                        "bookWithNumber": {
                            "errors": [
                                field_error(
                                    codes.CONFLICT,
                                    "bookWithNumber must match the number in the URL.",
                                    number,
                                    with_value=True,
                                )
                            ]
                        }
                    }
                )
            number = url_number
        if number is None:
            number = store.next_number("invoices/booked")
        elif store.exists("invoices/booked", number):
            raise validation_error(
                {
                    "bookWithNumber": {
                        "errors": [
                            field_error(
                                codes.CONFLICT,
                                f"Booked invoice number {number} is already in use.",
                                number,
                                with_value=True,
                            )
                        ]
                    }
                }
            )
        draft_number = request["draftInvoice"]["draftInvoiceNumber"]
        draft = store.delete("invoices/drafts", draft_number) or {}
        booked = _booked_from_draft(store, draft, number)
        store.put("invoices/booked", number, booked)
        send_by = request.get("sendBy")
        if send_by not in (None, "none"):
            sent_id = store.next_number(SENT_INVOICES.path)
            sent = sent_record(sent_id, booked, str(send_by), (today or date.today()).isoformat())
            store.put(SENT_INVOICES.path, sent_id, sent)
    return booked


def sent_record(sent_id: int, booked: dict[str, Any], send_by: str, creation_date: str) -> dict[str, Any]:
    """The ``/invoices/sent/{id}`` record of a booked invoice sent at booking (``invoices.sent.id.get``).

    §12.12 gives the booking's ``sendBy`` values (``none``, ``EAN``, ``Email``) and the sent resource's shape
    ``{id, invoice{self}, ...}``; the schema gives the rest. Its ``sendBy`` enum names only the e-invoicing
    channels ``mobilePay`` and ``ean``, so an invoice sent by ``EAN`` shows ``"ean"`` and one sent by
    ``Email`` (not an e-invoicing channel) shows no ``sendBy``. ``status`` is ``"sent"`` and ``createdBy``
    the sandbox's user (``GET /self``): the sandbox's choices, no source gives the values."""
    number = booked["bookedInvoiceNumber"]
    record: dict[str, Any] = {
        "id": sent_id,
        "invoice": {"bookedInvoiceNumber": number, "self": self_link("invoices/booked", number)},
        "status": "sent",
    }
    if send_by == "EAN":
        record["sendBy"] = "ean"
    record["creationDate"] = creation_date
    record["createdBy"] = "sandbox"
    source = booked.get("recipient") or {}
    recipient = {name: source[name] for name in ("name", "mobilePhone", "ean") if name in source}
    if recipient:
        record["recipient"] = recipient
    record["self"] = self_link(SENT_INVOICES.path, sent_id)
    return record


def _booked_from_draft(store: Store, draft: dict[str, Any], number: int) -> dict[str, Any]:
    skip = {
        "draftInvoiceNumber",
        "lastUpdated",
        "templates",
        "soap",
        "pdf",
        "self",
        "costPriceInBaseCurrency",
        "marginInBaseCurrency",
        "marginPercentage",
        "attachment",
    }
    booked: dict[str, Any] = {"bookedInvoiceNumber": number}
    booked.update({name: value for name, value in draft.items() if name not in skip})
    terms = store.get("payment-terms", draft.get("paymentTerms", {}).get("paymentTermsNumber")) or {}
    booked["paymentTerms"] = {
        name: terms[name]
        for name in ("paymentTermsNumber", "daysOfCredit", "name", "paymentTermsType", "self")
        if name in terms
    }
    zone = (draft.get("recipient") or {}).get("vatZone", {}).get("vatZoneNumber", 1)
    vat_rate = VAT_RATE_BY_ZONE.get(zone, 0.0)
    lines = []
    for line in draft.get("lines") or []:
        kept = {
            k: v for k, v in line.items() if k not in ("marginInBaseCurrency", "marginPercentage", "accrual")
        }
        kept["vatRate"] = vat_rate * 100
        kept["vatAmount"] = _money(line.get("totalNetAmount", 0.0) * vat_rate)
        lines.append(kept)
    booked["lines"] = lines
    booked["remainder"] = booked.get("grossAmount", 0.0)
    booked["remainderInBaseCurrency"] = booked.get("grossAmountInBaseCurrency", 0.0)
    booked["pdf"] = {"download": link(f"invoices/booked/{number}/pdf")}
    booked["sent"] = link(f"invoices/booked/{number}/sent")
    booked["self"] = self_link("invoices/booked", number)
    return booked


def delete_all_drafts(store: Store, numbers: list[int]) -> dict[str, Any]:
    """The 200 body of DELETE on draft invoices (one or many)."""
    deleted = []
    with store.lock:
        for number in numbers:
            if store.delete("invoices/drafts", number) is not None:
                deleted.append({"draftInvoiceNumber": number, "self": self_link("invoices/drafts", number)})
    message = "Deleted invoice." if len(deleted) == 1 else f"Deleted {len(deleted)} invoices."
    return {"message": message, "deletedCount": len(deleted), "deletedItems": deleted}


def add_lines(store: Store, number: int, body: Any) -> dict[str, Any]:
    """``POST /invoices/drafts/{n}/lines``: append lines, re-price, touch ``lastUpdated``."""
    request, found = check_body(body, "invoices.drafts.draftInvoiceNumber.lines.post")
    if found:
        raise validation_error(found)
    with store.lock:
        draft = store.get("invoices/drafts", number)
        if draft is None:
            raise not_found()
        updated = dict(draft)
        start = len(draft.get("lines") or [])
        new_lines = [dict(line) for line in request.get("lines", [])]
        for offset, line in enumerate(new_lines):
            line.setdefault("lineNumber", start + offset + 1)
        updated["lines"] = [*(draft.get("lines") or []), *new_lines]
        price_document(store, updated, draft)
        finish_record(DRAFT_INVOICES, updated, number)
        store.put("invoices/drafts", number, updated)
    return updated


# ------------------------------------------------------------------------------------------ orders: sent/back


def move_order(store: Store, body: Any, *, to_sent: bool) -> tuple[int, dict[str, Any]]:
    """POST the full order to ``/orders/sent`` (mark sent) or back to ``/orders/drafts`` (cancel sent)."""
    source, target = ("orders/drafts", SENT_ORDERS) if to_sent else ("orders/sent", DRAFT_ORDERS)
    number = body.get("orderNumber") if isinstance(body, dict) else None
    with store.lock:
        if not isinstance(number, int) or not store.exists(source, number):
            raise validation_error(
                {
                    "orderNumber": {
                        "errors": [
                            field_error(
                                codes.NOT_FOUND, f"Order does not exist in {source}.", number, with_value=True
                            )
                        ]
                    }
                }
            )
        record = dict(store.delete(source, number) or {})
        finish_record(target, record, number)
        store.put(target.path, number, record)
    return 201, record


# ------------------------------------------------------------------------------------------ delete guards


def _referenced(store: Store, tables: tuple[str, ...], test: Any) -> bool:
    return any(test(record) for table in tables for record in store.table(table).values())


_DOCUMENT_TABLES = ("invoices/drafts", "invoices/booked", "orders/drafts", "orders/sent", "orders/archived")


def _customer_in_use(store: Store, key: Any) -> None:
    if _referenced(store, _DOCUMENT_TABLES, lambda doc: doc.get("customer", {}).get("customerNumber") == key):
        raise EconomicError(400, "Customer is in use and cannot be deleted.", error_code=codes.IN_USE)


def _product_in_use(store: Store, key: Any) -> None:
    def uses(doc: dict[str, Any]) -> bool:
        return any(line.get("product", {}).get("productNumber") == key for line in doc.get("lines") or [])

    if _referenced(store, _DOCUMENT_TABLES, uses):
        raise EconomicError(400, "Product is in use and cannot be deleted.", error_code=codes.IN_USE)


def _check_currency(store: Store, record: dict[str, Any]) -> None:
    if "currency" in record and not store.exists("currencies", str(record["currency"]).upper()):
        raise validation_error(
            {
                "currency": {
                    "errors": [
                        field_error(
                            codes.NOT_FOUND, "currency does not exist.", record["currency"], with_value=True
                        )
                    ]
                }
            }
        )


def _prepare_customer(store: Store, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
    _check_currency(store, record)
    # Read-only amounts: whatever a body says is ignored, the account's own figures are shown (0 when new).
    for name in ("balance", "dueAmount"):
        record[name] = (existing or {}).get(name, 0.0)


def _prepare_supplier(store: Store, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
    _check_currency(store, record)
    if "layout" not in record:  # e-conomic gives a supplier the agreement's default layout
        default = min(store.table("layouts"), default=None)
        if default is not None:
            record["layout"] = {"layoutNumber": default, "self": self_link("layouts", default)}


def _prepare_payment_terms(store: Store, record: dict[str, Any], existing: dict[str, Any] | None) -> None:
    if existing is None:
        return
    for name in ("paymentTermsType", "daysOfCredit"):
        if record.get(name) != existing.get(name):
            raise validation_error(
                {
                    name: {
                        "errors": [
                            field_error(
                                codes.IMMUTABLE_PAYMENT_TERMS,
                                f"{name} cannot be changed after the payment terms were created.",
                                record.get(name),
                                with_value=True,
                            )
                        ]
                    }
                }
            )


HOOKS: dict[str, WriteHooks] = {
    CUSTOMERS.path: WriteHooks(prepare=_prepare_customer, can_delete=_customer_in_use),
    PRODUCTS.path: WriteHooks(can_delete=_product_in_use),
    "suppliers": WriteHooks(prepare=_prepare_supplier),
    "payment-terms": WriteHooks(prepare=_prepare_payment_terms),
    DRAFT_INVOICES.path: DOCUMENT_HOOKS,
    DRAFT_ORDERS.path: DOCUMENT_HOOKS,
}


# ------------------------------------------------------------------------------------------------ templates


def customer_templates(customer_number: int) -> dict[str, Any]:
    base = f"customers/{customer_number}/templates"
    return {
        "invoice": link(f"{base}/invoice"),
        "invoiceline": link(f"{base}/invoiceline"),
        "self": link(base),
    }


def invoice_template(store: Store, customer: dict[str, Any], today: str) -> dict[str, Any]:
    """A draft-invoice body pre-filled from the customer (``GET /customers/{n}/templates/invoice``)."""
    recipient: dict[str, Any] = {"name": customer.get("name", "")}
    for name in ("address", "zip", "city", "country", "ean", "publicEntryNumber"):
        if name in customer:
            recipient[name] = customer[name]
    recipient["vatZone"] = customer["vatZone"]
    template: dict[str, Any] = {
        "date": today,
        "currency": customer.get("currency", "DKK"),
        "exchangeRate": EXCHANGE_RATES.get(customer.get("currency", "DKK"), 100.0),
        "paymentTerms": customer["paymentTerms"],
        "customer": {"customerNumber": customer["customerNumber"], "self": customer["self"]},
        "recipient": recipient,
    }
    if "layout" in customer:
        template["layout"] = customer["layout"]
    if "salesPerson" in customer:
        template["references"] = {"salesPerson": customer["salesPerson"]}
    template["self"] = link(f"customers/{customer['customerNumber']}/templates/invoice")
    return template


def invoiceline_template(
    customer: dict[str, Any], product: dict[str, Any], quantity: float
) -> dict[str, Any]:
    """An invoice line for one product (``GET /customers/{n}/templates/invoiceline/{productNumber}``)."""
    line: dict[str, Any] = {
        "description": product.get("name", ""),
        "product": {"productNumber": product["productNumber"], "self": product["self"]},
        "quantity": quantity,
        "unitNetPrice": product.get("salesPrice", 0.0),
        "discountPercentage": 0.0,
        "unitCostPrice": product.get("costPrice", 0.0),
    }
    if isinstance(product.get("unit"), dict):
        line["unit"] = {"unitNumber": product["unit"]["unitNumber"], "self": product["unit"]["self"]}
    line["self"] = product["self"].replace(
        "/products/", f"/customers/{customer['customerNumber']}/templates/invoiceline/", 1
    )
    return line
