"""Inventory adjustments (``inventory_regulation``): reading a create request, and the records, as pure
functions, plus the :class:`Regulations` that hold them.

Reference (/work/shared/reference/rackbeat-api.md):

- §2.3 "Inventory adjustment / movement" [3P MSKU]: ``POST inventory-adjustments`` with ``{item_id,
  adjustment_type: "quantity", quantity: <target quantity>, location: <location number>, regulated_at:
  "YYYY-MM-DD", reason}`` answers ``{"inventory_regulation": {id, ...}}``; ``POST
  inventory-adjustments/{id}/book`` books it; a zero delta is rejected. §1.7 and §5.2: the rejection is a 422
  with "Adjustment can't be created, since no change is made." (:data:`NO_CHANGE`).
- §2.3 [OLD SW]: a regulation has ``id, reason, description, lines[], regulated_at``; the older request form
  named ``item_number`` and ``location_number``, accepted here as aliases of ``item_id`` and ``location``.
- §1.5: regulations are addressed by ``id``; §1.2/§1.3: single envelope, 206 paged lists under the plural
  ``inventory_regulations`` (the key ``GET inventory-movements`` lists under [3P MR]).
- §2.3 "Stock value": the ledger has a "Value adjustment" type [V-doc H-LEDGER].

The sandbox's own choices:

- ``adjustment_type: "value"`` with ``cost_price: <new cost price>`` is a value adjustment (new cost price,
  quantity unchanged). The reference names the ledger type but gives no request field; ``cost_price`` is
  the sandbox's reading. A zero change of the cost price is refused like a zero quantity delta.
- ``adjustment_type`` defaults to ``"quantity"``; ``regulated_at`` to the sandbox clock's date in Copenhagen;
  ``location`` to where the item is held. The sandbox keeps one stock figure per item, held at one location
  (``ledger.holding_location``), so a ``location`` naming another existing location is a 422 saying where
  the item is. A negative target quantity is accepted. An item without ``inventory_enabled`` is refused.
- Lines: one per regulation, ``{id, item_id, child_type, name, location_id, quantity, quantity_before,
  cost_price, cost_price_before}`` (targets and the figures they replace; re-read at booking).
- Booking sets the stock to the target then (a stock move dated by the sandbox clock, ``booked_at``); if the
  stock reached the target in between, booking is refused with the same "no change" 422. Booking twice is a
  422 on ``is_booked``. Neither creating nor booking fires a webhook (the reference names no stock events,
  §6), and ``suppress_webhooks`` is accepted and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sandbox.rackbeat.errors import Invalid, invalid
from sandbox.rackbeat.ledger import Figures, parse_day

QUANTITY = "quantity"
VALUE = "value"
ADJUSTMENT_TYPES = (QUANTITY, VALUE)
NO_CHANGE = "Adjustment can't be created, since no change is made."
PATH = "inventory-adjustments"
SINGULAR = "inventory_regulation"
PLURAL = "inventory_regulations"

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class AdjustmentRequest:
    """A create request that passed validation."""

    item: Mapping[str, Any]
    adjustment_type: str
    target: float
    location: int | None
    regulated_at: str
    reason: str | None
    description: str | None


def _number(value: Any) -> float | None:
    """A finite number (numeric strings too, as Laravel's ``numeric``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def target_of(adjustment_type: str, target: float, current: Figures) -> Figures:
    """The figures booking would leave."""
    if adjustment_type == VALUE:
        return Figures(current.quantity, target, current.location)
    return Figures(target, current.cost_price, current.location)


def changes_anything(adjustment_type: str, target: float, current: Figures) -> bool:
    now = current.cost_price if adjustment_type == VALUE else current.quantity
    return not math.isclose(now, target, rel_tol=0.0, abs_tol=1e-9)


def target_field(adjustment_type: str) -> str:
    return "cost_price" if adjustment_type == VALUE else "quantity"


def read_request(
    payload: Mapping[str, Any],
    *,
    find_item: Callable[[str], Mapping[str, Any] | None],
    current_figures: Callable[[Mapping[str, Any]], Figures],
    location_exists: Callable[[int], bool],
    today: date,
) -> AdjustmentRequest:
    """The validated request, or :class:`Invalid` naming every bad field (see the module docstring)."""
    fields = dict(payload)
    aliases = (("item_number", "item_id"), ("location_number", "location"), ("location_id", "location"))
    for alias, name in aliases:
        if name not in fields and alias in fields:
            fields[name] = fields[alias]
    errors: Errors = {}
    item = None
    raw_item = fields.get("item_id")
    if raw_item in (None, ""):
        errors["item_id"] = ["The item id field is required."]
    elif isinstance(raw_item, bool) or not isinstance(raw_item, str | int):
        errors["item_id"] = ["The selected item id is invalid."]
    else:
        item = find_item(str(raw_item))
        if item is None:
            errors["item_id"] = ["The selected item id is invalid."]
        elif not item.get("inventory_enabled", True):
            errors["item_id"] = ["The selected item id does not keep inventory."]
    adjustment_type = fields.get("adjustment_type") or QUANTITY
    if adjustment_type not in ADJUSTMENT_TYPES:
        errors["adjustment_type"] = ["The selected adjustment type is invalid."]
    field = target_field(str(adjustment_type))
    target = _number(fields.get(field))
    if fields.get(field) in (None, ""):
        errors[field] = [f"The {field.replace('_', ' ')} field is required."]
    elif target is None:
        errors[field] = [f"The {field.replace('_', ' ')} must be a number."]
    elif field == "cost_price" and target < 0:
        errors[field] = ["The cost price must be at least 0."]
    location = None
    if fields.get("location") not in (None, ""):
        location = _integer(fields["location"])
        if location is None:
            errors["location"] = ["The location must be an integer."]
        elif not location_exists(location):
            errors["location"] = ["The selected location is invalid."]
    regulated_at = fields.get("regulated_at")
    if regulated_at in (None, ""):
        regulated_at = today.isoformat()
    elif parse_day(regulated_at) is None:
        errors["regulated_at"] = ["The regulated at is not a valid date."]
    for text_field in ("reason", "description"):
        if fields.get(text_field) is not None and not isinstance(fields[text_field], str):
            errors[text_field] = [f"The {text_field} must be a string."]
    if errors or item is None or target is None:
        raise Invalid(errors)
    current = current_figures(item)
    if location is not None and location != current.location:
        raise invalid(
            "location",
            f"The item's stock is held at location {current.location} "
            "(the sandbox keeps one stock figure per item).",
        )
    if not changes_anything(adjustment_type, target, current):
        raise invalid(field, NO_CHANGE)
    return AdjustmentRequest(
        item=item,
        adjustment_type=adjustment_type,
        target=target,
        location=current.location,
        regulated_at=str(regulated_at),
        reason=fields.get("reason"),
        description=fields.get("description"),
    )


def _line(request: AdjustmentRequest, current: Figures, target: Figures) -> dict[str, Any]:
    return {
        "id": 1,
        "item_id": str(request.item["number"]),
        "child_type": str(request.item.get("type") or "product"),
        "name": request.item.get("name"),
        "location_id": current.location,
        "quantity": target.quantity,
        "quantity_before": current.quantity,
        "cost_price": target.cost_price,
        "cost_price_before": current.cost_price,
    }


def new_regulation(
    regulation_id: int, request: AdjustmentRequest, current: Figures, now_iso: str
) -> dict[str, Any]:
    """The stored regulation, not booked."""
    target = target_of(request.adjustment_type, request.target, current)
    return {
        "id": regulation_id,
        "adjustment_type": request.adjustment_type,
        "reason": request.reason,
        "description": request.description,
        "regulated_at": request.regulated_at,
        "location_id": request.location,
        "lines": [_line(request, current, target)],
        "is_booked": False,
        "booked_at": None,
        "created_at": now_iso,
        "updated_at": now_iso,
    }


def line_target(regulation: Mapping[str, Any]) -> float:
    """What the regulation sets: the line's quantity, or its cost price for a value adjustment."""
    line = regulation["lines"][0]
    return float(line[target_field(regulation["adjustment_type"])])


def booked_regulation(
    regulation: Mapping[str, Any], before: Figures, after: Figures, booked_at: str, now_iso: str
) -> dict[str, Any]:
    """The regulation once booked, its line showing the figures it replaced then."""
    line = dict(regulation["lines"][0]) | {
        "quantity": after.quantity,
        "quantity_before": before.quantity,
        "cost_price": after.cost_price,
        "cost_price_before": before.cost_price,
        "location_id": after.location,
    }
    return dict(regulation) | {
        "lines": [line],
        "is_booked": True,
        "booked_at": booked_at,
        "updated_at": now_iso,
    }


def present(regulation: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    return dict(regulation) | {"self": f"{base_url}{PATH}/{regulation['id']}"}


class Regulations:
    """The regulations by id (not thread-safe: the store's lock guards it)."""

    def __init__(self) -> None:
        self.records: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def next_id(self) -> int:
        return max(self.records, default=0) + 1

    def get(self, regulation_id: int) -> dict[str, Any] | None:
        return self.records.get(regulation_id)

    def put(self, regulation: dict[str, Any]) -> None:
        self.records[regulation["id"]] = regulation

    def in_order(self) -> list[dict[str, Any]]:
        return [self.records[k] for k in sorted(self.records)]

    def clear(self) -> None:
        self.records.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.in_order()]

    def restore(self, rows: Iterable[dict[str, Any]]) -> None:
        self.records = {int(r["id"]): dict(r) for r in rows}
