"""The stock value with real processes: a prefork worker SIGKILLed in the middle of posting, and two RedBeat
beats started at once (issue 11). Counted in e-conomic at the end: one voucher for the period."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tasks.settings import Settings
from tasks.stock_value.ledger import PeriodLog
from tasks.stock_value.periods import latest_ended, parse_period
from tests.fixtures.service import PROJECT_ROOT, settings_env, wait_for
from tests.stock_value.support import Company, company  # noqa: F401  (fixture)


def status_of(company: Company, period: str) -> str | None:  # noqa: F811
    state = PeriodLog(company.redis, company.settings.connection_id).get(parse_period(period))
    return state.status if state else None


def test_a_worker_killed_while_posting_leaves_one_booked_voucher(
    company: Company,  # noqa: F811
    worker_process: Any,
) -> None:
    company.use(stock_value_auto_book=True)
    company.stock(**{"SV-K": (8, 12.5)})  # 100.00
    # a short time limit: the killed run's lock expires 5 s after it (tasks.transfer.LOCK_MARGIN_SECONDS)
    worker = worker_process(transfer_time_limit_seconds=10)
    company.economic.sandbox.faults.set(latency_ms=300)
    log = company.economic.sandbox.request_log
    worker.app.send_task("rbsync.post_stock_value", args=["2026-11-25"], queue="transfers")

    def voucher_posted() -> bool:
        return any(e["method"] == "POST" and e["path"].endswith("/vouchers") for e in log.entries())

    wait_for(voucher_posted, timeout=60, interval=0.02, message="the voucher's POST")
    worker.wait_for_new_child(worker.kill_child())  # the booking after it is still on its way
    wait_for(
        lambda: status_of(company, "2026-11-25") == "booked",
        timeout=90,
        interval=0.2,
        message=f"the period booked\n{worker.log()[-3000:]}",
    )
    company.economic.sandbox.faults.reset()
    assert len(company.vouchers_of("2026-11-25")) == 1
    assert company.drafts() == []
    assert company.booked_on_stock() == Decimal("100.00")
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()


class Beat:
    """A ``celery -A tasks beat`` (RedBeat) subprocess with the given settings."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.log_path = log_path
        env = {**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"}
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", "beat", "--loglevel", "INFO"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture
def beats(tmp_path: Path, redis_client: redis.Redis, session_namespace: str) -> Iterator[list[Beat]]:
    started: list[Beat] = []
    yield started
    for beat in started:
        beat.stop()
    for name in redis_client.scan_iter(match=f"rbsync:{session_namespace}:redbeat:*", count=1000):
        redis_client.delete(name)


def test_two_beats_started_at_once_post_the_period_once(
    company: Company,  # noqa: F811
    worker_process: Any,
    beats: list[Beat],
    tmp_path: Path,
) -> None:
    company.stock(**{"SV-L": (3, 7.0)})
    worker = worker_process()
    due = latest_ended(datetime.now(UTC), "daily", ZoneInfo(company.settings.company_timezone)).id
    # beat was down when the stock value was last due: RedBeat keeps the entry's last run (two days ago),
    # so a beat starting now finds it overdue and sends it once, the beat holding RedBeat's lock
    from redbeat import RedBeatSchedulerEntry

    from tasks.celery import beat_schedule

    definition = beat_schedule(worker.settings)["stock-value"]
    entry = RedBeatSchedulerEntry("stock-value", definition["task"], definition["schedule"], app=worker.app)
    entry.last_run_at = datetime.now(UTC) - timedelta(days=2)
    entry.save()
    beats.extend(Beat(worker.settings, tmp_path / f"beat-{n}.log") for n in range(2))
    wait_for(
        lambda: status_of(company, due) == "posted",
        timeout=90,
        interval=0.2,
        message=f"period {due} posted\n{beats[0].log()[-2000:]}\n{beats[1].log()[-2000:]}",
    )
    time.sleep(3)  # the other beat has had its chance to send it too
    sent = [b for b in beats if "rbsync.stock_value_schedule" in b.log()]
    assert len(sent) == 1, [b.log()[-1500:] for b in beats]
    assert worker.log().count("Task rbsync.stock_value_schedule[") >= 1
    assert len(company.vouchers_of(due)) == 1
    assert company.drafts()[0]["amount"] == 21.0
