"""Fixtures of the start-up sync tests: both sandboxes on loopback, e-conomic seeded, Rackbeat empty,
the session's Redis namespace without bindings or start-up state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tasks.settings import Settings
from tests.fixtures.service import apply_settings
from tests.startup.support import forget_startup, seed_economic


@pytest.fixture
def company(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[dict[str, Any]]:
    """e-conomic holds the tiny seeded company, Rackbeat nothing; settings applied to this process."""
    forget_startup(redis_client, session_namespace)
    data = seed_economic(economic_sandbox)
    rackbeat_sandbox.sandbox.request_log.clear()
    settings = sandbox_settings.model_copy(update={"rate_limit_headroom": 0.0})
    apply_settings(settings)
    yield {"settings": settings, "data": data, "rackbeat": rackbeat_sandbox, "economic": economic_sandbox}
    forget_startup(redis_client, session_namespace)
