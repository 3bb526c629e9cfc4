"""The stock-value tasks: beat's ``rbsync.stock_value_schedule`` and ``rbsync.post_stock_value(period)``.

- ``rbsync.stock_value_schedule`` runs at 23:59 company time on the configured cadence (RedBeat, one beat
  fires; `tasks.celery.beat_schedule`). It finds the newest period that has ended, and when our log has no
  entry for it queues ``rbsync.post_stock_value(period)``; a period already handled costs no API call.
  After downtime RedBeat fires an overdue entry once at start, so the latest missed period is posted then;
  the periods missed before it are named in the run's result with their values (read at each period's end),
  for an accountant to post by hand (the "Finanslagerværdi" report; posting them now would count twice,
  see `tasks.errors.PeriodOutOfOrder`). The first run ever has no log to compare with and posts the newest
  ended period: the books are brought in step at once.
- ``rbsync.post_stock_value(period)`` is a transfer-like task (`tasks.base.SyncTask`): retries with backoff,
  refusals dead-lettered under kind ``stock_value`` and the period as key with e-conomic's own words,
  ``rbsync dlq retry`` sends it again, and it posts once (`tasks.stock_value.adjuster`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tasks.base import SyncTask
from tasks.celery import app
from tasks.redis import get_redis
from tasks.settings import get_settings
from tasks.stock_value.adjuster import KIND, MISSED_VALUES_SHOWN, Adjuster, StockValueConfig
from tasks.stock_value.periods import parse_period
from tasks.sync.connections import process_clients
from tasks.transfer import LOCK_MARGIN_SECONDS

logger = logging.getLogger(__name__)

SCHEDULE_TASK = "rbsync.stock_value_schedule"
POST_TASK = "rbsync.post_stock_value"


def build_adjuster() -> Adjuster:
    settings = get_settings()
    return Adjuster(
        process_clients(),
        get_redis(),
        settings.connection_id,
        StockValueConfig.from_settings(settings),
        lock_ttl_seconds=settings.transfer_time_limit_seconds + LOCK_MARGIN_SECONDS,
    )


class StockValueTask(SyncTask):
    def record_of(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, str]:
        period = kwargs.get("period", args[0] if args else None)
        if period is None:
            raise ValueError(f"{self.name}: which period?")
        return KIND, str(period)


@app.task(bind=True, base=StockValueTask, name=POST_TASK)
def post_stock_value(self: StockValueTask, period: str) -> dict[str, Any]:
    """Post the adjustment of one period (``2026-11-29``, ``2026-W48`` or ``2026-11``) once."""
    calls = self.api_call_counter()
    result = build_adjuster().post(parse_period(period)).as_dict()
    return {**result, "api_calls": calls()}


@app.task(name=SCHEDULE_TASK, acks_late=True)
def stock_value_schedule(now: str | None = None) -> dict[str, Any]:
    """Queue the newest ended period's adjustment unless it is handled; name the periods missed before it.
    ``now`` (ISO 8601 with offset) stands in for the clock, for an operator replaying a missed run."""
    settings = get_settings()
    if not settings.stock_value_enabled:
        return {"status": "disabled"}
    adjuster = build_adjuster()
    due = adjuster.due(datetime.fromisoformat(now) if now else None)
    report: dict[str, Any] = {"period": due.period.id, "missed": []}
    if due.state is not None:
        report["status"] = f"already {due.state.status}"
        return report
    shown = due.missed[-MISSED_VALUES_SHOWN:]
    report["missed"] = [{"period": p.id, "value": str(adjuster.value_at(p.last_day))} for p in shown]
    if len(due.missed) > len(shown):
        report["missed_not_valued"] = [p.id for p in due.missed[: len(due.missed) - len(shown)]]
    if due.missed:
        logger.warning(
            "stock value: %d period(s) missed before %s (%s): posting %s only; post earlier ones by hand",
            len(due.missed),
            due.period,
            ", ".join(p.id for p in due.missed[-5:]),
            due.period,
        )
    task = post_stock_value.apply_async(args=(due.period.id,))
    report.update(status="queued", task_id=task.id)
    return report
