"""Settings and the Celery configuration built from them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery

from tasks.celery import build_config, configure, queue_for
from tasks.settings import (
    Settings,
    StoreSettings,
    check_public_url,
    get_settings,
    get_store_settings,
    public_url_problem,
    reset_settings,
)
from tests.fixtures.service import PROJECT_ROOT

LOAD_SETTINGS = "from tasks.settings import load_settings_or_exit; load_settings_or_exit()"
REAL_RACKBEAT = "https://app.rackbeat.com/api/"
TOKENS = {
    "RBSYNC_RACKBEAT_TOKEN": "rb-secret-value",
    "RBSYNC_ECONOMIC_APP_SECRET_TOKEN": "app-secret-value",
    "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN": "grant-secret-value",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No RBSYNC_* variables and no .env in the working directory; the cache is reset before and after."""
    for name in list(os.environ):
        if name.startswith("RBSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    reset_settings()
    yield monkeypatch
    reset_settings()


def run_python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    clean["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_follow_the_contract(clean_env):
    for name, value in TOKENS.items():
        clean_env.setenv(name, value)

    settings = get_settings()

    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.broker_url == settings.redis_url
    assert settings.connection_id == "default"
    assert settings.rackbeat_requests_per_minute == 480
    assert (settings.economic_bucket_size, settings.economic_bucket_window_seconds) == (10000, 60)
    assert (settings.transfer_max_retries, settings.retry_backoff_max_seconds) == (8, 300)
    assert (settings.transfer_time_limit_seconds, settings.soft_time_limit_seconds) == (120, 105)
    assert settings.max_redeliveries == 3
    assert settings.customers_master == settings.products_master == "rackbeat"
    assert settings.webhook_token is None
    assert get_settings() is settings, "cached"


def test_tokens_never_show_in_reprs_or_dumps(clean_env):
    for name, value in TOKENS.items():
        clean_env.setenv(name, value)
    clean_env.setenv("RBSYNC_WEBHOOK_TOKEN", "hook-secret-value")

    settings = get_settings()

    for text in (repr(settings), str(settings), settings.model_dump_json()):
        for secret in (*TOKENS.values(), "hook-secret-value"):
            assert secret not in text
    assert settings.rackbeat_token.get_secret_value() == "rb-secret-value"


def test_a_dotenv_file_in_the_working_directory_is_read(clean_env, tmp_path: Path):
    lines = [f"{name}={value}" for name, value in TOKENS.items()]
    lines += ["RBSYNC_CONNECTION_ID=from-dotenv", "RBSYNC_PRODUCTS_MASTER=economic"]
    (tmp_path / ".env").write_text("\n".join(lines))

    settings = get_settings()

    assert settings.connection_id == "from-dotenv"
    assert settings.products_master == "economic"


def test_a_missing_setting_stops_start_up_with_one_line_naming_it(tmp_path: Path):
    env = {k: v for k, v in TOKENS.items() if k != "RBSYNC_ECONOMIC_APP_SECRET_TOKEN"}

    done = run_python(LOAD_SETTINGS, env, tmp_path)

    assert done.returncode == 2
    assert done.stderr == "rbsync: setting RBSYNC_ECONOMIC_APP_SECRET_TOKEN: field required\n"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RBSYNC_MAX_REDELIVERIES", "lots"),
        ("RBSYNC_CUSTOMERS_MASTER", "excel"),
        ("RBSYNC_CONNECTION_ID", "has spaces:and colons"),
        ("RBSYNC_TRANSFER_MAX_RETRIES", "-1"),
    ],
)
def test_a_wrong_setting_is_named_without_echoing_secrets(tmp_path: Path, name: str, value: str):
    done = run_python(LOAD_SETTINGS, {**TOKENS, name: value}, tmp_path)

    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"rbsync: setting {name}: ")
    for secret in TOKENS.values():
        assert secret not in done.stderr


WORKER = "import sys; from celery.bin.celery import main; sys.argv = 'celery -A tasks worker'.split(); main()"


