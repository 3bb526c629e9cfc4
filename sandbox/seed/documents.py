"""Documents: Rackbeat's sales orders, customer invoices and supplier invoices, the orders and invoices that
started in e-conomic, and projects. Each kind streams from its own random stream; lines reference the popular
head of the catalogue (products and lots) and customers come from the popular head of the customer list.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sandbox.seed import vocabulary as vocab
from sandbox.seed.model import Line, Party, Product, Project, SalesDocument, SupplierInvoice
from sandbox.seed.randomness import BASE_DATE, BASE_DATETIME, money, pick, rng_for
from sandbox.seed.reference import (
    CURRENCY_BY_CODE,
    PAYMENT_TERM_BY_NUMBER,
    SALES_EMPLOYEES,
    VAT_ZONE_BY_NUMBER,
)

FIRST_ORDER_NUMBER = 1001
FIRST_INVOICE_NUMBER = 30001
FIRST_SUPPLIER_INVOICE_NUMBER = 5001
FIRST_PROJECT_NUMBER = 1
# e-conomic numbers its own documents from 1 (Rackbeat's numbers live in another system).
FIRST_ECONOMIC_DOCUMENT_NUMBER = 1
# Documents spread over this many days before the base date (e-conomic's history lies before Rackbeat's).
RACKBEAT_HISTORY_DAYS = 150
ECONOMIC_HISTORY_DAYS = 400


@dataclass(frozen=True)
class DocumentContext:
    """What documents draw on: the popular customers, suppliers and sellable items, and the project count."""

    seed: int
    customers: Sequence[Party]
    suppliers: Sequence[Party]
    items: Sequence[Product]  # sellable products and lots
    project_count: int


def due_date(invoice_date: date, payment_term: int) -> date:
    term = PAYMENT_TERM_BY_NUMBER[payment_term]
    if term.type == "net":
        return invoice_date + timedelta(days=term.days)
    if term.type == "invoiceMonth":
        last_day = calendar.monthrange(invoice_date.year, invoice_date.month)[1]
        return invoice_date.replace(day=last_day) + timedelta(days=term.days)
    return invoice_date


def _spread_date(rng: random.Random, index: int, count: int, history_days: int, offset_days: int = 0) -> date:
    """Later indices get later dates (documents are numbered in time order), with a little jitter."""
    days_ago = offset_days + int((1 - (index + 1) / max(count, 1)) * history_days)
    return BASE_DATE - timedelta(days=max(offset_days, days_ago - int(rng.random() * 3)))


def _moment(day: date, rng: random.Random) -> datetime:
    """A time of day during office hours, never after the base time."""
    moment = datetime(
        day.year,
        day.month,
        day.day,
        7 + int(rng.random() * 10),
        int(rng.random() * 60),
        int(rng.random() * 60),
        tzinfo=BASE_DATETIME.tzinfo,
    )
    return min(moment, BASE_DATETIME)


def _paid(booked: bool, due: date) -> bool:
    """Invoices whose due date is more than two weeks past were paid; newer ones are still open."""
    return booked and due < BASE_DATE - timedelta(days=14)


def _booked(rng: random.Random, index: int, share: float) -> bool:
    """Booked with probability `share`; the first document is always booked and the second always a draft,
    so even a tiny data set has both."""
    roll = rng.random() < share
    return {0: True, 1: False}.get(index, roll)


def _quantity(rng: random.Random, item: Product) -> float:
    return pick(rng, (1.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0) if not item.is_lot else (1.0, 1.0, 2.0))


def _lines(
    rng: random.Random, items: Sequence[Product], currency: str, vat_rate: float, *, buying: bool
) -> tuple[Line, ...]:
    """One to six lines, prices converted from DKK into the document currency."""
    rate = CURRENCY_BY_CODE[currency].rate
    chosen: dict[str, Product] = {}
    for _ in range(1 + int(rng.random() * 6)):
        item = pick(rng, items)
        chosen.setdefault(item.number, item)
    lines = []
    for number, item in enumerate(chosen.values(), start=1):
        unit_cost = money(item.cost_price * 100 / rate)
        lines.append(
            Line(
                number=number,
                product=item.number,
                is_lot=item.is_lot,
                description=item.name,
                quantity=_quantity(rng, item) * (10 if buying else 1),
                unit=item.unit,
                unit_price=unit_cost if buying else money(item.sales_price * 100 / rate),
                unit_cost=unit_cost,
                discount=0.0 if buying else pick(rng, (0.0, 0.0, 0.0, 5.0, 10.0, 15.0)),
                vat_rate=vat_rate,
            )
        )
    return tuple(lines)


def _sales_document(
    rng: random.Random, ctx: DocumentContext, number: int, day: date, booked: bool, heading: str
) -> SalesDocument:
    customer = pick(rng, ctx.customers)
    zone = VAT_ZONE_BY_NUMBER[customer.vat_zone]
    created = _moment(day, rng)
    project = None
    if ctx.project_count and rng.random() < 0.12:
        project = FIRST_PROJECT_NUMBER + int(rng.random() * ctx.project_count)
    return SalesDocument(
        number=number,
        customer=customer,
        date=day,
        due_date=due_date(day, customer.payment_term),
        currency=customer.currency,
        exchange_rate=CURRENCY_BY_CODE[customer.currency].rate,
        payment_term=customer.payment_term,
        layout=customer.layout,
        employee=customer.employee,
        vat_zone=customer.vat_zone,
        heading=heading,
        lines=_lines(rng, ctx.items, customer.currency, zone.rate, buying=False),
        booked=booked,
        booked_at=min(created + timedelta(hours=2), BASE_DATETIME) if booked else None,
        order_number=None,
        project=project,
        updated_at=min(created + timedelta(hours=3), BASE_DATETIME),
    )


def iter_orders(ctx: DocumentContext, count: int) -> Iterator[SalesDocument]:
    """Rackbeat sales orders; most are booked (confirmed), the newest tend to be drafts."""
    rng = rng_for(ctx.seed, "orders")
    for index in range(count):
        day = _spread_date(rng, index, count, RACKBEAT_HISTORY_DAYS)
        heading = f"{pick(rng, vocab.ORDER_HEADINGS)} {FIRST_ORDER_NUMBER + index}"
        yield _sales_document(rng, ctx, FIRST_ORDER_NUMBER + index, day, _booked(rng, index, 0.7), heading)


def iter_customer_invoices(ctx: DocumentContext, count: int, order_count: int) -> Iterator[SalesDocument]:
    """Rackbeat customer invoices. Many are converted from the order of the same index (the way Rackbeat
    recommends), keeping its customer and lines and pointing back at it; the rest are invoiced directly."""
    rng = rng_for(ctx.seed, "customer-invoices")
    orders = iter_orders(ctx, min(count, order_count))
    for index in range(count):
        order = next(orders, None)
        number = FIRST_INVOICE_NUMBER + index
        booked = _booked(rng, index, 0.75)
        if order is not None and order.booked and rng.random() < 0.6:
            day = min(order.date + timedelta(days=int(rng.random() * 5)), BASE_DATE)
            created = _moment(day, rng)
            yield replace(
                order,
                number=number,
                date=day,
                due_date=due_date(day, order.payment_term),
                booked=booked,
                booked_at=created if booked else None,
                paid=_paid(booked, due_date(day, order.payment_term)),
                order_number=order.number,
                heading=f"Faktura {number}",
                updated_at=created,
            )
            continue
        day = _spread_date(rng, index, count, RACKBEAT_HISTORY_DAYS)
        document = _sales_document(rng, ctx, number, day, booked, f"Faktura {number}")
        yield replace(document, paid=_paid(booked, document.due_date))


def iter_supplier_invoices(ctx: DocumentContext, count: int) -> Iterator[SupplierInvoice]:
    rng = rng_for(ctx.seed, "supplier-invoices")
    for index in range(count):
        supplier = pick(rng, ctx.suppliers)
        day = _spread_date(rng, index, count, RACKBEAT_HISTORY_DAYS)
        created = _moment(day, rng)
        booked = _booked(rng, index, 0.7)
        zone = VAT_ZONE_BY_NUMBER[supplier.vat_zone]
        yield SupplierInvoice(
            number=FIRST_SUPPLIER_INVOICE_NUMBER + index,
            supplier=supplier,
            supplier_invoice_number=f"{supplier.number % 1000:03d}-{day.year}{index + 1:05d}",
            date=day,
            due_date=due_date(day, supplier.payment_term),
            currency=supplier.currency,
            exchange_rate=CURRENCY_BY_CODE[supplier.currency].rate,
            lines=_lines(
                rng,
                [item for item in ctx.items if not item.is_lot] or ctx.items,
                supplier.currency,
                zone.rate,
                buying=True,
            ),
            booked=booked,
            booked_at=created if booked else None,
            updated_at=created,
            paid=_paid(booked, due_date(day, supplier.payment_term)),
        )


def iter_economic_orders(ctx: DocumentContext, count: int) -> Iterator[SalesDocument]:
    """Orders keyed in e-conomic (e.g. by the office or a webshop): `booked` here means sent."""
    rng = rng_for(ctx.seed, "economic-orders")
    for index in range(count):
        number = FIRST_ECONOMIC_DOCUMENT_NUMBER + index
        day = _spread_date(rng, index, count, 20)
        yield _sales_document(rng, ctx, number, day, _booked(rng, index, 0.5), f"Ordre {number}")


def iter_economic_invoices(ctx: DocumentContext, count: int) -> Iterator[SalesDocument]:
    """e-conomic's own invoice history from before Rackbeat: mostly booked, a few drafts left open.

    Booked and draft invoices are numbered in separate series, as e-conomic does."""
    rng = rng_for(ctx.seed, "economic-invoices")
    booked_count = draft_count = 0
    for index in range(count):
        day = _spread_date(
            rng, index, count, ECONOMIC_HISTORY_DAYS - RACKBEAT_HISTORY_DAYS, RACKBEAT_HISTORY_DAYS
        )
        document = _sales_document(rng, ctx, 0, day, _booked(rng, index, 0.8), "Faktura")
        if document.booked:
            booked_count += 1
            number = booked_count
        else:
            draft_count += 1
            number = draft_count
        settled = rng.random() < 0.9  # a few old invoices are still overdue
        yield replace(
            document,
            number=number,
            heading=f"Faktura {number}" if document.booked else "Fakturakladde",
            paid=settled and _paid(document.booked, document.due_date),
        )


def iter_projects(seed: int, count: int, customers: Sequence[Party]) -> Iterator[Project]:
    rng = rng_for(seed, "projects")
    for index in range(count):
        customer = pick(rng, customers) if customers and rng.random() < 0.8 else None
        place = customer.address.city if customer else "Kolding"
        created = BASE_DATETIME - timedelta(days=int(rng.random() * 300), seconds=int(rng.random() * 86_400))
        yield Project(
            number=FIRST_PROJECT_NUMBER + index,
            name=f"{pick(rng, vocab.PROJECT_NAMES)} {place}",
            description="Leverancer til byggeprojekt" if customer else "Internt projekt",
            group=2 if customer else 1,
            customer=customer.number if customer else None,
            employee=pick(rng, SALES_EMPLOYEES),
            closed=rng.random() < 0.15,
            barred=rng.random() < 0.05,
            delivery_date=BASE_DATE + timedelta(days=int(rng.random() * 240) - 60),
            updated_at=created,
        )
