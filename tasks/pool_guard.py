"""Two guards for Celery 5.7's prefork pool when the broker connection is lost: a pool process that exits
meanwhile (below), and a soft time limit that arrives after its task ended (further down).

Found by the invoice chaos run with Redis restarts: when a pool process exits (SIGKILL, an out-of-memory
kill, or billiard raising a late soft time limit in a process that has already finished its task) while the
consumer is reconnecting, the pool's exit handler has already untracked it (``_sentinel_poll`` set to
None) but the process is still in the pool's list. The consumer's restart then re-registers every listed
process with the event loop, hands kombu's hub ``None`` as a file descriptor, and the ``ValueError`` it
raises ends the whole worker ("Unrecoverable error: ValueError('file descriptor is None')"). Nothing is
lost (the messages stay in Redis, unacked or queued) but every transfer stops until a supervisor restarts
the worker.

``guard_child_tracking`` skips such a process at registration: it has exited, and the pool's maintenance
(``maintain_pool``, run by the same event loop) removes it and starts its replacement, as it does for any
process that exits while the loop runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from tasks.patching import correct_once

logger = logging.getLogger(__name__)


def guard_child_tracking() -> bool:
    """Install the guard on Celery's ``AsynPool`` (idempotent); False when the pool is not importable."""
    try:
        from celery.concurrency.asynpool import AsynPool
    except ImportError:  # pragma: no cover - prefork is part of Celery
        return False

    def correction(original: Callable[..., Any]) -> Callable[..., Any]:
        def track_child_process(self: Any, proc: Any, hub: Any) -> None:
            if getattr(proc, "_sentinel_poll", False) is None:
                logger.warning(
                    "pool process %s exited while the broker connection was restored; the pool replaces it",
                    getattr(proc, "pid", "?"),
                )
                return
            original(self, proc, hub)

        return track_child_process

    return correct_once(AsynPool, "_track_child_process", correction)


# --- a soft time limit that arrives after its task ended ---------------------------------------------------
#
# The prefork pool's main process sends a pool process SIGUSR1 when a task reaches its soft time limit, and
# billiard's handler raises SoftTimeLimitExceeded wherever the process is. While the main process reconnects
# to the broker it learns late that a task ended, and its timer still fires: seen in the invoice chaos run,
# the exception then hit an idle process waiting for its next job (the process died, with the job it was
# being handed, which stayed unacked until the visibility timeout) or would hit the next task a few
# milliseconds into it. ``guard_soft_limits`` replaces billiard's handler in each pool process, at its first
# task: the signal raises only while a task runs that has run about as long as its soft limit.

SOFT_LIMIT_TOLERANCE_SECONDS = 1.0
_running: dict[str, float] = {}


def _soft_limit_signal(signum: int, frame: Any) -> None:
    from billiard.exceptions import SoftTimeLimitExceeded

    started, soft = _running.get("started"), _running.get("soft", 0.0)
    if started is None:
        logger.warning("a soft time limit arrived after its task had ended; ignored")
        return
    if time.monotonic() - started < soft - SOFT_LIMIT_TOLERANCE_SECONDS:
        logger.warning("a soft time limit arrived for an earlier task, not the one running; ignored")
        return
    raise SoftTimeLimitExceeded()


def _task_started(task: Any = None, **_: Any) -> None:
    import signal

    from billiard.pool import soft_timeout_sighandler

    from tasks.celery import soft_time_limit_of

    usr1 = getattr(signal, "SIGUSR1", None)
    if usr1 is None or task is None:
        return
    if signal.getsignal(usr1) is soft_timeout_sighandler:  # a prefork pool process, not yet guarded
        signal.signal(usr1, _soft_limit_signal)
    _running["started"] = time.monotonic()
    _running["soft"] = float(soft_time_limit_of(task) or 0.0)


def _task_ended(**_: Any) -> None:
    _running.clear()


def guard_soft_limits() -> None:
    """Connect the guard to every task's start and end (idempotent)."""
    from celery import signals

    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="rbsync-soft-limit-guard-start")
    signals.task_postrun.connect(_task_ended, weak=False, dispatch_uid="rbsync-soft-limit-guard-end")
