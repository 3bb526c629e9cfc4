"""`rbsync run` against "real" APIs (sandboxes the test starts) whose credentials are wrong stops at once
with one line, and while running it prints a line when an API starts or stops refusing our credentials."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tasks.cli.run import credential_changes
from tasks.harness.localredis import free_port
from tests.cli.test_run import RBSYNC


def test_real_mode_with_a_token_the_api_refuses_stops_with_one_line(
    tmp_path: Path,
    redis_url: str,
    session_namespace: str,
    rackbeat_server_factory,
    economic_server_factory,
) -> None:
    rackbeat = rackbeat_server_factory(token="the-right-rackbeat-token")
    economic = economic_server_factory(app_secret_token="app-secret", agreement_grant_token="grant")
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                f"RBSYNC_REDIS_URL={redis_url}",
                f"RBSYNC_CONNECTION_ID={session_namespace}-refused",
                f"RBSYNC_BROKER_KEY_PREFIX={session_namespace}-refused:",
                f"RBSYNC_RACKBEAT_BASE_URL={rackbeat.api_url}",
                "RBSYNC_RACKBEAT_TOKEN=a-token-rackbeat-never-issued",
                f"RBSYNC_ECONOMIC_BASE_URL={economic.api_url}",
                f"RBSYNC_ECONOMIC_OPENAPI_BASE_URL={economic.api_url}",
                "RBSYNC_ECONOMIC_APP_SECRET_TOKEN=app-secret",
                "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN=grant",
                f"RBSYNC_PUBLIC_URL=http://127.0.0.1:{free_port()}",
            ]
        )
        + "\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}

    done = subprocess.run(
        [str(RBSYNC), "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
    )

    assert done.returncode == 2, done.stdout + done.stderr
    refused = [line for line in done.stderr.splitlines() if "refused our credentials" in line]
    assert len(refused) == 1 and "RBSYNC_RACKBEAT_TOKEN" in refused[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert "Transfers (Ctrl-C to stop)" not in done.stdout, "nothing was started"


def test_a_change_of_credential_state_gets_one_line_each_way() -> None:
    accepted = {"state": "accepted", "since": "2026-11-30T06:00:00+00:00", "detail": ""}
    refused = {"state": "refused", "since": "2026-11-30T06:41:02+00:00", "detail": "Unauthenticated."}
    unknown = {"state": "unknown", "since": None, "detail": None}

    assert credential_changes({}, {"rackbeat": unknown, "economic": accepted}) == []
    [down] = credential_changes({"rackbeat": accepted}, {"rackbeat": refused})
    assert down.startswith("rbsync: Rackbeat refuses our credentials since 2026-11-30T06:41:02")
    assert "Unauthenticated." in down and "RBSYNC_RACKBEAT_TOKEN" in down
    assert credential_changes({"rackbeat": refused}, {"rackbeat": refused}) == [], "said once"
    [up] = credential_changes({"economic": refused}, {"economic": accepted})
    assert up == "rbsync: e-conomic accepts our credentials again; waiting transfers resume."


def test_real_mode_without_tokens_names_the_setting_in_one_line(tmp_path: Path, redis_url: str) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RBSYNC_")}
    env["RBSYNC_REDIS_URL"] = redis_url

    done = subprocess.run(
        [str(RBSYNC), "run", "--real"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "rbsync: setting RBSYNC_RACKBEAT_TOKEN: field required (also wrong: RBSYNC_ECONOMIC_APP_SECRET_TOKEN,"
        " RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN)"
    ]
