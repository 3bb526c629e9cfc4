"""The two figures an adjustment is the difference of: Rackbeat's stock value and what the books hold.

- **Current value** (Rackbeat): the valuation report of every location as of the period's last day
  (``reports/valuation?location=<n>&date_to=``, rackbeat-api.md §4 "Stock value": one location per call,
  not its sub-locations, so every location is read). Items without inventory are not in the report. With
  negatives excluded, a line with a negative value counts as zero (rackbeat-api.md 4.6 "Negative values").
  The report's keys are inferred in the reference, so a line's ``value`` is used when present and
  ``quantity`` x ``cost_price`` otherwise.
- **Booked value** (e-conomic): the entries booked on the stock account in the accounting year that holds
  the period's last day, dated up to and including it (``accounts/{n}/accounting-years/{y}/entries``,
  economic-api.md §13). A balance-sheet account starts each year with its opening entry (entry type
  ``openingEntry``), so the year's entries carry the earlier years' balance. Unbooked journal drafts are not
  in it: that is the trap of piled-up adjustments (rackbeat-api.md 4.6), which `tasks.stock_value.adjuster`
  removes by replacing its own older drafts.

Amounts are ``Decimal`` to the øre throughout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from clients.economic import EconomicClient
from clients.rackbeat import RackbeatClient

CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def line_value(line: Mapping[str, Any]) -> Decimal:
    if line.get("value") is not None:
        return money(line["value"])
    return money(Decimal(str(line.get("quantity") or 0)) * Decimal(str(line.get("cost_price") or 0)))


def stock_value(lines: Iterable[Mapping[str, Any]], *, include_negative: bool) -> Decimal:
    """The value of valuation lines, negative lines counted or left out."""
    total = Decimal(0)
    for line in lines:
        value = line_value(line)
        if value >= 0 or include_negative:
            total += value
    return total.quantize(CENT)


def booked_value(entries: Iterable[Mapping[str, Any]]) -> Decimal:
    """The sum of booked entries, in the base currency."""
    total = Decimal(0)
    for entry in entries:
        amount = entry.get("amountInBaseCurrency")
        total += money(entry.get("amount") if amount is None else amount)
    return total.quantize(CENT)


class NoAccountingYear(LookupError):
    """e-conomic has no accounting year that holds the day."""


@dataclass(frozen=True)
class BookedValue:
    year: str
    value: Decimal
    closed: bool


def read_stock_value(rackbeat: RackbeatClient, day: date, *, include_negative: bool) -> Decimal:
    """Rackbeat's stock value at the end of ``day``, over every location."""
    total = Decimal(0)
    for location in rackbeat.iter("locations", "locations"):
        report = rackbeat.valuation(int(location["number"]), day)
        total += stock_value(report.get("lineables") or [], include_negative=include_negative)
    return total.quantize(CENT)


def accounting_year_of(economic: EconomicClient, day: date) -> Mapping[str, Any]:
    wanted = f"fromDate$lte:{day.isoformat()}$and:toDate$gte:{day.isoformat()}"
    for year in economic.iter_collection("accounting-years", filter=wanted):
        if str(year.get("fromDate")) <= day.isoformat() <= str(year.get("toDate")):
            return year
    raise NoAccountingYear(f"e-conomic has no accounting year that holds {day.isoformat()}")


def read_booked_value(economic: EconomicClient, account: int, day: date) -> BookedValue:
    """What is booked on ``account`` up to and including ``day``, in the year that holds it."""
    year = accounting_year_of(economic, day)
    name = str(year["year"])
    entries = economic.iter_collection(
        f"accounts/{account}/accounting-years/{name}/entries", filter=f"date$lte:{day.isoformat()}"
    )
    return BookedValue(name, booked_value(entries), bool(year.get("closed")))
