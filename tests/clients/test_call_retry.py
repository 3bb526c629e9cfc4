"""The call-level retry of ``BaseClient``: a call that is safe to repeat (a read, a write carrying an
``Idempotency-Key``) rides out a transient failure inside one client call; anything else, and anything
longer, is left to the task-level retry.

Real HTTP on loopback, against the scripted stub server or the sandboxes; nothing in httpx is replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from clients.economic import EconomicClient
from clients.errors import RateLimitedError, TransientError
from clients.rackbeat import RackbeatClient
from tests.clients.stub_server import Recorded, Reply, StubServer
from tests.fixtures.sandboxes import RunningSandbox
from tests.fixtures.service import wait_for

APP, GRANT, RB_TOKEN = "app-secret-s3cr3t", "grant-s3cr3t", "rackbeat-token-s3cr3t"
QUICK = {"call_retry_backoff": 0.01}  # keeps the pauses out of the test's run time


def economic(stub: StubServer, **kwargs) -> EconomicClient:
    return EconomicClient(stub.url, stub.url + "/openapi", SecretStr(APP), GRANT, **{**QUICK, **kwargs})


def rackbeat(stub: StubServer, **kwargs) -> RackbeatClient:
    client = RackbeatClient(stub.url + "/api", SecretStr(RB_TOKEN), **kwargs)
    client.call_retry_backoff = QUICK["call_retry_backoff"]  # RackbeatClient does not take it (yet)
    return client


def failing_first(*failures: Reply, then: Reply) -> Callable[[Recorded], Reply]:
    """A route that answers ``failures`` in turn, then ``then`` for every later request."""
    queue = list(failures)
    return lambda _req: queue.pop(0) if queue else then


def unavailable() -> Reply:
    return Reply(503, {"message": "Service Unavailable"})


# --- what is repeated ----------------------------------------------------------------------------


def test_a_get_that_meets_one_503_succeeds_in_one_call_with_both_requests_counted(
    stub: StubServer, bucket_factory, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = bucket_factory("economic", capacity=100)
    stub.route("GET", "/customers/7", failing_first(unavailable(), then=Reply(200, {"customerNumber": 7})))
    caplog.set_level(logging.INFO, logger="clients.http")
    with economic(stub, limiter=bucket) as client:
        assert client.get_item("customers", 7) == {"customerNumber": 7}
        assert client.calls == {"GET": 2}  # the engine's api_calls: every attempt
    assert [r.method for r in stub.requests] == ["GET", "GET"]
    assert 97.99 < bucket.available() < 98.01  # every attempt took its own rate token
    [retry] = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert retry.levelno == logging.INFO
    line = retry.getMessage()
    assert f"economic GET {stub.url}/customers/7 -> 503" in line and "attempt 1 of 3" in line
    assert APP not in caplog.text and GRANT not in caplog.text


def test_writes_without_an_idempotency_key_are_never_repeated(stub: StubServer) -> None:
    """Rackbeat has no idempotency keys: its POST, PUT and DELETE meet one 503 and raise it. The same
    client repeats a GET on the same kind of route (the control: the retry is on)."""
    for method, path in [
        ("POST", "/api/customers"),
        ("PUT", "/api/customers/3"),
        ("DELETE", "/api/customers/3"),
        ("GET", "/api/customers/3"),
    ]:
        stub.route(method, path, failing_first(unavailable(), then=Reply(200, {"customer": {"number": 3}})))
    with rackbeat(stub) as client:
        with pytest.raises(TransientError) as posted:
            client.create("customers", "customer", {"name": "A"})
        with pytest.raises(TransientError):
            client.update("customers", 3, "customer", {"name": "B"})
        with pytest.raises(TransientError):
            client.delete("customers", 3)
        assert client.get("customers", 3, "customer") == {"number": 3}
        assert client.calls == {"POST": 1, "PUT": 1, "DELETE": 1, "GET": 2}
    assert posted.value.status == 503
    assert [r.method for r in stub.requests] == ["POST", "PUT", "DELETE", "GET", "GET"]


def test_economic_writes_are_repeated_with_the_same_idempotency_key(stub: StubServer) -> None:
    stub.route("POST", "/customers", failing_first(unavailable(), then=Reply(201, {"customerNumber": 8})))
    bad_gateway = Reply(502, "bad gateway")
    stub.route("PUT", "/customers/8", failing_first(bad_gateway, then=Reply(200, {"customerNumber": 8})))
    stub.route(
        "PUT",
        "/openapi/suppliersapi/v2.0.0/Groups",
        failing_first(Reply(200, drop_after_headers=True), then=Reply(204)),
    )
    with economic(stub) as client:
        assert client.create("customers", {"name": "A"}, idempotency_key="k-1") == {"customerNumber": 8}
        assert client.replace("customers", 8, {"name": "B"}, idempotency_key="k-2") == {"customerNumber": 8}
        assert client.openapi_put("suppliersapi/v2.0.0", "Groups", {}, idempotency_key="k-3") is None
        assert client.calls == {"POST": 2, "PUT": 4}
    keys = [r.headers["Idempotency-Key"] for r in stub.requests]
    assert keys == ["k-1", "k-1", "k-2", "k-2", "k-3", "k-3"]
    assert stub.requests[0].body == stub.requests[1].body


def test_an_unreadable_success_body_is_read_again(stub: StubServer) -> None:
    proxy_page = Reply(200, "<html>proxy error</html>")
    stub.route("GET", "/self", failing_first(proxy_page, then=Reply(200, {"a": 1})))
    with economic(stub) as client:
        assert client.get("self") == {"a": 1}
        assert client.calls == {"GET": 2}


# --- when it stops -------------------------------------------------------------------------------


@pytest.mark.parametrize("retries", [0, 1, 2, 4])
def test_retries_give_up_after_the_limit_and_raise_the_transient_error(stub: StubServer, retries) -> None:
    stub.route("GET", "/units", lambda _req: unavailable())
    with economic(stub, call_retries=retries) as client, pytest.raises(TransientError) as caught:
        client.get("units")
    assert type(caught.value) is TransientError and caught.value.status == 503
    assert client.calls == {"GET": 1 + retries}
    assert len(stub.requests) == 1 + retries


def test_the_default_is_two_extra_attempts_with_short_pauses(stub: StubServer) -> None:
    stub.route("GET", "/api/products/A-1", lambda _req: Reply(500, {"message": "Server Error"}))
    started = time.monotonic()
    with RackbeatClient(stub.url + "/api", RB_TOKEN) as client, pytest.raises(TransientError):
        client.get("products", "A-1", "product")
    elapsed = time.monotonic() - started
    assert client.calls == {"GET": 3}
    assert 0.2 <= elapsed < 2.0  # pauses of 0.1-0.2 s, then 0.25-0.5 s: a blip, not a backoff


def test_429_a_short_retry_after_is_honoured_a_long_or_missing_one_raised_at_once(stub: StubServer) -> None:
    slow_down = Reply(429, {"message": "Too Many Attempts."}, headers={"Retry-After": "1"})
    customer = Reply(200, {"customer": {"number": 1}})
    stub.route("GET", "/api/customers/1", failing_first(slow_down, then=customer))
    stub.route("GET", "/api/customers/2", lambda _req: Reply(429, {}, headers={"Retry-After": "30"}))
    stub.route("GET", "/api/customers/3", lambda _req: Reply(429, {"message": "Too Many Attempts."}))
    with rackbeat(stub) as client:
        started = time.monotonic()
        assert client.get("customers", 1, "customer") == {"number": 1}
        assert time.monotonic() - started >= 1.0  # waited as long as the server asked
        assert client.calls == {"GET": 2}
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as long_wait:
            client.get("customers", 2, "customer")
        assert long_wait.value.retry_after == 30
        with pytest.raises(RateLimitedError) as unknown_wait:
            client.get("customers", 3, "customer")
        assert unknown_wait.value.retry_after is None
        assert time.monotonic() - started < 0.5
        assert client.calls == {"GET": 4}  # one request each for the long and the missing Retry-After


def test_a_timed_out_attempt_is_left_to_the_task_level_retry(stub: StubServer) -> None:
    """An attempt that used up the timeout is not followed by another: three 30 s timeouts in one call
    would eat a transfer's time limit. A quick 503 on the same client is still repeated."""
    stub.route("GET", "/api/products", lambda _req: Reply(206, {"products": []}, delay=1.0))
    stub.route("GET", "/api/units", failing_first(unavailable(), then=Reply(206, {"units": [], "pages": 1})))
    with rackbeat(stub, timeout=0.3) as client:
        with pytest.raises(TransientError) as caught:
            list(client.iter("products", "products"))
        assert "Timed out" in caught.value.message
        assert list(client.iter("units", "units")) == []
        assert client.calls == {"GET": 3}


