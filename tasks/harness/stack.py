"""The whole service on one machine: Redis, the two sandboxes, the webhook receiver, a worker and beat.

`rbsync run`, `rbsync demo` and the end-to-end benchmark all need the same thing: the real service
processes (receiver, Celery worker, beat) wired to a Redis and to two API endpoints, which are either the
in-process sandboxes or the real APIs. :class:`Stack` builds that, in order, and tears it down in reverse.

Sandbox mode isolates itself: a fresh connection id (so Redis bindings of an earlier run, which point at
records of a sandbox that no longer exists, are never read) and a matching Celery key prefix, both
deleted at the end. Real mode uses the configured connection id and deletes nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis

from tasks.celery import flower_options
from tasks.harness.localredis import LocalRedis, LocalRedisError, free_port, is_loopback_url, redis_answers
from tasks.harness.processes import ManagedProcess, ProcessGroup, RestartPolicy, wait_until
from tasks.harness.workers import DEFAULT_GREEN_CONCURRENCY, DEFAULT_POOL, worker_argv, worker_specs
from tasks.settings import Settings

TOKEN_SETTINGS = (
    "RBSYNC_RACKBEAT_TOKEN",
    "RBSYNC_ECONOMIC_APP_SECRET_TOKEN",
    "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN",
)
WORKER_QUEUES = "transfers,polls,bulk,dlq"


class StackError(RuntimeError):
    """The stack could not be brought up; the message says what and where to look."""


def setting_default(name: str) -> Any:
    """A setting's default as `Settings` declares it, so the stack never writes one down a second time."""
    return Settings.model_fields[name].get_default(call_default_factory=True)


def read_dotenv(path: Path = Path(".env")) -> dict[str, str]:
    """RBSYNC_ variables of a .env file (what pydantic-settings would read), without exporting them."""
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {
        name.upper(): value or ""
        for name, value in dotenv_values(path).items()
        if name.upper().startswith("RBSYNC_")
    }


def configured(name: str, dotenv: Mapping[str, str]) -> str:
    """A setting as the service would see it: the environment wins over .env."""
    for source in (os.environ, dotenv):
        for candidate, value in source.items():
            if candidate.upper() == name:
                return value
    return ""


def real_api_mode(dotenv: Mapping[str, str]) -> bool:
    """Real APIs when every token is configured, sandboxes when none is; anything between is a mistake."""
    present = [name for name in TOKEN_SETTINGS if configured(name, dotenv).strip()]
    if present and len(present) < len(TOKEN_SETTINGS):
        missing = ", ".join(sorted(set(TOKEN_SETTINGS) - set(present)))
        raise StackError(
            f"rbsync: setting {missing}: missing"
            " (set all three tokens for the real APIs, or none for the sandboxes)"
        )
    return len(present) == len(TOKEN_SETTINGS)


def sandbox_connection_id(configured_id: str) -> str:
    """A fresh connection id for one sandbox run, under the configured one when that is not the default
    (so a test session's namespace, or an operator's, still prefixes every key we write)."""
    suffix = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    base = configured_id.strip()
    default = setting_default("connection_id")
    return f"{base}-sandbox-{suffix}" if base and base != default else f"sandbox-{suffix}"


@dataclass
class StackOptions:
    """What to start. Defaults suit `rbsync run` in sandbox mode."""

    sandbox: bool = True
    web_port: int | None = None  # None: the port of RBSYNC_PUBLIC_URL when free, else any free port
    concurrency: int = 2
    beat: bool = True
    seed_size: str | None = "tiny"
    # Which sandbox the seed goes into: "rackbeat" (the transfers' starting point), or "economic" for the
    # start-up sync (e-conomic holds the company, Rackbeat starts empty).
    seed_into: str = "rackbeat"
    # Sandbox rate limits and our own client-side budgets follow the defaults unless turned off.
    rate_limits: bool = True
    # Added to every answer of both sandboxes (the real APIs take ~100-300 ms).
    latency_ms: float = 0
    # The worker pool (tasks/harness/workers.py): "prefork" (one worker, `concurrency` processes) or
    # "gevent" (transfers on `green_concurrency` greenlets, the other queues on `concurrency` processes).
    pool: str = DEFAULT_POOL
    green_concurrency: int = DEFAULT_GREEN_CONCURRENCY
    log_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    worker_loglevel: str = "INFO"
    # Flower on this port, behind FLOWER_BASIC_AUTH (environment or .env); None: no Flower. Without
    # credentials it is not started at all: there is no default password.
    flower_port: int | None = None
    # Restart a child (receiver, worker, beat, Flower) that exits on its own, like Compose's restart policy;
    # None: the first exit stops the stack (the demo and the benchmarks, whose figures a restart would skew).
    restart: RestartPolicy | None = None
    # Where the supervisor's one line per restart goes (the console in `rbsync run`).
    report: Callable[[str], None] | None = None


