"""A stack copies its settings into this process's environment; stopping it must put them back, or a
second stack in the same process (the benchmark's rate-limited run after its unthrottled one) silently
inherits the first one's settings."""

from __future__ import annotations

import os

import pytest

from tasks.harness.stack import apply_environment, restore_environment


def test_the_environment_is_put_back_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE", "480")
    monkeypatch.delenv("RBSYNC_CONNECTION_ID", raising=False)

    previous = apply_environment(
        {
            "RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE": "1000000",
            "RBSYNC_CONNECTION_ID": "run-1",
            "PATH": "/nowhere",
        },
        prefix="RBSYNC_",
    )
    assert os.environ["RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE"] == "1000000"
    assert os.environ["PATH"] != "/nowhere"  # only the prefixed variables are applied

    restore_environment(previous)
    assert os.environ["RBSYNC_RACKBEAT_REQUESTS_PER_MINUTE"] == "480"
    assert "RBSYNC_CONNECTION_ID" not in os.environ
