"""The periods of the stock-value adjustment, as pure functions of the calendar.

Rackbeat posts the adjustment daily at 23:59, weekly on Sunday at 23:59 or monthly on the last day at
23:59, in the company's local time (rackbeat-api.md 4.6). A period is named by what it covers:

- daily: ``2026-11-29``; weekly: ``2026-W48`` (ISO weeks end on Sunday, so the ISO week is the period);
  monthly: ``2026-11``.

A period ends at 23:59 local time on its last day. The instant is computed in the company's time zone
with ``zoneinfo``, so the end of a period is right across a DST change (23:59 is 21:59 UTC in summer
and 22:59 UTC in winter in Copenhagen). The figures of a period are those of its last day:
Rackbeat's valuation report as of that date (``date_to``) and what is booked on the stock account up to
and including that date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Frequency = Literal["daily", "weekly", "monthly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly", "monthly")
RUN_AT = time(23, 59)
"""When a period ends and its adjustment is due, local time (rackbeat-api.md 4.6)."""

_DAILY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEKLY = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTHLY = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """One period of one frequency, identified by its last day."""

    frequency: Frequency
    last_day: date

    @property
    def id(self) -> str:
        if self.frequency == "daily":
            return self.last_day.isoformat()
        if self.frequency == "weekly":
            year, week, _ = self.last_day.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.last_day.year}-{self.last_day.month:02d}"

    @property
    def first_day(self) -> date:
        if self.frequency == "daily":
            return self.last_day
        if self.frequency == "weekly":
            return self.last_day - timedelta(days=6)
        return self.last_day.replace(day=1)

    def end(self, zone: ZoneInfo) -> datetime:
        """The instant the period ends (23:59 local on its last day), time-zone aware."""
        return datetime.combine(self.last_day, RUN_AT, tzinfo=zone)

    def next(self) -> Period:
        return period_containing(self.last_day + timedelta(days=1), self.frequency)

    def previous(self) -> Period:
        return period_containing(self.first_day - timedelta(days=1), self.frequency)

    def __str__(self) -> str:
        return self.id


def period_containing(day: date, frequency: Frequency) -> Period:
    """The period of ``frequency`` that ``day`` belongs to."""
    if frequency == "daily":
        return Period("daily", day)
    if frequency == "weekly":
        return Period("weekly", day + timedelta(days=6 - day.weekday()))
    last = calendar.monthrange(day.year, day.month)[1]
    return Period("monthly", day.replace(day=last))


def latest_ended(instant: datetime, frequency: Frequency, zone: ZoneInfo) -> Period:
    """The newest period whose end (23:59 local on its last day) is at or before ``instant``."""
    if instant.tzinfo is None:
        raise ValueError("latest_ended needs an aware instant")
    local = instant.astimezone(zone)
    period = period_containing(local.date(), frequency)
    if period.end(zone) <= local:
        return period
    return period.previous()


def parse_period(text: str) -> Period:
    """A period from its id; the id's shape says its frequency. ``ValueError`` with the accepted shapes."""
    text = text.strip()
    try:
        if match := _WEEKLY.match(text):
            year, week = int(match[1]), int(match[2])
            return Period("weekly", date.fromisocalendar(year, week, 7))
        if match := _DAILY.match(text):
            return Period("daily", date(int(match[1]), int(match[2]), int(match[3])))
        if match := _MONTHLY.match(text):
            year, month = int(match[1]), int(match[2])
            return Period("monthly", date(year, month, calendar.monthrange(year, month)[1]))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a period: {exc}") from None
    raise ValueError(
        f"{text!r} is not a period: expected a day (2026-11-29), an ISO week (2026-W48) or a month (2026-11)"
    )


def periods_between(after: Period, upto: Period) -> list[Period]:
    """The periods of ``upto``'s frequency ending after ``after`` and before ``upto`` (both excluded)."""
    found: list[Period] = []
    current = period_containing(after.last_day + timedelta(days=1), upto.frequency)
    while current.last_day < upto.last_day:
        found.append(current)
        current = current.next()
    return found


def crontab_fields(frequency: Frequency) -> dict[str, str]:
    """The beat schedule of a frequency as crontab fields, read in the app's (the company's) time zone.

    Cron cannot say "last day of the month", so the monthly entry fires at 23:59 on the 28th to the 31st and
    the task posts only a period that has ended and is not handled yet: on the 28th of a 31-day month the
    newest ended monthly period is the previous month's, already handled, and the run costs no API call."""
    fields = {"minute": str(RUN_AT.minute), "hour": str(RUN_AT.hour), "day_of_week": "*", "day_of_month": "*"}
    if frequency == "weekly":
        fields["day_of_week"] = "sun"
    elif frequency == "monthly":
        fields["day_of_month"] = "28-31"
    return fields
