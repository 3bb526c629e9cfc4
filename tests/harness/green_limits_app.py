"""A tiny Celery app for test_green_time_limits.py: one task that sleeps, on a broker the test names.

Importing tasks.celery connects the service's gevent soft-limit hooks (signals are process-wide), which is
what the test proves on Celery's real gevent pool; the service's own app is not used (no settings needed).
"""

from __future__ import annotations

import os
import time

from billiard.exceptions import SoftTimeLimitExceeded
from celery import Celery

import tasks.celery  # noqa: F401  (the gevent soft-limit hooks)

BROKER = os.environ.get("GREEN_LIMITS_BROKER", "redis://127.0.0.1:1/0")
HARD_SECONDS = 3
SOFT_SECONDS = 1

app = Celery("green-limits", broker=BROKER, backend=BROKER)
app.conf.update(
    task_time_limit=HARD_SECONDS,
    task_soft_time_limit=SOFT_SECONDS,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)


@app.task(name="green.sleepy")
def sleepy(seconds: float, on_soft: str = "return") -> str:
    """Sleep; at the soft limit return "soft" (`on_soft="return"`) or sleep on into the hard limit."""
    try:
        time.sleep(seconds)
        return "finished"
    except SoftTimeLimitExceeded:
        if on_soft == "return":
            return "soft"
        time.sleep(seconds)
        return "outlived the hard limit"
