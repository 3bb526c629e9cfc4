"""How stored records are shown by the API: embedded relations and the ``self`` link, added per answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.rackbeat.resources import ResourceSpec

Lookup = Callable[[str, Any], dict | None]

_GROUP_VIEW = ("number", "name", "vat_abroad", "vat_eu", "vat_domestic", "vat_domestic_exempt")
_LOCATION_VIEW = ("number", "name", "barcode", "is_default", "parent_id")
_PAYMENT_TERMS_VIEW = ("number", "name", "type", "maturity_days")
_PARTY_VIEW = ("number", "company_name", "vat_zone", "currency", "contact_email")

#: field holding the id -> (embedded field, resource, fields shown)
EMBEDS: dict[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]] = {
    "products": (
        ("group_id", "group", "product-groups", _GROUP_VIEW),
        ("unit_id", "unit", "units", ("number", "name")),
        ("default_location_id", "default_location", "locations", _LOCATION_VIEW),
    ),
    "lots": (
        ("group_id", "group", "product-groups", _GROUP_VIEW),
        ("unit_id", "unit", "units", ("number", "name")),
        ("default_location_id", "default_location", "locations", _LOCATION_VIEW),
    ),
    "customers": (
        ("payment_terms_id", "payment_terms", "payment-terms", _PAYMENT_TERMS_VIEW),
        ("employee_id", "employee", "employees", ("number", "name", "initials")),
    ),
    "suppliers": (("payment_terms_id", "payment_terms", "payment-terms", _PAYMENT_TERMS_VIEW),),
    "employees": (("default_location_id", "default_location", "locations", _LOCATION_VIEW),),
    "orders": (
        ("customer_id", "customer", "customers", _PARTY_VIEW),
        ("payment_terms_id", "payment_terms", "payment-terms", _PAYMENT_TERMS_VIEW),
    ),
    "customer-invoices": (
        ("customer_id", "customer", "customers", _PARTY_VIEW),
        ("payment_terms_id", "payment_terms", "payment-terms", _PAYMENT_TERMS_VIEW),
    ),
    "supplier-invoices": (
        ("supplier_id", "supplier", "suppliers", _PARTY_VIEW),
        ("payment_terms_id", "payment_terms", "payment-terms", _PAYMENT_TERMS_VIEW),
    ),
}

#: fields that only exist in presented records; a load strips them before storing
PRESENTATION_ONLY = frozenset({"self"} | {embed[1] for embeds in EMBEDS.values() for embed in embeds})


def path_key(spec: ResourceSpec, record: dict) -> str:
    if spec.key_type is str and record.get("urlfriendly_number"):
        return record["urlfriendly_number"]
    return str(record["number"])


def present(spec: ResourceSpec, record: dict, lookup: Lookup, base_url: str) -> dict:
    """The record as the API answers it (a new dict; the stored one is untouched)."""
    shown = dict(record)
    for id_field, name, resource, view in EMBEDS.get(spec.path, ()):
        related = lookup(resource, record.get(id_field)) if record.get(id_field) is not None else None
        shown[name] = {k: related.get(k) for k in view} if related is not None else None
    shown["self"] = f"{base_url}{spec.path}/{path_key(spec, record)}"
    return shown
