"""The supervisor of `rbsync run`'s children (ProcessGroup with a RestartPolicy), with real processes: a child
that exits or is SIGKILLed comes back after a growing backoff with one report line per restart, one that
keeps dying makes the group give up with the end of its log, and a stop of ours restarts nothing."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from tasks.harness.processes import ChildExited, ManagedProcess, ProcessGroup, RestartPolicy, wait_until

# Each start appends "start <pid> <time>" to the child's log before doing what the test needs.
ANNOUNCE = "import os, sys, time\nprint('start', os.getpid(), time.monotonic(), flush=True)\n"
CRASH = ANNOUNCE + "print('boom', flush=True)\nsys.exit({status})"
SLEEP = ANNOUNCE + "time.sleep(600)"
# Exits with status 1 on SIGTERM: an exit we caused must not count as a crash even though it is non-zero.
FAILS_ON_SIGTERM = ANNOUNCE + (
    "import signal\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(1))\ntime.sleep(600)"
)
STUBBORN = ANNOUNCE + "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)"
# A leader with a child of its own, like a Celery worker and its pool.
WITH_POOL = ANNOUNCE + (
    "import subprocess\n"
    "pool = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print('pool', pool.pid, flush=True)\n"
    "time.sleep(600)"
)


def starts(child: ManagedProcess) -> list[tuple[int, float]]:
    """(pid, monotonic time) of every start of `child`, from its log."""
    text = child.log_path.read_text() if child.log_path.exists() else ""
    return [(int(pid), float(at)) for pid, at in re.findall(r"^start (\d+) (\S+)$", text, re.MULTILINE)]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class Console:
    """Collects the supervisor's report lines (thread-safe enough: list.append)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def groups() -> Iterator[list[ProcessGroup]]:
    """Every group a test makes is stopped afterwards, whatever happened."""
    made: list[ProcessGroup] = []
    yield made
    for group in made:
        group.stop()


def make_group(groups: list[ProcessGroup], console: Console, **policy: float) -> ProcessGroup:
    group = ProcessGroup(restart=RestartPolicy(poll_interval=0.05, **policy), report=console)
    groups.append(group)
    return group


def child(tmp_path: Path, name: str, code: str, stop_timeout: float = 5) -> ManagedProcess:
    log = tmp_path / f"{name}.log"
    return ManagedProcess(name, ["python", "-c", code], dict(os.environ), log, stop_timeout)


def test_a_child_that_exits_comes_back_after_a_doubling_capped_delay_with_one_line_each(
    tmp_path: Path, groups, console
) -> None:
    group = make_group(groups, console, first_delay=0.2, max_delay=0.8, max_restarts=50, window=60)
    crasher = group.start(child(tmp_path, "crasher", CRASH.format(status=1)))
    assert wait_until(lambda: len(starts(crasher)) >= 5, timeout=15)
    group.stop()

    restart_lines = [line for line in console.lines if "restarting" in line]
    assert restart_lines[:4] == [
        "crasher exited with status 1; restarting in 0.2 s (restart 1)",
        "crasher exited with status 1; restarting in 0.4 s (restart 2)",
        "crasher exited with status 1; restarting in 0.8 s (restart 3)",
        "crasher exited with status 1; restarting in 0.8 s (restart 4)",
    ]
    # The delays really were waited: each start at least its delay after the previous one.
    times = [at for _pid, at in starts(crasher)][:5]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    for gap, delay in zip(gaps, [0.2, 0.4, 0.8, 0.8], strict=True):
        assert gap >= delay, (gap, delay)
    # The child's own log says so too, next to its output.
    assert "restarting in 0.2 s (restart 1)" in crasher.log_path.read_text()


def test_a_sigkilled_child_is_replaced_by_a_new_process_and_its_orphans_are_killed(
    tmp_path: Path, groups, console
) -> None:
    group = make_group(groups, console, first_delay=0.1)
    worker = group.start(child(tmp_path, "worker", WITH_POOL))
    assert wait_until(lambda: "pool" in worker.log_path.read_text(), timeout=15)
    old_pid = worker.pid
    old_pool = int(re.search(r"^pool (\d+)$", worker.log_path.read_text(), re.MULTILINE).group(1))
    assert old_pid is not None and alive(old_pool)

    os.kill(old_pid, signal.SIGKILL)
    assert wait_until(lambda: len(starts(worker)) == 2 and worker.running, timeout=15)
    assert worker.pid != old_pid
    assert starts(worker)[1][0] == worker.pid
    assert console.lines == ["worker exited on SIGKILL; restarting in 0.1 s (restart 1)"]
    assert group.restarts(worker) == 1
    # The killed leader's pool child does not live on beside the new one.
    assert wait_until(lambda: not alive(old_pool), timeout=10)
    group.check()  # nothing to report: the child is back


def test_a_child_that_keeps_dying_makes_the_group_give_up_with_its_log(
    tmp_path: Path, groups, console
) -> None:
    group = make_group(groups, console, first_delay=0.05, max_delay=0.05, max_restarts=3, window=60)
    crasher = group.start(child(tmp_path, "crasher", CRASH.format(status=3)))
    began = time.monotonic()
    with pytest.raises(ChildExited) as failure:
        wait_until(lambda: False, timeout=15, group=group)
    assert time.monotonic() - began < 10
    message = str(failure.value)
    assert message.startswith("crasher exited with status 3 and was restarted 3 times in the last 60 s")
    assert "boom" in message and str(crasher.log_path) in message
    assert console.lines[-1] == "crasher exited with status 3; 3 restarts in the last 60 s, giving up"
    assert len([line for line in console.lines if "restarting" in line]) == 3
    # After giving up nothing is started again.
    time.sleep(0.5)
    assert len(starts(crasher)) == 4
    assert not crasher.running


def test_a_clean_stop_restarts_nothing(tmp_path: Path, groups, console) -> None:
    group = make_group(groups, console, first_delay=0.05)
    children = [
        group.start(child(tmp_path, "sleeper", SLEEP)),
        group.start(child(tmp_path, "fails-on-sigterm", FAILS_ON_SIGTERM)),
        group.start(child(tmp_path, "stubborn", STUBBORN, stop_timeout=1)),
    ]
    assert wait_until(lambda: all(starts(c) for c in children), timeout=15)
    group.stop()
    time.sleep(0.5)  # ten supervisor rounds, were it still looking
    assert console.lines == []
    assert [len(starts(c)) for c in children] == [1, 1, 1]
    assert not any(c.running for c in children)
    assert group.children == []


def test_stop_cancels_a_restart_that_is_waiting_out_its_delay(tmp_path: Path, groups, console) -> None:
    group = make_group(groups, console, first_delay=1.5)
    crasher = group.start(child(tmp_path, "crasher", CRASH.format(status=1)))
    assert wait_until(lambda: console.lines, timeout=15)
    assert console.lines == ["crasher exited with status 1; restarting in 1.5 s (restart 1)"]
    group.stop()
    time.sleep(2)
    assert len(starts(crasher)) == 1
    assert not crasher.running


def test_without_a_policy_the_first_exit_still_stops_the_group(tmp_path: Path, groups) -> None:
    group = ProcessGroup()
    groups.append(group)
    crasher = group.start(child(tmp_path, "crasher", CRASH.format(status=2)))
    with pytest.raises(ChildExited, match=r"^crasher exited with status 2; last lines"):
        wait_until(lambda: False, timeout=15, group=group)
    assert len(starts(crasher)) == 1
