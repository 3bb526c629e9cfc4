"""What Rackbeat's documents (customer and supplier invoices) share, read the same way by every document kind.

Facts: document lines name their item by `child_id` (or `item_id` when written) with `child_type` product or
lot; a document is final once `is_booked`; `total_total` is its total with VAT (rackbeat-api.md 2.3). A
document embeds a view of its customer or supplier (`customer`, `supplier`: a few of its fields).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tasks.entities.base import MappingContext, Record, RecordRef

PRODUCT_KIND = "product"
LOT_KIND = "lot"
CENT = Decimal("0.01")


def line_item(line: Record) -> RecordRef | None:
    """The item a line names, as (kind, number): a product, or a lot."""
    number = line.get("child_id", line.get("item_id"))
    if number is None or number == "":
        return None
    return (LOT_KIND if line.get("child_type") == LOT_KIND else PRODUCT_KIND, str(number))


def is_booked(record: Record) -> bool:
    return bool(record.get("is_booked"))


def gross_total(record: Record) -> Decimal:
    """Rackbeat's total with VAT, to the øre."""
    return Decimal(str(record.get("total_total") or 0)).quantize(CENT)


def party_field(
    record: Record, context: MappingContext, party: RecordRef | None, embedded: str, name: str
) -> Any:
    """A field of the document's customer or supplier (`party`): from the view of it the document embeds
    (`embedded`) when that view carries the field at all (a null there is the party's null), else from the
    party's record in `context.related`, which the poster reads only when it is asked for it. (Rackbeat's
    invoices embed the customer's name and VAT zone, not its EAN or country.)"""
    view = record.get(embedded)
    same = isinstance(view, dict) and (party is None or str(view.get("number", party[1])) == party[1])
    if same and isinstance(view, dict) and name in view:
        return view[name]
    if party is None:
        return None
    found = context.related.get(party)
    return None if found is None else found.get(name)
