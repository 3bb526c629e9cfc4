"""A Redis failure inside the rate limiter surfaces as the clients' own ``TransientError``.

The translation happens in ``clients/ratelimit.py``, where Redis is used; the HTTP client only names
the call the limiter held back and imports nothing from redis-py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
import redis
from pydantic import SecretStr
from redis.backoff import NoBackoff
from redis.retry import Retry

import clients.economic
import clients.http
import clients.rackbeat
from clients.errors import TransientError
from clients.rackbeat import RackbeatClient
from clients.ratelimit import RedisTokenBucket
from tests.clients.stub_server import Reply, StubServer


@pytest.fixture
def dead_redis() -> Iterator[redis.Redis]:
    """A client for a port nobody listens on, without redis-py's own retries."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    yield client
    client.close()


OPERATIONS: dict[str, tuple[Callable[[RedisTokenBucket], object], bool]] = {
    # name: (call, whether it takes tokens before a request, so "nothing was sent")
    "acquire": (lambda bucket: bucket.acquire(), True),
    "reserve": (lambda bucket: bucket.reserve(1, 5.0), True),
    "try_acquire": (lambda bucket: bucket.try_acquire(), True),
    "penalize": (lambda bucket: bucket.penalize(3), False),
    "sync_from_header": (
        lambda bucket: bucket.sync_from_header("token-limit-100-per-60-seconds: 50/100"),
        False,
    ),
    "available": (lambda bucket: bucket.available(), False),
    "reset": (lambda bucket: bucket.reset(), False),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_redis_failure_in_the_bucket_is_raised_as_a_transient_error(
    dead_redis: redis.Redis, operation: str
) -> None:
    bucket = RedisTokenBucket(dead_redis, "economic", "cred", 10, 60)
    call, takes_tokens = OPERATIONS[operation]
    with pytest.raises(TransientError) as caught:
        call(bucket)
    error = caught.value
    assert type(error) is TransientError  # the class callers (and DLQ records) have always seen
    assert error.request_sent is False and error.status is None
    assert error.api == "economic"
    assert error.message.startswith("The shared rate limiter is unavailable (ConnectionError)")
    assert error.message.endswith("; nothing was sent.") is takes_tokens
    # Translated where Redis is used: the Redis error is the suppressed context of an error raised in
    # clients/ratelimit.py.
    assert isinstance(error.__context__, redis.ConnectionError) and error.__suppress_context__
    assert caught.traceback[-1].path.name == "ratelimit.py"


def test_the_client_names_the_call_the_limiter_held_back(stub: StubServer, dead_redis: redis.Redis) -> None:
    stub.route("GET", "/api/customers/1", Reply(200, {"customer": {}}))
    bucket = RedisTokenBucket(dead_redis, "rackbeat", "cred", 10, 60)
    with (
        RackbeatClient(stub.url + "/api", SecretStr("rackbeat-token-s3cr3t"), limiter=bucket) as client,
        pytest.raises(TransientError) as caught,
    ):
        client.get("customers", 1, "customer")
    assert stub.requests == [] and client.call_count == 0
    error = caught.value
    assert type(error) is TransientError
    assert (error.api, error.method, error.request_sent) == ("rackbeat", "GET", False)
    assert error.url.endswith("/api/customers/1")
    assert error.message == "The shared rate limiter is unavailable (ConnectionError); nothing was sent."
    assert str(error).startswith("rackbeat GET http://")
    assert "s3cr3t" not in str(error)


@pytest.mark.parametrize("module", [clients.http, clients.economic, clients.rackbeat])
def test_the_http_clients_import_nothing_from_redis(module: ModuleType) -> None:
    redis_modules = [
        name
        for name, value in vars(module).items()
        if isinstance(value, ModuleType) and value.__name__.partition(".")[0] == "redis"
    ]
    assert redis_modules == []
