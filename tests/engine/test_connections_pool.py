"""A process's API client sets are handed out per task and given back at its end (issue 14): a gevent
worker starts a greenlet per task, and building a set per task cost ~100 ms of CPU and new connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
from celery.signals import task_postrun

from tasks.settings import Settings
from tasks.sync import connections
from tasks.sync.connections import cached_clients, process_clients, release_clients
from tasks.sync.ports import ApiClients

T = TypeVar("T")


def _in_thread(work: Callable[[], T]) -> T:
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def _held_once() -> ApiClients:
    clients = process_clients()
    release_clients()
    return clients


def _task(count_calls: int = 0) -> ApiClients:
    """What a task does: take its set, make calls, end (Celery's task_postrun gives the set back)."""
    clients = process_clients()
    for _ in range(count_calls):
        clients.rackbeat.calls["GET"] += 1
    task_postrun.send(sender=None)
    return clients


def test_a_task_reuses_the_set_the_last_one_gave_back_with_its_count_from_zero(
    service_settings: Settings,
) -> None:
    first = _in_thread(lambda: _task(count_calls=3))

    def next_task() -> tuple[ApiClients, int]:
        clients = process_clients()
        count = clients.call_count()
        release_clients()
        return clients, count

    second, count = _in_thread(next_task)
    assert second is first
    assert count == 0


def test_two_running_tasks_never_hold_the_same_set(service_settings: Settings) -> None:
    started = threading.Barrier(2)
    held: list[ApiClients] = []

    def task() -> None:
        held.append(process_clients())
        started.wait()  # both hold a set at once
        release_clients()

    threads = [threading.Thread(target=task) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert held[0] is not held[1]
    assert cached_clients() is None or cached_clients() not in held  # this thread holds neither


def test_a_set_built_before_a_fork_is_not_handed_out_in_the_child(
    service_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = _in_thread(_task)
    real_pid = connections.os.getpid()
    monkeypatch.setattr(connections.os, "getpid", lambda: real_pid + 100_000)  # as in a forked child
    child = _in_thread(_held_once)
    assert child is not parent
    monkeypatch.setattr(connections.os, "getpid", lambda: real_pid)
    assert _in_thread(_held_once) is not parent


def test_a_thread_outside_tasks_keeps_its_set(service_settings: Settings) -> None:
    def work() -> tuple[ApiClients, ApiClients | None]:
        return process_clients(), cached_clients()

    clients, cached = _in_thread(work)
    assert cached is clients
