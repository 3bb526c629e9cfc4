"""Both clients over real HTTP against a scripted loopback server: headers, envelopes, paging,
idempotency keys, limiter use, and every failure mapped into the taxonomy."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import redis
from pydantic import SecretStr
from redis.backoff import NoBackoff
from redis.retry import Retry

from clients.economic import EconomicClient
from clients.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
    ValidationFailed,
)
from clients.rackbeat import RackbeatClient, UrlFriendly
from clients.ratelimit import RedisTokenBucket
from tests.clients.stub_server import Reply, StubServer

APP, GRANT, RB_TOKEN = "app-secret-s3cr3t", "grant-s3cr3t", "rackbeat-token-s3cr3t"


def economic(stub: StubServer, **kwargs) -> EconomicClient:
    return EconomicClient(stub.url, stub.url + "/openapi", SecretStr(APP), GRANT, **kwargs)


def rackbeat(stub: StubServer, **kwargs) -> RackbeatClient:
    return RackbeatClient(stub.url + "/api", SecretStr(RB_TOKEN), **kwargs)


# --- e-conomic -----------------------------------------------------------------------------------


def test_economic_sends_both_tokens_and_idempotency_key_only_on_writes(stub: StubServer) -> None:
    stub.route("GET", "/customers/7", Reply(200, {"customerNumber": 7}))
    stub.route("POST", "/customers", Reply(201, {"customerNumber": 8}))
    stub.route("PUT", "/customers/8", Reply(200, {"customerNumber": 8}))
    stub.route("DELETE", "/customers/8", Reply(204))
    with economic(stub) as client:
        assert client.get_item("customers", 7) == {"customerNumber": 7}
        assert client.create("customers", {"name": "A"}, idempotency_key="k-1") == {"customerNumber": 8}
        assert client.replace("customers", 8, {"name": "B"}, idempotency_key="k-2") == {"customerNumber": 8}
        assert client.delete("customers", 8, idempotency_key="k-3") is None
        assert client.calls == {"GET": 1, "POST": 1, "PUT": 1, "DELETE": 1}
    get, post, put, delete = stub.requests
    for req in stub.requests:
        assert req.headers["X-AppSecretToken"] == APP
        assert req.headers["X-AgreementGrantToken"] == GRANT
    assert "Idempotency-Key" not in get.headers
    assert [post.headers["Idempotency-Key"], put.headers["Idempotency-Key"]] == ["k-1", "k-2"]
    assert delete.headers["Idempotency-Key"] == "k-3"
    assert post.json() == {"name": "A"}
    assert post.headers["Content-Type"].startswith("application/json")


def test_economic_writes_refuse_to_go_without_an_idempotency_key(stub: StubServer) -> None:
    with economic(stub) as client:
        with pytest.raises(TypeError):
            client.create("customers", {"name": "A"})  # type: ignore[call-arg]
        with pytest.raises(ValueError):
            client.replace("customers", 1, {}, idempotency_key=" ")
        with pytest.raises(ValueError):
            client.openapi_post("suppliersapi/v2.0.0", "Groups", {}, idempotency_key="")
    assert stub.requests == []


def test_economic_string_keys_use_economics_encoding_in_the_path(stub: StubServer) -> None:
    stub.route("GET", "/products/My_9_Awesome_6_1_8_x", Reply(200, {"productNumber": "My Awesome/1_x"}))
    with economic(stub) as client:
        assert client.get_item("products", "My Awesome/1_x")["productNumber"] == "My Awesome/1_x"
    assert stub.requests[0].path == "/products/My_9_Awesome_6_1_8_x"


def test_economic_replay_marker_and_rate_header_reach_client_and_bucket(stub, bucket_factory) -> None:
    bucket = bucket_factory("economic", capacity=1000)
    headers = {"X-ResultFromCache": "true", "X-RateLimiting": "token-limit-1000-per-60-seconds: 700/1000"}
    stub.route("POST", "/units", Reply(201, {"unitNumber": 3}, headers={**headers, "X-CallCost": "2"}))
    stub.route("GET", "/units/3", Reply(200, {"unitNumber": 3}))
    with economic(stub, limiter=bucket) as client:
        client.create("units", {"name": "pcs"}, idempotency_key="u-3")
        assert client.last_response_from_cache is True
        assert client.last_call_cost == 2
        assert bucket.available() < 300.01  # the server counted 700 used, more than our 1
        client.get_item("units", 3)
        assert client.last_response_from_cache is False


def test_economic_collection_follows_next_page_one_page_at_a_time(stub: StubServer) -> None:
    def page(req) -> Reply:
        skip = int(dict(p.split("=", 1) for p in req.path.split("?")[1].split("&"))["skippages"])
        items = [{"n": skip * 2 + i} for i in range(2)] if skip < 3 else []
        pagination = {"skipPages": skip, "pageSize": 2, "results": 5}
        if skip < 2:  # links point at the real host, as e-conomic writes them; the client rebases them
            pagination["nextPage"] = (
                f"https://restapi.e-conomic.com/customers?skippages={skip + 1}&pagesize=2&filter=name$like:a"
            )
        return Reply(200, {"collection": items[: 5 - skip * 2], "pagination": pagination})

    stub.route("GET", "/customers", page)
    with economic(stub) as client:
        items = client.iter_collection("customers", filter="name$like:a", pagesize=2)
        assert next(items) == {"n": 0}
        assert len(stub.requests) == 1
        assert [i["n"] for i in items] == [1, 2, 3, 4]
    assert len(stub.requests) == 3
    assert all("filter=name%24like%3Aa" in r.path or "filter=name$like:a" in r.path for r in stub.requests)
    with pytest.raises(ValueError):
        list(economic(stub).iter_collection("customers", pagesize=1001))


def test_economic_openapi_calls_go_to_the_service_url_and_follow_cursors(stub: StubServer) -> None:
    def groups(req) -> Reply:
        if "cursor=c2" in req.path:
            return Reply(200, {"items": [{"number": 3}]})
        return Reply(200, {"items": [{"number": 1}, {"number": 2}], "cursor": "c2"})

    stub.route("GET", "/openapi/suppliersapi/v2.0.0/Groups", groups)
    stub.route("POST", "/openapi/suppliersapi/v2.0.0/Groups", Reply(201, {"number": 4}))
    with economic(stub) as client:
        assert [g["number"] for g in client.openapi_iter("suppliersapi/v2.0.0", "Groups")] == [1, 2, 3]
        created = client.openapi_post("suppliersapi/v2.0.0", "/Groups", {"name": "G"}, idempotency_key="g")
        assert created == {"number": 4}
    assert stub.requests[-1].headers["Idempotency-Key"] == "g"


# --- Rackbeat ------------------------------------------------------------------------------------


def test_rackbeat_headers_envelopes_and_206(stub: StubServer) -> None:
    stub.route("GET", "/api/customers/12", Reply(200, {"customer": {"number": 12}}))
    stub.route("POST", "/api/products", Reply(201, {"product": {"number": "A/1"}}))
    stub.route("PUT", "/api/products/A%252F1", Reply(200, {"product": {"number": "A/1", "name": "x"}}))
    stub.route("DELETE", "/api/products/A%2F1", Reply(200, {}))
    with rackbeat(stub, user_agent="rbsync-test (ops@example.com)") as client:
        assert client.get("customers", 12, "customer") == {"number": 12}
        assert client.create("products", "product", {"number": "A/1"}) == {"number": "A/1"}
        assert client.update("products", "A/1", "product", {"name": "x"})["name"] == "x"
        client.delete("products", UrlFriendly("A%2F1"))
    req = stub.requests[0]
    assert req.headers["Authorization"] == f"Bearer {RB_TOKEN}"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["User-Agent"] == "rbsync-test (ops@example.com)"
    assert req.headers["Consumer-Name"] == "rbsync"
    assert [r.path for r in stub.requests[2:]] == ["/api/products/A%252F1", "/api/products/A%2F1"]


def test_rackbeat_iter_pages_until_page_reaches_pages(stub: StubServer) -> None:
    def products(req) -> Reply:
        page = int(req.path.split("page=")[1].split("&")[0])
        return Reply(
            206, {"products": [{"number": f"P{page}"}], "total": 3, "pages": 3, "limit": 1, "page": page}
        )

    stub.route("GET", "/api/products", products)
    with rackbeat(stub) as client:
        it = client.iter("products", "products", params={"is_barred": "false"}, limit=1)
        assert next(it) == {"number": "P1"}
        assert len(stub.requests) == 1
        assert [p["number"] for p in it] == ["P2", "P3"]
    assert len(stub.requests) == 3
    assert all("is_barred=false" in r.path and "limit=1" in r.path for r in stub.requests)


def test_rackbeat_webhooks(stub: StubServer) -> None:
    hook = {"id": 5, "event": "product.updated", "url": "https://x/hooks", "token": "t" * 32}
    stub.route("POST", "/api/webhooks", Reply(201, {"webhook": hook}))
    stub.route("GET", "/api/webhooks", Reply(206, {"webhooks": [hook], "pages": 1, "page": 1}))
    stub.route("DELETE", "/api/webhooks/5", Reply(204))
    with rackbeat(stub) as client:
        assert client.register_webhook("product.updated", "https://x/hooks") == hook
        assert client.list_webhooks() == [hook]
        client.delete_webhook(5)
    assert stub.requests[0].json() == {
        "event": "product.updated",
        "url": "https://x/hooks",
        "is_active": True,
    }


def test_limiter_is_asked_before_every_request(stub, bucket_factory) -> None:
    bucket = bucket_factory("rackbeat", capacity=100)
    stub.route("GET", "/api/customers/1", Reply(200, {"customer": {}}))
    stub.route("GET", "/api/customers/2", Reply(404, {"message": "Not found"}))
    with rackbeat(stub, limiter=bucket) as client:
        client.get("customers", 1, "customer")
        with pytest.raises(NotFoundError):
            client.get("customers", 2, "customer")
    assert 97.99 < bucket.available() < 98.01


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"message": "Unauthenticated."}, AuthError),
        (403, {"message": "Access denied"}, AuthError),
        (404, {"message": "No query results"}, NotFoundError),
        (409, {"message": "Conflict"}, PermanentError),
        (422, {"message": "The given data was invalid.", "errors": {"name": ["Required"]}}, ValidationFailed),
        (500, {"message": "Server Error"}, TransientError),
        (503, "<html>down</html>", TransientError),
    ],
)
def test_rackbeat_statuses_map_to_the_taxonomy(stub: StubServer, status, body, cls) -> None:
    stub.route("PUT", "/api/customers/3", Reply(status, body))
    with rackbeat(stub) as client, pytest.raises(cls) as caught:
        client.update("customers", 3, "customer", {"name": ""})
    err = caught.value
    assert type(err) is cls
    assert (err.api, err.method, err.status) == ("rackbeat", "PUT", status)
    assert err.url == f"{stub.url}/api/customers/3"
    if status == 422:
        assert err.field_errors == {"name": ["Required"]}
    if isinstance(body, str):
        assert err.body == body and "down" in err.message


def test_economic_validation_error_carries_field_paths(stub: StubServer) -> None:
    body = {
        "message": "Validation error.",
        "errors": {
            "lines": [{"arrayIndex": 0, "unitNetPrice": {"errors": [{"message": "too many decimals"}]}}]
        },
    }
    stub.route("POST", "/invoices/drafts", Reply(400, body))
    with economic(stub) as client, pytest.raises(ValidationFailed) as caught:
        client.create("invoices/drafts", {}, idempotency_key="i")
    assert caught.value.message == "Validation error."
    assert caught.value.field_errors == {"lines[0].unitNetPrice": ["too many decimals"]}


@pytest.mark.parametrize("retry_after", ["7", "date"])
def test_429_raises_rate_limited_and_empties_the_shared_bucket(stub, bucket_factory, retry_after) -> None:
    if retry_after == "date":
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    bucket = bucket_factory("economic", capacity=1000)
    stub.route("GET", "/products", Reply(429, {"message": "Too many"}, headers={"Retry-After": retry_after}))
    with economic(stub, limiter=bucket) as client, pytest.raises(RateLimitedError) as caught:
        client.get("products")
    assert caught.value.retry_after is not None and 5 <= caught.value.retry_after <= 20
    assert bucket.try_acquire() >= 4  # every worker on this credential now waits
    assert caught.value.to_dict()["retry_after"] == caught.value.retry_after


def test_dropped_connection_after_sending_is_transient_and_may_have_applied(stub: StubServer) -> None:
    stub.route("POST", "/customers", Reply(201, drop_after_headers=True))
    with economic(stub) as client, pytest.raises(TransientError) as caught:
        client.create("customers", {"name": "A"}, idempotency_key="k")
    assert caught.value.status is None
    assert caught.value.request_sent is True


def test_read_timeout_is_transient(stub: StubServer) -> None:
    stub.route("GET", "/api/products", Reply(206, {"products": []}, delay=1.0))
    with rackbeat(stub, timeout=0.2) as client, pytest.raises(TransientError) as caught:
        list(client.iter("products", "products"))
    assert "Timed out" in caught.value.message
    assert caught.value.request_sent is True


def test_refused_connection_is_transient_and_was_not_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        RackbeatClient(f"http://127.0.0.1:{port}/api/", RB_TOKEN) as client,
        pytest.raises(TransientError) as caught,
    ):
        client.get("customers", 1, "customer")
    assert caught.value.request_sent is False
    assert type(caught.value) is TransientError


def test_success_with_unreadable_body_is_transient(stub: StubServer) -> None:
    stub.route("GET", "/self", Reply(200, "<html>proxy error</html>"))
    with economic(stub) as client, pytest.raises(TransientError):
        client.get("self")


def test_a_long_rate_wait_fails_fast_without_sending(stub, bucket_factory) -> None:
    bucket = bucket_factory("rackbeat", capacity=10)
    bucket.penalize(30)  # another worker just got a 429 with Retry-After: 30
    stub.route("GET", "/api/customers/1", Reply(200, {"customer": {}}))
    with (
        rackbeat(stub, limiter=bucket, max_rate_wait=0.1) as client,
        pytest.raises(RateLimitedError) as caught,
    ):
        client.get("customers", 1, "customer")
    assert caught.value.request_sent is False
    assert caught.value.retry_after is not None and caught.value.retry_after >= 29
    assert stub.requests == [] and client.call_count == 0


def test_an_unreachable_rate_limiter_is_transient_and_sends_nothing(stub, session_namespace) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead_redis = redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    bucket = RedisTokenBucket(dead_redis, "economic", "cred", 10, 60, namespace=session_namespace)
    with economic(stub, limiter=bucket) as client, pytest.raises(TransientError) as caught:
        client.get("self")
    assert caught.value.request_sent is False
    assert "rate limiter" in caught.value.message
    assert stub.requests == []


@pytest.fixture
def doomed_redis(tmp_path) -> Iterator[redis.Redis]:
    """A private redis-server that a test may shut down half-way through a request."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            threading.Event().wait(0.02)
    yield client
    server.kill()
    server.wait()


