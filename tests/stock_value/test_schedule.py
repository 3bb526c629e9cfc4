"""The beat entry of the stock value: a crontab at 23:59 company time that Celery fires at the right UTC
instant across DST changes, and only when the feature is on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from celery import Celery
from celery.schedules import crontab

from tasks.celery import beat_schedule, queue_for
from tasks.settings import StoreSettings


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def company_app(zone: str) -> Celery:
    app = Celery("schedule-test", set_as_current=False)
    app.conf.timezone = zone
    app.conf.enable_utc = True
    return app


def entry_schedule(frequency: str, zone: str, now: datetime) -> crontab:
    settings = StoreSettings(stock_value_enabled=True, stock_value_frequency=frequency)
    entry = beat_schedule(settings)["stock-value"]
    original: crontab = entry["schedule"]
    return crontab(
        minute=original._orig_minute,
        hour=original._orig_hour,
        day_of_week=original._orig_day_of_week,
        day_of_month=original._orig_day_of_month,
        month_of_year=original._orig_month_of_year,
        app=company_app(zone),
        nowfun=lambda: now,
    )


@pytest.mark.parametrize(
    ("frequency", "last_run", "not_yet", "due"),
    [
        # the day summer time starts: 23:59 CEST is 21:59 UTC
        ("daily", "2026-03-28 22:59:05", "2026-03-29 21:58:30", "2026-03-29 21:59:30"),
        # the day it ends: 23:59 CET is 22:59 UTC
        ("daily", "2026-10-24 21:59:05", "2026-10-25 22:58:30", "2026-10-25 22:59:30"),
        # weekly: Sunday 2026-03-29
        ("weekly", "2026-03-22 22:59:05", "2026-03-29 21:58:30", "2026-03-29 21:59:30"),
        # monthly fires on the 28th-31st; the task posts only an ended, unhandled month
        ("monthly", "2026-02-28 22:59:05", "2026-03-28 22:58:30", "2026-03-28 22:59:30"),
    ],
)
def test_beat_fires_at_2359_company_time(frequency, last_run, not_yet, due):
    assert not entry_schedule(frequency, "Europe/Copenhagen", utc(not_yet)).is_due(utc(last_run)).is_due
    assert entry_schedule(frequency, "Europe/Copenhagen", utc(due)).is_due(utc(last_run)).is_due


def test_the_entry_exists_only_when_the_stock_value_is_on():
    assert "stock-value" not in beat_schedule(StoreSettings())
    entry = beat_schedule(StoreSettings(stock_value_enabled=True))["stock-value"]
    assert entry["task"] == "rbsync.stock_value_schedule"
    assert queue_for("rbsync.stock_value_schedule") == "polls"
    assert queue_for("rbsync.post_stock_value") == "transfers"


def test_a_time_zone_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="IANA time zone"):
        StoreSettings(company_timezone="Europe/Atlantis")
