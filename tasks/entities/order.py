"""Sales orders, e-conomic -> Rackbeat (legacy REST `/orders/sent` -> Rackbeat `orders`), imported only.

Facts it rests on:
- A company may start its order flow in e-conomic; those orders reach Rackbeat every 5 minutes
  (seed README, rackbeat-api.md 4.7). Which e-conomic state Rackbeat's own integration reads is not
  verified there; its e-conomic client has `orders/sent`, `orders/drafts` and `orders/archived`.
- e-conomic's orders live in three collections (economic-api.md 12.10): `drafts` (freely edited and
  deleted), `sent` ("mark as sent": a sent order cannot be modified; to change it, it goes back to
  drafts and is sent again) and `archived` (a sent order upgraded to an invoice moves there). Drafts and
  sent orders carry `lastUpdated` and can be filtered on it; archived ones cannot (economic-api.md 9.3,
  10; orders.sent.get schema). Collection items carry no lines: one order's lines cost a GET of it.
- A Rackbeat order (rackbeat-api.md 2.3, "Order"): `customer_id`, `lines[{item_id, name, quantity,
  line_price, discount_percentage}]`, `currency`, `vat_zone`, `order_date`, `deliver_at`, `heading`,
  `their_reference`, the address fields and `delivery_address {name, street, street2, zipcode, city,
  country, ...}`; flags `is_booked`, `is_shipped`, `is_partly_shipped`, `is_invoiced`,
  `is_partly_invoiced`, `is_archived`, `is_cancelled`. `POST orders/drafts` creates an unbooked order
  (2.2); a booked order's lines are locked (1.7, 2.3). Lists take `simple_filter[<field>]=<value>`, an
  exact filter (1.4), and every write takes `suppress_webhooks` (1.4, 3.2).

Decisions (each has a test in tests/entities/test_order.py):
- **Sent orders are imported** (`ECONOMIC_RESOURCE`). A sent order is one the company has confirmed to
  its customer: the goods are now owed, which is when the warehouse must pick and ship them. A draft is
  still being typed, may be deleted and changes with every keystroke; importing drafts would put
  half-written orders in front of the warehouse and follow every edit. An archived order has already
  been invoiced in e-conomic, so importing it would let Rackbeat invoice the same goods a second time
  (Rackbeat's invoices go to e-conomic, rackbeat-api.md 4.4). A sent order that goes back to drafts is
  left alone in Rackbeat until it is sent again; it then arrives as a change (its `lastUpdated` moves).
- **The e-conomic order number travels in `their_reference`** as "e-conomic order <n>" (`reference`):
  a text field of every Rackbeat document that Rackbeat keeps as written, that its exact list filter
  finds (`find_existing`), and that the import fills with nothing else (its e-conomic counterpart, the
  customer contact in `references.customerContact`, is a contact person, which is never copied). The
  order's own text (e-conomic's `references.other`, its note lines) goes to the note instead, so the
  warehouse still sees it.
  Looking the order up by it before creating is what makes the import exactly once: Rackbeat has no
  Idempotency-Key, so an order whose create committed but whose answer was lost is found, not created
  again. Rackbeat's order number is its own (`rackbeat_key` is None: Rackbeat assigns it).
- **An order Rackbeat has taken over is never overwritten** (`may_update`): once Rackbeat has booked,
  shipped (or partly), invoiced (or partly), archived or cancelled it, a change in e-conomic is not
  copied: the importer dead-letters the import in the reason's words (it names the order and its
  state), so it is visible and can be retried once the order is reopened in Rackbeat. The import creates
  orders unbooked (`POST orders/drafts`, `RACKBEAT_CREATE`), so e-conomic's changes follow until Rackbeat
  books them.
- Customer and products are dependencies (`dependencies`): imported first when Rackbeat lacks them.
  The mapper takes their Rackbeat numbers from `context.refs[(kind, e-conomic key)]`; an unresolved one
  is refused naming the Rackbeat field.

What is copied: the customer; each line with a product (its number, the line's own description,
quantity, unit net price and discount percentage, in the document's order); the currency; the VAT zone
of the recipient; the order date and the delivery date; the recipient's address on the document; the
delivery address on the document (with the recipient's name); the heading; the note lines and the
other reference (into the note); the payment terms and the sales person where Rackbeat already has
them bound (`context.refs`), else Rackbeat takes the customer's.

Never copied (seed README "What is NOT synchronised", and what Rackbeat works out itself): contact
persons (`references.customerContact`, `recipient.attention`); the delivery location (a customer's
delivery addresses are master data; only the address written on the order goes); currency prices,
special prices and discount groups (the line's own price and discount go as the document has them,
nothing is looked up per customer or currency); language layers (the line's text as typed, never a
product translation); e-mail addresses; e-conomic's amounts, cost prices, margins and exchange rate
(Rackbeat prices the order itself); layout, project, units, departmental distribution, accruals and
the PDF. Lines without a product carry text only (e-conomic refuses quantity or price on them): their
text goes to the note, since every Rackbeat line needs an item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.entities._fields import text
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ImportRules,
    LegacyResource,
    MappingContext,
    RackbeatLookup,
    RackbeatSide,
    Record,
    RecordRef,
)
from tasks.errors import MappingError

KIND = "order"
ECONOMIC_RESOURCE = "orders/sent"
RACKBEAT_RESOURCE = "orders"
RACKBEAT_SINGULAR = "order"
RACKBEAT_PLURAL = "orders"
RACKBEAT_CREATE = "orders/drafts"
"""Where Rackbeat documents the creation of an unbooked order (rackbeat-api.md 2.2): the importer's
`create_path` for orders."""
CUSTOMER_KIND = "customer"
PRODUCT_KIND = "product"
PAYMENT_TERM_KIND = "payment_term"
EMPLOYEE_KIND = "employee"
REFERENCE_FIELD = "their_reference"
REFERENCE_PREFIX = "e-conomic order "

VAT_ZONES: Mapping[int, str] = {1: "domestic", 2: "eu", 3: "abroad", 4: "domestic_exempt"}
"""e-conomic's standard VAT zone numbers -> Rackbeat's `vat_zone` (as in `tasks.entities._vat_zone`)."""

TAKEN_OVER: tuple[tuple[str, str], ...] = (
    ("is_booked", "booked"),
    ("is_shipped", "shipped"),
    ("is_partly_shipped", "partly shipped"),
    ("is_invoiced", "invoiced"),
    ("is_partly_invoiced", "partly invoiced"),
    ("is_archived", "archived"),
    ("is_cancelled", "cancelled"),
)
"""Rackbeat's order flags that mean Rackbeat has taken the order over (rackbeat-api.md 2.3, Order)."""