@pytest.mark.parametrize("status", [201, 429])
def test_losing_redis_after_sending_does_not_change_the_answer(stub, doomed_redis, status, caplog) -> None:
    """The request went out; if Redis dies before the rate bookkeeping, the caller still gets the
    server's answer (a 201 stays a success, a 429 stays a RateLimitedError), not a Redis error."""
    bucket = RedisTokenBucket(doomed_redis, "economic", "cred", 100, 60)

    def answer_after_redis_dies(_req) -> Reply:
        with contextlib.suppress(redis.ConnectionError):
            doomed_redis.shutdown(nosave=True)
        headers = {"X-RateLimiting": "token-limit-100-per-60-seconds: 50/100", "Retry-After": "3"}
        return Reply(status, {"unitNumber": 1, "message": "slow down"}, headers=headers)

    stub.route("POST", "/units", answer_after_redis_dies)
    with economic(stub, limiter=bucket) as client:
        if status == 201:
            assert client.create("units", {"name": "x"}, idempotency_key="u") == {
                "unitNumber": 1,
                "message": "slow down",
            }
        else:
            with pytest.raises(RateLimitedError) as caught:
                client.create("units", {"name": "x"}, idempotency_key="u")
            assert caught.value.retry_after == 3
    assert len(stub.requests) == 1
    # The limiter's TransientError is only logged: the bookkeeping step that was lost, and why.
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("could not sync the rate limiter" in w and "unavailable" in w for w in warnings)
    assert any("could not record a 429" in w for w in warnings) is (status == 429)
