"""Child-process handling of run/demo: a dead child is reported with its log, a stubborn one is killed,
and stopping takes the whole process group (pool children included)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tasks.harness.processes import ChildExited, ManagedProcess, ProcessGroup, wait_until

SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(600)"
STUBBORN = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('up', flush=True)\n"
    "time.sleep(600)"
)
PARENT_WITH_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., ManagedProcess]]:
    """Start a child running `code` and wait until it is up; every child is stopped after the test."""
    children: list[ManagedProcess] = []

    def start(name: str, code: str, stop_timeout: float = 5) -> ManagedProcess:
        child = ManagedProcess(
            name, ["python", "-c", code], dict(os.environ), tmp_path / f"{name}.log", stop_timeout
        )
        children.append(child.start())
        assert wait_until(lambda: child.log_path.read_text().strip() != "", timeout=20)
        return child

    yield start
    for child in children:
        child.stop()


def test_a_dead_child_is_reported_with_the_end_of_its_log(tmp_path: Path) -> None:
    group = ProcessGroup()
    group.start(
        ManagedProcess(
            "crasher",
            ["python", "-c", "print('boom'); raise SystemExit(3)"],
            dict(os.environ),
            tmp_path / "crasher.log",
        )
    )
    try:
        with pytest.raises(ChildExited, match=r"crasher exited with status 3[\s\S]*boom"):
            wait_until(lambda: False, timeout=20, group=group)
    finally:
        group.stop()


def test_sigterm_first_then_sigkill_for_a_child_that_ignores_it(spawn) -> None:
    polite = spawn("polite", SLEEPER)
    stubborn = spawn("stubborn", STUBBORN, stop_timeout=1)
    assert polite.stop() == -15
    began = time.monotonic()
    assert stubborn.stop() == -9
    assert time.monotonic() - began >= 1


def test_stopping_takes_the_childs_own_children_too(spawn) -> None:
    parent = spawn("parent", PARENT_WITH_CHILD)
    grandchild = int(parent.log_path.read_text().split()[0])
    assert alive(grandchild)
    parent.stop()
    assert wait_until(lambda: not alive(grandchild) or _is_zombie(grandchild), timeout=10)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_the_group_stops_every_child_it_started(tmp_path: Path) -> None:
    group = ProcessGroup()
    children = [
        group.start(
            ManagedProcess(name, ["python", "-c", SLEEPER], dict(os.environ), tmp_path / f"{name}.log")
        )
        for name in ("first", "second")
    ]
    try:
        assert all(child.running for child in children)
    finally:
        group.stop()
    assert not any(child.running for child in children)
    assert group.children == []
