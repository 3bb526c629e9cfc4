"""Child processes of `rbsync run` / `rbsync demo` / the benchmarks: start, watch, stop in order.

Each child writes its output to its own log file (the console belongs to the transfer lines), runs in its
own process group (so Ctrl-C in the terminal reaches only us, and we stop the children in a chosen order),
and is stopped with SIGTERM first (Celery's warm/soft shutdown), SIGKILL only after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path


class ChildExited(RuntimeError):
    """A child that should keep running has exited."""


@dataclass
class ManagedProcess:
    """One long-running child. `argv[0] == "python"` means this interpreter (the project's venv)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    stop_timeout: float = 20.0
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> ManagedProcess:
        argv = [sys.executable if self.argv[0] == "python" else self.argv[0], *self.argv[1:]]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM the child's process group, wait, SIGKILL what is left; returns the exit status."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)
        else:
            # The leader is gone; make sure no orphan of its group (e.g. a pool child) survives it.
            self._signal_group(process, signal.SIGKILL)
        return process.returncode

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signum)


class ProcessGroup:
    """Children started in order and stopped in reverse order."""

    def __init__(self) -> None:
        self.children: list[ManagedProcess] = []

    def start(self, child: ManagedProcess) -> ManagedProcess:
        self.children.append(child.start())
        return child

    def check(self) -> None:
        """Raise ChildExited naming the first child that stopped, with the end of its log."""
        for child in self.children:
            if not child.running:
                raise ChildExited(
                    f"{child.name} exited with status {child.returncode}; last lines of {child.log_path}:\n"
                    f"{child.log_tail()}"
                )

    def stop(self) -> None:
        while self.children:
            self.children.pop().stop()


def wait_until(condition, timeout: float, interval: float = 0.1, group: ProcessGroup | None = None) -> bool:
    """Poll `condition()` until it is true or `timeout` passes; a dead child ends the wait with an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if group is not None:
            group.check()
        time.sleep(interval)
    return bool(condition())
