"""Fixtures of the start-up sync tests: both sandboxes on loopback, e-conomic seeded with the tiny
believable company, Rackbeat empty, the session's Redis namespace without bindings or start-up state.

Rackbeat is a sandbox of its own with a budget far above the default, and the settings' budget with it,
so these tests never wait on a rate limit the other tests of the session used up (the budget itself is
the clients' business, tests/clients)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from tasks.settings import Settings
from tests.fixtures.service import apply_settings, settings_for_sandboxes
from tests.startup.support import forget_startup, seed_economic

UNTHROTTLED = 1_000_000


@pytest.fixture
def company(
    service_settings: Settings,
    rackbeat_server_factory: Callable[..., Any],
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[dict[str, Any]]:
    """e-conomic holds the tiny seeded company, Rackbeat nothing; settings applied to this process."""
    forget_startup(redis_client, session_namespace)
    rackbeat = rackbeat_server_factory(requests_per_minute=UNTHROTTLED)
    data = seed_economic(economic_sandbox)
    settings = settings_for_sandboxes(service_settings, rackbeat, economic_sandbox).model_copy(
        update={"rackbeat_requests_per_minute": UNTHROTTLED, "rate_limit_headroom": 0.0}
    )
    apply_settings(settings)
    yield {"settings": settings, "data": data, "rackbeat": rackbeat, "economic": economic_sandbox}
    apply_settings(service_settings)
    forget_startup(redis_client, session_namespace)
