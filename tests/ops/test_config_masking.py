"""No Redis password in the Celery configuration as Celery shows it (`celery inspect conf`, `celery report`,
Flower's worker Config tab and /api/workers all go through Celery's filter), while RedBeat still gets it.

Celery's filter (celery.app.utils.filter_hidden_settings) masks broker_url, *backend* URLs and settings named
like a secret (also inside a mapping), and nothing else: a URL with credentials under any other name is shown
as it is. tests/e2e/test_no_secrets.py checks the same against a real worker, Flower and beat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from tasks.celery import build_config, configure, split_credentials
from tasks.harness.localredis import LocalRedis
from tasks.settings import Settings

PASSWORD = "s3cr3t-p@ss/word"  # '@' and '/' need percent-encoding in a URL
ENCODED = "s3cr3t-p%40ss%2Fword"


def settings_for(redis_url: str, broker_url: str | None = None) -> Settings:
    return Settings(
        _env_file=None,
        rackbeat_token="x",
        economic_app_secret_token="x",
        economic_agreement_grant_token="x",
        redis_url=redis_url,
        broker_url=broker_url,
    )


def shown(settings: Settings) -> str:
    """Everything Celery shows of an app configured with ``settings``: the filtered table (what a worker
    answers to `inspect conf`) and the humanized text (`celery report`)."""
    app = Celery("masking-test", set_as_current=False)
    configure(app, settings)
    try:
        return json.dumps(app.conf.table(), default=repr) + "\n" + app.conf.humanize()
    finally:
        app.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", ("redis://127.0.0.1:6379/0", {})),
        ("redis://:pw@redis:6379/0", ("redis://redis:6379/0", {"password": "pw"})),
        ("redis://user:pw@redis:6379/0", ("redis://redis:6379/0", {"username": "user", "password": "pw"})),
        (
            f"rediss://:{ENCODED}@redis:6380/1?ssl_cert_reqs=required",
            ("rediss://redis:6380/1?ssl_cert_reqs=required", {"password": PASSWORD}),
        ),
    ],
)
def test_split_credentials_takes_user_and_password_out_of_the_url(url: str, expected: Any) -> None:
    assert split_credentials(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{ENCODED}@redis:6379/0",
        f"redis://rbsync:{ENCODED}@redis:6379/0",
    ],
)
def test_no_url_in_the_configuration_celery_shows_carries_the_password(url: str) -> None:
    text = shown(settings_for(url))
    assert "redbeat_redis_url" in text and "broker_url" in text  # the table really holds the URLs
    assert PASSWORD not in text and ENCODED not in text


def test_a_separate_broker_url_is_masked_too() -> None:
    text = shown(settings_for("redis://redis:6379/0", broker_url=f"redis://:{ENCODED}@broker:6379/0"))
    assert ENCODED not in text and PASSWORD not in text


def test_every_string_in_the_configuration_with_credentials_is_masked() -> None:
    """Guards settings added later: any value of the unfiltered configuration that holds the password is
    one Celery must mask (or that must not hold it)."""
    settings = settings_for(f"redis://:{ENCODED}@redis:6379/0")
    app = Celery("masking-test", set_as_current=False)
    configure(app, settings)
    try:
        table = app.conf.table()
    finally:
        app.close()

    def strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, dict):
            for key, inner in value.items():
                yield from strings(inner, f"{path}.{key}")
        elif isinstance(value, list | tuple):
            for index, inner in enumerate(value):
                yield from strings(inner, f"{path}[{index}]")
        else:
            yield path, str(value)

    leaking = [path for path, text in strings(table, "conf") if ENCODED in text or PASSWORD in text]
    assert leaking == []
    raw = build_config(settings)
    assert raw["redbeat_redis_options"] == {"password": PASSWORD}
    assert table["redbeat_redis_options"]["password"] == "********"


def test_redbeat_reaches_a_redis_with_a_password_through_its_options() -> None:
    from redbeat.schedulers import get_redis

    with LocalRedis(password=PASSWORD) as server:
        assert ENCODED in server.url
        app = Celery("redbeat-test", set_as_current=False)
        configure(app, settings_for(server.url))
        try:
            client = get_redis(app)
            assert client.ping()
            client.close()
        finally:
            app.close()
