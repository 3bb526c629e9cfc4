"""The company as Rackbeat holds it: pure functions from the neutral model to Rackbeat records.

Field names follow the Rackbeat sandbox's resource table (reference §2.3): relations are stored as ids
(`group_id`, `unit_id`, `customer_id`, ...) whose values are the related record's `number`; the embedded
objects the API shows are added by the sandbox when it presents a record. Amounts on documents are in the
document's currency; `currency_rate` is DKK per unit of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sandbox.seed.model import (
    Employee,
    Group,
    Layout,
    Line,
    Location,
    Party,
    PaymentTerm,
    Product,
    ProductGroup,
    Project,
    SalesDocument,
    SupplierInvoice,
    Unit,
)
from sandbox.seed.randomness import money, rackbeat_timestamp
from sandbox.seed.reference import VAT_ZONE_BY_NUMBER

Record = dict[str, Any]
# Orders are promised for delivery this long after they are taken.
DELIVERY_TIME = timedelta(days=3)


def product_group(g: ProductGroup) -> Record:
    return {
        "number": g.number,
        "name": g.name,
        "has_inventory": g.inventory_enabled,
        "is_sellable": True,
        "should_spread_cost": False,
        "vat_domestic": True,
        "vat_eu": True,
        "vat_abroad": True,
        "vat_domestic_exempt": False,
        "is_draft": False,
    }


def unit(u: Unit) -> Record:
    return {"number": u.number, "name": u.name}


def location(loc: Location) -> Record:
    return {
        "number": loc.number,
        "name": loc.name,
        "barcode": loc.barcode,
        "is_default": loc.is_default,
        "parent_id": loc.parent,
    }


def payment_term(t: PaymentTerm) -> Record:
    """Rackbeat's `type` values are undocumented; e-conomic's names are used (reference §2.3, [I])."""
    return {
        "number": t.number,
        "name": t.name,
        "description": t.description,
        "type": t.type,
        "maturity_days": t.days,
    }


def layout(lay: Layout) -> Record:
    return {"number": lay.number, "name": lay.name}


def employee(e: Employee) -> Record:
    return {
        "number": e.number,
        "name": e.name,
        "initials": e.initials,
        "contact_email": e.email,
        "contact_phone": e.phone,
        "locale": "nb" if e.phone.startswith("+47") else "da",
        "job_title": e.job_title,
        "should_notify": False,
        "default_location_id": e.location,
    }


def customer_group(g: Group) -> Record:
    return {"number": g.number, "name": g.name, "is_draft": False}


def supplier_group(g: Group) -> Record:
    return {"number": g.number, "name": g.name}


def _party(p: Party) -> Record:
    return {
        "number": p.number,
        "company_name": p.name,
        "company_vat": p.vat_id or None,
        "address_street": p.address.street,
        "address_street2": None,
        "address_city": p.address.city,
        "address_zipcode": p.address.zip,
        "address_country": p.address.country,
        "contact_email": p.email,
        "contact_phone": p.phone,
        "locale": p.locale,
        "currency": p.currency,
        "vat_zone": VAT_ZONE_BY_NUMBER[p.vat_zone].key,
        "payment_terms_id": p.payment_term,
        "is_barred": p.barred,
        "created_at": rackbeat_timestamp(p.updated_at),
        "updated_at": rackbeat_timestamp(p.updated_at),
    }


def customer(p: Party) -> Record:
    """Rackbeat keeps one e-mail per customer: the primary one (extra invoice e-mails stay in e-conomic)."""
    return {
        **_party(p),
        "ean": p.ean or None,
        "max_credit": p.credit_limit,
        "employee_id": p.employee,
        "general_discount_percentage": 0.0,
        "layout_id": p.layout,
        "customer_group_id": p.group,
    }


def supplier(p: Party) -> Record:
    return {**_party(p), "supplier_group_id": p.group}


def _item(p: Product, item_type: str) -> Record:
    stamp = rackbeat_timestamp(p.updated_at)
    return {
        "number": p.number,
        "type": item_type,
        "name": p.name,
        "description": p.description,
        "barcode": p.barcode or None,
        "sales_price": p.sales_price,
        "recommended_sales_price": p.recommended_price,
        "cost_price": p.cost_price,
        "recommended_cost_price": p.cost_price,
        "min_stock": p.min_stock,
        "stock_quantity": p.stock_quantity,
        "group_id": p.group,
        "unit_id": p.unit,
        "default_location_id": p.location,
        "default_supplier_id": p.supplier,
        "is_barred": p.barred,
        "inventory_enabled": True,
        "physical": {
            "weight": p.weight_kg,
            "weight_unit": "kg",
            "height": 0,
            "width": 0,
            "depth": 0,
            "size_unit": "cm",
        },
        "created_at": stamp,
        "updated_at": stamp,
    }


def product(p: Product) -> Record:
    return _item(p, "product")


def lot(p: Product, items: Mapping[str, Product]) -> Record:
    """A BOM with its component lines (a component may be a lot itself); `items` finds them by number."""
    record = _item(p, "lot")
    lines = []
    for line_id, (number, quantity) in enumerate(p.components, start=1):
        component = items[number]
        lines.append(
            {
                "id": line_id,
                "child_type": "lot" if component.is_lot else "product",
                "child_id": number,
                "product_id": number,
                "name": component.name,
                "quantity": quantity,
                "unit_price": component.cost_price,
                "line_price": money(quantity * component.cost_price),
                "location_id": None,
            }
        )
    record["lines"] = lines
    return record


def project(p: Project) -> Record:
    return {"number": p.number, "name": p.name, "description": p.description}


def _line(line: Line) -> Record:
    return {
        "id": line.number,
        "child_type": "lot" if line.is_lot else "product",
        "child_id": line.product,
        "item_id": line.product,
        "name": line.description,
        "quantity": line.quantity,
        "line_price": line.unit_price,
        "discount_percentage": line.discount,
        "vat_percentage": line.vat_rate,
        "location_id": None,
        "total": money(line.net_amount),
    }


def _totals(lines: tuple[Line, ...]) -> Record:
    subtotal = money(sum(money(line.net_amount) for line in lines))
    vat = money(sum(money(line.net_amount) * line.vat_rate / 100 for line in lines))
    return {"total_subtotal": subtotal, "total_vat": vat, "total_total": money(subtotal + vat)}


def _sales(d: SalesDocument) -> Record:
    c = d.customer
    record: Record = {
        "number": d.number,
        "customer_id": c.number,
        "heading": d.heading,
        "currency": d.currency,
        "currency_rate": d.exchange_rate / 100,
        "vat_zone": VAT_ZONE_BY_NUMBER[d.vat_zone].key,
        "layout_id": d.layout,
        "payment_terms_id": d.payment_term,
        "employee_id": d.employee,
        "project_id": d.project,
        "address_street": c.address.street,
        "address_city": c.address.city,
        "address_zipcode": c.address.zip,
        "address_country": c.address.country,
        "lines": [_line(line) for line in d.lines],
        **_totals(d.lines),
        "is_booked": d.booked,
        "booked_at": rackbeat_timestamp(d.booked_at) if d.booked_at else None,
        "created_at": rackbeat_timestamp(d.updated_at),
        "updated_at": rackbeat_timestamp(d.updated_at),
    }
    return record


def order(d: SalesDocument) -> Record:
    return {**_sales(d), "order_date": d.date.isoformat(), "deliver_at": (d.date + DELIVERY_TIME).isoformat()}


def customer_invoice(d: SalesDocument) -> Record:
    return {
        **_sales(d),
        "order_id": d.order_number,
        "invoice_date": d.date.isoformat(),
        "due_date": d.due_date.isoformat(),
        "is_paid": d.paid,
    }


def supplier_invoice(s: SupplierInvoice) -> Record:
    p = s.supplier
    return {
        "number": s.number,
        "supplier_id": p.number,
        "supplier_invoice_number": s.supplier_invoice_number,
        "heading": f"Leverandørfaktura {s.supplier_invoice_number}",
        "currency": s.currency,
        "currency_rate": s.exchange_rate / 100,
        "vat_zone": VAT_ZONE_BY_NUMBER[p.vat_zone].key,
        "payment_terms_id": p.payment_term,
        "address_street": p.address.street,
        "address_city": p.address.city,
        "address_zipcode": p.address.zip,
        "address_country": p.address.country,
        "invoice_date": s.date.isoformat(),
        "due_date": s.due_date.isoformat(),
        "lines": [_line(line) for line in s.lines],
        **_totals(s.lines),
        "is_booked": s.booked,
        "booked_at": rackbeat_timestamp(s.booked_at) if s.booked_at else None,
        "is_paid": s.paid,
        "is_received": s.booked,
        "created_at": rackbeat_timestamp(s.updated_at),
        "updated_at": rackbeat_timestamp(s.updated_at),
    }
