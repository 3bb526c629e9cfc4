"""Customer invoices, Rackbeat -> e-conomic draft invoices (legacy REST `/invoices/drafts`), posted once.

Facts it rests on: an invoice goes to e-conomic when it is booked in Rackbeat, as a draft or booked there
too (rackbeat-api.md 4.4); a draft needs date, currency, customer, layout, payment terms and a recipient
with name and VAT zone, and e-conomic prices it itself (economic-api.md 12.11); `references.other` (250
characters) is filterable on drafts and booked invoices alike (their published schemas), so it carries the
document's identity across booking.

Rules that live here:
- Posted only when booked in Rackbeat (`customer_invoice.booked`); an unbooked invoice is never sent.
- Identity: `references.other` = "Rackbeat invoice <number>"; the poster finds a document whose outcome was
  lost by it. The notes heading keeps Rackbeat's own heading.
- Lines: each line's item (a product, or a lot, which e-conomic knows as a product) is exported first as a
  dependency; quantity, unit net price and discount go as Rackbeat has them. A credit note is an invoice
  with negative quantities, which is how e-conomic takes one. A line without an item is refused (e-conomic
  accepts no quantity or price on a line without a product, E04730).
- Customer, payment terms: dependencies (the invoice's own terms, else the customer's), the terms checked
  by the view Rackbeat embeds in the invoice (e-conomic derives the due date from them). Layout: the
  invoice's, else the setting `customer_default_layout`; none at all is refused before any call, naming it.
- Recipient: the customer's name and EAN, the invoice's address, the VAT zone by the rule shared with
  customers (`_vat_zone`). The customer's fields come from the customer the invoice embeds where it carries
  them (its name); the customer's record is read at posting for the rest (its EAN, which the customer
  Rackbeat embeds in an invoice does not carry), and only then.
- EAN (rackbeat-api.md 4.4): a customer with an EAN makes it an e-invoice; it then needs the 13-digit EAN,
  a country and "their reference", each refused before any call when missing.
- Amounts: Rackbeat's `total_total` must equal e-conomic's `grossAmount` to the øre (checked by the poster
  once e-conomic has priced the draft). Each line's unit is its product's (e-conomic fills a line's unit
  from the product when the line leaves it out); no exchange rate is sent, so e-conomic's rate of the day
  applies (Rackbeat's `currency_rate` is not documented in a unit e-conomic takes).
- Project (rackbeat-api.md 4.3: projects come from e-conomic, with their number): an invoice's `project_id`
  is the e-conomic project number; the poster refuses the invoice before writing it when e-conomic has no
  such project, naming it. Rackbeat's "their reference" goes on the first note line, its heading on the
  heading, a delivery address where the invoice has one.
"""

from __future__ import annotations

from typing import Any

from tasks.entities._documents import gross_total, is_booked, line_item, party_field
from tasks.entities._fields import reference_key, text
from tasks.entities._vat_zone import UnknownCountry, vat_zone
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    LegacyResource,
    MappingContext,
    PostingRules,
    RackbeatSide,
    Record,
    RecordRef,
)
from tasks.errors import MappingError

KIND = "customer_invoice"
ECONOMIC_RESOURCE = "invoices/drafts"
CUSTOMER_KIND = "customer"
PAYMENT_TERM_KIND = "payment_term"
REFERENCE_PREFIX = "Rackbeat invoice "
EAN_LENGTH = 13

WRITABLE_FIELDS = (
    FieldRule("date", "string", required=True),
    FieldRule("currency", "string", required=True, min_length=3, max_length=3),
    FieldRule("customer", "object", required=True),
    FieldRule("customer.customerNumber", "integer", required=True, minimum=1),
    FieldRule("layout", "object", required=True),
    FieldRule("layout.layoutNumber", "integer", required=True, minimum=1),
    FieldRule("paymentTerms", "object", required=True),
    FieldRule("paymentTerms.paymentTermsNumber", "integer", required=True, minimum=1),
    FieldRule("recipient", "object", required=True),
    FieldRule("recipient.name", "string", required=True, min_length=1, max_length=250),
    FieldRule("recipient.address", "string", max_length=250),
    FieldRule("recipient.zip", "string", max_length=50),
    FieldRule("recipient.city", "string", max_length=250),
    FieldRule("recipient.country", "string", max_length=50),
    FieldRule("recipient.ean", "string", min_length=EAN_LENGTH, max_length=EAN_LENGTH),
    FieldRule("recipient.vatZone", "object", required=True),
    FieldRule("recipient.vatZone.vatZoneNumber", "integer", required=True, minimum=1),
    FieldRule("references", "object"),
    FieldRule("references.other", "string", max_length=250),
    FieldRule("notes", "object"),
    FieldRule("notes.heading", "string", max_length=250),
    FieldRule("notes.textLine1", "string", max_length=1000),
    FieldRule("project", "object"),
    FieldRule("project.projectNumber", "integer", required=True, minimum=1),
    FieldRule("delivery", "object"),
    FieldRule("delivery.address", "string", max_length=255),
    FieldRule("delivery.zip", "string", max_length=30),
    FieldRule("delivery.city", "string", max_length=50),
    FieldRule("delivery.country", "string", max_length=50),
)
"""Writable properties of e-conomic's `invoices.drafts.post` schema that the mapping uses (draft-03)."""