def test_the_retry_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        EconomicClient("http://127.0.0.1:9/", "http://127.0.0.1:9/", APP, GRANT, call_retries=-1)


# --- against the sandboxes -----------------------------------------------------------------------


@pytest.fixture
def economic_sb(economic_sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    yield economic_sandbox
    economic_sandbox.sandbox.faults.reset()


def sandbox_economic(running: RunningSandbox, **kwargs) -> EconomicClient:
    return EconomicClient(
        running.api_url,
        running.api_url,
        running.tokens["app_secret_token"],
        running.tokens["agreement_grant_token"],
        **{**QUICK, **kwargs},
    )


@pytest.mark.parametrize("drop", [False, True], ids=["500-after-commit", "drop-after-commit"])
def test_a_committed_write_whose_answer_was_lost_is_replayed_inside_one_call(economic_sb, drop) -> None:
    """commit_then_fail: e-conomic writes the unit, then the answer is lost. The client sends the same
    request with the same key again, and the sandbox replays the first answer: one unit, one call."""
    name = f"retry-unit-{'drop' if drop else '500'}"
    economic_sb.sandbox.faults.set(commit_then_fail=1, drop_after_commit=drop)
    with sandbox_economic(economic_sb) as client:
        created = client.create("units", {"name": name}, idempotency_key=f"create-{name}")
        assert client.last_response_from_cache is True
        assert client.calls == {"POST": 2}
    assert economic_sb.sandbox.faults.counters["commit_then_fail"] == 1
    assert economic_sb.sandbox.stats()["idempotent_replays"] == 1
    assert [u["unitNumber"] for u in economic_sb.sandbox.dump("units") if u["name"] == name] == [
        created["unitNumber"]
    ]

    def posts() -> list[dict]:  # the log entry is written after the answer went out: allow it a moment
        return [e for e in economic_sb.sandbox.request_log.entries() if e["method"] == "POST"]

    wait_for(lambda: len(posts()) == 2, timeout=5, message="both POSTs in the sandbox's request log")
    assert [e["idempotency_key"] for e in posts()] == [f"create-{name}"] * 2


# --- the finding: a flaky API, five-call transfers -----------------------------------------------

SEQUENCES = 200
ERROR_RATE = 0.25


def five_calls(rb: RackbeatClient, eco: EconomicClient) -> None:
    """The reads of a customer transfer: the Rackbeat record, then what its e-conomic payload refers to."""
    rb.get("customers", 5, "customer")
    eco.get_item("customer-groups", 1)
    eco.get_item("payment-terms", 1)
    eco.get_item("vat-zones", 1)
    eco.get("self")


def failed_sequences(rb: RackbeatClient, eco: EconomicClient, count: int) -> int:
    failed = 0
    for _ in range(count):
        try:
            five_calls(rb, eco)
        except TransientError:
            failed += 1
    return failed


def test_under_a_quarter_of_calls_failing_few_five_call_sequences_fail(
    rackbeat_server_factory, economic_server_factory
) -> None:
    """At 25 % 5xx, one try per call loses a sequence ~76 % of the time (200 * (1 - 0.75**5) ~ 152); with
    two extra attempts a call fails 1/64 of the time, a sequence ~7.6 % (~15 of 200). Both sandboxes are
    seeded, so the figures are the same on every run; the bounds would hold for any seed (the
    with-retry count would have to be 8 standard deviations off to pass 45)."""
    rb_sandbox = rackbeat_server_factory(requests_per_minute=10**6)
    customer = {"number": 5, "company_name": "Flaky A/S", "payment_terms_id": 1}
    rb_sandbox.sandbox.load({"customers": [customer]})
    eco_sandbox = economic_server_factory(bucket_size=10**6)
    rb = RackbeatClient(rb_sandbox.api_url, rb_sandbox.token)
    eco = sandbox_economic(eco_sandbox)
    five_calls(rb, eco)  # the data is there and the connections are open before faults start

    def run(retries: int) -> tuple[int, int]:
        rb.call_retries = eco.call_retries = retries
        rb.call_retry_backoff = eco.call_retry_backoff = 0.001
        rb_sandbox.sandbox.faults.set(error_rate=ERROR_RATE, seed=11)
        eco_sandbox.sandbox.faults.set(error_rate=ERROR_RATE, seed=7)
        before = rb.call_count + eco.call_count
        failed = failed_sequences(rb, eco, SEQUENCES)
        return failed, rb.call_count + eco.call_count - before

    with rb, eco:
        with_retry, requests_with = run(retries=2)
        without_retry, requests_without = run(retries=0)
    print(f"failed sequences of {SEQUENCES}: {with_retry} with call-level retry, {without_retry} without")
    assert with_retry <= 45, with_retry
    assert without_retry >= 110, without_retry
    assert with_retry * 3 < without_retry
    # every attempt was counted: 1000 calls plus one more request per retried failure
    assert requests_with > SEQUENCES * 5 > requests_without
