"""docker-compose.yml, Dockerfile and .env.example cannot be run here (no Docker engine), so these tests read
them and check the properties production depends on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ("redis", "worker", "worker-other", "beat", "web", "flower")
RBSYNC_SERVICES = ("worker", "worker-other", "beat", "web", "flower")
# The transfers on a gevent worker, the other queues on a prefork one (tasks/harness/workers.py, issue 14).
WORKERS = ("worker", "worker-other")
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


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
    for name in (*WORKERS, "beat", "web", "flower"):
        service = services[name]
        assert service["restart"] in {"always", "unless-stopped"}, name
        command = service["command"]
        assert isinstance(command, list) and command[0] in {"celery", "python"}, f"{name}: not exec form"


def test_the_worker_health_check_reads_the_main_process_heartbeat_with_room_for_a_busy_worker(services):
    """The heartbeat file is touched by the worker's main process every ~2 s (tasks/cli/healthcheck.py), so a
    dead or stuck main process turns the container unhealthy even while pool processes live on
    (test_worker_liveness.py shows it with a real worker). The age limit leaves room for a busy one. The
    probe runs the module as a script, so it does not import the Celery app (test_healthcheck_cost.py)."""
    for name in WORKERS:
        check = services[name]["healthcheck"]
        test = check["test"]
        assert test[:4] == ["CMD", "python", "-I", "/app/tasks/cli/healthcheck.py"] and test[4] == "file"
        assert "--include=tasks.cli.healthcheck" in services[name]["command"]
        max_age = float(test[test.index("--max-age") + 1])
        assert 10 <= max_age <= 120
        seconds = {key: int(re.fullmatch(r"(\d+)s", check[key]).group(1)) for key in ("interval", "timeout")}
        assert seconds["timeout"] < seconds["interval"]
        # Unhealthy within a few minutes of the last heartbeat.
        assert max_age + seconds["interval"] * check["retries"] <= 300


def env_files(service: dict[str, Any]) -> list[str]:
    env_file = service.get("env_file") or []
    files = env_file if isinstance(env_file, list) else [env_file]
    return [item["path"] if isinstance(item, dict) else item for item in files]


def test_the_rbsync_services_read_their_settings_from_dot_env(services):
    for name in (*WORKERS, "web"):
        assert ".env" in env_files(services[name]), f"{name} does not use env_file: .env"


def test_redis_gets_its_password_and_nothing_else_from_the_environment(services):
    """.env holds the API tokens: a container that does not call the APIs must not receive it whole."""
    redis = services["redis"]
    assert env_files(redis) == []
    assert set(redis["environment"]) == {"REDIS_PASSWORD"}


def test_beat_and_flower_get_no_api_token_only_the_store_settings_with_their_own_defaults(services):
    """Beat and Flower make no API call: no .env, a role that lets them start without tokens, and only
    store settings, each defaulting to the setting's own default so Compose and the code cannot drift."""
    from tasks.celery import TOKENLESS_ROLES
    from tasks.settings import StoreSettings

    fields = StoreSettings.model_fields
    for name in ("beat", "flower"):
        service = services[name]
        assert env_files(service) == [], f"{name} must not read .env (the API tokens live there)"
        environment = dict(service["environment"])
        assert environment.pop("RBSYNC_PROCESS_ROLE") == name and name in TOKENLESS_ROLES
        environment.pop("FLOWER_BASIC_AUTH", None)
        for variable, value in environment.items():
            assert "TOKEN" not in variable and "SECRET" not in variable, variable
            field = variable.removeprefix("RBSYNC_").lower()
            assert field in fields, f"{name}: {variable} is not a store setting"
            if field in ("redis_url", "broker_url"):
                continue
            if fields[field].default not in (None, ""):
                assert default_of(value, variable) == str(fields[field].default), variable
            else:
                assert re.search(r"\$\{" + variable + r":-\}", str(value)), variable


def size_in_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text.strip().lower())
    assert match and match.group(2) in SIZE_UNITS, f"not a size: {text!r}"
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2)])


