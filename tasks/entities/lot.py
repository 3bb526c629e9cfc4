"""Lots (bills of materials, "styklister"), Rackbeat -> e-conomic products (legacy REST `/products`).

e-conomic has no structure products: a lot becomes a plain product there, sold and invoiced as one item,
without its component lines. Everything a product maps, a lot maps the same way (`product.to_economic`:
name, description, prices, barcode, barred, group, unit; never a stock quantity); only the cost price
has a rule of its own.

Cost price. Rackbeat does not compute a lot's own cost: its `cost_price` stays at the expected cost
unless somebody locks it (`cost_is_locked`). What Rackbeat does serve, in the same answer, is the BOM
lines, each with `quantity` and `unit_price` = the component's cost price. So:
- `cost_is_locked` -> the lot's own `cost_price` (a cost someone fixed on purpose);
- otherwise, when the lot has lines -> sum(quantity x unit_price) over the lines, rounded to 2 decimals
  (no extra call: the lines come with the lot);
- a lot without lines -> its own `cost_price`.
A component's cost change reaches the lot when the lot is transferred again with lines that carry the
new cost. Nothing makes that transfer happen by itself yet: it needs the engine to re-export the
records that depend on a record whose e-conomic document changed (see the lead's notes in the report).

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
from tasks.entities.base import EntitySpec, LegacyResource, Record, RecordRef, Refs
from tasks.sync.errors import MappingError

KIND = "lot"
ECONOMIC_RESOURCE = "products"


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


def lot_cost_price(record: Record) -> float | None:
    """The lot's cost price by the rule in the module docstring; None when Rackbeat has none at all."""
    lines = record.get("lines") or []
    if record.get("cost_is_locked") or not lines:
        own = record.get("cost_price")
        return None if own is None or own == "" else round(float(own), 2)
    return round(sum(_number(line.get("quantity")) * _number(line.get("unit_price")) for line in lines), 2)


def to_economic(record: Record, refs: Refs) -> dict[str, Any]:
    """The legacy product document for a Rackbeat lot; refuses a number a product already holds."""
    guard = same_number_product(record)
    if guard in refs:
        raise MappingError(
            "productNumber",
            f"e-conomic product {refs[guard]!r} belongs to Rackbeat product {guard[1]!r}; "
            f"lot {guard[1]!r} would overwrite it",
            resource=ECONOMIC_RESOURCE,
        )
    payload = product.to_economic(record, refs)
    payload["productNumber"] = economic_key(record)
    payload.pop("costPrice", None)
    cost = lot_cost_price(record)
    if cost is not None:
        payload["costPrice"] = cost
    return payload


SPEC = EntitySpec(
    kind=KIND,
    rackbeat_resource="lots",
    rackbeat_singular="lot",
    rackbeat_key_field="number",
    economic_writer=LegacyResource(path=ECONOMIC_RESOURCE),
    economic_key_field="productNumber",
    to_economic=to_economic,
    economic_key=economic_key,
    depends_on=depends_on,
    embedded=product.embedded,
    events=frozenset({"lot.created", "lot.updated"}),
    delete_events=frozenset({"lot.deleted"}),
    barrable=True,
    master_setting="products_master",
)
