"""Test-only tasks on the service's Celery app: ``SyncTask`` subclasses that fail on demand.

A test writes a *script* for a record, one step per attempt (the last step repeats):
``ok``, ``transient``, ``permanent``, ``validation``, ``ratelimited:<seconds>``, ``busy``, ``boom``
(an unexpected exception), ``sleep:<seconds>`` (then succeed), ``stubborn:<seconds>`` (sleeps through
the soft time limit, so only the hard limit stops it). Every attempt is counted and logged in
Redis, under the session's namespace, so tests can assert on what the worker really did.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from billiard.exceptions import SoftTimeLimitExceeded

from clients.errors import PermanentError, RateLimitedError, TransientError, ValidationFailed
from tasks.base import SyncTask
from tasks.celery import app
from tasks.errors import RecordBusy
from tasks.redis import get_redis, key

SCRIPTED = "rbsync.test.scripted"


def _plan_key(kind: str, record: str) -> str:
    return key("test", "plan", kind, record)


def _runs_key(kind: str, record: str) -> str:
    return key("test", "runs", kind, record)


def script(client: redis.Redis, kind: str, record: str, *steps: str) -> None:
    client.delete(_plan_key(kind, record), _runs_key(kind, record))
    client.rpush(_plan_key(kind, record), *steps)


def runs(client: redis.Redis, kind: str, record: str) -> list[dict[str, Any]]:
    """One dict per attempt that started: attempt number, task id, retries, worker pid."""
    return [json.loads(raw) for raw in client.lrange(_runs_key(kind, record), 0, -1)]


def _api_error(cls: type, message: str, **extra: Any) -> Exception:
    return cls(
        message, api="economic", method="PUT", url="/products/1", status=extra.pop("status", None), **extra
    )


@app.task(base=SyncTask, bind=True, name=SCRIPTED, busy_retry_seconds=(0.05, 0.2))
def scripted(self: SyncTask, kind: str, record: str) -> dict[str, Any]:
    client = get_redis()
    steps = client.lrange(_plan_key(kind, record), 0, -1) or ["ok"]
    attempt = client.rpush(
        _runs_key(kind, record),
        json.dumps(
            {
                "task_id": self.request.id,
                "retries": self.request.retries,
                "pid": _pid(),
                "eta": self.request.eta,
            }
        ),
    )
    step = steps[min(attempt, len(steps)) - 1]
    name, _, argument = step.partition(":")
    if name == "transient":
        raise _api_error(TransientError, "Service Unavailable", status=503)
    if name == "ratelimited":
        raise _api_error(RateLimitedError, "Too Many Requests", status=429, retry_after=float(argument))
    if name == "permanent":
        raise _api_error(PermanentError, "Conflict: the product is locked", status=409)
    if name == "validation":
        raise _api_error(
            ValidationFailed,
            "Validation failed.",
            status=400,
            field_errors={"salesPrice": ["Must be a number."]},
        )
    if name == "busy":
        raise RecordBusy(kind, record)
    if name == "boom":
        raise KeyError("surprise")
    if name == "sleep":
        time.sleep(float(argument))
    if name == "stubborn":
        deadline = time.monotonic() + float(argument)
        while time.monotonic() < deadline:
            try:
                time.sleep(0.05)
            except SoftTimeLimitExceeded:
                continue
    return {"outcome": "replaced", "economic_key": f"E-{record}", "api_calls": 1}


def _pid() -> int:
    import os

    return os.getpid()
