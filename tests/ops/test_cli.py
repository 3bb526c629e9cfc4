"""The two README commands answer --help through the installed console script, and their pure helpers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tasks.cli.run import format_event
from tasks.cli.stack import StackError, real_api_mode, redact_url

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
