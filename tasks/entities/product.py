"""Products, both ways: Rackbeat -> e-conomic (legacy REST `/products`) when Rackbeat owns them, and
e-conomic -> Rackbeat when `RBSYNC_PRODUCTS_MASTER=economic` (then hourly, and as an order line's product).

Rules of the export:
- Stock quantities are never sent: stock is kept in Rackbeat only, e-conomic gets the stock *value*
  through its own transfer. The payload is built from an explicit list of fields, never by copying.
- e-conomic's product number is a caller-chosen string of 1-25 characters. Rackbeat's number is used
  as is when e-conomic can hold it; otherwise a valid number is derived from it deterministically (so a
  retry, or a transfer after a lost binding, lands on the same e-conomic product) and the engine
  records the pair in the binding.
- Prices are rounded to e-conomic's two decimals; absent values are left out (e-conomic refuses null,
  and a PUT is a full replace, so leaving a field out clears it there as it is clear in Rackbeat).

Rules of the import (`to_rackbeat`; tests in tests/entities/test_product_import.py):
- Number: e-conomic's product number is Rackbeat's item number (both take 1-25 characters); the product is
  looked up at it in Rackbeat before it is created.
- The product group (required by Rackbeat) and the unit are dependencies, imported first and created in
  Rackbeat when it lacks them; an unresolved group is refused naming `group_id`.
- Prices: `salesPrice` -> `sales_price` (Rackbeat requires one: 0 when e-conomic has none),
  `recommendedPrice` -> `recommended_sales_price`, `costPrice` -> `recommended_cost_price` (Rackbeat's own
  `cost_price` follows its purchases and cannot be written).
- Never copied (`IMPORT_NEVER_COPIED`): currency prices (`pricing.currencySpecificSalesPrices`: prices in
  Rackbeat are in the base currency), stock figures (`inventory`: stock is kept in Rackbeat), the
  departmental distribution, and what Rackbeat has no field for. A copied field e-conomic has cleared is
  sent as null, which clears it in Rackbeat.
- A product deleted in e-conomic is barred in Rackbeat (`is_barred`), never deleted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tasks.entities._fields import reference_key, text
from tasks.entities._lookups import by_number
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    ImportRules,
    LegacyResource,
    MappingContext,
    RackbeatSide,
    Record,
    RecordRef,
)
from tasks.errors import MappingError

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


# --- e-conomic -> Rackbeat ------------------------------------------------------------------------------

IMPORT_NEVER_COPIED = (
    "pricing.currencySpecificSalesPrices",
    "inventory",
    "departmentalDistribution",
)
"""e-conomic product fields the import leaves out on purpose (module docstring)."""


def economic_product_key(document: Record) -> str:
    return str(document["productNumber"])


def _economic_ref(document: Record, field: str, key_field: str) -> str | None:
    value = document.get(field)
    number = value.get(key_field) if isinstance(value, dict) else None
    return None if number is None else str(number)


def import_dependencies(document: Record) -> list[RecordRef]:
    """The product group first, then the unit."""
    deps: list[RecordRef] = []
    group = _economic_ref(document, "productGroup", "productGroupNumber")
    if group is not None:
        deps.append((GROUP_KIND, group))
    unit = _economic_ref(document, "unit", "unitNumber")
    if unit is not None:
        deps.append((UNIT_KIND, unit))
    return deps


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat product for an e-conomic product (no currency prices, no stock figures)."""
    refs = context.refs
    group = _economic_ref(document, "productGroup", "productGroupNumber")
    group_id = refs.get((GROUP_KIND, group)) if group is not None else None
    if group_id is None:
        raise MappingError(
            "group_id",
            f"e-conomic product group {group} could not be resolved in Rackbeat",
            api="rackbeat",
            resource="products",
        )
    unit = _economic_ref(document, "unit", "unitNumber")
    unit_id = refs.get((UNIT_KIND, unit)) if unit is not None else None
    return {
        "name": text(document.get("name")) or "",
        "description": text(document.get("description")),
        "sales_price": _price(document.get("salesPrice")) or 0.0,
        "recommended_sales_price": _price(document.get("recommendedPrice")),
        "recommended_cost_price": _price(document.get("costPrice")),
        "barcode": text(document.get("barCode")),
        "group_id": int(group_id),
        "unit_id": None if unit_id is None else int(unit_id),
        "is_barred": bool(document.get("barred", False)),
    }


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
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=economic_product_key,
        economic_key=economic_product_key,
        dependencies=import_dependencies,
        find_existing=by_number("products", "product", economic_product_key),
        match_on=(("number",),),
        never_copied=IMPORT_NEVER_COPIED,
        poll="master",
        when_gone={"is_barred": True},
    ),
    master="products",
)
