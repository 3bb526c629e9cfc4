"""The two README commands answer --help through the installed console script, and their pure helpers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from tasks.cli.run import format_event
from tasks.harness.stack import StackError, real_api_mode, redact_url

RBSYNC = Path(sys.executable).parent / "rbsync"


@pytest.mark.parametrize("command", ["run", "demo"])
def test_help_works_through_the_console_script(command: str) -> None:
    answer = subprocess.run([str(RBSYNC), command, "--help"], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert f"Usage: rbsync {command}" in answer.stdout


def test_run_help_offers_the_simulated_activity_switch() -> None:
    answer = subprocess.run([str(RBSYNC), "run", "--help"], capture_output=True, text=True, timeout=60)
    assert "--simulate / --no-simulate" in answer.stdout


def test_a_transfer_prints_as_one_line_with_time_kind_key_outcome_and_number() -> None:
    line = format_event(
        {
            "kind": "product",
            "key": "P-1",
            "outcome": "created",
            "economic_key": "P-1",
            "api_calls": 3,
            "at": 0.0,
        }
    )
    assert "\n" not in line
    assert line.split()[1:4] == ["product", "P-1", "created"]
    assert "e-conomic P-1" in line
    assert line.endswith("3 calls")


def test_dependencies_get_a_line_only_when_they_were_written() -> None:
    from tasks.cli.run import worth_a_line

    group = {"kind": "product_group", "key": "3", "economic_key": "3", "at": 0, "via": "product:SIM-0001"}
    assert not worth_a_line({**group, "outcome": "unchanged"})
    assert worth_a_line({**group, "outcome": "created"})
    assert format_event({**group, "outcome": "created"}).endswith("(needed by product SIM-0001)")
    assert worth_a_line({"kind": "product", "key": "P", "outcome": "unchanged", "at": 0})


def test_a_retry_line_says_why_and_how_far_along() -> None:
    line = format_event(
        {
            "kind": "customer",
            "key": "1042",
            "outcome": "retrying",
            "retry_in": "16.2",
            "attempt": "3",
            "max_retries": "8",
            "reason": "e-conomic 503",
            "at": 0,
        }
    )
    assert "e-conomic 503, retry 3 of 8 in 16 s" in line


def test_a_dead_letter_line_names_the_entry() -> None:
    line = format_event(
        {"kind": "product", "key": "P-2", "outcome": "dead-lettered", "entry_id": "abc", "at": 0}
    )
    assert "dead letter abc" in line


TOKENS = (
    "RBSYNC_RACKBEAT_TOKEN",
    "RBSYNC_ECONOMIC_APP_SECRET_TOKEN",
    "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN",
)


def test_mode_is_sandbox_without_tokens_and_real_with_all_three(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TOKENS:
        monkeypatch.delenv(name, raising=False)
    assert real_api_mode({}) is False
    assert real_api_mode(dict.fromkeys(TOKENS, "t")) is True
    monkeypatch.setenv("RBSYNC_RACKBEAT_TOKEN", "from-the-environment")
    with pytest.raises(StackError) as error:
        real_api_mode({})
    assert "RBSYNC_ECONOMIC_APP_SECRET_TOKEN" in str(error.value)
    assert "from-the-environment" not in str(error.value)


def test_printed_urls_never_show_a_password() -> None:
    assert redact_url("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


# --- `rbsync dlq` needs only Redis, and says in one line when Redis is wrong -------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rbsync_dlq(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script in a clean environment: no RBSYNC_* (so no token) and no .env."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    return subprocess.run(
        [str(RBSYNC), "dlq", *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_dlq_commands_work_without_any_api_token(tmp_path: Path, redis_url: str) -> None:
    env = {"RBSYNC_REDIS_URL": redis_url, "RBSYNC_CONNECTION_ID": f"test-no-tokens-{uuid.uuid4().hex[:8]}"}

    listed = rbsync_dlq("list", env=env, cwd=tmp_path)
    stats = rbsync_dlq("stats", "--json", env=env, cwd=tmp_path)

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[-1] == "0 entries"
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["counts"]["total"] == 0


DLQ_COMMANDS = (
    ("list",),
    ("show", "abc123"),
    ("retry", "abc123"),
    ("retry", "--all-matching", "--kind", "product"),
    ("discard", "abc123", "--reason", "test"),
    ("stats",),
)


@pytest.mark.parametrize("command", DLQ_COMMANDS, ids=lambda command: " ".join(command[:2]))
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:{dead}/0", "cannot reach Redis at 127.0.0.1:{dead}/0"),
        ("http://127.0.0.1:6379/0", "http:// is not a Redis URL"),
        ("redis://:pw-not-shown@127.0.0.1:6379/99", "Redis at 127.0.0.1:6379/99 has no database 99"),
    ],
    ids=["unreachable", "scheme", "database"],
)
def test_every_dlq_command_names_a_wrong_redis_in_one_line(
    tmp_path: Path, command: tuple[str, ...], url: str, problem: str
) -> None:
    dead = free_port()
    env = {"RBSYNC_REDIS_URL": url.format(dead=dead), "RBSYNC_CONNECTION_ID": "test-wrong-redis"}

    done = rbsync_dlq(*command, env=env, cwd=tmp_path)

    assert done.returncode != 0
    [line] = done.stderr.splitlines()
    assert line.startswith("rbsync: setting RBSYNC_REDIS_URL: ")
    assert problem.format(dead=dead) in line
    assert "pw-not-shown" not in done.stderr + done.stdout


def test_a_retry_whose_broker_is_unreachable_names_the_broker_setting(tmp_path: Path, redis_url: str) -> None:
    from tasks.deadletter import DeadLetterStore, Failure

    namespace = f"test-dead-broker-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = DeadLetterStore(client, namespace)
    entry = store.record_failure(
        Failure(
            task_name="rbsync.export_record",
            task_id="t-1",
            args=["product", "P-1"],
            kwargs={},
            queue="transfers",
            kind="product",
            key="P-1",
            classification="permanent",
            error_class="ValidationFailed",
            error="no",
        )
    )
    dead = free_port()
    env = {
        "RBSYNC_REDIS_URL": redis_url,
        "RBSYNC_BROKER_URL": f"redis://127.0.0.1:{dead}/0",
        "RBSYNC_CONNECTION_ID": namespace,
    }
    try:
        done = rbsync_dlq("retry", entry["id"], env=env, cwd=tmp_path)
    finally:
        keys = list(client.scan_iter(match=f"rbsync:{namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()

    assert done.returncode != 0
    [line] = done.stderr.splitlines()
    assert line.startswith(f"rbsync: setting RBSYNC_BROKER_URL: cannot reach Redis at 127.0.0.1:{dead}/0")
