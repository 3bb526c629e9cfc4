"""Child processes of `rbsync run` / `rbsync demo` / the benchmarks: start, watch, stop in order.

Each child writes its output to its own log file (the console belongs to the transfer lines), runs in its
own process group (so Ctrl-C in the terminal reaches only us, and we stop the children in a chosen order),
and is stopped with SIGTERM first (Celery's warm/soft shutdown), SIGKILL only after a grace period.

With a :class:`RestartPolicy` the group also supervises its children (what a container's restart policy
does in Compose): a child that exits while the group is not stopping is started again after a backoff
(1 s, 2 s, 4 s ... capped), one console line per restart. Only when a child keeps dying (too many
restarts within the policy's window) does the group give up; `check()` then raises :class:`ChildExited`
naming the child and the end of its log. Without a policy (the demo, the benchmarks) the first exit is
reported at once, as before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path


def children_of(pid: int) -> list[int]:
    """Direct children of process `pid`, whichever of its threads started them (Linux /proc lists children
    per thread); empty when the process is gone."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.extend(int(child) for child in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return children


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
    # Called before every start (the first and each restart), e.g. to remove a stale readiness marker.
    prepare: Callable[[], None] | None = None
    # Working directory (None: ours). The benchmarks pick an empty one, so no developer's .env adds settings.
    cwd: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> ManagedProcess:
        if self.prepare is not None:
            self.prepare()
        argv = [sys.executable if self.argv[0] == "python" else self.argv[0], *self.argv[1:]]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                cwd=self.cwd,
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

    def describe_exit(self) -> str:
        """ "exited with status 1" or "exited on SIGKILL" (Popen's negative codes are signals)."""
        code = self.returncode
        if code is not None and code < 0:
            try:
                return f"exited on {signal.Signals(-code).name}"
            except ValueError:
                return f"exited on signal {-code}"
        return f"exited with status {code}"

    def note(self, line: str) -> None:
        """Append a line of our own to the child's log (so a restart is visible where its output is)."""
        with suppress(OSError), self.log_path.open("a") as log:
            log.write(f"--- rbsync {time.strftime('%Y-%m-%d %H:%M:%S')}: {line} ---\n")

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


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a child that exited on its own after `first_delay`, doubling per recent restart up to
    `max_delay`; give up when it would be restarted more than `max_restarts` times within `window` s.

    Counting only the restarts inside the window makes the backoff forget: a child that ran for longer than
    the window before dying again is restarted after `first_delay`.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    max_restarts: int = 10
    window: float = 600.0
    poll_interval: float = 0.2

    def delay(self, recent_restarts: int) -> float:
        return min(self.first_delay * 2**recent_restarts, self.max_delay)


@dataclass
class _Supervision:
    restarts: int = 0  # since the run began, for the console line
    recent: deque[float] = field(default_factory=deque)  # monotonic times of restarts inside the window
    due: float | None = None  # a restart is scheduled at this monotonic time


class ProcessGroup:
    """Children started in order and stopped in reverse order; supervised when given a RestartPolicy."""

    def __init__(
        self, restart: RestartPolicy | None = None, report: Callable[[str], None] | None = None
    ) -> None:
        self.children: list[ManagedProcess] = []
        self.restart = restart
        self._report = report or (lambda _line: None)
        self._state: dict[int, _Supervision] = {}
        # Held while the supervisor looks at or (re)starts a child and while stop() marks the group as
        # stopping, so a child is never started after stop() has begun.
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._failure: ChildExited | None = None
        self._supervisor: threading.Thread | None = None

    def start(self, child: ManagedProcess) -> ManagedProcess:
        with self._lock:
            # Listed before it is started, so a signal that interrupts the start still leaves it for stop().
            self.children.append(child)
            self._state[id(child)] = _Supervision()
            try:
                child.start()
            except BaseException:
                if child.pid is None:
                    self.children.remove(child)
                raise
        if self.restart is not None and self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, name="rbsync-supervisor", daemon=True)
            self._supervisor.start()
        return child

    def restarts(self, child: ManagedProcess) -> int:
        """How often the supervisor restarted `child`."""
        state = self._state.get(id(child))
        return state.restarts if state else 0

    def check(self) -> None:
        """Raise ChildExited naming the child that stopped (unsupervised) or that the supervisor gave up on,
        with the end of its log."""
        if self._failure is not None:
            raise self._failure
        if self.restart is not None:
            return
        for child in self.children:
            if not child.running:
                raise ChildExited(
                    f"{child.name} {child.describe_exit()}; last lines of {child.log_path}:\n"
                    f"{child.log_tail()}"
                )

    def stop(self) -> None:
        with self._lock:
            # From here on nothing is restarted: every exit is one we asked for.
            self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=10)
        # Popped only once stopped: a stop that is interrupted and run again still stops every child.
        while self.children:
            self.children[-1].stop()
            self.children.pop()

    # -- supervision ---------------------------------------------------------------------------

    def _supervise(self) -> None:
        assert self.restart is not None
        while not self._stopping.wait(self.restart.poll_interval):
            lines: list[str] = []
            with self._lock:
                if self._stopping.is_set():
                    return
                carry_on = all(self._look_after(child, self.restart, lines) for child in list(self.children))
            # Printed outside the lock: a slow console must never hold up stop().
            for line in lines:
                self._report(line)
            if not carry_on:
                return

    def _look_after(self, child: ManagedProcess, policy: RestartPolicy, lines: list[str]) -> bool:
        """One look at one child (under the lock); False when the group gives up on it."""
        state = self._state[id(child)]
        now = time.monotonic()
        if state.due is None:
            if child.running:
                return True
            how = child.describe_exit()
            # The leader is gone; take whatever is left of its process group (e.g. orphaned pool children,
            # which would otherwise keep running old work next to the new worker).
            child.stop()
            while state.recent and now - state.recent[0] > policy.window:
                state.recent.popleft()
            if len(state.recent) >= policy.max_restarts:
                lines.append(
                    f"{child.name} {how}; {len(state.recent)} restarts in the last {policy.window:g} s,"
                    " giving up"
                )
                child.note(f"{child.name} {how}; not restarted again (it kept exiting)")
                self._failure = ChildExited(
                    f"{child.name} {how} and was restarted {len(state.recent)} times in the last"
                    f" {policy.window:g} s; gave up. Last lines of {child.log_path}:\n{child.log_tail()}"
                )
                return False
            delay = policy.delay(len(state.recent))
            state.restarts += 1
            state.recent.append(now + delay)
            state.due = now + delay
            line = f"{child.name} {how}; restarting in {delay:g} s (restart {state.restarts})"
            lines.append(line)
            child.note(line)
        elif now >= state.due:
            state.due = None
            try:
                child.start()
            except OSError as error:
                # It cannot even be spawned (the interpreter or log directory is gone): no backoff fixes that.
                lines.append(f"{child.name} could not be restarted ({error}), giving up")
                self._failure = ChildExited(f"{child.name} could not be restarted: {error}")
                return False
        return True


def wait_until(
    condition: Callable[[], object], timeout: float, interval: float = 0.1, group: ProcessGroup | None = None
) -> bool:
    """Poll `condition()` until it is true or `timeout` passes; a dead child ends the wait with an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if group is not None:
            group.check()
        time.sleep(interval)
    return bool(condition())
