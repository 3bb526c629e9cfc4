"""Lots (bills of materials, "styklister"), Rackbeat -> e-conomic products (legacy REST `/products`).

e-conomic has no structure products: a lot becomes a plain product there, sold and invoiced as one item,
without its component lines. Everything a product maps, a lot maps the same way (`product.to_economic`:
name, description, prices, barcode, barred, group, unit; never a stock quantity); only the cost price
has a rule of its own.

Cost price. Rackbeat does not compute a lot's own cost: its `cost_price` stays at the expected cost
unless somebody locks it (`cost_is_locked`). The BOM lines carry `quantity` and a `unit_price` that was
the component's cost price when the line was written, and is not refreshed when that cost moves. So
the lot declares its components as `related` records (`components`): the engine reads each one's
current version before mapping, and re-exports the lot when a component is written to e-conomic
(Rackbeat fires `product.updated` for the component, never `lot.updated`). The rule:
- `cost_is_locked` -> the lot's own `cost_price` (a cost someone fixed on purpose);
- otherwise, when the lot has lines -> sum(quantity x the component's current cost) over the lines,
  rounded to 2 decimals; a component Rackbeat no longer has (or one not fetched) counts at the line's
  own `unit_price`. A component that is itself a lot counts at that lot's cost by this same rule, from
  its own lines' prices (one level: its components are not read);
- a lot without lines -> its own `cost_price`.

Numbers. Rackbeat item numbers are unique across products and lots, and a lot's e-conomic product
number is made by the very function products use (`product.economic_product_number`), so two
different Rackbeat items never map to one e-conomic number by themselves. Should a product and a lot
still share a number (a Rackbeat that lets it happen, as the sandbox does), the lot refuses to write:
it names the product with its own number as a dependency, and when that product is bound to an
e-conomic product the mapper raises a permanent `MappingError` on `productNumber` instead of
overwriting it. The price is one Rackbeat read per lot transfer (a 404 in the normal case).
"""

from __future__ import annotations

from typing import Any

from tasks.entities import product
from tasks.entities.base import (
    EntitySpec,
    ExportRules,
    MappingContext,
    RackbeatSide,
    Record,
    RecordRef,
    Related,
)
from tasks.errors import MappingError

KIND = "lot"
ECONOMIC_RESOURCE = product.ECONOMIC_RESOURCE


def economic_key(record: Record) -> str:
    """The e-conomic productNumber: Rackbeat's item number, derived exactly as a product's would be."""
    return product.economic_product_number(str(record["number"]))


def same_number_product(record: Record) -> RecordRef:
    """The product that would own this lot's e-conomic number if Rackbeat had both."""
    return (product.KIND, str(record["number"]))


def depends_on(record: Record) -> list[RecordRef]:
    """Group and unit as for a product, then the product with the same number (the collision guard)."""
    return [*product.depends_on(record), same_number_product(record)]


def _number(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    return float(value)


def component_ref(line: Record) -> RecordRef | None:
    """The item a BOM line uses, as (kind, number): a product, or a lot nested in this one."""
    number = line.get("product_id", line.get("child_id"))
    if number is None or number == "":
        return None
    return (KIND if line.get("child_type") == KIND else product.KIND, str(number))


def components(record: Record) -> list[RecordRef]:
    """The lot's related records: every item its lines use, each once."""
    refs = (component_ref(line) for line in record.get("lines") or [])
    return list(dict.fromkeys(ref for ref in refs if ref is not None))


def _component_cost(line: Record, related: Related) -> float:
    """One unit of the line's item at its current cost; the line's own price when that is unknown."""
    ref = component_ref(line)
    item = related.get(ref) if ref is not None else None
    if item is not None:
        cost = lot_cost_price(item) if ref is not None and ref[0] == KIND else item.get("cost_price")
        if cost is not None and cost != "":
            return float(cost)
    return _number(line.get("unit_price"))


def lot_cost_price(record: Record, related: Related | None = None) -> float | None:
    """The lot's cost price by the rule in the module docstring; None when Rackbeat has none at all."""
    lines = record.get("lines") or []
    if record.get("cost_is_locked") or not lines:
        own = record.get("cost_price")
        return None if own is None or own == "" else round(float(own), 2)
    current = related or {}
    return round(sum(_number(line.get("quantity")) * _component_cost(line, current) for line in lines), 2)


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    """The legacy product document for a Rackbeat lot; refuses a number a product already holds.

    `context.related` holds the current version of the lot's components (see `components`); without
    them the cost comes from the lines' own prices.
    """
    refs = context.refs
    guard = same_number_product(record)
    if guard in refs:
        raise MappingError(
            "productNumber",
            f"e-conomic product {refs[guard]!r} belongs to Rackbeat product {guard[1]!r}; "
            f"lot {guard[1]!r} would overwrite it",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    payload = product.to_economic(record, context)
    payload["productNumber"] = economic_key(record)
    payload.pop("costPrice", None)
    cost = lot_cost_price(record, context.related)
    if cost is not None:
        payload["costPrice"] = cost
    return payload


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("lots", "lot"),
    economic=product.SPEC.economic,
    exports=ExportRules(
        to_economic=to_economic,
        economic_key=economic_key,
        depends_on=depends_on,
        related=components,
        embedded=product.embedded,
    ),
    master="products",
)
