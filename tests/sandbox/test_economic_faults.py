"""Each fault mode of the e-conomic sandbox, switched through ``/_sandbox/faults`` over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from sandbox.economic import EconomicSandbox
from sandbox.economic.testing import CUSTOMER, client, serve


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def http(server: tuple[EconomicSandbox, str]) -> Iterator[httpx.Client]:
    server[0].reset()
    with client(server[1]) as session:
        yield session
    server[0].faults.reset()


def set_faults(http: httpx.Client, **settings: object) -> None:
    answer = http.put("_sandbox/faults", json=settings)
    assert answer.status_code == 200, answer.text


def test_latency_is_injected_and_counted(http: httpx.Client) -> None:
    set_faults(http, latency_ms=20)
    assert http.get("vat-zones").status_code == 200
    assert http.get("_sandbox/stats").json()["faults"]["latency_injected"] == 1
    assert http.get("_sandbox/faults").json()["latency_ms"] == 20


def test_error_rate_answers_server_errors_with_rate_headers(http: httpx.Client) -> None:
    set_faults(http, error_rate=1.0, seed=7)
    answers = [http.get("customers") for _ in range(5)]
    assert {a.status_code for a in answers} <= {500, 502, 503}
    assert all("X-RateLimiting" in a.headers for a in answers)
    assert http.get("_sandbox/counts").status_code == 200  # admin routes are never faulted
    set_faults(http, error_rate=0.0)
    assert http.get("customers").status_code == 200


def test_rate_limit_burst_answers_429_then_recovers(http: httpx.Client) -> None:
    set_faults(http, rate_limit_burst=2, retry_after_seconds=3)
    first, second, third = (http.get("customers") for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "3"
    assert third.status_code == 200


def test_drop_rate_closes_the_connection_without_an_answer(http: httpx.Client, server: tuple) -> None:
    set_faults(http, drop_rate=1.0)
    with pytest.raises(httpx.TransportError):
        http.get("customers")
    # The server logs the request once its handler unwinds, which can be just after the client saw the drop.
    log = server[0].request_log
    for _ in range(500):
        if len(log):
            break
        threading.Event().wait(0.01)
    logged = log.entries()[-1]
    assert logged["path"] == "/customers" and logged["status"] is None


def test_commit_then_fail_keeps_the_write_and_answers_500(http: httpx.Client) -> None:
    set_faults(http, commit_then_fail=1)
    failed = http.post("customers", json=CUSTOMER)
    assert failed.status_code == 500
    assert http.get("customers/1").status_code == 200  # committed although the client saw a failure
    assert http.post("customers", json=CUSTOMER).status_code == 201  # budget spent: back to normal


def test_commit_then_fail_with_an_idempotency_key_replays_the_commit(http: httpx.Client) -> None:
    set_faults(http, commit_then_fail=1)
    headers = {"Idempotency-Key": "customer-once"}
    assert http.post("customers", json=CUSTOMER, headers=headers).status_code == 500
    retried = http.post("customers", json=CUSTOMER, headers=headers)
    assert retried.status_code == 201 and retried.headers["X-ResultFromCache"] == "true"
    assert http.get("customers").json()["pagination"]["results"] == 1  # exactly once


def test_drop_after_commit_loses_the_answer_but_not_the_write(http: httpx.Client) -> None:
    set_faults(http, commit_then_fail=1, drop_after_commit=True)
    with pytest.raises(httpx.TransportError):
        http.post("customers", json=CUSTOMER)
    assert http.get("customers").json()["pagination"]["results"] == 1


def test_a_rejected_write_does_not_spend_commit_then_fail(http: httpx.Client) -> None:
    set_faults(http, commit_then_fail=1)
    assert http.post("customers", json={"name": "incomplete"}).status_code == 400
    assert http.post("customers", json=CUSTOMER).status_code == 500


def test_bad_fault_settings_are_refused(http: httpx.Client) -> None:
    assert http.put("_sandbox/faults", json={"error_rate": 2}).status_code == 422
    assert http.put("_sandbox/faults", json={"nonsense": 1}).status_code == 422
