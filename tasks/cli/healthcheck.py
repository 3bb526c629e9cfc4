"""Cheap container health checks that do not ask the worker anything.

`celery inspect ping` as a probe round-trips the broker through the worker and can mark a busy worker as
dead. Instead the worker touches a heartbeat file from its main process: load this module into the worker
with `celery -A tasks worker -I tasks.cli.healthcheck` and the file is refreshed on every Celery heartbeat
(about every 2 s) and at `worker_ready`. The probe is then a file-age check:

    python -m tasks.cli.healthcheck file [--path P] [--max-age 60]
    python -m tasks.cli.healthcheck http http://127.0.0.1:8000/healthz
    python -m tasks.cli.healthcheck beat          (some RedBeat scheduler holds its lock in Redis)

Compose runs each probe as a script (`python -I /app/tasks/cli/healthcheck.py ...`), which imports
neither the `tasks` package (the whole Celery app, settings and CLI) nor, but for `beat` (redis-py),
anything beyond the standard library.

A worker that lost its broker stops sending heartbeats, so it turns unhealthy too: exactly the "alive but
consuming nothing" case worth seeing.

The `file` probe runs every 30 s in every worker container, so it must cost next to nothing: Compose runs
this file as a script (`python -I /app/tasks/cli/healthcheck.py file ...`), which imports neither the
`tasks` package (the whole Celery app, settings and CLI) nor anything but a few standard modules. Keep
module-level imports to the standard library; the other probes import what they need inside.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# WORKER_HEARTBEAT_FILE lets several workers on one machine (rbsync run, tests) keep separate files.
DEFAULT_HEARTBEAT_FILE = Path(
    os.environ.get("WORKER_HEARTBEAT_FILE") or Path(tempfile.gettempdir()) / "rbsync-worker.heartbeat"
)


def touch_heartbeat(path: Path = DEFAULT_HEARTBEAT_FILE) -> None:
    path.touch(exist_ok=True)
    os.utime(path, None)


def _on_heartbeat(*_args: Any, **_kwargs: Any) -> None:
    touch_heartbeat()


def _connect_worker_signals() -> None:
    """Refresh the heartbeat file from the main process of a worker started with this module included
    (`celery worker --include tasks.cli.healthcheck`)."""
    from celery import signals

    signals.worker_ready.connect(_on_heartbeat, weak=False)
    signals.heartbeat_sent.connect(_on_heartbeat, weak=False)


# Run as a probe (a script or `python -m`), the module needs no Celery; imported, it serves a worker.
if __name__ != "__main__":
    _connect_worker_signals()


def heartbeat_age(path: Path = DEFAULT_HEARTBEAT_FILE) -> float | None:
    """Seconds since the heartbeat file was touched, or None when it does not exist."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def check_file(path: Path, max_age: float) -> tuple[bool, str]:
    age = heartbeat_age(path)
    if age is None:
        return False, f"no heartbeat file at {path}"
    if age > max_age:
        return False, f"last heartbeat {age:.0f} s ago (limit {max_age:.0f} s)"
    return True, f"heartbeat {age:.1f} s ago"


def check_http(url: str, timeout: float) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except (urllib.error.URLError, OSError) as error:
        return False, f"{url}: {error}"


def beat_lock_key(connection_id: str) -> str:
    """RedBeat's lock key for a connection (``tasks.celery.build_config``'s ``redbeat_lock_key``; a test
    keeps the two equal)."""
    return f"rbsync:{connection_id}:redbeat:lock"


def check_beat(environ: Any = os.environ) -> tuple[bool, str]:
    """RedBeat keeps a lock key alive while a scheduler runs; its absence means no beat is scheduling.

    Reads the Redis URL and connection id from the environment and imports only redis-py, so the probe
    costs little more than the file probe (not the Celery app with its settings)."""
    import redis

    url = environ.get("RBSYNC_REDIS_URL") or "redis://127.0.0.1:6379/0"
    connection_id = environ.get("RBSYNC_CONNECTION_ID") or "default"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        holds_lock = bool(client.exists(beat_lock_key(connection_id)))
        client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        return False, f"Redis: {type(error).__name__}"
    return holds_lock, "RedBeat lock held" if holds_lock else "no RedBeat lock (no active scheduler)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasks.cli.healthcheck")
    sub = parser.add_subparsers(dest="probe", required=True)
    file_probe = sub.add_parser("file", help="worker liveness: the heartbeat file is recent")
    file_probe.add_argument("--path", type=Path, default=DEFAULT_HEARTBEAT_FILE)
    file_probe.add_argument("--max-age", type=float, default=60.0)
    http_probe = sub.add_parser("http", help="an HTTP endpoint answers 2xx")
    http_probe.add_argument("url")
    http_probe.add_argument("--timeout", type=float, default=5.0)
    sub.add_parser("beat", help="a RedBeat scheduler holds its lock")
    args = parser.parse_args(argv)
    if args.probe == "file":
        healthy, detail = check_file(args.path, args.max_age)
    elif args.probe == "beat":
        healthy, detail = check_beat()
    else:
        healthy, detail = check_http(args.url, args.timeout)
    print(("healthy: " if healthy else "unhealthy: ") + detail)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