def default_of(value: Any, variable: str) -> str:
    """The default of ``${VARIABLE:-default}`` in ``value``; the variable must be named in .env.example."""
    match = re.search(r"\$\{" + variable + r":-([^}]+)\}", str(value))
    assert match, f"{value!r} does not read ${{{variable}:-default}}"
    assert variable in env_example_names(), f"{variable} is not documented in .env.example"
    return match.group(1)


def test_redis_persists_with_aof_never_evicts_and_requires_the_password_from_the_environment(services):
    command = command_text(services["redis"])
    assert re.search(r"--appendonly\s+yes", command)
    assert re.search(r"--maxmemory-policy\s+noeviction", command)
    assert re.search(r"--requirepass\s+\"?\$\$REDIS_PASSWORD", command)
    assert services["redis"]["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])


def test_app_services_reach_redis_with_its_password_and_wait_for_it(services):
    for name in (*WORKERS, "beat", "web", "flower"):
        environment = services[name]["environment"]
        for variable in ("RBSYNC_REDIS_URL", "RBSYNC_BROKER_URL"):
            assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379/0", environment[variable])
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_workers_consume_every_queue_one_message_at_a_time(services):
    """Between them the workers consume every queue, each exactly once, one message at a time (per process
    or greenlet); the transfers run on the gevent pool, the rest on prefork (tasks/harness/workers.py)."""
    consumed: list[str] = []
    pools = {}
    for name in WORKERS:
        command = command_text(services[name])
        assert command.startswith("celery -A tasks worker")
        queues = re.search(r"(?:-Q|--queues)[ =](\S+)", command)
        assert queues, name
        consumed += queues.group(1).split(",")
        assert re.search(r"--prefetch-multiplier[ =]1\b", command), name
        pool = re.search(r"(?:-P|--pool)[ =](\S+)", command)
        pools[queues.group(1)] = pool.group(1) if pool else "prefork"
    assert sorted(consumed) == sorted(["transfers", "polls", "bulk", "dlq"])
    assert pools == {"transfers": "gevent", "polls,bulk,dlq": "prefork"}


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
    install = re.compile(r"RUN pip install (--no-cache-dir )?(--no-deps )?(-c constraints\.txt )?\.")
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

    grace = min(
        int(re.fullmatch(r"(\d+)s", services[name]["stop_grace_period"]).group(1)) for name in WORKERS
    )
    env_example = (ROOT / ".env.example").read_text()
    example = re.search(r"^RBSYNC_WORKER_SOFT_SHUTDOWN_SECONDS=(\d+)", env_example, re.MULTILINE)
    settings = Settings(
        _env_file=None,
        rackbeat_token="x",
        economic_app_secret_token="x",
        economic_agreement_grant_token="x",
        worker_soft_shutdown_seconds=float(example.group(1)),
    )
    soft_shutdown = build_config(settings)["worker_soft_shutdown_timeout"]
    assert 0 < soft_shutdown < grace


def test_redis_has_a_maxmemory_so_noeviction_refuses_writes_before_the_container_is_killed(services):
    """Without maxmemory, noeviction never triggers: Redis grows until the kernel kills the container.
    With it, a full Redis refuses writes loudly; the container's limit leaves room above it for the AOF
    rewrite's fork."""
    redis = services["redis"]
    maxmemory = re.search(r"--maxmemory\s+(\S+)", command_text(redis))
    assert maxmemory, "redis-server runs without --maxmemory"
    default = size_in_bytes(default_of(maxmemory.group(1), "REDIS_MAXMEMORY"))
    assert default >= 64 * 1024**2
    limit = size_in_bytes(default_of(redis["mem_limit"], "REDIS_MEM_LIMIT"))
    assert limit >= 1.5 * default
    example = re.search(r"^REDIS_MAXMEMORY=(\S+)", (ROOT / ".env.example").read_text(), re.MULTILINE)
    assert example and size_in_bytes(example.group(1)) == default


def test_every_service_has_a_memory_and_cpu_limit(services):
    for name in LONG_RUNNING:
        service = services[name]
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        memory = service.get("mem_limit") or limits.get("memory")
        cpus = service.get("cpus") or limits.get("cpus")
        assert memory and cpus, f"{name} has no memory or CPU limit"
        variable = re.fullmatch(r"\$\{([A-Z_]+):-([^}]+)\}", str(memory))
        memory_bytes = size_in_bytes(default_of(memory, variable.group(1)) if variable else str(memory))
        assert 128 * 1024**2 <= memory_bytes <= 8 * 1024**3, name
        variable = re.fullmatch(r"\$\{([A-Z_]+):-([^}]+)\}", str(cpus))
        assert 0 < float(default_of(cpus, variable.group(1)) if variable else cpus) <= 4, name


def test_every_service_rotates_its_logs(services):
    for name in LONG_RUNNING:
        logging = services[name].get("logging") or {}
        assert logging.get("driver") == "json-file", f"{name} logs without rotation"
        options = logging.get("options") or {}
        assert size_in_bytes(options["max-size"]) <= 100 * 1024**2 and 1 <= int(options["max-file"]) <= 10


def test_published_ports_are_bound_to_loopback(services):
    """The receiver and Flower are reached through a TLS reverse proxy on the host (README), never
    directly: Flower can revoke tasks and shut workers down, and webhooks carry tokens."""
    published = {}
    for name, service in services.items():
        for port in service.get("ports") or []:
            assert isinstance(port, str), f"{name}: use the short syntax with a host address"
            published[name] = port
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert set(published) == {"web", "flower"}
    assert published["web"] == "127.0.0.1:${WEB_PORT:-8000}:8000"
    assert published["flower"] == "127.0.0.1:${FLOWER_PORT:-5555}:5555"


def dockerfile_instructions() -> list[str]:
    """Instructions with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_installs_the_pinned_dependencies_before_it_copies_the_code():
    """Editing code must not reinstall the dependencies: they are installed (pinned by constraints.txt) in
    a layer built from pyproject.toml and constraints.txt alone; the code follows, installed without
    dependencies."""
    instructions = dockerfile_instructions()
    copies = [i for i, line in enumerate(instructions) if line.startswith("COPY ")]
    first_code_copy = next(
        i
        for i in copies
        if re.search(r"\b(clients|tasks|web|sandbox|\.)\s+\S+$", instructions[i])
        and "pyproject.toml" not in instructions[i]
    )
    before = instructions[:first_code_copy]
    copied_before = " ".join(line for line in before if line.startswith("COPY "))
    assert "pyproject.toml" in copied_before and "constraints.txt" in copied_before
    dependency_install = [line for line in before if re.search(r"pip install .*-c constraints\.txt", line)]
    assert dependency_install and all(" -r " in line for line in dependency_install), dependency_install
    project_installs = [line for line in instructions[first_code_copy:] if "pip install" in line]
    assert project_installs and all("--no-deps" in line for line in project_installs), project_installs
    for name in ("clients", "tasks", "web", "sandbox"):
        assert any(re.fullmatch(rf"COPY {name} \./{name}", line) for line in instructions[first_code_copy:])


def test_the_receiver_requires_its_own_metrics_credentials_with_no_default(services):
    """/metrics answers only loopback without credentials, and a published container port is not loopback:
    Compose refuses to start the receiver without a metrics login, and only the receiver gets one."""
    environment = services["web"]["environment"]
    for variable in ("RBSYNC_METRICS_USERNAME", "RBSYNC_METRICS_PASSWORD"):
        value = environment[variable]
        assert re.fullmatch(r"\$\{" + variable + r":\?[^}]+\}", value), f"{variable} must be required"
        assert variable in env_example_names()
    assert environment["RBSYNC_REDIS_URL"] == services["worker"]["environment"]["RBSYNC_REDIS_URL"]
    for name in (*WORKERS, "beat", "flower", "redis"):
        assert not any("METRICS" in variable for variable in services[name].get("environment") or {}), name


def test_the_transfers_run_on_one_gevent_worker_per_core(services):
    """Like the harness's gevent topology (tasks/harness/workers.py, DEFAULT_GREEN_PROCESSES): a gevent worker
    is one process, so it uses one core at most; two replicas use a 2-core machine (issue 14)."""
    from tasks.harness.workers import DEFAULT_GREEN_PROCESSES

    worker = services["worker"]
    assert worker["deploy"]["replicas"] == DEFAULT_GREEN_PROCESSES
    assert "--pool=gevent" in worker["command"]
    assert "container_name" not in worker  # replicas need names of their own
