"""The stock valuation report (``reports/valuation`` and ``reports/valuation/total``), as pure functions.

Reference (/work/shared/reference/rackbeat-api.md): §2.2 "Reports" row and §2.3 "Stock value (lagerværdi)"
[3P SQLR]: ``GET reports/valuation?location=<n>&date_to=YYYY-MM-DD`` covers only that location (not
sub-locations), ``GET reports/valuation/total?date_to=`` the grand total; value = cost price x stock quantity.
The response keys are unverified (§2.2 note, §5.2 item 9 [I]); the sandbox answers
``{"location", "lineables": [{number, name, type, quantity, cost_price, value}], "total_value"}`` and, for the
total, ``{"total_value", "locations": [{number, name, value}]}``.

The sandbox's own choices:

- Only items with ``inventory_enabled`` count, and only those whose quantity is not zero. A negative quantity
  is a line with a negative value, and ``total_value`` includes it (whether to leave negatives out of the
  stock value is the e-conomic transfer's setting, §4.6, not the report's).
- The sandbox holds an item's stock at one location (``ledger.holding_location``).
- Without ``date_to`` the figures are the items' current ones. With it, each item's figures are those at the
  end of that day in Copenhagen (``ledger.end_of_day``) read from the stock ledger (``ledger.figures_as_of``);
  pass ``as_of`` and the ledger's entries. Names, types and ``inventory_enabled`` are the items' current ones
  (the sandbox keeps no history of master data), and a deleted item is not listed.
- ``date_to`` must be ``YYYY-MM-DD`` (the form the reference shows for this report); anything else, a time
  of day included, is a 422 on ``date_to`` (the API checks it with ``ledger.parse_day``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sandbox.rackbeat.ledger import Figures, figures_as_of, figures_now, histories, item_key


def lineable(item: Mapping[str, Any], figures: Figures) -> dict[str, Any]:
    return {
        "number": item["number"],
        "name": item.get("name"),
        "type": item.get("type", "product"),
        "quantity": float(figures.quantity),
        "cost_price": float(figures.cost_price),
        "value": figures.value,
    }


def positions(
    items: Iterable[Mapping[str, Any]],
    default_location: int | None,
    ledger: Iterable[Mapping[str, Any]] = (),
    as_of: datetime | None = None,
) -> list[tuple[Mapping[str, Any], Figures]]:
    """Each counted item with its figures: now, or at ``as_of`` from the ``ledger`` entries."""
    by_item = histories(ledger) if as_of is not None else {}
    found = []
    for item in items:
        if not item.get("inventory_enabled", True):
            continue
        figures = figures_now(item, default_location)
        if as_of is not None:
            figures = figures_as_of(by_item.get(item_key(item), []), as_of, figures)
        if figures.quantity != 0:
            found.append((item, figures))
    return found


def valuation(
    items: Iterable[Mapping[str, Any]],
    location: int | None,
    default_location: int | None,
    ledger: Iterable[Mapping[str, Any]] = (),
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Items held at ``location`` (all locations when None)."""
    lines = [
        lineable(item, figures)
        for item, figures in positions(items, default_location, ledger, as_of)
        if location is None or figures.location == location
    ]
    return {"location": location, "lineables": lines, "total_value": round(sum(x["value"] for x in lines), 2)}


def valuation_total(
    items: Iterable[Mapping[str, Any]],
    locations: Iterable[Mapping[str, Any]],
    default_location: int | None,
    ledger: Iterable[Mapping[str, Any]] = (),
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The grand total plus one figure per location."""
    held = positions(items, default_location, ledger, as_of)
    per_location: dict[Any, float] = {}
    for _, figures in held:
        per_location[figures.location] = per_location.get(figures.location, 0.0) + figures.value
    names = {loc["number"]: loc.get("name") for loc in locations}
    return {
        "total_value": round(sum(figures.value for _, figures in held), 2),
        "locations": [
            {"number": number, "name": names.get(number), "value": round(value, 2)}
            for number, value in sorted(per_location.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ],
    }