def _refused(field: str, problem: str) -> MappingError:
    return MappingError(field, problem, api="rackbeat", resource=RACKBEAT_RESOURCE)


def _number(value: Any, name: str) -> Any:
    view = value if isinstance(value, Mapping) else {}
    return view.get(name)


def _part(document: Record, name: str) -> Mapping[str, Any]:
    """A nested object of the document (`notes`, `recipient`...), empty when absent."""
    value = document.get(name)
    return value if isinstance(value, Mapping) else {}


def order_number(document: Record) -> int:
    """e-conomic's order number (the key of a sent order, which it keeps when it is sent)."""
    return int(document["orderNumber"])


def economic_key(document: Record) -> str:
    return str(order_number(document))


def reference(document: Record) -> str:
    """What the Rackbeat order carries in `their_reference`: "e-conomic order <n>"."""
    return f"{REFERENCE_PREFIX}{order_number(document)}"


def _lines(document: Record) -> list[Record]:
    lines = [line for line in document.get("lines") or [] if isinstance(line, Mapping)]
    return sorted(lines, key=lambda line: (line.get("sortKey") or 0, line.get("lineNumber") or 0))


def _product(line: Record) -> str | None:
    return text(_number(line.get("product"), "productNumber"))


def dependencies(document: Record) -> list[RecordRef]:
    """The customer, then every product the lines sell, each once: imported first where Rackbeat lacks
    them. Keys are e-conomic's (customer number, product number)."""
    deps: list[RecordRef] = []
    customer = _number(document.get("customer"), "customerNumber")
    if customer is not None:
        deps.append((CUSTOMER_KIND, str(customer)))
    products = (_product(line) for line in _lines(document))
    deps.extend(dict.fromkeys((PRODUCT_KIND, number) for number in products if number is not None))
    return deps


def _required_ref(context: MappingContext, ref: RecordRef, field: str) -> Any:
    found = context.refs.get(ref)
    if found is None:
        name = ref[0].replace("_", " ")
        raise _refused(field, f"e-conomic {name} {ref[1]} could not be resolved in Rackbeat")
    return found


def _optional_ref(context: MappingContext, kind: str, key: Any) -> Any:
    return None if key is None else context.refs.get((kind, str(key)))


def _line(line: Record, index: int, context: MappingContext, product: str) -> dict[str, Any]:
    item = _required_ref(context, (PRODUCT_KIND, product), f"lines.{index}.item_id")
    mapped: dict[str, Any] = {
        "item_id": str(item),
        "quantity": float(line.get("quantity") or 0),
        "line_price": round(float(line.get("unitNetPrice") or 0), 2),
        "discount_percentage": round(float(line.get("discountPercentage") or 0), 2),
    }
    description = text(line.get("description"))
    if description is not None:
        mapped["name"] = description
    return mapped


def _note(document: Record, text_lines: list[str]) -> str:
    notes, references = _part(document, "notes"), _part(document, "references")
    parts = [text(notes.get("textLine1")), *text_lines, text(notes.get("textLine2"))]
    other = text(references.get("other"))
    if other is not None:
        parts.append(f"Reference: {other}")
    return "\n\n".join(part for part in parts if part)


def _address(document: Record) -> dict[str, Any]:
    recipient = _part(document, "recipient")
    return {
        "address_street": text(recipient.get("address")),
        "address_zipcode": text(recipient.get("zip")),
        "address_city": text(recipient.get("city")),
        "address_country": text(recipient.get("country")),
    }


