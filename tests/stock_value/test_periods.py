"""Periods of the stock-value adjustment: ids, ends at 23:59 local across DST and month ends, due periods."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tasks.stock_value.periods import (
    Period,
    crontab_fields,
    latest_ended,
    parse_period,
    period_containing,
    periods_between,
)

CPH = ZoneInfo("Europe/Copenhagen")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "frequency", "period_id", "last_day"),
    [
        (date(2026, 11, 29), "daily", "2026-11-29", date(2026, 11, 29)),
        (date(2026, 11, 23), "weekly", "2026-W48", date(2026, 11, 29)),
        (date(2026, 11, 29), "weekly", "2026-W48", date(2026, 11, 29)),
        (date(2026, 2, 3), "monthly", "2026-02", date(2026, 2, 28)),
        (date(2028, 2, 3), "monthly", "2028-02", date(2028, 2, 29)),
        (date(2026, 12, 31), "weekly", "2026-W53", date(2027, 1, 3)),
    ],
)
def test_a_day_belongs_to_one_period_named_by_what_it_covers(day, frequency, period_id, last_day):
    period = period_containing(day, frequency)
    assert (period.id, period.last_day) == (period_id, last_day)
    assert parse_period(period_id) == period


def test_a_period_ends_at_2359_local_on_both_sides_of_a_dst_change():
    # Summer time starts on 2026-03-29 and ends on 2026-10-25 in Copenhagen.
    assert Period("daily", date(2026, 3, 28)).end(CPH).astimezone(UTC) == utc("2026-03-28 22:59")
    assert Period("daily", date(2026, 3, 29)).end(CPH).astimezone(UTC) == utc("2026-03-29 21:59")
    assert Period("daily", date(2026, 10, 25)).end(CPH).astimezone(UTC) == utc("2026-10-25 22:59")


@pytest.mark.parametrize(
    ("instant", "frequency", "due"),
    [
        # daily, on the day summer time starts: 23:59 local is 21:59 UTC
        ("2026-03-29 21:58:59", "daily", "2026-03-28"),
        ("2026-03-29 21:59:00", "daily", "2026-03-29"),
        # and on the day it ends: 23:59 local is 22:59 UTC
        ("2026-10-25 22:58:00", "daily", "2026-10-24"),
        ("2026-10-25 22:59:00", "daily", "2026-10-25"),
        # weekly: Sunday 2026-03-29 (W13) ends at 21:59 UTC; Monday morning the newest ended week is W13
        ("2026-03-29 21:00:00", "weekly", "2026-W12"),
        ("2026-03-29 22:00:00", "weekly", "2026-W13"),
        ("2026-03-31 08:00:00", "weekly", "2026-W13"),
        # monthly: March ends on the 31st at 23:59 CEST (21:59 UTC), across the change of the 29th
        ("2026-03-31 21:58:00", "monthly", "2026-02"),
        ("2026-03-31 21:59:00", "monthly", "2026-03"),
        # the year's end: 2026-12-31 23:59 CET is 22:59 UTC
        ("2026-12-31 22:59:30", "monthly", "2026-12"),
        ("2027-01-15 12:00:00", "monthly", "2026-12"),
    ],
)
def test_the_newest_ended_period_follows_local_2359(instant, frequency, due):
    assert latest_ended(utc(instant), frequency, CPH).id == due


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError):
        latest_ended(datetime(2026, 3, 29, 23, 59), "daily", CPH)


def test_periods_between_lists_the_missed_ones_only():
    assert [p.id for p in periods_between(parse_period("2026-W45"), parse_period("2026-W48"))] == [
        "2026-W46",
        "2026-W47",
    ]
    assert periods_between(parse_period("2026-11"), parse_period("2026-12")) == []
    assert [p.id for p in periods_between(parse_period("2026-11-27"), parse_period("2026-11-30"))] == [
        "2026-11-28",
        "2026-11-29",
    ]


def test_next_and_previous_cross_month_and_year_ends():
    assert parse_period("2026-12").next().id == "2027-01"
    assert parse_period("2027-01").previous().id == "2026-12"
    assert parse_period("2026-W53").next().id == "2027-W01"
    assert parse_period("2026-03-01").previous().id == "2026-02-28"


@pytest.mark.parametrize("text", ["2026-13", "2026-W54", "2026-02-30", "yesterday", ""])
def test_a_bad_period_is_refused_with_the_shapes_it_takes(text):
    with pytest.raises(ValueError, match="not a period"):
        parse_period(text)


def test_the_schedule_fires_at_2359_on_the_cadence():
    assert crontab_fields("daily") == {"minute": "59", "hour": "23", "day_of_week": "*", "day_of_month": "*"}
    assert crontab_fields("weekly")["day_of_week"] == "sun"
    assert crontab_fields("monthly")["day_of_month"] == "28-31"
