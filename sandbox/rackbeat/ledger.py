"""The stock ledger: one entry per change of an item's stock quantity or cost price, and the pure arithmetic
that turns moves into figures and reads an item's figures as of a day.

Reference (/work/shared/reference/rackbeat-api.md):

- §2.3 "Stock value (lagerværdi)": Rackbeat keeps an item ledger whose transaction types are Quantity
  adjustment, Value adjustment, Shipment, Receipt, Production Order and Movement [V-doc H-LEDGER]. The sandbox
  writes the first four (it has no production orders and no movements): :data:`ENTRY_TYPES`.
- §2.3 "Stock value": value = ``cost_price`` x ``stock_quantity``; the stock principle is average cost by
  default [V-doc H-AGREE, H-COST], so a receipt moves the cost price to the weighted average
  (:func:`after_receipt`) and a shipment leaves it alone (:func:`after_shipment`).
- §2.2 "Reports" row and §2.3: ``GET reports/valuation?date_to=YYYY-MM-DD`` [3P SQLR] reads the stock as of a
  day; §4.6 runs the transfer at 23:59 Danish time, so a day ends at 23:59:59.999999 in Europe/Copenhagen
  (:func:`end_of_day`, correct across summer time with zoneinfo).
- §2.2 "Reports" row: ``GET reports/ledger/{item}`` answers ``ledger_items`` [V-sdk KG]; the fields of one
  are not in the reference.

The sandbox's own choices:

- One entry (field names are the sandbox's; lower-case type names are the reference's words)::

      {"id", "moved_at" (ISO-8601, Copenhagen offset), "type", "item_number", "item_type", "location",
       "quantity_before", "quantity_after", "cost_price_before", "cost_price_after",
       "source": {"resource", "key"}}

- Reading as of a day (:func:`figures_as_of`): the last entry at or before the end of the day gives the
  figures after it; an item whose first entry is later gives that entry's "before" figures; an item with no
  entries has its current figures at every date (seeding with ``/_sandbox/load`` writes no entries). Entries
  are read in the order of their time stamps (ties in the order written), so a clock set backwards between
  two moves gives a history read by time stamp; the sandbox does not re-base later entries.
- The figures as of a day are attributed to the location the entry names (the item's location when it
  moved); an item with no entries sits at its location now.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sandbox.rackbeat.clock import COPENHAGEN

RECEIPT = "receipt"
SHIPMENT = "shipment"
QUANTITY_ADJUSTMENT = "quantity adjustment"
VALUE_ADJUSTMENT = "value adjustment"
ENTRY_TYPES = (QUANTITY_ADJUSTMENT, VALUE_ADJUSTMENT, SHIPMENT, RECEIPT)

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

ItemKey = tuple[str, str]
"""(item type, item number): products and lots live in separate collections."""


@dataclass(frozen=True)
class Figures:
    """An item's stock at one moment: quantity, cost price per unit, and where it is held."""

    quantity: float
    cost_price: float
    location: int | None

    @property
    def value(self) -> float:
        return round(self.quantity * self.cost_price, 2)


# -- the arithmetic of a move --
def after_receipt(
    quantity: float, cost_price: float, received: float, unit_price: float
) -> tuple[float, float]:
    """Stock and average cost price after ``received`` units at ``unit_price`` came in."""
    new_quantity = quantity + received
    value = quantity * cost_price + received * unit_price
    return new_quantity, round(value / new_quantity, 4) if new_quantity else 0.0


def after_shipment(quantity: float, cost_price: float, shipped: float) -> tuple[float, float]:
    """Stock after ``shipped`` units went out (negative: came back on a credit note); cost unchanged."""
    return quantity - shipped, cost_price


# -- entries --
def holding_location(item: Mapping[str, Any], default_location: int | None) -> int | None:
    """Where the sandbox holds an item's stock: its ``default_location_id``, else the default location."""
    return item.get("default_location_id") or default_location


def figures_now(item: Mapping[str, Any], default_location: int | None) -> Figures:
    return Figures(
        float(item.get("stock_quantity") or 0),
        float(item.get("cost_price") or 0),
        holding_location(item, default_location),
    )


def make_entry(
    entry_id: int,
    moved_at: datetime,
    entry_type: str,
    item: Mapping[str, Any],
    before: Figures,
    after: Figures,
    source: Mapping[str, Any],
) -> dict[str, Any]:
    """One ledger entry (JSON-safe) for a move of ``item`` from ``before`` to ``after`` at ``moved_at``."""
    if entry_type not in ENTRY_TYPES:
        raise ValueError(f"unknown ledger entry type {entry_type!r}")
    return {
        "id": entry_id,
        "moved_at": moved_at.astimezone(COPENHAGEN).isoformat(),
        "type": entry_type,
        "item_number": str(item["number"]),
        "item_type": str(item.get("type") or "product"),
        "location": after.location,
        "quantity_before": before.quantity,
        "quantity_after": after.quantity,
        "cost_price_before": before.cost_price,
        "cost_price_after": after.cost_price,
        "source": dict(source),
    }


def item_key(item: Mapping[str, Any]) -> ItemKey:
    return (str(item.get("type") or "product"), str(item["number"]))


def item_key_of(entry: Mapping[str, Any]) -> ItemKey:
    return (entry["item_type"], entry["item_number"])


def moved_at(entry: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["moved_at"])


def histories(entries: Iterable[Mapping[str, Any]]) -> dict[ItemKey, list[Mapping[str, Any]]]:
    """Entries per item, each list in time order (ties in the order written)."""
    by_item: dict[ItemKey, list[Mapping[str, Any]]] = {}
    for entry in entries:
        by_item.setdefault(item_key_of(entry), []).append(entry)
    for history in by_item.values():
        history.sort(key=lambda e: (moved_at(e), e["id"]))
    return by_item


def parse_day(text: object) -> date | None:
    """A ``YYYY-MM-DD`` day, or None for anything else (another form, or no such date)."""
    if not isinstance(text, str) or not _DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def end_of_day(day: date) -> datetime:
    """The last instant of ``day`` in Copenhagen (23:59:59.999999 local, whatever the offset that day)."""
    return datetime.combine(day, time.max, tzinfo=COPENHAGEN)


def figures_as_of(history: Sequence[Mapping[str, Any]], instant: datetime, current: Figures) -> Figures:
    """An item's figures at ``instant`` from its time-ordered ``history`` (``current`` when it has none)."""
    if not history:
        return current
    last = None
    for entry in history:
        if moved_at(entry) > instant:
            break
        last = entry
    if last is not None:
        return Figures(last["quantity_after"], last["cost_price_after"], last["location"])
    first = history[0]
    return Figures(first["quantity_before"], first["cost_price_before"], first["location"])


class StockLedger:
    """The entries, in the order written (not thread-safe: the store's lock guards it)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def append(
        self,
        moved: datetime,
        entry_type: str,
        item: Mapping[str, Any],
        before: Figures,
        after: Figures,
        source: Mapping[str, Any],
    ) -> dict[str, Any]:
        entry_id = self.entries[-1]["id"] + 1 if self.entries else 1
        entry = make_entry(entry_id, moved, entry_type, item, before, after, source)
        self.entries.append(entry)
        return entry

    def of_item(self, key: ItemKey) -> list[dict[str, Any]]:
        """One item's entries in time order."""
        return [dict(e) for e in histories(e for e in self.entries if item_key_of(e) == key).get(key, [])]

    def clear(self) -> None:
        self.entries.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.entries]

    def restore(self, rows: Iterable[dict[str, Any]]) -> None:
        self.entries = sorted((dict(r) for r in rows), key=lambda e: e["id"])
