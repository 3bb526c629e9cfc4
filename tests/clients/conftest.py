"""Fixtures for the client tests: a scripted loopback server and real Redis token buckets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from clients.ratelimit import RedisTokenBucket
from tests.clients.stub_server import StubServer, running_stub

HUGE_WINDOW = 10_000_000.0  # refill is nil while a test runs, so token counts are exact


@pytest.fixture
def stub() -> Iterator[StubServer]:
    yield from running_stub()


@pytest.fixture
def bucket_factory(redis_client: redis.Redis, session_namespace: str):
    def make(api: str = "economic", capacity: int = 1000, window: float = HUGE_WINDOW) -> RedisTokenBucket:
        return RedisTokenBucket(
            redis_client, api, f"cred-{uuid.uuid4().hex}", capacity, window, namespace=session_namespace
        )

    return make
