"""Pure parts of the safety-net polls: when a listed record needs a transfer, and the beat schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tasks.celery import beat_schedule
from tests.fixtures.service import build_test_settings

VERSION = "2026-11-30T10:00:00+00:00"
STAMP = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


def needs_transfer(listed, seen):
    from tasks.polls import needs_transfer as decide  # the module's tasks need the app configured

    return decide(listed, seen)


def test_a_new_or_unversioned_record_is_transferred(service_settings):
    assert needs_transfer(VERSION, None)
    assert needs_transfer(None, (VERSION, STAMP + timedelta(minutes=5)))


def test_a_different_version_is_a_change(service_settings):
    assert needs_transfer("2026-11-30T10:00:01+00:00", (VERSION, STAMP + timedelta(minutes=5)))


def test_the_same_version_read_within_its_second_is_not_proof_of_no_change(service_settings):
    assert needs_transfer(VERSION, (VERSION, STAMP + timedelta(milliseconds=300)))
    assert not needs_transfer(VERSION, (VERSION, STAMP + timedelta(seconds=3)))


def test_naive_rackbeat_times_are_read_as_utc(service_settings):
    assert not needs_transfer("2026-11-30 10:00:00", ("2026-11-30 10:00:00", STAMP + timedelta(seconds=3)))
    assert needs_transfer("2026-11-30 10:00:00", ("2026-11-30 10:00:00", STAMP))


def test_beat_runs_both_polls_at_their_intervals_and_zero_turns_one_off(redis_url):
    settings = build_test_settings(
        redis_url,
        "polls-unit",
        poll_interval_seconds=120,
        deletion_sweep_interval_seconds=0,
        economic_orders_poll_seconds=0,  # the e-conomic polls' entries: tests/engine/test_importer_polls.py
        economic_master_poll_seconds=0,
    )
    schedule = beat_schedule(settings)
    assert schedule == {
        "poll-rackbeat-changes": {
            "task": "rbsync.poll_rackbeat_changes",
            "schedule": 120.0,
            "options": {"expires": 120},
        },
    }
    defaults = beat_schedule(build_test_settings(redis_url, "polls-unit"))
    assert defaults["poll-rackbeat-deletions"]["schedule"] == 3600.0
    assert defaults["poll-rackbeat-changes"]["schedule"] == 300.0
