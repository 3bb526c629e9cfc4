"""`rbsync run` end to end: with no Redis at the configured URL it starts its own, brings up the sandboxes,
receiver, worker and beat, prints the simulated activity's transfers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tasks.cli.localredis import free_port

RBSYNC = Path(sys.executable).parent / "rbsync"


def port_open(url: str) -> bool:
    match = re.search(r"//([\d.]+):(\d+)", url)
    assert match, url
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((match.group(1), int(match.group(2)))) == 0


class Output:
    """Lines of a child's stdout, read in a thread so the test can wait for one with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if match := re.search(pattern, line):
                return match
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; output so far:\n" + "\n".join(self.lines))

    def rest(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                return
            self.lines.append(line)


@pytest.mark.slow
def test_run_starts_everything_shows_transfers_and_stops_on_sigterm(tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env["RBSYNC_REDIS_URL"] = dead_redis
    process = subprocess.Popen(
        [str(RBSYNC), "run", "--interval", "0.5", "--seed-size", "tiny", "--web-port", str(free_port())],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        redis_line = output.wait_for(r"Redis\s+(redis://\S+)", timeout=60)
        receiver = output.wait_for(r"Webhook receiver\s+(http://\S+)", timeout=10).group(1)
        # Nothing answered at the configured URL, so it started a Redis of its own elsewhere.
        assert redis_line.group(1) != dead_redis
        output.wait_for(r"Transfers \(Ctrl-C to stop\)", timeout=60)
        output.wait_for(r"product\s+SIM-\d{4}\s+created\s+e-conomic SIM-\d{4}", timeout=60)
        assert port_open(receiver)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
        output.rest(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = "\n".join(output.lines)
    assert "rbsync: stopped" in text
    # Everything it started is gone: the receiver and its own Redis no longer listen.
    assert not port_open(receiver)
    assert not port_open(redis_line.group(1))
    # The sandbox tokens (32 hex characters each) are never printed.
    assert not re.search(r"\b[0-9a-f]{32}\b", text)
