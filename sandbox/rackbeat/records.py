"""Pure builders of stored Rackbeat records: defaults, derived fields, document lines and totals.

Stored records hold ids for their relations (``group_id``, ``customer_id``...); the embedded objects the API
shows (``group``, ``customer``, ``payment_terms``) are added when a record is presented (see ``present.py``),
so a renamed group shows up at once on every product.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sandbox.rackbeat.resources import ResourceSpec

DEFAULT_VAT_PERCENTAGE = 25.0


def now_iso() -> str:
    """Rackbeat-style timestamp: ISO-8601 with offset, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def urlfriendly_number(number: str) -> str:
    """A path-safe form of an item number. Rackbeat's own algorithm is unknown; percent-encoding once is
    deterministic and round-trips (the server decodes one level when it routes)."""
    return quote(number, safe="")


def _item_defaults(item_type: str) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "type": item_type,
        "barcode": None,
        "description": "",
        "sales_price": 0.0,
        "recommended_sales_price": 0.0,
        "cost_price": 0.0,
        "recommended_cost_price": 0.0,
        "cost_addition_percentage": 0.0,
        "min_order": 0,
        "min_sales": 0,
        "min_stock": 0,
        "stock_quantity": 0.0,
        "in_order_quantity": 0.0,
        "purchased_quantity": 0.0,
        "used_in_production_quantity": 0.0,
        "group_id": None,
        "unit_id": None,
        "default_location_id": None,
        "default_supplier_id": None,
        "variation_id": None,
        "department_id": None,
        "discount_group": None,
        "physical": {
            "weight": 0,
            "weight_unit": "kg",
            "height": 0,
            "width": 0,
            "depth": 0,
            "size_unit": "cm",
        },
        "serial_numbers": {"is_active": False, "index": 0},
        "batch_control": {"is_active": False},
        "picture_url": None,
        "goods_code": None,
        "country_code": None,
        "supplier_product_number": None,
        "is_barred": False,
        "is_convertable": item_type == "product",
        "inventory_enabled": True,
        "should_assure_quality": False,
        "deleted_at": None,
    }
    if item_type == "lot":
        defaults |= {
            "min_produced": 0,
            "recommended_cost_is_locked": False,
            "cost_is_locked": False,
            "adjust_to_zero": False,
            "lines": [],
        }
    return defaults


_DOCUMENT_DEFAULTS: dict[str, Any] = {
    "heading": "",
    "note": "",
    "currency": "DKK",
    "currency_rate": 1.0,
    "vat_zone": "domestic",
    "layout_id": None,
    "payment_terms_id": None,
    "employee_id": None,
    "project_id": None,
    "their_reference": None,
    "our_reference": None,
    "address_street": None,
    "address_street2": None,
    "address_city": None,
    "address_zipcode": None,
    "address_country": None,
    "lines": [],
    "is_booked": False,
    "booked_at": None,
}

_PARTY_DEFAULTS: dict[str, Any] = {
    "company_vat": None,
    "address_street": None,
    "address_street2": None,
    "address_city": None,
    "address_zipcode": None,
    "address_country": None,
    "contact_email": None,
    "contact_phone": None,
    "locale": "da",
    "currency": "DKK",
    "vat_zone": "domestic",
    "payment_terms_id": None,
    "is_barred": False,
    "is_deleted": False,
}

DEFAULTS: dict[str, Callable[[], dict[str, Any]]] = {
    "products": lambda: _item_defaults("product"),
    "lots": lambda: _item_defaults("lot"),
    "product-groups": lambda: {
        "has_inventory": True,
        "is_sellable": True,
        "should_spread_cost": False,
        "vat_domestic": True,
        "vat_eu": True,
        "vat_abroad": True,
        "vat_domestic_exempt": False,
        "is_draft": False,
    },
    "customers": lambda: (
        _PARTY_DEFAULTS
        | {
            "ean": None,
            "our_reference": None,
            "their_reference": None,
            "attention": None,
            "max_credit": 0.0,
            "employee_id": None,
            "general_discount_percentage": 0.0,
            "layout_id": None,
            "customer_group_id": None,
        }
    ),
    "customer-groups": lambda: {"is_draft": False},
    "suppliers": lambda: _PARTY_DEFAULTS | {"supplier_group_id": None},
    "supplier-groups": dict,
    "payment-terms": lambda: {"description": "", "type": "net", "maturity_days": 0},
    "employees": lambda: {
        "initials": None,
        "contact_phone": None,
        "contact_email": None,
        "locale": "da",
        "job_title": None,
        "should_notify": False,
        "default_location_id": None,
    },
    "layouts": dict,
    "units": dict,
    "locations": lambda: {"barcode": None, "is_default": False, "parent_id": None},
    "orders": lambda: (
        _DOCUMENT_DEFAULTS
        | {
            "customer_id": None,
            "order_date": date.today().isoformat(),
            "deliver_at": None,
            "our_reference_id": None,
            "delivery_address": None,
            "is_archived": False,
            "is_cancelled": False,
            "is_shipped": False,
            "is_invoiced": False,
        }
    ),
    "customer-invoices": lambda: (
        _DOCUMENT_DEFAULTS
        | {
            "customer_id": None,
            "order_id": None,
            "invoice_date": date.today().isoformat(),
            "due_date": None,
            "is_paid": False,
        }
    ),
    "supplier-invoices": lambda: (
        _DOCUMENT_DEFAULTS
        | {
            "supplier_id": None,
            "invoice_date": date.today().isoformat(),
            "due_date": None,
            "supplier_invoice_number": None,
            "is_paid": False,
            "is_received": False,
        }
    ),
    "projects": lambda: {"description": ""},
}