def reference(record: Record) -> str:
    """The identity the e-conomic document carries (`references.other`)."""
    return f"{REFERENCE_PREFIX}{record['number']}"


def depends_on(record: Record) -> list[RecordRef]:
    """The customer, the payment terms, then every item its lines sell, each once."""
    deps: list[RecordRef] = []
    customer = reference_key(record, "customer_id", "customer")
    if customer is not None:
        deps.append((CUSTOMER_KIND, customer))
    terms = reference_key(record, "payment_terms_id", "payment_terms")
    if terms is not None:
        deps.append((PAYMENT_TERM_KIND, terms))
    items = (line_item(line) for line in record.get("lines") or [])
    deps.extend(dict.fromkeys(item for item in items if item is not None))
    return deps


def embedded(record: Record) -> dict[RecordRef, Record]:
    """Rackbeat embeds the invoice's payment terms (number, name, type, days): when they map to what was
    last written for them, they are current and are not read; otherwise they are transferred before the
    invoice, since e-conomic derives the invoice's due date from its own copy of them."""
    terms = reference_key(record, "payment_terms_id", "payment_terms")
    view = record.get("payment_terms")
    if terms is None or not isinstance(view, dict) or str(view.get("number")) != terms:
        return {}
    return {(PAYMENT_TERM_KIND, terms): view}


def read_at_posting(record: Record) -> list[RecordRef]:
    """The customer record the mapping may read, once, when the invoice is posted: for its EAN (and its
    name or country) where the customer the invoice embeds does not carry them."""
    customer = reference_key(record, "customer_id", "customer")
    return [] if customer is None else [(CUSTOMER_KIND, customer)]