def test_the_worker_refuses_to_start_without_settings(tmp_path: Path):
    incomplete = {"RBSYNC_RACKBEAT_TOKEN": "x", "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN": "y"}

    done = run_python(WORKER, incomplete, tmp_path)

    assert done.returncode != 0
    assert "rbsync: setting RBSYNC_ECONOMIC_APP_SECRET_TOKEN: field required" in done.stderr.splitlines()


@pytest.mark.parametrize("name", sorted(TOKENS))
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_an_empty_or_blank_token_is_a_setting_error(tmp_path: Path, name: str, blank: str):
    """What an unedited .env.example gives Compose: the receiver would otherwise retry registering its
    webhooks forever ("Illegal header value b'Bearer '")."""
    done = run_python(LOAD_SETTINGS, {**TOKENS, name: blank}, tmp_path)

    assert done.returncode == 2
    expected = f"rbsync: setting {name}: empty (an unset or blank token is not a token)"
    assert done.stderr.splitlines() == [expected]


def test_an_empty_token_in_the_dotenv_file_stops_the_worker(tmp_path: Path):
    (tmp_path / ".env").write_text("".join(f"{name}=\n" for name in TOKENS))

    done = run_python(WORKER, {}, tmp_path)

    assert done.returncode != 0
    assert done.stderr.splitlines()[0].startswith("rbsync: setting RBSYNC_")
    assert ": empty" in done.stderr.splitlines()[0]
    assert "Traceback" not in done.stderr


def test_a_blank_fixed_webhook_token_is_refused_and_an_unset_one_is_fine(clean_env):
    for name, value in TOKENS.items():
        clean_env.setenv(name, value)
    assert get_settings().webhook_token is None
    reset_settings()
    clean_env.setenv("RBSYNC_WEBHOOK_TOKEN", " ")

    with pytest.raises(Exception, match="empty"):
        get_settings()


def test_the_store_settings_need_no_token(clean_env):
    clean_env.setenv("RBSYNC_CONNECTION_ID", "store-only")

    store = get_store_settings()

    assert isinstance(store, StoreSettings) and not isinstance(store, Settings)
    assert store.connection_id == "store-only" and store.broker_url == store.redis_url
    assert not hasattr(store, "rackbeat_token")
    config = build_config(store)  # Flower and beat need no more than this
    assert config["broker_url"] == store.redis_url
    assert config["beat_scheduler"] == "redbeat.RedBeatScheduler"
    assert config == build_config(settings(connection_id="store-only"))
    assert "rackbeat_token" in Settings.model_fields and issubclass(Settings, StoreSettings)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("RBSYNC_REDIS_URL", "http://127.0.0.1:6379/0", "http:// is not a Redis URL"),
        ("RBSYNC_REDIS_URL", "127.0.0.1:6379", "not a Redis URL"),
        ("RBSYNC_REDIS_URL", "redis://127.0.0.1:6379/zero", "the database must be a number"),
        ("RBSYNC_BROKER_URL", "amqp://guest:secret-pw@rabbit//", "amqp:// is not a Redis URL"),
    ],
)
def test_a_url_that_is_not_redis_is_named_in_one_line_without_the_password(tmp_path, name, value, problem):
    load_store = "from tasks.settings import load_store_settings_or_exit; load_store_settings_or_exit()"
    for code in (LOAD_SETTINGS, load_store):
        done = run_python(code, {**TOKENS, name: value}, tmp_path)

        assert done.returncode == 2
        [line] = done.stderr.splitlines()
        assert line.startswith(f"rbsync: setting {name}: ") and problem in line
        assert "secret-pw" not in line