@dataclass
class Endpoints:
    """Where everything is (printed for the person running it; URLs only, never tokens)."""

    redis_url: str = ""
    rackbeat_base_url: str = ""
    economic_base_url: str = ""
    economic_openapi_base_url: str = ""
    web_url: str = ""
    log_dir: str = ""
    connection_id: str = ""
    sandbox_admin: list[str] = field(default_factory=list)
    settings_file: str = ""
    temporary_redis: bool = False
    flower: str = ""  # URL, or why it was not started

    def lines(self) -> list[str]:
        lines = [
            f"Redis              {redact_url(self.redis_url)}"
            + (
                "  (temporary: started by rbsync because none answered; nothing is kept)"
                if self.temporary_redis
                else ""
            ),
            f"Rackbeat API       {self.rackbeat_base_url}",
            f"e-conomic API      {self.economic_base_url}",
            f"e-conomic OpenAPI  {self.economic_openapi_base_url}",
            f"Webhook receiver   {self.web_url}  (health: {self.web_url}/healthz)",
            *([f"Flower             {self.flower}"] if self.flower else []),
            f"Connection id      {self.connection_id}",
            f"Logs               {self.log_dir}",
        ]
        if self.sandbox_admin:
            lines.append(f"Sandbox admin      {'  '.join(self.sandbox_admin)}  (no auth; e.g. dump/products)")
        if self.settings_file:
            lines.append(
                f"Other commands     set -a; . {self.settings_file}; set +a; rbsync dlq list"
                "   (this run's settings)"
            )
        return lines


def apply_environment(env: Mapping[str, str], *, prefix: str) -> dict[str, str | None]:
    """Copy the `prefix` variables of `env` into os.environ; returns what they were (None: unset)."""
    previous: dict[str, str | None] = {}
    for name, value in env.items():
        if name.startswith(prefix):
            previous.setdefault(name, os.environ.get(name))
            os.environ[name] = value
    return previous


