"""The operator console (web/console.py) over real HTTP: its login, its CSRF guard, and retry, discard and
retry-all-matching against dead letters a real worker made (the scripted test tasks), in real Redis.

The browser test (tests/web/test_console_browser.py) drives the same pages in Chromium."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from sandbox.common.server import ServerThread
from tasks.settings import Settings
from tests.fixtures.service import wait_for
from tests.tasks.sample_tasks import SCRIPTED, script
from web.app import create_app

pytestmark = pytest.mark.usefixtures("celery_worker")

USERNAME = "operator"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def console_settings(service_settings: Settings) -> Settings:
    return service_settings.model_copy(
        update={
            "console_username": SecretStr(USERNAME),
            "console_password": SecretStr(PASSWORD),
            "flower_url": "http://127.0.0.1:5555",
        }
    )


@pytest.fixture(scope="module")
def console_url(console_settings: Settings, celery_app: Any) -> Iterator[str]:
    server = ServerThread(create_app(console_settings, register_webhooks=False)).start()
    yield server.url
    server.stop()


def log_in(url: str, password: str = PASSWORD) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=url, timeout=30)
    answer = client.post("/console/login", data={"username": USERNAME, "password": password})
    return client, answer


@pytest.fixture
def operator(console_url: str) -> Iterator[httpx.Client]:
    client, answer = log_in(console_url)
    assert answer.status_code == 303, answer.text
    yield client
    client.close()


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def dead_letter(
    celery_app: Any, client: Any, store: Any, *steps: str, kind: str = "product"
) -> dict[str, Any]:
    key = f"C-{uuid.uuid4().hex[:8]}"
    script(client, kind, key, *steps)
    celery_app.send_task(SCRIPTED, args=[kind, key])
    return wait_for(lambda: (store.entries_for_record(kind, key) or [None])[0], message="a dead letter")


def test_without_its_own_credentials_the_console_is_off_on_every_path(service_settings: Settings) -> None:
    assert service_settings.console_username is None
    server = ServerThread(create_app(service_settings, register_webhooks=False)).start()
    try:
        for method, path in (("GET", "/console/"), ("GET", "/console/login"), ("POST", "/console/login")):
            answer = httpx.request(method, server.url + path, data={"username": "", "password": ""})
            assert answer.status_code == 503, (method, path)
            assert "RBSYNC_CONSOLE_USERNAME and RBSYNC_CONSOLE_PASSWORD" in answer.text
        assert httpx.get(server.url + "/healthz").status_code == 200  # the receiver is unaffected
    finally:
        server.stop()


def test_a_visitor_is_sent_to_the_login_form_and_a_wrong_password_gets_no_session(console_url: str) -> None:
    page = httpx.get(console_url + "/console/")
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    assert httpx.post(console_url + "/console/retry", data={"entry_id": "x"}).status_code == 401

    client, answer = log_in(console_url, password="wrong password, long enough")

    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text
    assert "set-cookie" not in answer.headers
    assert client.get("/console/").status_code == 303


def test_a_login_sets_a_strict_http_only_session_cookie_and_no_page_shows_the_password(
    console_url: str,
) -> None:
    client, answer = log_in(console_url)

    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert PASSWORD not in cookie and USERNAME not in cookie
    page = client.get("/console/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert PASSWORD not in page.text
    forged = answer.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    expires, nonce, _signature = forged.split(".")
    stranger = httpx.Client(base_url=console_url, cookies={"rbsync_console": f"{expires}.{nonce}.{'0' * 64}"})
    assert stranger.get("/console/").status_code == 303


def test_a_change_without_the_page_s_csrf_token_or_from_another_origin_is_refused(
    operator: httpx.Client, celery_app: Any, service_redis: Any, dlq_store: Any
) -> None:
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent")
    token = csrf_of(operator.get("/console/").text)

    missing = operator.post("/console/discard", data={"entry_id": entry["id"], "reason": "no token"})
    wrong = operator.post("/console/discard", data={"entry_id": entry["id"], "reason": "x", "csrf": "0" * 64})
    elsewhere = operator.post(
        "/console/discard",
        data={"entry_id": entry["id"], "reason": "cross-site", "csrf": token},
        headers={"Origin": "https://evil.example"},
    )

    assert [missing.status_code, wrong.status_code, elsewhere.status_code] == [403, 403, 403]
    assert dlq_store.get(entry["id"])["status"] == "new"


def test_the_list_shows_an_entry_in_the_api_s_words_with_its_flower_link_and_retry_resolves_it(
    operator: httpx.Client, celery_app: Any, service_redis: Any, dlq_store: Any
) -> None:
    entry = dead_letter(celery_app, service_redis, dlq_store, "validation", "ok")
    listing = operator.get("/console/", params={"kind": "product"}).text
    row = re.search(rf'<tr id="entry-{entry["id"]}".*?</tr>', listing, re.S)
    assert row, "the entry is not listed"
    assert entry["key"] in row.group(0) and "ValidationFailed" in row.group(0)
    assert f'href="http://127.0.0.1:5555/task/{entry["task_id"]}"' in row.group(0)
    field, messages = next(iter(entry["field_errors"].items()))
    assert f"{field}: {messages[0]}" in row.group(0)  # the first field error, as `rbsync dlq list` shows

    answer = operator.post("/console/retry", data={"entry_id": entry["id"], "csrf": csrf_of(listing)})

    assert answer.status_code == 200
    assert f"product {entry['key']} transferred" in answer.text
    assert dlq_store.get(entry["id"])["status"] == "resolved"
    again = operator.post("/console/retry", data={"entry_id": entry["id"], "csrf": csrf_of(listing)})
    assert f"entry {entry['id']} is resolved: not retried" in again.text
    history = operator.get("/console/record", params={"kind": "product", "key": entry["key"]}).text
    assert "resolved" in history and "retrying" in history
    [retry] = dlq_store.get(entry["id"])["retries"]
    assert f"/task/{retry['task_id']}" in history
    counters = operator.get("/console/").text
    assert re.search(r'data-outcome="replaced">replaced <b>[1-9]\d*</b>', counters)


def test_discard_needs_a_reason_and_keeps_it(
    operator: httpx.Client, celery_app: Any, service_redis: Any, dlq_store: Any
) -> None:
    entry = dead_letter(celery_app, service_redis, dlq_store, "permanent")
    token = csrf_of(operator.get("/console/").text)

    blank = operator.post("/console/discard", data={"entry_id": entry["id"], "reason": "  ", "csrf": token})
    assert "a discard needs a reason" in blank.text
    assert dlq_store.get(entry["id"])["status"] == "new"

    done = operator.post(
        "/console/discard", data={"entry_id": entry["id"], "reason": "duplicate in Rackbeat", "csrf": token}
    )

    assert f"entry {entry['id']} discarded" in done.text
    stored = dlq_store.get(entry["id"])
    assert stored["status"] == "discarded" and stored["discard_reason"] == "duplicate in Rackbeat"


def test_retry_all_matching_takes_the_new_entries_of_the_filter_only(
    operator: httpx.Client, celery_app: Any, service_redis: Any, dlq_store: Any
) -> None:
    kind = f"console-{uuid.uuid4().hex[:6]}"
    matching = [dead_letter(celery_app, service_redis, dlq_store, "permanent", "ok", kind=kind) for _ in "ab"]
    other = dead_letter(celery_app, service_redis, dlq_store, "permanent", "ok", kind=kind + "-other")
    token = csrf_of(operator.get("/console/").text)
    unfiltered = operator.post("/console/retry-matching", data={"csrf": token})
    assert "needs a filter" in unfiltered.text

    answer = operator.post("/console/retry-matching", data={"kind": kind, "csrf": token})

    assert "2 retries requested" in answer.text
    for entry in matching:
        wait_for(lambda e=entry: dlq_store.get(e["id"])["status"] == "resolved", message="a resolved entry")
    assert dlq_store.get(other["id"])["status"] == "new"


def test_logging_out_ends_the_session(console_url: str) -> None:
    client, _ = log_in(console_url)
    session = client.cookies["rbsync_console"]
    token = csrf_of(client.get("/console/").text)

    assert client.post("/console/logout", data={"csrf": token}).status_code == 303

    replay = httpx.Client(base_url=console_url, cookies={"rbsync_console": session})
    assert replay.get("/console/").status_code == 303


@pytest.mark.parametrize(
    ("login", "problem"),
    [
        (
            {"console_username": "operator"},
            "RBSYNC_CONSOLE_PASSWORD: unset while RBSYNC_CONSOLE_USERNAME is set",
        ),
        ({"console_password": PASSWORD}, "RBSYNC_CONSOLE_PASSWORD: set, but RBSYNC_CONSOLE_USERNAME is not"),
        ({"console_username": "operator", "console_password": "short"}, "shorter than 12 characters"),
        ({"console_username": " ", "console_password": PASSWORD}, "RBSYNC_CONSOLE_USERNAME: empty"),
        ({"flower_url": "flower:5555"}, "RBSYNC_FLOWER_URL: not an http(s) URL"),
    ],
)
def test_a_half_or_weak_console_login_stops_start_up_with_one_line_naming_it(
    login: dict[str, str], problem: str
) -> None:
    from pydantic import ValidationError

    from tasks.settings import describe_settings_error

    tokens = {
        name: "x"
        for name in ("rackbeat_token", "economic_app_secret_token", "economic_agreement_grant_token")
    }
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **tokens, **login)  # type: ignore[arg-type]
    line = describe_settings_error(refused.value)
    assert line.startswith("rbsync: setting RBSYNC_") and problem in line
    assert PASSWORD not in line