def new_record(
    spec: ResourceSpec, fields: Mapping[str, Any], *, record_id: int, number: Any, now: str
) -> dict:
    """A complete stored record from validated write fields."""
    record: dict[str, Any] = {"id": record_id, "number": number}
    record.update(DEFAULTS[spec.path]())
    record.update(fields)
    record["number"] = number
    record["created_at"] = now
    record["updated_at"] = now
    if spec.path in ("products", "lots") and not fields.get("cost_price"):
        # Until goods are bought, the cost price is the expected one (reference 2.3, H-COST).
        record["cost_price"] = record.get("recommended_cost_price") or 0.0
    return derive(spec, record)


def updated_record(
    spec: ResourceSpec, record: Mapping[str, Any], fields: Mapping[str, Any], *, now: str
) -> dict:
    updated = dict(record) | dict(fields)
    updated["updated_at"] = now
    return derive(spec, updated)


def derive(spec: ResourceSpec, record: dict) -> dict:
    """Fill the fields computed from others (in place; returns the record)."""
    if spec.path in ("products", "lots"):
        number = str(record["number"])
        record["urlfriendly_number"] = urlfriendly_number(number)
        record["available_quantity"] = (record.get("stock_quantity") or 0) - (
            record.get("in_order_quantity") or 0
        )
        record["sales_profit"] = round((record.get("sales_price") or 0) - (record.get("cost_price") or 0), 2)
    elif spec.path == "payment-terms":
        record["type_translated"] = str(record.get("type") or "").replace("_", " ").capitalize()
    return record


def _num(value: Any, default: float = 0.0) -> float:
    if value is None or value == "":
        return default
    return float(value)


def build_lines(
    lines: list[dict],
    find_item: Callable[[str], dict | None],
    *,
    purchase: bool,
    vat_percentage: float,
    first_id: int,
) -> list[dict]:
    """Document lines as Rackbeat shows them; prices default to the item's sales (or cost) price."""
    built = []
    for offset, line in enumerate(lines):
        item_number = str(line.get("item_id", line.get("child_id", line.get("product_id"))))
        item = find_item(item_number) or {}
        default_price = item.get("cost_price", 0.0) if purchase else item.get("sales_price", 0.0)
        price = _num(line.get("line_price", line.get("unit_price")), default_price or 0.0)
        quantity = _num(line.get("quantity"))
        discount = _num(line.get("discount_percentage"))
        vat = _num(line.get("vat_percentage"), vat_percentage)
        total = round(quantity * price * (1 - discount / 100), 2)
        built.append(
            {
                "id": line.get("id") or first_id + offset,
                "child_type": item.get("type", "product"),
                "child_id": item_number,
                "item_id": item_number,
                "name": line.get("name") or item.get("name", ""),
                "quantity": quantity,
                "line_price": price,
                "discount_percentage": discount,
                "vat_percentage": vat,
                "location_id": line.get("location_id"),
                "total": total,
            }
        )
    return built


def document_totals(lines: list[dict]) -> dict[str, float]:
    subtotal = round(sum(line["total"] for line in lines), 2)
    vat = round(sum(line["total"] * line["vat_percentage"] / 100 for line in lines), 2)
    return {"total_subtotal": subtotal, "total_vat": vat, "total_total": round(subtotal + vat, 2)}


def build_bom_lines(
    lines: list[dict], find_item: Callable[[str], dict | None], *, first_id: int
) -> list[dict]:
    """A lot's component lines; unit price is the component's cost price."""
    built = []
    for offset, line in enumerate(lines):
        item_number = str(line.get("product_id", line.get("child_id", line.get("item_id"))))
        item = find_item(item_number) or {}
        quantity = _num(line.get("quantity"))
        unit_price = _num(line.get("unit_price"), item.get("cost_price", 0.0) or 0.0)
        built.append(
            {
                "id": line.get("id") or first_id + offset,
                "child_type": item.get("type", "product"),
                "child_id": item_number,
                "product_id": item_number,
                "name": line.get("name") or item.get("name", ""),
                "quantity": quantity,
                "unit_price": unit_price,
                "line_price": round(quantity * unit_price, 2),
                "location_id": line.get("location_id"),
            }
        )
    return built


def vat_for_zone(vat_zone: str | None) -> float:
    return DEFAULT_VAT_PERCENTAGE if vat_zone in (None, "domestic") else 0.0


def due_date(invoice_date: str, maturity_days: int | None) -> str:
    start = datetime.fromisoformat(invoice_date).date()
    return (start + timedelta(days=maturity_days or 0)).isoformat()
