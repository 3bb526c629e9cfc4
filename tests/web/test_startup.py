"""Start-up behaviour: background registration retries what can heal and gives up on what cannot; a bad
setting stops `python -m web` with one line."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from tasks.settings import Settings
from tests.fixtures.sandboxes import RunningSandbox
from tests.fixtures.service import PROJECT_ROOT, wait_for
from tests.web.support import token_store
from web.startup import StartupRegistration


@pytest.fixture
def settings(
    service_settings: Settings, rackbeat_sandbox: RunningSandbox, service_redis: redis.Redis
) -> Settings:
    service_redis.delete(f"rbsync:{service_settings.connection_id}:webhook-tokens")
    return service_settings.model_copy(
        update={
            "rackbeat_base_url": rackbeat_sandbox.api_url,
            "rackbeat_token": SecretStr(rackbeat_sandbox.token),
            "public_url": "http://127.0.0.1:1",
        }
    )


def webhook_posts(rackbeat: RunningSandbox) -> list[dict]:
    return [
        e for e in rackbeat.sandbox.request_log.entries() if e["method"] == "POST" and "webhooks" in e["path"]
    ]


def test_registration_retries_while_rackbeat_fails_and_succeeds_once_it_answers(
    settings: Settings, rackbeat_sandbox: RunningSandbox, service_redis: redis.Redis
) -> None:
    rackbeat_sandbox.sandbox.faults.set(error_rate=1.0)
    registration = StartupRegistration(settings)
    stop = threading.Event()
    registration.start(stop)
    try:
        wait_for(lambda: registration.error is not None, timeout=20, message="a failed first attempt")
        assert not registration.done.is_set()
        rackbeat_sandbox.sandbox.faults.reset()
        assert registration.done.wait(20), "registration did not finish after Rackbeat recovered"
    finally:
        stop.set()
        registration.join(10)

    assert registration.error is None
    assert registration.results and {r.token for r in registration.results} == {"stored"}
    assert token_store(service_redis, settings).events() == {r.event for r in registration.results}
    statuses = [e["status"] for e in webhook_posts(rackbeat_sandbox)]
    assert any(status >= 500 for status in statuses) and statuses[-1] in (200, 201)


def test_registration_gives_up_at_once_when_rackbeat_refuses_the_token(
    settings: Settings, rackbeat_sandbox: RunningSandbox
) -> None:
    wrong = settings.model_copy(update={"rackbeat_token": SecretStr("not-the-token")})
    registration = StartupRegistration(wrong)
    stop = threading.Event()
    registration.start(stop)
    try:
        assert registration.done.wait(20)
    finally:
        stop.set()
        registration.join(10)

    assert registration.results is None
    assert registration.error is not None and "401" in registration.error
    assert "not-the-token" not in registration.error
    assert [e["status"] for e in webhook_posts(rackbeat_sandbox)] == [401]


def test_python_m_web_stops_with_one_line_naming_a_missing_setting(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)

    result = subprocess.run(
        [sys.executable, "-m", "web", "--port", "1"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr.strip().startswith("rbsync: setting RBSYNC_RACKBEAT_TOKEN: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("true", True), ("1", True), ("false", False), ("off", False)]
)
def test_register_on_startup_setting(
    monkeypatch: pytest.MonkeyPatch, service_settings: Settings, value: str | None, expected: bool
) -> None:
    from web.app import REGISTER_ON_STARTUP_ENV, register_on_startup

    if value is None:
        monkeypatch.delenv(REGISTER_ON_STARTUP_ENV, raising=False)
    else:
        monkeypatch.setenv(REGISTER_ON_STARTUP_ENV, value)
    values = service_settings.model_dump(exclude={"register_webhooks_on_startup"})
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert register_on_startup(settings, None) is expected
    assert register_on_startup(settings, not expected) is (not expected)  # the command-line flag wins
