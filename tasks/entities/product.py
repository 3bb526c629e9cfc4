"""Products, Rackbeat -> e-conomic (legacy REST `/products`).

Rules that live here:
- Stock quantities are never sent: stock is kept in Rackbeat only, e-conomic gets the stock *value*
  through its own transfer. The payload is built from an explicit list of fields, never by copying.
- e-conomic's product number is a caller-chosen string of 1-25 characters. Rackbeat's number is used
  as is when e-conomic can hold it; otherwise a valid number is derived from it deterministically (so a
  retry, or a transfer after a lost binding, lands on the same e-conomic product) and the engine
  records the pair in the binding.
- Prices are rounded to e-conomic's two decimals; absent values are left out (e-conomic refuses null,
  and a PUT is a full replace, so leaving a field out clears it there as it is clear in Rackbeat).
"""

from __future__ import annotations

import hashlib
from typing import Any

from tasks.entities._fields import reference_key, text
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    LegacyResource,
    MappingContext,
    RackbeatSide,
    Record,
    RecordRef,
)

KIND = "product"
ECONOMIC_RESOURCE = "products"
GROUP_KIND = "product_group"
UNIT_KIND = "unit"
PRODUCT_NUMBER_MAX_LENGTH = 25

WRITABLE_FIELDS = (
    FieldRule("productNumber", "string", required=True, min_length=1, max_length=PRODUCT_NUMBER_MAX_LENGTH),
    FieldRule("name", "string", required=True, min_length=1, max_length=300),
    FieldRule("description", "string", max_length=500),
    FieldRule("costPrice", "number"),
    FieldRule("recommendedPrice", "number"),
    FieldRule("salesPrice", "number"),
    FieldRule("barCode", "string", max_length=50),
    FieldRule("barred", "boolean"),
    FieldRule("inventory", "object"),
    FieldRule("inventory.packageVolume", "number", max_decimals=2),
    FieldRule("inventory.recommendedCostPrice", "number", max_decimals=2),
    FieldRule("unit", "object"),
    FieldRule("unit.unitNumber", "integer", required=True, minimum=1),
    FieldRule("productGroup", "object", required=True),
    FieldRule("productGroup.productGroupNumber", "integer", required=True, minimum=1),
    FieldRule("departmentalDistribution", "object"),
    FieldRule("departmentalDistribution.departmentalDistributionNumber", "integer", required=True, minimum=1),
    FieldRule("departmentalDistribution.distributionType", "string"),
)
"""Writable properties of e-conomic's legacy `products.productNumber.put` / `products.post` schemas
(draft-03); lots are written to the same resource with the same table."""
# A derived number keeps this much of the original, so people still recognise it, plus "-" and 8 hex.
_DERIVED_PREFIX_LENGTH = PRODUCT_NUMBER_MAX_LENGTH - 9


def product_number_problem(number: str) -> str | None:
    """Why e-conomic cannot take this Rackbeat number as its productNumber, or None when it can."""
    if not number:
        return "it is empty"
    if len(number) > PRODUCT_NUMBER_MAX_LENGTH:
        return f"it is {len(number)} characters long (e-conomic allows {PRODUCT_NUMBER_MAX_LENGTH})"
    if number != number.strip():
        return "it starts or ends with white space"
    if not number.isprintable():
        return "it contains control characters"
    return None


def economic_product_number(rackbeat_number: str) -> str:
    """The e-conomic productNumber for a Rackbeat product number (itself whenever that is valid)."""
    if product_number_problem(rackbeat_number) is None:
        return rackbeat_number
    readable = "".join(ch for ch in rackbeat_number if ch.isprintable()).strip()
    digest = hashlib.sha256(rackbeat_number.encode("utf-8")).hexdigest()[:8]
    prefix = readable[:_DERIVED_PREFIX_LENGTH].rstrip()
    return f"{prefix}-{digest}" if prefix else digest


def economic_key(record: Record) -> str:
    return economic_product_number(str(record["number"]))


def depends_on(record: Record) -> list[RecordRef]:
    deps: list[RecordRef] = []
    group = reference_key(record, "group")
    if group is not None:
        deps.append((GROUP_KIND, group))
    unit = reference_key(record, "unit")
    if unit is not None:
        deps.append((UNIT_KIND, unit))
    return deps


def embedded(record: Record) -> dict[RecordRef, Record]:
    """The group and the unit as Rackbeat embeds them in the product (group: number, name, VAT flags;
    unit: number, name): when they map to what was last written for them, they cost no call."""
    views: dict[RecordRef, Record] = {}
    for field, kind in (("group", GROUP_KIND), ("unit", UNIT_KIND)):
        view = record.get(field)
        if isinstance(view, dict) and view.get("number") is not None:
            views[(kind, str(view["number"]))] = view
    return views


def _price(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return round(float(value), 2)


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    """The legacy REST product document for a Rackbeat product (stock quantities are never included)."""
    refs = context.refs
    payload: dict[str, Any] = {
        "productNumber": economic_key(record),
        "name": text(record.get("name")) or "",
        "barred": bool(record.get("is_barred", False)),
    }
    optional = {
        "description": text(record.get("description")),
        "salesPrice": _price(record.get("sales_price")),
        "costPrice": _price(record.get("cost_price")),
        "recommendedPrice": _price(record.get("recommended_sales_price")),
        "barCode": text(record.get("barcode")),
    }
    payload.update({name: value for name, value in optional.items() if value is not None})

    group = reference_key(record, "group")
    if group is not None and (GROUP_KIND, group) in refs:
        payload["productGroup"] = {"productGroupNumber": int(refs[(GROUP_KIND, group)])}
    unit = reference_key(record, "unit")
    if unit is not None and (UNIT_KIND, unit) in refs:
        payload["unit"] = {"unitNumber": int(refs[(UNIT_KIND, unit)])}
    return payload


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("products", "product"),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="productNumber",
        barred_field="barred",
        writable_fields=WRITABLE_FIELDS,
    ),
    exports=ExportRules(
        to_economic=to_economic,
        economic_key=economic_key,
        depends_on=depends_on,
        embedded=embedded,
    ),
    master="products",
)
