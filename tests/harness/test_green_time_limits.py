"""The time limits a gevent worker enforces (issue 14, tasks/harness/workers.py), on Celery's real pool.

Celery's gevent pool enforces the hard time limit itself (a gevent.Timeout around the task, then the same
on_timeout path as prefork: TimeLimitExceeded, failure hooks) but ignores the soft one; tasks/celery.py
arms a soft limit per task on a green worker, raising SoftTimeLimitExceeded in the task's greenlet as
prefork's signal does. A worker `celery -P gevent` of tests/harness/green_limits_app.py (soft 1 s, hard
3 s) on a Redis of its own shows: a quick task is untouched (and leaves no timer armed for the next one
on that greenlet), a slow one gets SoftTimeLimitExceeded at 1 s, one that ignores it is ended at 3 s.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tasks.harness.localredis import LocalRedis, find_redis_server
from tasks.harness.processes import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(find_redis_server() is None, reason="needs redis-server")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Celery]:
    log_dir = tmp_path_factory.mktemp("green-limits")
    with LocalRedis() as server:
        env = {
            **os.environ,
            "GREEN_LIMITS_BROKER": server.url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        worker = ManagedProcess(
            "green-worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.harness.green_limits_app",
                "worker",
                "--pool=gevent",
                "--concurrency=5",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            env,
            log_dir / "worker.log",
            stop_timeout=10,
            cwd=ROOT,
        ).start()
        app = Celery("green-limits-client", broker=server.url, backend=server.url)
        app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
        try:
            deadline = time.monotonic() + 60
            while "ready" not in worker.log_tail(200) and time.monotonic() < deadline:
                assert worker.running, worker.log_tail()
                time.sleep(0.1)
            assert "ready" in worker.log_tail(200), worker.log_tail()
            yield app
        finally:
            worker.stop()
            app.close()


def _run(app: Celery, *args: object) -> tuple[str, object, float]:
    began = time.monotonic()
    result = app.send_task("green.sleepy", args=list(args))
    value = result.get(timeout=30, propagate=False)
    return result.state, value, time.monotonic() - began


def test_quick_task_is_untouched_and_leaves_no_timer(client: Celery) -> None:
    # More quick tasks than greenlets, each well under the soft limit, one after another: they reuse the
    # pool's greenlets; a timer left armed by one would fire in a later one.
    for _ in range(8):
        state, value, _seconds = _run(client, 0.05)
        assert (state, value) == ("SUCCESS", "finished")
    time.sleep(1.2)  # past the first tasks' soft limit
    assert _run(client, 0.05)[:2] == ("SUCCESS", "finished")


def test_soft_limit_raises_soft_time_limit_exceeded(client: Celery) -> None:
    state, value, seconds = _run(client, 2.5, "return")
    assert (state, value) == ("SUCCESS", "soft")
    assert seconds < 2.5  # interrupted at the 1 s soft limit, not slept out


def test_hard_limit_ends_the_task(client: Celery) -> None:
    state, value, seconds = _run(client, 10, "ignore")
    assert state == "FAILURE"
    assert type(value).__name__ == "TimeLimitExceeded", value
    assert 2.5 <= seconds < 8
