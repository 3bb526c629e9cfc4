"""The stack a chaos scenario breaks: its own AOF Redis, both sandboxes, the receiver and a prefork worker.

(A leading underscore keeps `python -m bench` from running it; `bench.chaos` and tests/chaos use it.)

Unlike `tasks.harness.stack.Stack`, nothing here touches this process's environment, settings or Celery app:
the children get an explicit environment, and this process reads Redis and the sandboxes directly. So a
test session can run a chaos stack next to its own fixtures, and every fault (a Redis stopped or killed,
a worker or one of its pool processes SIGKILLed) is one this class can also undo.

- Redis: `LocalRedis(appendonly=True)` on a port of its own, AOF fsynced on every write; `stop_redis(kill=)`
  and `start_redis()` restart it on its AOF. Never the shared Redis on 6379.
- Sandboxes: `tasks.harness.sandboxes.start` in this process (fresh tokens, no rate limits), so the scenario
  writes "as a user" straight into Rackbeat (whose webhooks fire) and reads e-conomic's store.
- Receiver: `python -m web`, which registers its webhooks with the Rackbeat sandbox as it starts.
- Worker: `celery -A tasks worker --pool prefork -c 2` with the heartbeat file of `tasks.cli.healthcheck`;
  with `ChaosSettings(pool="gevent")` the topology of tasks/harness/workers.py instead: the transfers on a
  gevent worker (`green_concurrency` greenlets in one process, which is therefore what a "pool kill"
  SIGKILLs: it has no pool children) and polls,bulk,dlq on a prefork worker beside it.
- Settings (`ChaosSettings`): a visibility timeout of seconds (`RBSYNC_VISIBILITY_TIMEOUT_SECONDS`), so a
  message whose worker died is back in seconds, and many retries with short backoff, so faults are outlasted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import redis

from tasks.harness.localredis import LocalRedis, free_port
from tasks.harness.processes import ManagedProcess, children_of
from tasks.harness.workers import worker_argv, worker_specs

ROOT = Path(__file__).resolve().parents[1]
QUEUES = ("transfers", "polls", "bulk", "dlq")
# kombu keeps a priority queue as the list itself plus lists named `<queue>\x06\x16<step>`.
PRIORITY_SEPARATOR = "\x06\x16"


class ChaosStackError(RuntimeError):
    """The stack could not be brought up (or back up); the message names the log to read."""


@dataclass(frozen=True)
class ChaosSettings:
    """The service settings of a chaos run (as RBSYNC_* variables for the children)."""

    visibility_timeout_seconds: int = 5
    concurrency: int = 2
    # "prefork" (one worker, every queue) or "gevent" (tasks/harness/workers.py)
    pool: str = "prefork"
    green_concurrency: int = 20
    # added to every answer of both sandboxes for the whole run (a scenario may raise Rackbeat's meanwhile)
    latency_ms: float = 0
    transfer_max_retries: int = 60
    retry_backoff_base_seconds: float = 0.2
    retry_backoff_max_seconds: float = 2.0
    # Short, so a record lock left by a killed transfer expires soon (lock TTL = limit + 5 s); a transfer
    # here takes well under a second, and the HTTP timeout keeps every call far below the soft limit.
    transfer_time_limit_seconds: int = 10
    http_timeout_seconds: float = 3.0
    max_redeliveries: int = 10
    worker_loglevel: str = "INFO"
    # modules the worker imports besides the app's (a test's hooks, e.g. tests/e2e/prerun_gate.py)
    worker_includes: tuple[str, ...] = ()

    def env(self) -> dict[str, str]:
        return {
            "RBSYNC_VISIBILITY_TIMEOUT_SECONDS": str(self.visibility_timeout_seconds),
            "RBSYNC_TRANSFER_MAX_RETRIES": str(self.transfer_max_retries),
            "RBSYNC_RETRY_BACKOFF_BASE_SECONDS": str(self.retry_backoff_base_seconds),
            "RBSYNC_RETRY_BACKOFF_MAX_SECONDS": str(self.retry_backoff_max_seconds),
            "RBSYNC_TRANSFER_TIME_LIMIT_SECONDS": str(self.transfer_time_limit_seconds),
            "RBSYNC_HTTP_TIMEOUT_SECONDS": str(self.http_timeout_seconds),
            "RBSYNC_MAX_REDELIVERIES": str(self.max_redeliveries),
            # No rate pressure: the scenarios inject their own 429s.
            "RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE": "1000000",
            "RBSYNC_ECONOMIC_BUCKET_SIZE": "1000000",
            "RBSYNC_WORKER_SOFT_SHUTDOWN_SECONDS": "0",
        }


def wait(condition: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll `condition()` until it is truthy or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


class ChaosStack:
    """`start()`, break it with the methods below, `stop()`; also a context manager."""

    def __init__(
        self, settings: ChaosSettings | None = None, *, label: str = "chaos", log_dir: Path | None = None
    ) -> None:
        self.settings = settings or ChaosSettings()
        self.connection_id = f"{label}-{uuid.uuid4().hex[:8]}"
        self.broker_prefix = f"rbsync:{self.connection_id}:celery:"
        self._own_log_dir = log_dir is None
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix=f"rbsync-{label}-"))
        self.keep_logs = False
        self.redis_server: LocalRedis | None = None
        self.rackbeat: Any = None
        self.economic: Any = None
        self.tokens: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.web_url = ""
        self.receiver: ManagedProcess | None = None
        self.worker: ManagedProcess | None = None  # the one serving the transfers queue
        self.other_workers: list[ManagedProcess] = []  # gevent topology: the prefork polls,bulk,dlq worker
        self.worker_restarts = 0
        self._servers: list[Any] = []
        self._client: redis.Redis | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> ChaosStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ChaosStack:
        from tasks.harness import sandboxes

        self.redis_server = LocalRedis(appendonly=True).start()
        started = sandboxes.start(rate_limits=False, seed_size=None, latency_ms=self.settings.latency_ms)
        self.rackbeat, self.economic = started.rackbeat, started.economic
        self._servers = list(started.servers)
        sandbox_env = started.settings_env
        self.tokens = {
            "rackbeat token": sandbox_env["RBSYNC_RACKBEAT_TOKEN"],
            "e-conomic app secret token": sandbox_env["RBSYNC_ECONOMIC_APP_SECRET_TOKEN"],
            "e-conomic agreement grant token": sandbox_env["RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN"],
            "rackbeat user token": started.user_token,
        }
        port = free_port()
        self.web_url = f"http://127.0.0.1:{port}"
        env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
        env.update(sandbox_env)
        env.update(self.settings.env())
        env.update(
            {
                "RBSYNC_REDIS_URL": self.redis_server.url,
                "RBSYNC_BROKER_URL": self.redis_server.url,
                "RBSYNC_CONNECTION_ID": self.connection_id,
                "RBSYNC_BROKER_KEY_PREFIX": self.broker_prefix,
                "RBSYNC_PUBLIC_URL": self.web_url,
                "WORKER_HEARTBEAT_FILE": str(self.heartbeat),
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            }
        )
        self.env = env
        self.receiver = ManagedProcess(
            "web",
            ["python", "-m", "web", "--host", "127.0.0.1", "--port", str(port)],
            env,
            self.log_dir / "web.log",
            stop_timeout=10,
            cwd=self.log_dir,
        )
        workers = []
        for spec in worker_specs(
            self.settings.pool, self.settings.concurrency, self.settings.green_concurrency
        ):
            heartbeat = self.log_dir / spec.heartbeat_name
            argv = worker_argv(
                spec,
                hostname=f"chaos-{spec.name}-{uuid.uuid4().hex[:6]}@%h",
                loglevel=self.settings.worker_loglevel,
                includes=self.settings.worker_includes,
                extra=("--without-gossip", "--without-mingle"),
            )
            workers.append(
                ManagedProcess(
                    spec.name,
                    argv,
                    {**env, "WORKER_HEARTBEAT_FILE": str(heartbeat)},
                    self.log_dir / f"{spec.name}.log",
                    stop_timeout=20,
                    prepare=partial(heartbeat.unlink, missing_ok=True),
                    cwd=self.log_dir,
                )
            )
        self.worker, self.other_workers = workers[0], workers[1:]
        receiver = self.receiver
        receiver.start()
        for worker in workers:
            worker.start()
        if not wait(lambda: _http_ok(f"{self.web_url}/healthz") or not receiver.running, 30, 0.1):
            raise ChaosStackError(f"the receiver did not answer; see {self.receiver.log_path}")
        for other in self.other_workers:
            self._wait_ready(other, self.log_dir / f"{other.name}.heartbeat")
        self.wait_worker_ready()
        if not wait(self.webhooks_registered, 30, 0.1):
            raise ChaosStackError(f"the receiver did not register its webhooks; see {self.receiver.log_path}")
        return self

    def stop(self) -> None:
        # The run is over and counted: the workers are killed, not shut down warm (a gevent worker's warm
        # shutdown took up to 10 s, for nothing anyone reads). Their messages stay in this stack's Redis.
        for worker in (*self.other_workers, self.worker):
            if worker is not None and worker.pid is not None:
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(worker.pid, signal.SIGKILL)
        for child in (*self.other_workers, self.worker, self.receiver):
            if child is not None:
                with suppress(Exception):
                    child.stop()
        for server in reversed(self._servers):
            with suppress(Exception):
                server.stop()
        self._servers.clear()
        for sandbox in (self.rackbeat, self.economic):
            with suppress(Exception):
                sandbox.close()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.redis_server is not None:
            self.redis_server.cleanup()
            self.redis_server = None
        if self._own_log_dir and not self.keep_logs:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    # -- reading the store ---------------------------------------------------------------------

    @property
    def heartbeat(self) -> Path:
        return self.log_dir / "worker.heartbeat"

    @property
    def redis(self) -> redis.Redis:
        """A client on the stack's Redis with short timeouts (calls fail fast while it is down)."""
        if self._client is None:
            assert self.redis_server is not None, "stack not started"
            self._client = redis.Redis.from_url(
                self.redis_server.url, decode_responses=True, socket_timeout=3, socket_connect_timeout=1
            )
        return self._client

    def key(self, *parts: object) -> str:
        from tasks.redis import key

        return key(*parts, connection_id=self.connection_id)

    def webhooks_registered(self) -> bool:
        """Every event the receiver handles has a webhook in Rackbeat and its token in our Redis."""
        from tasks.entities import REGISTRY
        from tasks.webhooks import WebhookTokenStore, handled_events

        wanted = set(handled_events(REGISTRY.values()))
        try:
            stored = WebhookTokenStore(self.redis, self.key).events()
        except redis.RedisError:
            return False
        return wanted <= stored

    def webhook_tokens(self) -> dict[str, str]:
        """Event -> the token Rackbeat sends with it (what a delivery must carry)."""
        return {
            hook["event"]: hook["token"]
            for hook in self.rackbeat.webhooks.hooks.values()
            if hook["url"].startswith(self.web_url)
        }

    def in_flight(self) -> list[dict[str, Any]]:
        """Transfers running right now in a pool process of the current worker: their delivery counter
        (`deliveries:<task id>`) exists and Celery's STARTED state names that process. Each as
        {"task_id", "pid", "kind", "key"}; a counter left by a killed process does not count."""
        try:
            pids = set(self.pool_pids()) if self.worker is not None and self.worker.running else set()
            found = []
            for name in self.redis.scan_iter(match=self.key("deliveries", "*"), count=1000):
                task_id = name.rsplit(":", 1)[1]
                raw = self.redis.get(f"{self.broker_prefix}celery-task-meta-{task_id}")
                meta = json.loads(raw) if raw else {}
                pid = (meta.get("result") or {}).get("pid") if meta.get("status") == "STARTED" else None
                if pid in pids:
                    kind, key = [*(meta.get("args") or []), None, None][:2]
                    found.append({"task_id": task_id, "pid": pid, "kind": kind, "key": key})
            return found
        except (redis.RedisError, ValueError, AttributeError):
            return []

    def busy(self) -> dict[str, int] | None:
        """What is still to do: messages queued, unacked (running or waiting for a retry's ETA), pending
        markers, webhook deliveries Rackbeat still tries to make; None while Redis does not answer."""
        client = self.redis
        try:
            queued = 0
            for queue in QUEUES:
                for name in client.scan_iter(match=f"{self.broker_prefix}{queue}*", count=1000):
                    rest = name[len(self.broker_prefix) + len(queue) :]
                    if not rest or rest.startswith(PRIORITY_SEPARATOR):
                        queued += int(client.llen(name))
            unacked = int(client.hlen(f"{self.broker_prefix}unacked"))
            pending = sum(1 for _ in client.scan_iter(match=self.key("pending", "*"), count=1000))
        except redis.RedisError:
            return None
        return {
            "queued": queued,
            "unacked": unacked,
            "pending": pending,
            "webhooks": int(self.rackbeat.dispatcher.pending),
        }

    def events_length(self) -> int | None:
        try:
            return int(self.redis.xlen(self.key("events")))
        except redis.RedisError:
            return None

    # -- breaking it ---------------------------------------------------------------------------

    def wait_worker_ready(self, timeout: float = 60) -> None:
        assert self.worker is not None
        self._wait_ready(self.worker, self.heartbeat, timeout)

    @staticmethod
    def _wait_ready(worker: ManagedProcess, heartbeat: Path, timeout: float = 60) -> None:
        if not wait(lambda: heartbeat.exists() or not worker.running, timeout, 0.1):
            raise ChaosStackError(f"the {worker.name} did not become ready; see {worker.log_path}")
        if not worker.running:
            raise ChaosStackError(
                f"the {worker.name} {worker.describe_exit()}; see {worker.log_path}:\n{worker.log_tail()}"
            )

    @property
    def green(self) -> bool:
        """The transfers run on greenlets of the worker process itself (no pool children)."""
        return self.settings.pool == "gevent"

    def pool_pids(self) -> list[int]:
        """The processes that run transfers: the prefork worker's pool (children of its main process), or
        the gevent worker itself."""
        assert self.worker is not None and self.worker.pid is not None
        if self.green:
            return [self.worker.pid] if self.worker.running else []
        return sorted(children_of(self.worker.pid))

    def kill_pool_process(self, victim: int, timeout: float = 30) -> int:
        """SIGKILL pool process `victim` of the worker; returns once the worker has replaced it. On the gevent
        worker the victim is the worker process itself, every transfer it runs with it: SIGKILLed, then
        started again as a supervisor would (its unacked messages come back after the visibility timeout)."""
        before = self.pool_pids()
        if victim not in before:
            raise ChaosStackError(f"{victim} is not a pool process of the worker ({before})")
        if self.green:
            worker = self.worker
            assert worker is not None
            os.kill(victim, signal.SIGKILL)
            if not wait(lambda: not worker.running, 10, 0.05):
                raise ChaosStackError(f"the gevent worker {victim} did not die of SIGKILL")
            self.restart_worker()
            return victim
        os.kill(victim, signal.SIGKILL)
        replaced = wait(
            lambda: victim not in (now := self.pool_pids()) and len(now) >= len(before), timeout, 0.05
        )
        if not replaced:
            raise ChaosStackError(f"the worker did not replace pool process {victim} within {timeout:.0f} s")
        return victim

    def kill_worker(self) -> None:
        """SIGKILL the whole worker (main process and pool): nothing is acked, nothing requeued."""
        worker = self.worker
        assert worker is not None and worker.pid is not None
        with suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        wait(lambda: not worker.running, 10, 0.05)

    def restart_worker(self) -> None:
        assert self.worker is not None
        self.worker.note("chaos: worker started again after SIGKILL")
        self.worker.start()
        self.worker_restarts += 1
        self.wait_worker_ready()

    def revive_worker(self) -> str | None:
        """Start the worker again if it exited without being told to, as the deployment's supervisor would
        (compose's `restart: unless-stopped`, `rbsync run`'s supervision); returns how it had ended (its
        exit and the last CRITICAL line of its log), None when it is running."""
        if self.worker is None or self.worker.pid is None or self.worker.running:
            return None
        critical = [line for line in self.worker.log_tail(400).splitlines() if "CRITICAL" in line]
        ended = self.worker.describe_exit() + (f" after {critical[-1].strip()}" if critical else "")
        self.worker.note(f"chaos: worker {ended}; started again, as a supervisor would")
        self.worker.start()
        self.worker_restarts += 1
        self.wait_worker_ready()
        return ended

    def run_stale_marker_sweep(self) -> int:
        """The stale-marker sweep of the deployment's change poll (beat runs it every poll interval;
        there is no beat here): re-queues the transfer of each record whose message vanished from the
        broker (tasks/polls.py). Run in a child with the stack's environment, so it publishes to the
        stack's broker; returns how many it queued again."""
        import subprocess
        import sys

        program = (
            "from tasks.polls import _broker_client, requeue_stale_markers\n"
            "from tasks.redis import get_redis\n"
            "from tasks.settings import get_settings\n"
            "import logging; logging.basicConfig(level=logging.WARNING)\n"
            "s = get_settings()\n"
            "print(requeue_stale_markers(get_redis(), _broker_client(s), s))\n"
        )
        answer = subprocess.run(
            [sys.executable, "-c", program], env=self.env, capture_output=True, text=True, timeout=60
        )
        with (self.log_dir / "sweep.log").open("a") as log:  # its warnings name each task that vanished
            log.write(answer.stderr)
        if answer.returncode != 0:
            raise ChaosStackError(f"the stale-marker sweep failed: {answer.stderr.strip()[-500:]}")
        return int(answer.stdout.strip().splitlines()[-1])

    def stop_redis(self, *, kill: bool) -> None:
        assert self.redis_server is not None
        self.redis_server.stop(kill=kill)

    def start_redis(self) -> None:
        assert self.redis_server is not None
        self.redis_server.start()

    # -- what a post-mortem needs ---------------------------------------------------------------

    def log_files(self) -> list[Path]:
        return sorted(path for path in self.log_dir.iterdir() if path.is_file() and path.suffix == ".log")

    def aof_files(self) -> list[Path]:
        """Every file of the AOF (Redis 7 keeps a directory of base and increment files)."""
        assert self.redis_server is not None and self.redis_server._workdir is not None
        folder = Path(self.redis_server._workdir.name)
        return sorted(path for path in folder.rglob("*") if path.is_file())

    def copy_aof_to_logs(self) -> None:
        """Keep the AOF next to the logs (`<log dir>/aof/`) for a post-mortem; the stack deletes its own."""
        target = self.log_dir / "aof"
        target.mkdir(exist_ok=True)
        for path in self.aof_files():
            shutil.copy2(path, target / path.name)

    def check_children(self) -> list[str]:
        """Children that died without being told to (a chaos run may then keep its logs)."""
        return [
            f"{child.name} {child.describe_exit()}"
            for child in (self.receiver, self.worker, *self.other_workers)
            if child is not None and child.pid is not None and not child.running
        ]
