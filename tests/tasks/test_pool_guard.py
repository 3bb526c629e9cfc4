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
