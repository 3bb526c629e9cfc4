"""The Rackbeat resources the sandbox serves, as one table (field names per the reference's section 2.3).

Each :class:`ResourceSpec` says how a resource is addressed (path, envelope keys, key type), which fields a
write may carry and of what kind, which are required on create, which must point at an existing record, and
which webhook entity name its changes fire. Changing what the sandbox accepts means editing this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldKind = Literal["str", "int", "num", "bool", "list", "dict", "any", "date"]

ADDRESS_FIELDS: dict[str, FieldKind] = {
    "address_street": "str",
    "address_street2": "str",
    "address_city": "str",
    "address_zipcode": "str",
    "address_country": "str",
}

ITEM_FIELDS: dict[str, FieldKind] = {
    "number": "str",
    "name": "str",
    "description": "str",
    "barcode": "str",
    "sales_price": "num",
    "recommended_sales_price": "num",
    "recommended_cost_price": "num",
    "cost_addition_percentage": "num",
    "min_order": "num",
    "min_sales": "num",
    "min_stock": "num",
    "stock_quantity": "num",
    "group_id": "int",
    "unit_id": "int",
    "default_location_id": "int",
    "default_supplier_id": "int",
    "variation_id": "int",
    "department_id": "int",
    "is_barred": "bool",
    "inventory_enabled": "bool",
    "should_assure_quality": "bool",
    "is_convertable": "bool",
    "physical": "dict",
    "discount_group": "any",
    "goods_code": "str",
    "country_code": "str",
    "picture_url": "str",
    "supplier_product_number": "str",
}

#: write names the API accepts for item fields it shows under another name (reference 2.3, "request fields")
ITEM_WRITE_ALIASES: dict[str, str] = {
    "group": "group_id",
    "min_inventory_quantity": "min_stock",
    "min_sales_quantity": "min_sales",
    "min_purchase_quantity": "min_order",
    "extra_cost": "cost_addition_percentage",
    "unit": "unit_id",
    "image_url": "picture_url",
}

DOCUMENT_FIELDS: dict[str, FieldKind] = {
    "number": "int",
    "heading": "str",
    "note": "str",
    "currency": "str",
    "vat_zone": "str",
    "layout_id": "int",
    "payment_terms_id": "int",
    "employee_id": "int",
    "project_id": "int",
    "their_reference": "str",
    "our_reference": "any",
    "lines": "list",
    **ADDRESS_FIELDS,
}

VAT_ZONES = ("domestic", "eu", "abroad", "domestic_exempt")


@dataclass(frozen=True)
class ResourceSpec:
    path: str  # URL segment under /api/
    singular: str  # envelope key of one record
    plural: str  # envelope key of a list
    key_type: type = int  # int: numbered records; str: item numbers
    fields: dict[str, FieldKind] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    references: dict[str, str] = field(default_factory=dict)  # field -> resource path it must point into
    event: str | None = None  # webhook entity; None: changes fire nothing
    writable: bool = True  # False: GET only on the API (data arrives via /_sandbox/load)
    record_writes: tuple[str, ...] = ("PUT", "PATCH", "DELETE")  # methods at `<path>/{n}` when writable
    bookable: bool = False  # documents with draft -> booked
    search_fields: tuple[str, ...] = ("name",)
    aliases: dict[str, str] = field(default_factory=dict)  # write name -> stored name


RESOURCES: dict[str, ResourceSpec] = {
    spec.path: spec
    for spec in (
        ResourceSpec(
            path="products",
            singular="product",
            plural="products",
            key_type=str,
            fields=ITEM_FIELDS,
            required=("number", "name", "group_id", "sales_price"),
            references={
                "group_id": "product-groups",
                "unit_id": "units",
                "default_location_id": "locations",
                "default_supplier_id": "suppliers",
            },
            event="product",
            search_fields=("number", "name", "barcode"),
            aliases=ITEM_WRITE_ALIASES,
        ),
        ResourceSpec(
            path="lots",
            singular="lot",
            plural="lots",
            key_type=str,
            fields={
                **ITEM_FIELDS,
                "min_produced": "num",
                "recommended_cost_is_locked": "bool",
                "cost_is_locked": "bool",
                "adjust_to_zero": "bool",
                "lines": "list",
            },
            required=("number", "name", "group_id"),
            references={"group_id": "product-groups", "unit_id": "units", "default_location_id": "locations"},
            event="lot",
            search_fields=("number", "name", "barcode"),
            aliases=ITEM_WRITE_ALIASES,
        ),
        ResourceSpec(
            path="product-groups",
            singular="product_group",
            plural="product_groups",
            fields={
                "number": "int",
                "name": "str",
                "has_inventory": "bool",
                "is_sellable": "bool",
                "should_spread_cost": "bool",
                "vat_domestic": "any",
                "vat_eu": "any",
                "vat_abroad": "any",
                "vat_domestic_exempt": "any",
                "is_draft": "bool",
            },
            required=("name",),
            event="product_group",
        ),
        ResourceSpec(
            path="customers",
            singular="customer",
            plural="customers",
            fields={
                "number": "int",
                "company_name": "str",
                "company_vat": "str",
                **ADDRESS_FIELDS,
                "contact_email": "str",
                "contact_phone": "str",
                "locale": "str",
                "ean": "str",
                "our_reference": "any",
                "their_reference": "str",
                "attention": "str",
                "max_credit": "num",
                "payment_terms_id": "int",
                "employee_id": "int",
                "general_discount_percentage": "num",
                "vat_zone": "str",
                "layout_id": "int",
                "customer_group_id": "int",
                "currency": "str",
                "is_barred": "bool",
            },
            required=("company_name", "payment_terms_id"),
            references={
                "payment_terms_id": "payment-terms",
                "customer_group_id": "customer-groups",
                "employee_id": "employees",
                "layout_id": "layouts",
            },
            event="customer",
            search_fields=("company_name", "contact_email", "company_vat"),
        ),
        ResourceSpec(
            path="customer-groups",
            singular="customer_group",
            plural="customer_groups",
            fields={"number": "int", "name": "str", "is_draft": "bool"},
            required=("name",),
            event="customer_group",
        ),
        ResourceSpec(
            path="suppliers",
            singular="supplier",
            plural="suppliers",
            fields={
                "number": "int",
                "company_name": "str",
                "company_vat": "str",
                **ADDRESS_FIELDS,
                "contact_email": "str",
                "contact_phone": "str",
                "locale": "str",
                "currency": "str",
                "vat_zone": "str",
                "payment_terms_id": "int",
                "supplier_group_id": "int",
                "is_barred": "bool",
            },
            required=("company_name", "payment_terms_id"),
            references={"payment_terms_id": "payment-terms", "supplier_group_id": "supplier-groups"},
            event="supplier",
            search_fields=("company_name", "contact_email", "company_vat"),
        ),
        ResourceSpec(
            path="supplier-groups",
            singular="supplier_group",
            plural="supplier_groups",
            fields={"number": "int", "name": "str"},
            required=("name",),
            event="supplier_group",
        ),
        ResourceSpec(
            path="payment-terms",
            singular="payment_term",
            plural="payment_terms",
            fields={
                "number": "int",
                "name": "str",
                "description": "str",
                "type": "str",
                "maturity_days": "int",
            },
            required=("name", "maturity_days", "type"),
            event="payment_terms",
        ),
        ResourceSpec(
            path="employees",
            singular="employee",
            plural="employees",
            fields={
                "number": "int",
                "name": "str",
                "initials": "str",
                "contact_phone": "str",
                "contact_email": "str",
                "locale": "str",
                "job_title": "str",
                "should_notify": "bool",
                "default_location_id": "int",
            },
            required=("name",),
            references={"default_location_id": "locations"},
            event="employee",
            search_fields=("name", "initials", "contact_email"),
        ),
        # Layouts: Rackbeat's public API documents only `GET layouts[/{n}]` (reference 2.2), yet its own
        # e-conomic integration imports them in the start-up sync ("Layouts are imported from e-conomic",
        # 2.3 "Layout", 4.2). How is not documented; inferred [I]: like every numbered resource, POST to the
        # collection (at a given number) and PUT at the record. No DELETE or PATCH (nothing suggests them),
        # and no webhook event (3.3 lists none for layouts).
        ResourceSpec(
            path="layouts",
            singular="layout",
            plural="layouts",
            fields={"number": "int", "name": "str"},
            required=("name",),
            record_writes=("PUT",),
        ),
        ResourceSpec(
            path="units",
            singular="unit",
            plural="units",
            fields={"number": "int", "name": "str"},
            required=("name",),
            event="unit",
        ),
        ResourceSpec(
            path="locations",
            singular="location",
            plural="locations",
            fields={
                "number": "int",
                "name": "str",
                "barcode": "str",
                "is_default": "bool",
                "parent_id": "int",
            },
            required=("name",),
            references={"parent_id": "locations"},
            event="location",
        ),
        ResourceSpec(
            path="orders",
            singular="order",
            plural="orders",
            fields={
                **DOCUMENT_FIELDS,
                "customer_id": "int",
                "order_date": "date",
                "deliver_at": "date",
                "our_reference_id": "int",
                "delivery_address": "dict",
            },
            required=("customer_id", "lines"),
            references={
                "customer_id": "customers",
                "layout_id": "layouts",
                "payment_terms_id": "payment-terms",
                "employee_id": "employees",
                "project_id": "projects",
            },
            event="order",
            bookable=True,
            search_fields=("heading",),
        ),
        ResourceSpec(
            path="customer-invoices",
            singular="customer_invoice",
            plural="customer_invoices",
            fields={
                **DOCUMENT_FIELDS,
                "customer_id": "int",
                "order_id": "int",
                "invoice_date": "date",
                "due_date": "date",
            },
            required=("customer_id", "lines"),
            references={
                "customer_id": "customers",
                "order_id": "orders",
                "layout_id": "layouts",
                "payment_terms_id": "payment-terms",
                "employee_id": "employees",
                "project_id": "projects",
            },
            event="customer_invoice",
            bookable=True,
            search_fields=("heading",),
        ),
        ResourceSpec(
            path="supplier-invoices",
            singular="supplier_invoice",
            plural="supplier_invoices",
            fields={
                **DOCUMENT_FIELDS,
                "supplier_id": "int",
                "invoice_date": "date",
                "due_date": "date",
                "supplier_invoice_number": "str",
            },
            required=("supplier_id", "lines"),
            references={
                "supplier_id": "suppliers",
                "layout_id": "layouts",
                "payment_terms_id": "payment-terms",
                "employee_id": "employees",
                "project_id": "projects",
            },
            event="supplier_invoice",
            bookable=True,
            search_fields=("heading", "supplier_invoice_number"),
        ),
        ResourceSpec(
            path="projects",
            singular="project",
            plural="projects",
            fields={"number": "int", "name": "str", "description": "str"},
            required=("name",),
            event="project",
        ),
    )
}

ITEM_RESOURCES = ("products", "lots")

#: webhook entity -> other spellings a receiver may have registered (see the package docstring)
EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "payment_terms": ("payment_term",),
}


def event_names(entity: str, action: str) -> tuple[str, ...]:
    """All event names one change is delivered under: the canonical one first, then the aliases."""
    return tuple(f"{name}.{action}" for name in (entity, *EVENT_ALIASES.get(entity, ())))