@pytest.mark.parametrize(
    ("public_url", "rackbeat_base_url", "refused"),
    [
        ("http://127.0.0.1:8000", "https://app.rackbeat.com/api/", True),
        ("http://localhost:8000", "https://app.rackbeat.com/api/", True),
        ("http://[::1]:8000", "https://app.rackbeat.com/api/", True),
        ("http://0.0.0.0:8000", "https://app.rackbeat.com/api/", True),
        ("https://rbsync.example.com", "https://app.rackbeat.com/api/", False),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8081/api/", False),  # rbsync run: the local sandboxes
        ("http://127.0.0.1:8000", "http://localhost:8081/api/", False),
    ],
)
def test_a_loopback_public_url_is_refused_only_when_rackbeat_is_elsewhere(
    public_url, rackbeat_base_url, refused
):
    configured = settings(public_url=public_url, rackbeat_base_url=rackbeat_base_url)

    problem = public_url_problem(configured)

    assert (problem is not None) == refused
    if refused:
        assert problem.startswith("rbsync: setting RBSYNC_PUBLIC_URL: ") and "\n" not in problem


def test_check_public_url_stops_with_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        # the Rackbeat URL named, not taken from an environment other tests may have set
        check_public_url(settings(public_url="http://127.0.0.1:8000", rackbeat_base_url=REAL_RACKBEAT))

    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("rbsync: setting RBSYNC_PUBLIC_URL: 127.0.0.1 is this machine only")
    fine = settings(public_url="https://hooks.example.com", rackbeat_base_url=REAL_RACKBEAT)
    assert check_public_url(fine) is fine


def test_processes_that_register_no_webhooks_accept_the_default_public_url(tmp_path: Path):
    """The worker, beat and `rbsync dlq` share the settings but must not be refused for the receiver's URL."""
    env = {**TOKENS, "RBSYNC_PUBLIC_URL": "http://127.0.0.1:8000"}

    done = run_python(LOAD_SETTINGS, env, tmp_path)

    assert done.returncode == 0, done.stderr


def settings(**changes: object) -> Settings:
    values = {"rackbeat_token": "a", "economic_app_secret_token": "b", "economic_agreement_grant_token": "c"}
    return Settings(_env_file=None, **{**values, **changes})  # type: ignore[arg-type]


def test_the_visibility_timeout_outlasts_the_longest_retry_delay_plus_the_time_limit():
    config = build_config(settings(retry_backoff_max_seconds=300, transfer_time_limit_seconds=120))

    for options in (config["broker_transport_options"], config["result_backend_transport_options"]):
        assert options["visibility_timeout"] > 300 + 120
    assert config["task_soft_time_limit"] < config["task_time_limit"] == 120
    short = build_config(settings(visibility_timeout_seconds=5))
    assert short["broker_transport_options"]["visibility_timeout"] == 5


def test_the_celery_configuration_is_reliable_and_json_only():
    config = build_config(settings(connection_id="acme", broker_key_prefix="run-1:"))

    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    # off on purpose: a transfer cancelled at a connection loss could lose its message (tasks/celery.py)
    assert config["worker_cancel_long_running_tasks_on_connection_loss"] is False
    assert config["task_send_sent_event"] and config["worker_send_task_events"]
    assert config["broker_transport_options"]["global_keyprefix"] == "run-1:"
    assert config["result_backend_transport_options"]["global_keyprefix"] == "run-1:"
    assert config["beat_scheduler"] == "redbeat.RedBeatScheduler"
    assert config["redbeat_key_prefix"].startswith("rbsync:acme:")
    assert config["redbeat_lock_key"].startswith(config["redbeat_key_prefix"])
    queues = {queue.name: queue for queue in config["task_queues"]}
    assert set(queues) == {"transfers", "polls", "bulk", "dlq"}
    assert {queue.routing_key for queue in queues.values()} == set(queues), "each queue has its own route"


def test_task_names_route_to_their_queues():
    assert queue_for("rbsync.export_record") == "transfers"
    assert queue_for("rbsync.retry_dead_letter") == "dlq"
    assert queue_for("rbsync.poll_orders") == "polls"
    assert queue_for("rbsync.startup_sync") == "bulk"
    assert queue_for("something.else") == "transfers"


def test_configuration_can_be_re_applied():
    app = Celery("reconfigured", set_as_current=False)
    configure(app, settings(broker_key_prefix="first:"))
    configure(app, settings(broker_key_prefix="second:", transfer_time_limit_seconds=30))

    assert app.conf.broker_transport_options["global_keyprefix"] == "second:"
    assert app.conf.task_time_limit == 30
    app.close()
