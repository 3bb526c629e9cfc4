"""Fixtures of the start-up sync tests: both sandboxes on loopback, e-conomic seeded with the tiny
believable company, Rackbeat empty, a Redis namespace of the test's own.

Rackbeat is a sandbox of its own with a budget far above the default, and the settings' budget with it,
so these tests never wait on a rate limit the other tests of the session used up (the budget itself is
the clients' business, tests/clients)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tasks.settings import Settings
from tests.fixtures.service import apply_settings, settings_for_sandboxes
from tests.startup.support import seed_economic

UNTHROTTLED = 1_000_000
_numbers = itertools.count(1)


@pytest.fixture
def namespace(session_namespace: str) -> str:
    """A connection id of the test's own (bindings, locks, dead letters, the run's state), so no test
    needs to clear what another left; the session's cleanup removes them all (its keys contain the
    session's namespace)."""
    return f"{session_namespace}-su{next(_numbers)}"


@pytest.fixture
def company(
    service_settings: Settings,
    rackbeat_server_factory: Callable[..., Any],
    economic_sandbox: Any,
    namespace: str,
) -> Iterator[dict[str, Any]]:
    """e-conomic holds the tiny seeded company, Rackbeat nothing; settings applied to this process."""
    rackbeat = rackbeat_server_factory(requests_per_minute=UNTHROTTLED)
    data = seed_economic(economic_sandbox)
    settings = settings_for_sandboxes(service_settings, rackbeat, economic_sandbox).model_copy(
        update={
            "rackbeat_requests_per_minute": UNTHROTTLED,
            "rate_limit_headroom": 0.0,
            "connection_id": namespace,
        }
    )
    apply_settings(settings)
    yield {"settings": settings, "data": data, "rackbeat": rackbeat, "economic": economic_sandbox}
    apply_settings(service_settings)