def _delivery(document: Record) -> dict[str, Any] | None:
    """The delivery address written on the order, with the recipient's name; None when it has none."""
    delivery = _part(document, "delivery")
    place = {
        "street": text(delivery.get("address")),
        "zipcode": text(delivery.get("zip")),
        "city": text(delivery.get("city")),
        "country": text(delivery.get("country")),
    }
    if not any(place.values()):
        return None
    name = text(_part(document, "recipient").get("name"))
    return {"name": name, **place}


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat order body for a sent e-conomic order (see the module docstring for each rule).

    Every field the import owns is always present (None or "" when the document leaves it out), so a
    replace clears what e-conomic cleared."""
    customer = _number(document.get("customer"), "customerNumber")
    if customer is None:
        raise _refused("customer_id", "the e-conomic order has no customer")
    lines: list[dict[str, Any]] = []
    text_lines: list[str] = []
    for line in _lines(document):
        product = _product(line)
        if product is None:
            description = text(line.get("description"))
            if description is not None:
                text_lines.append(description)
            continue
        lines.append(_line(line, len(lines), context, product))
    if not lines:
        raise _refused("lines", "the e-conomic order has no line with a product; a Rackbeat order needs one")
    notes = _part(document, "notes")
    body: dict[str, Any] = {
        "customer_id": int(_required_ref(context, (CUSTOMER_KIND, str(customer)), "customer_id")),
        REFERENCE_FIELD: reference(document),
        "currency": (text(document.get("currency")) or "DKK").upper(),
        "order_date": text(document.get("date")),
        "deliver_at": text(_part(document, "delivery").get("deliveryDate")),
        "heading": text(notes.get("heading")) or "",
        "note": _note(document, text_lines),
        **_address(document),
        "delivery_address": _delivery(document),
        "lines": lines,
    }
    vat_zone = VAT_ZONES.get(_number(_part(document, "recipient").get("vatZone"), "vatZoneNumber") or 0)
    if vat_zone is not None:
        body["vat_zone"] = vat_zone
    terms = _optional_ref(
        context, PAYMENT_TERM_KIND, _part(document, "paymentTerms").get("paymentTermsNumber")
    )
    if terms is not None:
        body["payment_terms_id"] = int(terms)
    seller = _number(_part(document, "references").get("salesPerson"), "employeeNumber")
    employee = _optional_ref(context, EMPLOYEE_KIND, seller)
    if employee is not None:
        body["employee_id"] = int(employee)
    return body


def find_existing(rackbeat: RackbeatLookup, document: Record) -> Record | None:
    """The Rackbeat order that carries this e-conomic order's reference, or None: one call,
    `GET orders?simple_filter[their_reference]=e-conomic order <n>`. Asked before every create, so an
    order whose create committed but whose answer was lost is found instead of being created twice. Were
    there ever two (made by hand), the oldest is the one kept in step."""
    wanted = reference(document)
    params = {f"simple_filter[{REFERENCE_FIELD}]": wanted}
    found = [
        order
        for order in rackbeat.iter(RACKBEAT_RESOURCE, RACKBEAT_PLURAL, params=params, limit=10)
        if order.get(REFERENCE_FIELD) == wanted
    ]
    return min(found, key=lambda order: int(order.get("number") or 0)) if found else None


def may_update(existing: Record) -> str | None:
    """None while e-conomic's changes may replace the Rackbeat order; else why not (it names the order and
    what Rackbeat has done with it). A booked order is never overwritten."""
    states = [label for flag, label in TAKEN_OVER if existing.get(flag)]
    if not states:
        return None
    carried = existing.get(REFERENCE_FIELD)
    of = f" ({carried})" if carried else ""
    return f"Rackbeat order {existing.get('number')}{of} is {', '.join(states)}: Rackbeat has taken it over"


IMPORT_NEVER_COPIED = (
    "references.customerContact",
    "recipient.attention",
    "recipient.ean",
    "recipient.publicEntryNumber",
    "references.vendorReference",
    "deliveryLocation",
    "delivery.deliveryTerms",
    "exchangeRate",
    "dueDate",
    "netAmount, grossAmount, vatAmount, roundingAmount, margins, cost prices",
    "layout",
    "project",
    "lines[].unit",
    "lines[].unitCostPrice",
    "lines[].departmentalDistribution",
    "lines[].accrual",
    "pdf",
)
"""e-conomic order fields the import leaves out on purpose (module docstring, "Never copied")."""


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide(resource=RACKBEAT_RESOURCE, singular=RACKBEAT_SINGULAR),
    economic=EconomicSide(target=LegacyResource(path=ECONOMIC_RESOURCE), key_field="orderNumber"),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        economic_key=order_number,
        dependencies=dependencies,
        find_existing=find_existing,
        may_update=may_update,
        never_copied=IMPORT_NEVER_COPIED,
        poll="orders",
        create_path=RACKBEAT_CREATE,
    ),
)
