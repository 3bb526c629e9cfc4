"""Shared test fixtures.

Every test session gets its own Redis key namespace (a unique connection id) on a database of its own, so
parallel runs never see each other's data, and everything it wrote is deleted at the end.
Fixture modules live in tests/fixtures/, one per area, each owned by the code it exercises.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

pytest_plugins = [
    "tests.fixtures.sandboxes",
    "tests.fixtures.service",
]

TEST_REDIS_URL = os.environ.get("RBSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return TEST_REDIS_URL


@pytest.fixture(scope="session")
def session_namespace() -> str:
    """A connection id unique to this test session; every key we write starts with rbsync:<it>:."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def redis_client(redis_url: str, session_namespace: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.ping()
    yield client
    for pattern in (f"rbsync:{session_namespace}:*", f"{session_namespace}:*", f"*{session_namespace}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()
