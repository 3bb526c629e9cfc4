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

import httpx
import pytest

from tasks.harness.localredis import free_port
from tasks.harness.processes import children_of, wait_until

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

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> re.Match[str]:
        """The first line matching `pattern` among the lines from index `after` on, waiting for it."""
        deadline = time.monotonic() + timeout
        for line in self.lines[after:]:
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
    env["FLOWER_BASIC_AUTH"] = "operator:run-test-flower-password"
    flower_port = free_port()
    process = subprocess.Popen(
        [
            str(RBSYNC),
            "run",
            "--interval",
            "0.5",
            "--seed-size",
            "tiny",
            "--web-port",
            str(free_port()),
            "--flower-port",
            str(flower_port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        redis_line = output.wait_for(r"Redis\s+(redis://\S+)(.*)", timeout=60)
        receiver = output.wait_for(r"Webhook receiver\s+(http://\S+)", timeout=10).group(1)
        # Nothing answered at the configured URL, so it started a Redis of its own elsewhere.
        assert redis_line.group(1) != dead_redis
        assert "temporary" in redis_line.group(2)
        output.wait_for(r"Transfers \(Ctrl-C to stop\)", timeout=60)
        output.wait_for(r"product\s+SIM-\d{4}\s+created\s+e-conomic SIM-\d{4}", timeout=60)
        assert port_open(receiver)
        # Flower runs behind the basic auth it was given, and shows the transfer tasks.
        flower = output.wait_for(r"Flower\s+(http://\S+)", timeout=10).group(1)
        assert httpx.get(f"{flower}/api/workers", timeout=10).status_code == 401
        operator = ("operator", "run-test-flower-password")
        tasks_page = httpx.get(f"{flower}/api/tasks", auth=operator, timeout=10)
        assert tasks_page.status_code == 200
        assert any(task.get("name") == "rbsync.export_record" for task in tasks_page.json().values())
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
    assert not port_open(flower)
    assert not port_open(redis_line.group(1))
    assert "run-test-flower-password" not in text
    # The sandbox tokens (32 hex characters each) are never printed.
    assert not re.search(r"\b[0-9a-f]{32}\b", text)


@pytest.mark.slow
def test_with_tokens_in_dot_env_it_runs_against_those_apis_and_starts_no_sandbox(
    tmp_path: Path,
    redis_url: str,
    session_namespace: str,
    redis_client: object,
    rackbeat_server_factory,
    economic_server_factory,
) -> None:
    """The "real APIs" are sandboxes started by the test, so only their URLs and tokens tell them apart."""
    rackbeat_token, app_secret, grant = "rb-token-for-real-mode", "app-secret-real-mode", "grant-real-mode"
    rackbeat = rackbeat_server_factory(token=rackbeat_token)
    economic = economic_server_factory(app_secret_token=app_secret, agreement_grant_token=grant)
    web_port = free_port()
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                f"RBSYNC_REDIS_URL={redis_url}",
                f"RBSYNC_CONNECTION_ID={session_namespace}-real",
                f"RBSYNC_BROKER_KEY_PREFIX={session_namespace}-real:",
                f"RBSYNC_RACKBEAT_BASE_URL={rackbeat.api_url}",
                f"RBSYNC_RACKBEAT_TOKEN={rackbeat_token}",
                f"RBSYNC_ECONOMIC_BASE_URL={economic.api_url}",
                f"RBSYNC_ECONOMIC_OPENAPI_BASE_URL={economic.api_url}",
                f"RBSYNC_ECONOMIC_APP_SECRET_TOKEN={app_secret}",
                f"RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN={grant}",
                f"RBSYNC_PUBLIC_URL=http://127.0.0.1:{web_port}",
            ]
        )
        + "\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    process = subprocess.Popen(
        [str(RBSYNC), "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        output.wait_for(r"against the real APIs", timeout=30)
        assert output.wait_for(r"Rackbeat API\s+(\S+)", timeout=60).group(1) == rackbeat.api_url
        output.wait_for(r"Transfers \(Ctrl-C to stop\)", timeout=60)
        # The receiver registers its webhooks with "Rackbeat" in the background; then a change there is
        # transferred like in production.
        deadline = time.monotonic() + 30
        while not rackbeat.sandbox.counts().get("webhooks") and time.monotonic() < deadline:
            time.sleep(0.2)
        rackbeat.sandbox.create("product-groups", {"number": 77, "name": "Real mode"})
        rackbeat.sandbox.create(
            "products", {"number": "REAL-1", "name": "Real", "group_id": 77, "sales_price": 5}
        )
        output.wait_for(r"product\s+REAL-1\s+created\s+e-conomic REAL-1", timeout=60)
        visible = httpx.get(f"{economic.api_url}products/REAL-1", headers=economic.headers, timeout=10)
        assert visible.status_code == 200 and visible.json()["name"] == "Real"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
        output.rest(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = "\n".join(output.lines)
    assert "Sandbox admin" not in text
    assert "Simulated activity" not in text
    for token in (rackbeat_token, app_secret, grant):
        assert token not in text


def worker_main_pid(run_pid: int) -> int | None:
    """The Celery worker's main process among the children of `rbsync run`."""
    for pid in children_of(run_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"celery" in argv and b"worker" in argv:
            return pid
    return None


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.slow
def test_run_brings_a_killed_worker_back_and_transfers_go_on(
    tmp_path: Path, redis_url: str, session_namespace: str, redis_client: object
) -> None:
    """The finding behind the supervisor: a worker main process that dies (there: kombu crashing on a Redis
    drop) must not leave the records waiting. SIGKILL is the bluntest way to die."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env.update({"RBSYNC_REDIS_URL": redis_url, "RBSYNC_CONNECTION_ID": session_namespace})
    process = subprocess.Popen(
        [
            str(RBSYNC),
            "run",
            "--interval",
            "0.5",
            "--seed-size",
            "tiny",
            "--web-port",
            str(free_port()),
            "--flower-port",
            "0",
            "--pool",
            "prefork",  # a worker with pool processes (gevent, the default, runs transfers in its main one)
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    transfer = r"product\s+SIM-\d{4}\s+(created|replaced)\s"
    try:
        logs = Path(output.wait_for(r"Logs\s+(\S+)", timeout=60).group(1))
        worker_log, heartbeat = logs / "worker.log", logs / "worker.heartbeat"
        output.wait_for(r"Transfers \(Ctrl-C to stop\)", timeout=60)
        output.wait_for(transfer, timeout=30)
        old_worker = worker_main_pid(process.pid)
        assert old_worker is not None
        old_pool = children_of(old_worker)
        assert old_pool, "the worker has pool processes"

        os.kill(old_worker, signal.SIGKILL)
        output.wait_for(r"worker exited on SIGKILL; restarting in 1 s \(restart 1\)$", timeout=15)
        # The killed worker's pool processes are gone (they would otherwise keep working beside the new one).
        assert wait_until(lambda: not any(alive(pid) for pid in old_pool), timeout=5), "pool lives on"
        # A new worker main process comes up ...
        deadline = time.monotonic() + 20
        while (new_worker := worker_main_pid(process.pid)) in {None, old_worker}:
            assert time.monotonic() < deadline, "no new worker process"
            time.sleep(0.1)
        # ... becomes ready (its heartbeat file was removed before it started, so this one is its own) ...
        assert wait_until(heartbeat.exists, timeout=20)

        # ... and transfers what changes from then on: the new worker's own log shows finished transfers.
        def new_worker_transferred() -> bool:
            after_restart = worker_log.read_text(errors="replace").split("restarting in 1 s (restart 1)")[-1]
            return bool(re.search(r"Task rbsync\.export_record\[[^]]+\] succeeded", after_restart))

        assert wait_until(new_worker_transferred, timeout=30)
        restarted_at = len(output.lines)
        output.wait_for(transfer, timeout=30, after=restarted_at)
        assert alive(new_worker)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
        output.rest(timeout=5)
    finally:
        if process.poll() is None:
            # SIGTERM first: a SIGKILLed `rbsync run` cannot stop its children, which would outlive the test.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    text = "\n".join(output.lines)
    assert "rbsync: stopped" in text
    # Our own stop restarted nothing: the one restart line is the kill's.
    assert len(re.findall(r"restarting in", text)) == 1
    assert not alive(new_worker)