def _required_ref(context: MappingContext, ref: RecordRef, field: str) -> int:
    if ref not in context.refs:
        raise MappingError(
            field,
            f"Rackbeat {ref[0].replace('_', ' ')} {ref[1]} could not be resolved in e-conomic",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    return int(context.refs[ref])


def _customer(record: Record, context: MappingContext, name: str) -> Any:
    """A field of the invoice's customer: from the customer the invoice embeds where it carries the field,
    else from the customer's record (read at posting only then)."""
    customer = reference_key(record, "customer_id", "customer")
    ref = None if customer is None else (CUSTOMER_KIND, customer)
    return party_field(record, context, ref, "customer", name)


def is_electronic(record: Record, context: MappingContext) -> bool:
    """An e-invoice: the customer has an EAN."""
    return text(_customer(record, context, "ean")) is not None


def _recipient(record: Record, context: MappingContext) -> dict[str, Any]:
    country = text(record.get("address_country")) or text(_customer(record, context, "address_country"))
    try:
        zone = vat_zone(country, context.defaults.home_country, record.get("vat_zone"))
    except UnknownCountry as error:
        raise MappingError(
            "recipient.vatZone", str(error), api="economic", resource=ECONOMIC_RESOURCE
        ) from None
    street = [text(record.get(name)) for name in ("address_street", "address_street2")]
    recipient: dict[str, Any] = {
        "name": text(_customer(record, context, "company_name")) or text(record.get("address_name")) or "",
        "vatZone": {"vatZoneNumber": int(zone)},
    }
    optional = {
        "address": "\n".join(part for part in street if part) or None,
        "zip": text(record.get("address_zipcode")),
        "city": text(record.get("address_city")),
        "country": country,
        "ean": text(_customer(record, context, "ean")),
    }
    recipient.update({name: value for name, value in optional.items() if value is not None})
    return recipient


def _check_electronic(record: Record, context: MappingContext, recipient: dict[str, Any]) -> None:
    """An e-invoice needs the 13-digit EAN, a country and their reference (rackbeat-api.md 4.4)."""
    ean = recipient.get("ean") or ""
    if len(ean) != EAN_LENGTH or not ean.isdigit():
        raise MappingError(
            "recipient.ean",
            f"an EAN invoice needs the customer's 13-digit EAN, Rackbeat has {ean!r}",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    if not recipient.get("country"):
        raise MappingError(
            "recipient.country",
            "an EAN invoice needs the customer's country",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    if text(record.get("their_reference")) is None:
        raise MappingError(
            "references.other",
            'an EAN invoice needs "their reference" (Rackbeat\'s their_reference is empty)',
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )


def _lines(record: Record, context: MappingContext) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for number, line in enumerate(record.get("lines") or [], start=1):
        item = line_item(line)
        if item is None:
            raise MappingError(
                f"lines[{number}].product",
                "a line without an item cannot carry a quantity or price in e-conomic",
                api="economic",
                resource=ECONOMIC_RESOURCE,
            )
        if item not in context.refs:
            raise MappingError(
                f"lines[{number}].product",
                f"Rackbeat {item[0]} {item[1]} could not be resolved in e-conomic",
                api="economic",
                resource=ECONOMIC_RESOURCE,
            )
        mapped: dict[str, Any] = {
            "lineNumber": number,
            "sortKey": number,
            "product": {"productNumber": str(context.refs[item])},
            "quantity": float(line.get("quantity") or 0),
            "unitNetPrice": round(float(line.get("line_price") or 0), 2),
        }
        description = text(line.get("name"))
        if description is not None:
            mapped["description"] = description[:2500]
        discount = float(line.get("discount_percentage") or 0)
        if discount:
            mapped["discountPercentage"] = round(discount, 2)
        lines.append(mapped)
    if not lines:
        raise MappingError("lines", "the invoice has no lines", api="economic", resource=ECONOMIC_RESOURCE)
    return lines


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    """The draft invoice body for a booked Rackbeat invoice (see the module docstring)."""
    customer = reference_key(record, "customer_id", "customer")
    if customer is None:
        raise MappingError(
            "customer", "the invoice has no customer", api="economic", resource=ECONOMIC_RESOURCE
        )
    terms = reference_key(record, "payment_terms_id", "payment_terms")
    if terms is None:
        raise MappingError(
            "paymentTerms", "the invoice has no payment terms", api="economic", resource=ECONOMIC_RESOURCE
        )
    layout = record.get("layout_id") or context.defaults.customer_default_layout
    if not layout:
        raise MappingError(
            "layout",
            "the invoice has no layout and the setting RBSYNC_CUSTOMER_DEFAULT_LAYOUT is not set",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    date = text(record.get("invoice_date")) or (text(record.get("booked_at")) or "")[:10]
    recipient = _recipient(record, context)
    if is_electronic(record, context):
        _check_electronic(record, context, recipient)
    body: dict[str, Any] = {
        "date": date,
        "currency": (text(record.get("currency")) or "DKK").upper(),
        "customer": {"customerNumber": _required_ref(context, (CUSTOMER_KIND, customer), "customer")},
        "layout": {"layoutNumber": int(layout)},
        "paymentTerms": {
            "paymentTermsNumber": _required_ref(context, (PAYMENT_TERM_KIND, terms), "paymentTerms")
        },
        "recipient": recipient,
        "references": {"other": reference(record)},
        "lines": _lines(record, context),
    }
    notes = {"heading": text(record.get("heading")), "textLine1": text(record.get("their_reference"))}
    if any(notes.values()):
        body["notes"] = {name: value[:250] for name, value in notes.items() if value is not None}
    project = record.get("project_id")
    if project:
        body["project"] = {"projectNumber": int(project)}
    delivery = _delivery(record.get("delivery_address"))
    if delivery:
        body["delivery"] = delivery
    return body


def _delivery(address: Any) -> dict[str, Any]:
    """The delivery address on the document, where Rackbeat has one ({street, zipcode, city, country})."""
    if not isinstance(address, dict):
        return {}
    street = [text(address.get(name)) for name in ("street", "street2")]
    fields = {
        "address": "\n".join(part for part in street if part) or None,
        "zip": text(address.get("zipcode")),
        "city": text(address.get("city")),
        "country": text(address.get("country")),
    }
    return {name: value for name, value in fields.items() if value is not None}


def fingerprint(record: Record) -> dict[str, Any]:
    """What makes the Rackbeat invoice this invoice: a change here after posting is refused."""
    return {
        "number": record.get("number"),
        "customer": reference_key(record, "customer_id", "customer"),
        "date": record.get("invoice_date"),
        "currency": record.get("currency"),
        "total": str(gross_total(record)),
        "lines": [
            [
                line.get("child_id", line.get("item_id")),
                line.get("quantity"),
                line.get("line_price"),
                line.get("discount_percentage"),
            ]
            for line in record.get("lines") or []
        ],
    }


def number(record: Record) -> int | None:
    try:
        value = int(record["number"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if value >= 1 else None


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide(
        resource="customer-invoices",
        singular="customer_invoice",
        events=frozenset({"customer_invoice.booked"}),
    ),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="draftInvoiceNumber",
        writable_fields=WRITABLE_FIELDS,
    ),
    exports=ExportRules(
        to_economic=to_economic, depends_on=depends_on, embedded=embedded, related=read_at_posting
    ),
    posting=PostingRules(
        ready=is_booked,
        channel="invoice",
        reference=reference,
        fingerprint=fingerprint,
        gross_total=gross_total,
        number=number,
        electronic=is_electronic,
    ),
)