def restore_environment(previous: Mapping[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def write_settings_file(path: Path, env: Mapping[str, str]) -> Path:
    """This run's RBSYNC_ settings as a shell-sourceable file, readable by the owner only.

    Sandbox mode invents its tokens and connection id; with this file an operator can point other rbsync
    commands (dlq, webhooks) at the running sandbox stack. The tokens are throw-away sandbox tokens and
    the file is removed with the log directory.
    """
    import shlex

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        for name in sorted(env):
            if name.startswith("RBSYNC_"):
                handle.write(f"{name}={shlex.quote(env[name])}\n")
    return path


def redact_url(url: str) -> str:
    """A URL with any password replaced, for printing."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Stack:
    """Bring the service up (`start`), use it, and `stop` it; also a context manager."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.endpoints = Endpoints()
        self.env: dict[str, str] = {}
        self.processes = ProcessGroup(restart=self.options.restart, report=self.options.report)
        self.local_redis: LocalRedis | None = None
        self.rackbeat_sandbox: Any = None
        self.economic_sandbox: Any = None
        self._servers: list[Any] = []
        self._saved_environ: dict[str, str | None] | None = None
        self._own_log_dir = False
        # Set when something went wrong, so the children's logs outlive the run for a post-mortem.
        self.keep_logs = False
        self._namespace_to_clean: str | None = None
        self.worker: ManagedProcess | None = None
        self._user_token = ""

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Stack:
        options = self.options
        dotenv = read_dotenv()
        log_dir = options.log_dir or Path(tempfile.mkdtemp(prefix="rbsync-"))
        self._own_log_dir = options.log_dir is None
        log_dir.mkdir(parents=True, exist_ok=True)
        self.endpoints.log_dir = str(log_dir)
        env = {name: value for name, value in os.environ.items()}
        env.update(options.extra_env)

        redis_url = self._ensure_redis(configured("RBSYNC_REDIS_URL", dotenv) or setting_default("redis_url"))
        env["RBSYNC_REDIS_URL"] = redis_url
        # One Redis for both in sandbox mode (so the clean-up at exit finds everything) and whenever we
        # started our own; otherwise the configured broker.
        configured_broker = configured("RBSYNC_BROKER_URL", dotenv)
        use_own = options.sandbox or self.local_redis is not None or not configured_broker
        env["RBSYNC_BROKER_URL"] = redis_url if use_own else configured_broker

        if options.sandbox:
            connection_id = sandbox_connection_id(configured("RBSYNC_CONNECTION_ID", dotenv))
            env["RBSYNC_CONNECTION_ID"] = connection_id
            env["RBSYNC_BROKER_KEY_PREFIX"] = f"rbsync:{connection_id}:celery:"
            self._namespace_to_clean = connection_id
            env.update(self._start_sandboxes(options.rate_limits))

        web_port = options.web_port or self._default_web_port(dotenv, options.sandbox)
        web_url = f"http://127.0.0.1:{web_port}"
        if options.sandbox:
            env["RBSYNC_PUBLIC_URL"] = web_url
        if not options.rate_limits:
            env["RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE"] = "1000000"
            env["RBSYNC_ECONOMIC_BUCKET_SIZE"] = "1000000"
        env["WORKER_HEARTBEAT_FILE"] = str(log_dir / "worker.heartbeat")
        env["PYTHONUNBUFFERED"] = "1"
        self.env = env
        settings = self._apply_to_this_process(env)

        # What the children will use, read from the settings they build (defaults included).
        self.endpoints.redis_url = redis_url
        self.endpoints.temporary_redis = self.local_redis is not None
        self.endpoints.connection_id = settings.connection_id
        self.endpoints.rackbeat_base_url = settings.rackbeat_base_url
        self.endpoints.economic_base_url = settings.economic_base_url
        self.endpoints.economic_openapi_base_url = settings.economic_openapi_base_url
        self.endpoints.web_url = web_url
        if options.sandbox:
            self.endpoints.sandbox_admin = [
                url.removesuffix("api/").rstrip("/") + "/_sandbox/"
                for url in (env["RBSYNC_RACKBEAT_BASE_URL"], env["RBSYNC_ECONOMIC_BASE_URL"])
            ]
            self.endpoints.settings_file = str(write_settings_file(log_dir / "run.env", env))

        # Fail here, with the one-line message, rather than in three children at once (which the
        # supervisor would then restart, in vain).
        from tasks.credentials import check_credentials_or_exit
        from tasks.settings import check_public_url

        if not options.sandbox:
            check_public_url(settings)
            check_credentials_or_exit(settings, "rbsync run")

        self._start_children(log_dir, web_port)
        if options.flower_port is not None:
            self._start_flower(log_dir, options.flower_port, configured("FLOWER_BASIC_AUTH", dotenv))
        return self

    def _start_flower(self, log_dir: Path, port: int, basic_auth: str) -> None:
        """Flower for this run's broker; the credentials travel in its environment, never its argv."""
        if ":" not in basic_auth:
            self.endpoints.flower = "not started: set FLOWER_BASIC_AUTH=user:password (there is no default)"
            return
        flower = self.processes.start(
            ManagedProcess(
                "flower",
                [
                    "python",
                    "-m",
                    "celery",
                    "-A",
                    "tasks",
                    "flower",
                    "--address=127.0.0.1",
                    f"--port={port}",
                    *flower_options(),
                ],
                {**self.env, "FLOWER_BASIC_AUTH": basic_auth},
                log_dir / "flower.log",
            )
        )
        url = f"http://127.0.0.1:{port}"
        # /healthcheck is the one page Flower serves without authentication.
        if not wait_until(lambda: _http_ok(f"{url}/healthcheck"), timeout=30, group=self.processes):
            raise StackError(f"Flower did not answer at {url}; see {flower.log_path}")
        self.endpoints.flower = f"{url}  (basic auth from FLOWER_BASIC_AUTH)"

    def stop(self) -> None:
        self.processes.stop()
        for server in reversed(self._servers):
            with suppress(Exception):
                server.stop()
        self._servers.clear()
        for sandbox in (self.rackbeat_sandbox, self.economic_sandbox):
            close = getattr(sandbox, "close", None)
            if close is not None:
                with suppress(Exception):
                    close()
        self._clean_namespace()
        if self._saved_environ is not None:
            restore_environment(self._saved_environ)
            self._saved_environ = None
            # Forget this run's settings and connections; the next stack (if any) applies its own.
            from tasks.redis import close_pools
            from tasks.settings import reset_settings

            reset_settings()
            close_pools()
        if self.local_redis is not None:
            self.local_redis.stop()
            self.local_redis = None
        if self._own_log_dir and self.endpoints.log_dir and not (self.keep_logs and self.has_logs()):
            shutil.rmtree(self.endpoints.log_dir, ignore_errors=True)

    # -- pieces --------------------------------------------------------------------------------

    def has_logs(self) -> bool:
        """True when a child has written a log (an empty log directory is not worth keeping)."""
        directory = Path(self.endpoints.log_dir) if self.endpoints.log_dir else None
        return bool(directory and directory.is_dir() and any(directory.glob("*.log")))

    def _ensure_redis(self, url: str) -> str:
        if redis_answers(url):
            return url
        if not is_loopback_url(url):
            raise StackError(f"rbsync: setting RBSYNC_REDIS_URL: no Redis answers at {redact_url(url)}")
        # Kept before it is started: a Ctrl-C during its start-up still finds it to stop.
        self.local_redis = LocalRedis()
        try:
            self.local_redis.start()
        except LocalRedisError as error:
            self.local_redis = None
            raise StackError(
                f"rbsync: no Redis answers at {redact_url(url)} and none could be started: {error}"
            ) from None
        return self.local_redis.url

    @staticmethod
    def _default_web_port(dotenv: Mapping[str, str], sandbox: bool) -> int:
        from urllib.parse import urlsplit

        # The public URL's port; when it names none (a proxy in front on 80/443), the default URL's.
        default_url: str = setting_default("public_url")
        public = configured("RBSYNC_PUBLIC_URL", dotenv) or default_url
        wanted = urlsplit(public).port or urlsplit(default_url).port
        if wanted is None:
            raise StackError(f"rbsync: setting RBSYNC_PUBLIC_URL: no port for the receiver in {public}")
        if not sandbox:
            return wanted
        import socket

        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", wanted))
            except OSError:
                return free_port()
        return wanted

    def _start_sandboxes(self, rate_limits: bool) -> dict[str, str]:
        from tasks.harness import sandboxes

        started = sandboxes.start(
            rate_limits=rate_limits,
            seed_size=self.options.seed_size,
            seed_into=self.options.seed_into,
            latency_ms=self.options.latency_ms,
        )
        self.rackbeat_sandbox = started.rackbeat
        self.economic_sandbox = started.economic
        self._user_token = started.user_token
        self._servers.extend(started.servers)
        return started.settings_env

    def _apply_to_this_process(self, env: Mapping[str, str]) -> Settings:
        """This process reads the same settings as its children (for clients, Redis keys, webhooks);
        `stop()` puts the environment back, so a second stack in this process starts from a clean one."""
        self._saved_environ = apply_environment(env, prefix="RBSYNC_")
        return self._reload_settings()

    @staticmethod
    def _reload_settings() -> Settings:
        from tasks.redis import close_pools
        from tasks.settings import reset_settings

        reset_settings()
        close_pools()
        from tasks.celery import app, configure
        from tasks.settings import load_settings_or_exit

        settings = load_settings_or_exit()  # a missing token: one line naming it, never a traceback
        configure(app, settings)
        return settings

    def _start_children(self, log_dir: Path, web_port: int) -> None:
        options = self.options
        env = self.env
        web = self.processes.start(
            ManagedProcess("web", ["python", "-m", "web", "--port", str(web_port)], env, log_dir / "web.log")
        )
        # The workers of the pool choice (tasks/harness/workers.py); the first serves the transfers queue.
        heartbeats: list[tuple[ManagedProcess, Path]] = []
        for spec in worker_specs(options.pool, options.concurrency, options.green_concurrency):
            heartbeat = log_dir / spec.heartbeat_name
            worker = self.processes.start(
                ManagedProcess(
                    spec.name,
                    worker_argv(
                        spec,
                        hostname=f"rbsync-{spec.name}-{uuid.uuid4().hex[:6]}@%h",
                        loglevel=options.worker_loglevel,
                    ),
                    {**env, "WORKER_HEARTBEAT_FILE": str(heartbeat)},
                    log_dir / f"{spec.name}.log",
                    stop_timeout=45,
                    # The heartbeat file is the worker's readiness: a restarted worker is ready when it is
                    # written again, not because its predecessor left one behind.
                    prepare=partial(heartbeat.unlink, missing_ok=True),
                )
            )
            heartbeats.append((worker, heartbeat))
            self.worker = self.worker or worker
        if options.beat:
            self.processes.start(
                ManagedProcess(
                    "beat",
                    [
                        "python",
                        "-m",
                        "celery",
                        "-A",
                        "tasks",
                        "beat",
                        "--scheduler=redbeat.RedBeatScheduler",
                        "--loglevel=INFO",
                        f"--schedule={log_dir / 'celerybeat-schedule'}",
                    ],
                    env,
                    log_dir / "beat.log",
                )
            )
        healthz = f"http://127.0.0.1:{web_port}/healthz"
        if not wait_until(lambda: _http_ok(healthz), timeout=30, group=self.processes):
            raise StackError(f"the webhook receiver did not answer at {healthz}; see {web.log_path}")
        for worker, heartbeat in heartbeats:
            if not wait_until(heartbeat.exists, timeout=60, group=self.processes):
                raise StackError(f"the Celery worker did not become ready; see {worker.log_path}")
        # The receiver registers its webhooks with Rackbeat in the background as it starts; in sandbox
        # mode wait for that, so the first change made after start-up is already delivered.
        if options.sandbox and not wait_until(self.webhooks_registered, timeout=30, group=self.processes):
            raise StackError(f"the receiver did not register its Rackbeat webhooks; see {web.log_path}")

    def user_client(self) -> Any:
        """A Rackbeat client for changes made "as a user" (sandbox mode: its own token and budget)."""
        from clients.rackbeat import RackbeatClient
        from tasks.settings import get_settings

        settings = get_settings()
        return RackbeatClient(settings.rackbeat_base_url, self._user_token or settings.rackbeat_token)

    def webhooks_registered(self) -> bool:
        """True once the receiver's start-up registration stored a token for every handled event."""
        from tasks.entities import REGISTRY
        from tasks.redis import get_redis, key
        from tasks.webhooks import WebhookTokenStore, handled_events

        wanted = set(handled_events(REGISTRY.values()))
        return wanted <= WebhookTokenStore(get_redis(), key).events()

    def _clean_namespace(self) -> None:
        if not self._namespace_to_clean or not self.endpoints.redis_url:
            return
        if self.local_redis is None and not redis_answers(self.endpoints.redis_url):
            return
        client = redis.Redis.from_url(self.endpoints.redis_url)
        try:
            # Our keys and Celery's (its global_keyprefix sits under the same namespace).
            batch: list[bytes] = []
            for name in client.scan_iter(match=f"rbsync:{self._namespace_to_clean}:*", count=1000):
                batch.append(name)
                if len(batch) >= 500:
                    client.delete(*batch)
                    batch.clear()
            if batch:
                client.delete(*batch)
        except redis.RedisError:
            pass
        finally:
            client.close()
        self._namespace_to_clean = None

    def check(self) -> None:
        """Raise if a child died, or with `options.restart` kept dying (the run loop calls this)."""
        self.processes.check()


def _http_ok(url: str) -> bool:
    """True once `url` answers 2xx (for /healthz: the receiver is up and reaches Redis and the broker)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except OSError:
        return False
