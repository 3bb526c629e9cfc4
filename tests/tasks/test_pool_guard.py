"""The prefork pool's re-registration after a lost broker connection skips a pool process that has
already exited (tasks/pool_guard.py), with Celery's real AsynPool and kombu's real hub: unguarded, the
same call raised the ValueError that ended the whole worker in the invoice chaos run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery.concurrency.asynpool import AsynPool
from kombu.asynchronous import Hub

from tasks.pool_guard import guard_child_tracking


@pytest.fixture
def pool_and_hub() -> Iterator[tuple[Any, Hub]]:
    pool = AsynPool(processes=1, threads=False)
    hub = Hub()
    try:
        yield pool, hub
    finally:
        pool.terminate()
        hub.close()


def test_a_pool_process_that_exited_during_the_reconnect_is_left_to_the_pool_to_replace(
    pool_and_hub: tuple[Any, Hub], caplog: pytest.LogCaptureFixture
) -> None:
    pool, hub = pool_and_hub
    assert guard_child_tracking() and guard_child_tracking(), "installed, and installing twice is harmless"
    process = pool._pool[0]
    pool._track_child_process(process, hub)
    pool._untrack_child_process(process, hub)  # what the pool does when the process exits

    pool._track_child_process(process, hub)  # the consumer's restart registers every listed process again

    assert process._sentinel_poll is None, "nothing registered for the exited process"
    assert "the pool replaces it" in caplog.text


def test_a_live_pool_process_is_registered_as_before(pool_and_hub: tuple[Any, Hub]) -> None:
    pool, hub = pool_and_hub
    guard_child_tracking()
    process = pool._pool[0]
    pool._track_child_process(process, hub)
    assert process._sentinel_poll in hub.readers


def test_a_soft_limit_signal_raises_only_in_a_task_that_has_run_that_long() -> None:
    """The signal billiard's handler turned into SoftTimeLimitExceeded wherever it landed, sent to this very
    process: ignored with no task running and in a task younger than its soft limit, raised in one that
    has reached it."""
    import os
    import signal
    import time

    from billiard.exceptions import SoftTimeLimitExceeded
    from billiard.pool import soft_timeout_sighandler

    from tasks import pool_guard

    class Task:
        soft_time_limit = 5
        request = type("Request", (), {"timelimit": (None, None)})()
        app = type("App", (), {"conf": type("Conf", (), {"task_soft_time_limit": None})()})()

    before = signal.signal(signal.SIGUSR1, soft_timeout_sighandler)  # as billiard leaves a pool process
    try:
        pool_guard._task_started(task=Task())
        assert signal.getsignal(signal.SIGUSR1) is pool_guard._soft_limit_signal
        os.kill(os.getpid(), signal.SIGUSR1)  # a timer of the task before it: ignored
        pool_guard._task_ended()
        os.kill(os.getpid(), signal.SIGUSR1)  # no task running: ignored

        pool_guard._task_started(task=Task())
        pool_guard._running["started"] = time.monotonic() - Task.soft_time_limit
        with pytest.raises(SoftTimeLimitExceeded):
            os.kill(os.getpid(), signal.SIGUSR1)
            time.sleep(0.1)
    finally:
        pool_guard._task_ended()
        signal.signal(signal.SIGUSR1, before)
