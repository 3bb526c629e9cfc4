"""A guard for the prefork pool's re-registration after a lost broker connection (Celery 5.7).

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

import functools
import logging
from typing import Any

logger = logging.getLogger(__name__)

_GUARDED = "_rbsync_guarded"


def guard_child_tracking() -> bool:
    """Install the guard on Celery's ``AsynPool`` (idempotent); False when the pool is not importable."""
    try:
        from celery.concurrency.asynpool import AsynPool
    except ImportError:  # pragma: no cover - prefork is part of Celery
        return False
    original = AsynPool._track_child_process
    if getattr(original, _GUARDED, False):
        return True

    @functools.wraps(original)
    def track_child_process(self: Any, proc: Any, hub: Any) -> None:
        if getattr(proc, "_sentinel_poll", False) is None:
            logger.warning(
                "pool process %s exited while the broker connection was restored; the pool replaces it",
                getattr(proc, "pid", "?"),
            )
            return
        original(self, proc, hub)

    setattr(track_child_process, _GUARDED, True)
    AsynPool._track_child_process = track_child_process
    return True
