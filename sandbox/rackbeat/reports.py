"""The stock valuation report (``reports/valuation`` and ``reports/valuation/total``), as pure functions.

The sandbox keeps one stock figure per item (``stock_quantity``), held at the item's ``default_location_id``
(or at the location marked ``is_default`` when the item names none), so a per-location report lists the items
held there. ``date_to`` is accepted and ignored: the sandbox has no stock history, so values are as of now.
Only items with ``inventory_enabled`` count; value = quantity x cost price. Response keys are the
reference's inference: ``{"lineables": [{number, name, type, quantity, cost_price, value}], "total_value"}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _location_of(item: dict, default_location: int | None) -> int | None:
    return item.get("default_location_id") or default_location


def lineable(item: dict) -> dict[str, Any]:
    quantity = float(item.get("stock_quantity") or 0)
    cost = float(item.get("cost_price") or 0)
    return {
        "number": item["number"],
        "name": item.get("name"),
        "type": item.get("type", "product"),
        "quantity": quantity,
        "cost_price": cost,
        "value": round(quantity * cost, 2),
    }


def valuation(items: Iterable[dict], location: int | None, default_location: int | None) -> dict[str, Any]:
    """Items held at ``location`` (all locations when None)."""
    lines = [
        lineable(item)
        for item in items
        if item.get("inventory_enabled", True)
        and (item.get("stock_quantity") or 0) != 0
        and (location is None or _location_of(item, default_location) == location)
    ]
    return {"location": location, "lineables": lines, "total_value": round(sum(x["value"] for x in lines), 2)}


def valuation_total(items: Iterable[dict], locations: Iterable[dict], default_location: int | None) -> dict:
    """The grand total plus one figure per location."""
    everything = valuation(items, None, default_location)
    per_location: dict[Any, float] = {}
    for item in items:
        if item.get("inventory_enabled", True) and (item.get("stock_quantity") or 0) != 0:
            where = _location_of(item, default_location)
            per_location[where] = per_location.get(where, 0.0) + lineable(item)["value"]
    names = {loc["number"]: loc.get("name") for loc in locations}
    return {
        "total_value": everything["total_value"],
        "locations": [
            {"number": number, "name": names.get(number), "value": round(value, 2)}
            for number, value in sorted(per_location.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ],
    }
