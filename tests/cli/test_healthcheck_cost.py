"""The container health checks Compose runs every 15-30 s must cost next to nothing: the worker's (heartbeat
file) and the receiver's and Flower's (HTTP) probes import a few standard modules, not the Celery app, the
settings or the CLI (importing `tasks` costs about 0.45 s of CPU and 54 MB; the script 0.04 s and 13 MB).

The commands are taken from docker-compose.yml as they are, with the image's /app replaced by this
checkout, and run under `python -X importtime`, which lists every module the run imports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Nothing of the service and none of its heavy dependencies may be imported by these probes.
HEAVY = (
    "tasks",
    "celery",
    "kombu",
    "billiard",
    "redis",
    "redbeat",
    "pydantic",
    "pydantic_settings",
    "click",
    "httpx",
    "starlette",
    "uvicorn",
    "flower",
    "web",
    "clients",
)


def compose_probe(service: str) -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    test = compose["services"][service]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python", test
    return [sys.executable, *(part.replace("/app/", f"{ROOT}/") for part in test[2:])]


def imported_modules(command: list[str], **env: str) -> tuple[int, str, set[str]]:
    """Exit status, output and top-level names of every module the command imported."""
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={**os.environ, **env},
    )
    modules = {
        match.group(1).split(".")[0]
        for match in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", done.stderr, re.MULTILINE)
    }
    return done.returncode, done.stdout, modules


def test_the_worker_probe_reads_the_heartbeat_without_importing_the_app(tmp_path: Path) -> None:
    heartbeat = tmp_path / "worker.heartbeat"
    heartbeat.touch()
    command = compose_probe("worker")
    assert "file" in command

    status, output, modules = imported_modules(command, WORKER_HEARTBEAT_FILE=str(heartbeat))
    assert status == 0, output
    assert "argparse" in modules  # the listing works
    assert sorted(set(HEAVY) & modules) == []

    os.utime(heartbeat, (time.time() - 3600, time.time() - 3600))
    status, output, _ = imported_modules(command, WORKER_HEARTBEAT_FILE=str(heartbeat))
    assert status == 1 and "unhealthy" in output
    heartbeat.unlink()
    status, output, _ = imported_modules(command, WORKER_HEARTBEAT_FILE=str(heartbeat))
    assert status == 1 and "no heartbeat file" in output


@pytest.mark.parametrize("service", ["web", "flower"])
def test_the_http_probes_import_no_part_of_the_service(service: str) -> None:
    from tasks.harness.localredis import free_port

    command = compose_probe(service)
    assert "http" in command
    url = command[-1]
    command[-1] = re.sub(r"//127\.0\.0\.1:\d+", f"//127.0.0.1:{free_port()}", url)  # nobody listens
    status, output, modules = imported_modules(command)
    assert status == 1 and "unhealthy" in output
    assert sorted(set(HEAVY) & modules) == []


def test_the_probe_module_still_refreshes_the_heartbeat_inside_a_worker() -> None:
    """Imported (as `celery worker --include tasks.cli.healthcheck` does), the module hooks Celery's
    heartbeat signal; run as a script it does not need Celery at all."""
    from celery import signals

    import tasks.cli.healthcheck as healthcheck

    receivers = [receiver for _key, receiver in signals.heartbeat_sent.receivers]
    assert healthcheck._on_heartbeat in receivers
