"""docker-compose.yml, Dockerfile and .env.example cannot be run here (no Docker engine), so these tests read
them and check the properties production depends on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("redis", "worker", "beat", "web", "flower")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def env_example_names() -> set[str]:
    """Variables named in .env.example, set (`X=`) or documented as optional (`# X=`)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall((ROOT / ".env.example").read_text()))


def test_every_long_running_service_exists_with_a_health_check_and_a_restart_policy(services):
    for name in LONG_RUNNING:
        service = services[name]
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, name


def test_a_service_whose_main_process_exits_comes_back_whatever_its_exit_status(services):
    """The worker's main process can die (kombu crashing while a Redis connection breaks was seen). The
    command is in exec form and the image has no ENTRYPOINT, so Celery itself is the container's main
    process and its exit ends the container; `unless-stopped` (or `always`) then starts it again, also
    after a clean exit 0 (a remote `shutdown` from Flower), which `on-failure` would not."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert not re.search(r"^\s*ENTRYPOINT\b", dockerfile, re.MULTILINE)
    for name in ("worker", "beat", "web", "flower"):
        service = services[name]
        assert service["restart"] in {"always", "unless-stopped"}, name
        command = service["command"]
        assert isinstance(command, list) and command[0] in {"celery", "python"}, f"{name}: not exec form"


def test_the_worker_health_check_reads_the_main_process_heartbeat_with_room_for_a_busy_worker(services):
    """The heartbeat file is touched by the worker's main process every ~2 s (tasks/cli/healthcheck.py), so a
    dead or stuck main process turns the container unhealthy even while pool processes live on
    (test_worker_liveness.py shows it with a real worker). The age limit leaves room for a busy one."""
    check = services["worker"]["healthcheck"]
    test = check["test"]
    assert test[:4] == ["CMD", "python", "-m", "tasks.cli.healthcheck"] and test[4] == "file"
    max_age = float(test[test.index("--max-age") + 1])
    assert 10 <= max_age <= 120
    seconds = {key: int(re.fullmatch(r"(\d+)s", check[key]).group(1)) for key in ("interval", "timeout")}
    assert seconds["timeout"] < seconds["interval"]
    # Unhealthy within a few minutes of the last heartbeat.
    assert max_age + seconds["interval"] * check["retries"] <= 300


def test_every_service_reads_its_environment_from_dot_env(services):
    for name, service in services.items():
        env_file = service.get("env_file")
        files = env_file if isinstance(env_file, list) else [env_file]
        paths = [item["path"] if isinstance(item, dict) else item for item in files]
        assert ".env" in paths, f"{name} does not use env_file: .env"


def test_redis_persists_with_aof_never_evicts_and_requires_the_password_from_the_environment(services):
    command = command_text(services["redis"])
    assert re.search(r"--appendonly\s+yes", command)
    assert re.search(r"--maxmemory-policy\s+noeviction", command)
    assert re.search(r"--requirepass\s+\"?\$\$REDIS_PASSWORD", command)
    assert services["redis"]["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


def test_app_services_reach_redis_with_its_password_and_wait_for_it(services):
    for name in ("worker", "beat", "web", "flower"):
        environment = services[name]["environment"]
        for variable in ("RBSYNC_REDIS_URL", "RBSYNC_BROKER_URL"):
            assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379/0", environment[variable])
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_worker_consumes_every_queue_one_message_at_a_time(services):
    command = command_text(services["worker"])
    assert command.startswith("celery -A tasks worker")
    queues = re.search(r"(?:-Q|--queues)[ =](\S+)", command)
    assert queues and set(queues.group(1).split(",")) == {"transfers", "polls", "bulk", "dlq"}
    assert re.search(r"--prefetch-multiplier[ =]1\b", command)


def test_beat_schedules_with_redbeat(services):
    command = command_text(services["beat"])
    assert command.startswith("celery -A tasks beat")
    assert re.search(r"(?:-S|--scheduler)[ =]redbeat\.RedBeatScheduler", command)


def test_web_runs_the_receiver_and_checks_healthz(services):
    assert command_text(services["web"]).startswith("python -m web")
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_flower_requires_basic_auth_with_no_default_and_keeps_its_state(services):
    flower = services["flower"]
    auth = flower["environment"]["FLOWER_BASIC_AUTH"]
    assert auth.startswith("${FLOWER_BASIC_AUTH:?"), "Compose must refuse to start without a Flower password"
    assert ":-" not in auth
    assert "basic_auth" not in command_text(flower), "a password on the command line shows in `ps`"
    command = command_text(flower)
    assert command.startswith("celery -A tasks flower")
    assert "--persistent=True" in command
    db_path = re.search(r"--db=(\S+)", command).group(1)
    assert any(db_path.startswith(volume.split(":", 1)[1]) for volume in flower["volumes"])
    worker_broker = services["worker"]["environment"]["RBSYNC_BROKER_URL"]
    assert flower["environment"]["RBSYNC_BROKER_URL"] == worker_broker


def test_no_secret_has_a_value_in_compose(services):
    """Secrets only ever arrive by interpolation from .env, never as literals in the file."""
    interpolated = re.compile(r"\$\{[A-Z_]+:\?[^}]*\}")
    for name, service in services.items():
        for variable, value in (service.get("environment") or {}).items():
            if any(word in variable for word in ("TOKEN", "PASSWORD", "SECRET", "BASIC_AUTH")):
                assert interpolated.fullmatch(value), f"{name}.{variable} is not taken from .env"
            credentials = re.search(r"://([^@/]*)@", str(value))
            if credentials:
                assert interpolated.search(credentials.group(1)), f"{name}.{variable} has a literal password"


def test_dockerfile_is_slim_python_installs_the_project_and_runs_as_a_user():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    # (installing with -c constraints.txt is checked by test_constraints.py)
    install = re.compile(r"RUN pip install (--no-cache-dir )?(-c constraints\.txt )?\.")
    assert any(install.fullmatch(line) for line in instructions)
    users = [line.split(None, 1)[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert not any(re.search(r"\b(ENV|ARG)\b.*(TOKEN|PASSWORD|SECRET)", line) for line in instructions)


def test_dot_env_never_enters_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".venv" in ignored


def test_env_example_holds_no_real_secrets():
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, _, value = line.lstrip("# ").partition("=")
        if any(word in name for word in ("TOKEN", "SECRET", "PASSWORD", "BASIC_AUTH")):
            assert value == "", f"{name} has a value in .env.example"


def settings_env_names() -> set[str]:
    from tasks.settings import ENV_PREFIX, Settings

    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def env_names_read_by_the_service() -> set[str]:
    """RBSYNC_ variables the service's code names outside Settings (read from the environment directly)."""
    pattern = re.compile(r"\bRBSYNC_[A-Z0-9_]*[A-Z0-9]\b")
    return {
        name
        for package in ("tasks", "web", "clients")
        for path in (ROOT / package).rglob("*.py")
        for name in pattern.findall(path.read_text())
    }


def test_every_setting_is_documented_in_env_example_and_nothing_else_is():
    documented = {name for name in env_example_names() if name.startswith("RBSYNC_")}
    settings = settings_env_names() | env_names_read_by_the_service()
    assert settings - documented == set(), "settings missing from .env.example"
    assert documented - settings == set(), ".env.example names settings that do not exist"


def test_worker_gets_longer_to_stop_than_its_soft_shutdown(services):
    from tasks.celery import build_config
    from tasks.settings import Settings

    grace = int(re.fullmatch(r"(\d+)s", services["worker"]["stop_grace_period"]).group(1))
    env_example = (ROOT / ".env.example").read_text()
    example = re.search(r"^RBSYNC_WORKER_SOFT_SHUTDOWN_SECONDS=(\d+)", env_example, re.MULTILINE)
    settings = Settings(
        _env_file=None,
        rackbeat_token="x", economic_app_secret_token="x", economic_agreement_grant_token="x",
        worker_soft_shutdown_seconds=float(example.group(1)),
    )
    soft_shutdown = build_config(settings)["worker_soft_shutdown_timeout"]
    assert 0 < soft_shutdown < grace
