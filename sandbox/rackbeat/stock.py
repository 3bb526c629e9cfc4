"""Stock moves: the one place the sandbox's business logic changes an item's stock quantity or cost price,
each change written to the stock ledger (``ledger.py``) at the sandbox clock's time (``clock.py``).

The moves and what they rest on (/work/shared/reference/rackbeat-api.md):

- Receipt: booking a supplier invoice with ``mark_received`` puts the goods in stock (§2.3 "Supplier
  invoice" [V-sdk KG/RBLR; V-doc H-INVOICE]) at the average cost price (§2.3 "Stock value" [V-doc H-AGREE]).
  Products only, lines with a positive quantity (as before the ledger existed).
- Shipment: booking a customer invoice takes each line's quantity out of stock for items (products and
  lots) with ``inventory_enabled``; the cost price is unchanged; a negative quantity (a credit note) puts it
  back. Rackbeat's booking dialog offers "create shipment, mark shipped" (§2.3 "Customer invoice" [V-doc
  H-INVOICE]); the sandbox has no shipments, so booking a customer invoice always ships (its own reading).
  That holds however it is booked: ``POST customer-invoices`` (booked at once), ``…/{n}/book`` and
  ``orders/{n}/convert-to-invoice?book=true``.
- Quantity and value adjustments: booking an inventory adjustment (``adjustments.py``).
- A ``PUT`` of a product's or lot's ``stock_quantity`` (the sandbox accepts the field on writes) is written
  to the ledger as a quantity adjustment too, so reading the stock as of a day stays true to the figures
  the item has now. ``/_sandbox/load`` (seeding, fixtures) writes no entries.

A move changes neither the item's ``updated_at`` nor fires a ``product.*``/``lot.*`` webhook. That is the
sandbox's choice, for this reason: stock figures are not master data the service transfers (it never sends a
stock quantity to e-conomic; the stock value goes over as a voucher from ``reports/valuation``, §4.6), and a
product whose ``updated_at`` moved on every sale would be re-read and re-compared by the service's
incremental product sync for nothing. The document's own event (``supplier_invoice.booked``,
``customer_invoice.booked``) still fires.

Not thread-safe on its own: the store calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sandbox.rackbeat import adjustments as adj
from sandbox.rackbeat import ledger
from sandbox.rackbeat import records as rec
from sandbox.rackbeat.clock import Clock
from sandbox.rackbeat.errors import NotFound, invalid
from sandbox.rackbeat.ledger import Figures, StockLedger
from sandbox.rackbeat.resources import RESOURCES

if TYPE_CHECKING:
    from sandbox.rackbeat.store import Collection

ITEM_PATHS = {"product": "products", "lot": "lots"}


class Stock:
    """The ledger, the inventory adjustments and the moves, over the store's item collections."""

    def __init__(self, collections: Mapping[str, Collection], clock: Clock) -> None:
        self.collections = collections
        self.clock = clock
        self.ledger = StockLedger()
        self.regulations = adj.Regulations()

    # -- where and how much --
    def default_location(self) -> int | None:
        return next(
            (n for n, loc in self.collections["locations"].records.items() if loc.get("is_default")), None
        )

    def figures(self, item: Mapping[str, Any]) -> Figures:
        return ledger.figures_now(item, self.default_location())

    def find_item(self, number: str) -> dict | None:
        return self.collections["products"].get(number) or self.collections["lots"].get(number)

    # -- moves --
    def move(
        self, item: Mapping[str, Any], quantity: float, cost_price: float, entry_type: str, source: dict
    ) -> tuple[dict, Figures, Figures]:
        """Set an item's figures (``updated_at`` untouched, no webhook), write the ledger entry; the stored
        item and the figures before and after."""
        before = self.figures(item)
        after = Figures(quantity, cost_price, before.location)
        path = ITEM_PATHS[str(item.get("type") or "product")]
        updated = rec.derive(RESOURCES[path], dict(item, stock_quantity=quantity, cost_price=cost_price))
        self.collections[path].put(updated)
        self.ledger.append(self.clock.now(), entry_type, updated, before, after, source)
        return updated, before, after

    def receive(self, invoice: dict) -> None:
        """Booking a supplier invoice with ``mark_received``: stock up, average cost price updated."""
        source = {"resource": "supplier-invoices", "key": invoice["number"]}
        for line in invoice.get("lines", []):
            item = self.collections["products"].get(line["child_id"])
            if item is None or line["quantity"] <= 0:
                continue
            before = self.figures(item)
            quantity, cost = ledger.after_receipt(
                before.quantity, before.cost_price, line["quantity"], line["line_price"]
            )
            self.move(item, quantity, cost, ledger.RECEIPT, source)
        invoice["is_received"] = True

    def ship(self, invoice: dict) -> None:
        """Booking a customer invoice: each line's quantity out of stock (see the module docstring)."""
        source = {"resource": "customer-invoices", "key": invoice["number"]}
        for line in invoice.get("lines", []):
            item = self.find_item(str(line.get("child_id")))
            if item is None or not item.get("inventory_enabled", True) or not line.get("quantity"):
                continue
            before = self.figures(item)
            shipped = float(line["quantity"])
            quantity, cost = ledger.after_shipment(before.quantity, before.cost_price, shipped)
            self.move(item, quantity, cost, ledger.SHIPMENT, source)

    def record_update(self, path: str, before_record: Mapping[str, Any], after_record: dict) -> None:
        """A write of an item changed its stock quantity: the ledger entry for it (the write stores it)."""
        before, after = self.figures(before_record), self.figures(after_record)
        if before.quantity == after.quantity and before.cost_price == after.cost_price:
            return
        source = {"resource": path, "key": after_record["number"]}
        quantity_moved = before.quantity != after.quantity
        entry_type = ledger.QUANTITY_ADJUSTMENT if quantity_moved else ledger.VALUE_ADJUSTMENT
        self.ledger.append(self.clock.now(), entry_type, after_record, before, after, source)

    # -- inventory adjustments --
    def create_adjustment(self, payload: Mapping[str, Any]) -> dict:
        request = adj.read_request(
            payload,
            find_item=self.find_item,
            current_figures=self.figures,
            location_exists=lambda number: self.collections["locations"].get(number) is not None,
            today=self.clock.today(),
        )
        regulation = adj.new_regulation(
            self.regulations.next_id(), request, self.figures(request.item), rec.now_iso()
        )
        self.regulations.put(regulation)
        return regulation

    def book_adjustment(self, regulation_id: int) -> dict:
        regulation = self.regulations.get(regulation_id)
        if regulation is None:
            raise NotFound()
        if regulation["is_booked"]:
            raise invalid("is_booked", "The inventory adjustment is already booked.")
        line = regulation["lines"][0]
        item = self.find_item(line["item_id"])
        if item is None:
            raise invalid("item_id", "The selected item id is invalid.")
        kind, target = regulation["adjustment_type"], adj.line_target(regulation)
        current = self.figures(item)
        if not adj.changes_anything(kind, target, current):
            raise invalid(adj.target_field(kind), adj.NO_CHANGE)
        wanted = adj.target_of(kind, target, current)
        entry_type = ledger.VALUE_ADJUSTMENT if kind == adj.VALUE else ledger.QUANTITY_ADJUSTMENT
        source = {"resource": adj.PATH, "key": regulation_id}
        _, before, after = self.move(item, wanted.quantity, wanted.cost_price, entry_type, source)
        moved_at = self.ledger.entries[-1]["moved_at"]
        booked = adj.booked_regulation(regulation, before, after, moved_at, rec.now_iso())
        self.regulations.put(booked)
        return booked

    # -- whole-store --
    def clear(self) -> None:
        self.ledger.clear()
        self.regulations.clear()

    def snapshot(self) -> dict[str, list[dict]]:
        return {"stock_ledger": self.ledger.snapshot(), "inventory_regulations": self.regulations.snapshot()}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.ledger.restore(state.get("stock_ledger", []))
        self.regulations.restore(state.get("inventory_regulations", []))
