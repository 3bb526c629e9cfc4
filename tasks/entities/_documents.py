"""What Rackbeat's documents (customer and supplier invoices) share, read the same way by every document kind.

Facts: document lines name their item by `child_id` (or `item_id` when written) with `child_type` product or
lot; a document is final once `is_booked`; `total_total` is its total with VAT (rackbeat-api.md 2.3).
"""

from __future__ import annotations

from decimal import Decimal

from tasks.entities.base import Record, RecordRef

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
