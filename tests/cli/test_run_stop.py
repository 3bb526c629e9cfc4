"""`rbsync run` stops every child on one or two signals however quickly they come, and its temporary Redis
is stopped last (the worker and beat still talk to it while they shut down).

The finding: after `timeout -s INT rbsync run` (which signals the command and then its whole process group)
a worker was left running and the temporary Redis died first. A terminal's Ctrl-C also signals the whole
foreground process group, so that is what these tests send.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tasks.harness.localredis import free_port
from tasks.harness.processes import children_of
from tests.cli.test_run import RBSYNC, Output


def alive(pid: int) -> bool:
    """Running (a zombie has exited: it only waits for its parent to read its status)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def tree(pid: int) -> list[int]:
    """Every descendant of `pid` (children, grandchildren, ...)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children_of(pending.pop()):
            found.append(child)
            pending.append(child)
    return found


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return "?"


Started = tuple[subprocess.Popen[str], Output, int, list[int]]


@pytest.fixture
def started_run(tmp_path: Path) -> Iterator[Callable[[], Started]]:
    """Start `rbsync run` in a session of its own with no Redis at the configured URL (so it starts its
    own), wait until it is ready; returns it, its output, its Redis's pid and every other descendant."""
    started: list[subprocess.Popen[str]] = []
    leftovers: list[int] = []

    def start() -> Started:
        env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
        env["RBSYNC_REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
        process = subprocess.Popen(
            [
                str(RBSYNC),
                "run",
                "--no-simulate",
                "--seed-size",
                "tiny",
                "--concurrency",
                "1",
                "--web-port",
                str(free_port()),
                "--flower-port",
                "0",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        output = Output(process)
        output.wait_for(r"Transfers \(Ctrl-C to stop\)", timeout=60)
        descendants = tree(process.pid)
        leftovers.extend(descendants)
        [redis_pid] = [pid for pid in descendants if "redis-server" in command(pid)]
        others = [pid for pid in descendants if pid != redis_pid]
        # The receiver, the worker and its pool process, and beat.
        assert len(others) >= 4, [command(pid) for pid in others]
        return process, output, redis_pid, others

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
    for pid in leftovers:  # whatever a failed test left behind must not outlive it
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def watch_deaths(pids: list[int], timeout: float) -> dict[int, float]:
    """When each pid was first seen gone, polling every millisecond or so."""
    gone: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(gone) < len(pids) and time.monotonic() < deadline:
        now = time.monotonic()
        for pid in pids:
            if pid not in gone and not alive(pid):
                gone[pid] = now
        time.sleep(0.001)
    return gone


def stop_and_check(
    process: subprocess.Popen[str],
    output: Output,
    redis_pid: int,
    others: list[int],
    send: Callable[[], None],
) -> None:
    send()
    gone = watch_deaths([redis_pid, *others], timeout=25)
    assert process.wait(timeout=10) == 0
    output.rest(timeout=2)
    text = "\n".join(output.lines)
    left = [f"{pid} {command(pid)}" for pid in others if alive(pid)]
    assert not left, f"left running: {left}\n{text}"
    assert not alive(redis_pid), "its temporary Redis is still running"
    last_child = max(gone[pid] for pid in others)
    assert gone[redis_pid] >= last_child, (
        f"the temporary Redis went {last_child - gone[redis_pid]:.3f} s before the last child\n{text}"
    )
    assert "rbsync: stopped" in text
    assert "Traceback" not in text


def ctrl_c_twice(pid: int) -> None:
    """What a terminal does: SIGINT to the whole foreground process group, twice in quick succession."""
    os.killpg(pid, signal.SIGINT)
    time.sleep(0.002)
    os.killpg(pid, signal.SIGINT)


def term_then_int_then_a_burst(pid: int) -> None:
    """`timeout -s ...` style (the command first, then its process group), then more of them for 50 ms:
    whenever the next one comes (while the first unwinds, as the stop begins, during it), the stop runs to
    the end."""
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.001)
    os.killpg(pid, signal.SIGINT)
    until = time.monotonic() + 0.05
    while time.monotonic() < until:
        os.kill(pid, signal.SIGINT)


@pytest.mark.slow
@pytest.mark.parametrize("signals", [ctrl_c_twice, term_then_int_then_a_burst], ids=lambda f: f.__name__)
def test_quick_repeated_signals_stop_everything_redis_last(started_run, signals) -> None:
    process, output, redis_pid, others = started_run()
    stop_and_check(process, output, redis_pid, others, lambda: signals(process.pid))
