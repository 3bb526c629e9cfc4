"""Both clients against the sandboxes over real HTTP: paging, the error taxonomy, faults, replay.

Data and faults go through the sandboxes' own admin routes (``/_sandbox/load``, ``/_sandbox/faults``),
so these tests only need the fixtures' ``url``. Every test switches its faults off again, and the
records it loads carry numbers no other test uses.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import httpx
import pytest

from clients.economic import EconomicClient
from clients.errors import (
    AuthError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
    ValidationFailed,
)
from clients.rackbeat import RackbeatClient, item_key

RACKBEAT_TOKEN = "sandbox-token"
ECONOMIC_APP, ECONOMIC_GRANT = "sandbox-app-secret", "sandbox-grant"
NO_FAULTS = {
    "error_rate": 0.0,
    "drop_rate": 0.0,
    "rate_limit_burst": 0,
    "commit_then_fail": 0,
    "latency_ms": 0,
}


def admin(url: str, method: str, path: str, body: object = None) -> httpx.Response:
    response = httpx.request(method, f"{url}/_sandbox/{path}", json=body, timeout=30)
    response.raise_for_status()
    return response


@pytest.fixture
def rackbeat_url(rackbeat_sandbox) -> Iterator[str]:
    url = rackbeat_sandbox.url
    yield url
    admin(url, "PUT", "faults", NO_FAULTS)


@pytest.fixture
def economic_url(economic_sandbox) -> Iterator[str]:
    url = economic_sandbox.url
    yield url
    admin(url, "PUT", "faults", NO_FAULTS)


def rackbeat(url: str, token: str = RACKBEAT_TOKEN, **kwargs) -> RackbeatClient:
    return RackbeatClient(f"{url}/api/", token, **kwargs)


def economic(url: str, app: str = ECONOMIC_APP, grant: str = ECONOMIC_GRANT, **kwargs) -> EconomicClient:
    return EconomicClient(url, url, app, grant, **kwargs)


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


# --- paging --------------------------------------------------------------------------------------


def test_rackbeat_pages_through_2500_products_1000_at_a_time(rackbeat_url: str) -> None:
    prefix = f"PG{tag()}-"
    admin(rackbeat_url, "POST", "load", {"product-groups": [{"number": 1, "name": "Goods"}]})
    products = [{"number": f"{prefix}{i:04d}", "name": f"n{i}", "group_id": 1} for i in range(2500)]
    admin(rackbeat_url, "POST", "load", {"products": products})
    with rackbeat(rackbeat_url) as client:
        first = client.decode_json(client.request("GET", "products", params={"limit": 1}))
        total = first["total"]
        numbers = [p["number"] for p in client.iter("products", "products")]
        assert client.calls["GET"] == 1 + math.ceil(total / 1000)
    assert len(numbers) == total == len(set(numbers))
    assert {p["number"] for p in products} <= set(numbers)


def test_economic_pages_through_2500_products_1000_at_a_time(economic_url: str) -> None:
    prefix = f"PG{tag()}-"
    products = [
        {"productNumber": f"{prefix}{i:04d}", "name": f"n{i}", "productGroup": {"productGroupNumber": 1}}
        for i in range(2500)
    ]
    admin(economic_url, "POST", "load", {"products": products})
    with economic(economic_url) as client:
        total = client.get("products", params={"pagesize": 1})["pagination"]["results"]
        numbers = [p["productNumber"] for p in client.iter_collection("products")]
        assert client.calls["GET"] == 1 + math.ceil(total / 1000)
    assert len(numbers) == total == len(set(numbers))
    assert {p["productNumber"] for p in products} <= set(numbers)


# --- keys in paths -------------------------------------------------------------------------------


def test_rackbeat_item_numbers_with_slashes_round_trip(rackbeat_url: str) -> None:
    number = f"A/{tag()}+2 x?"
    admin(rackbeat_url, "POST", "load", {"product-groups": [{"number": 1, "name": "Goods"}]})
    with rackbeat(rackbeat_url) as client:
        created = client.create(
            "products", "product", {"number": number, "name": "x", "group_id": 1, "sales_price": 5}
        )
        assert client.get("products", number, "product")["number"] == number  # double-encoded
        assert client.get("products", item_key(created), "product")["number"] == number  # urlfriendly
        updated = client.update("products", number, "product", {"name": "renamed"})
        assert updated["name"] == "renamed"
        client.delete("products", item_key(created))
        with pytest.raises(NotFoundError):
            client.get("products", number, "product")


def test_economic_string_keys_round_trip(economic_url: str) -> None:
    number = f"A B/{tag()}_x."
    body = {"productNumber": number, "name": "odd", "productGroup": {"productGroupNumber": 1}}
    with economic(economic_url) as client:
        written = client.replace("products", number, body, idempotency_key=f"put-{number}")
        assert written["productNumber"] == number
        assert client.get_item("products", number)["productNumber"] == number
        assert client.delete("products", number, idempotency_key=f"del-{number}") is None
        with pytest.raises(NotFoundError):
            client.get_item("products", number)


# --- the taxonomy against the sandboxes ----------------------------------------------------------


def test_not_found_from_both(rackbeat_url: str, economic_url: str) -> None:
    with rackbeat(rackbeat_url) as rb, pytest.raises(NotFoundError) as caught:
        rb.get("customers", 987654321, "customer")
    assert caught.value.status == 404 and caught.value.message
    with economic(economic_url) as eco, pytest.raises(NotFoundError) as caught:
        eco.get_item("customers", 987654321)
    assert caught.value.status == 404 and caught.value.message


def test_wrong_tokens_are_auth_errors(rackbeat_url: str, economic_url: str) -> None:
    with rackbeat(rackbeat_url, token="not-the-token") as rb, pytest.raises(AuthError) as caught:
        rb.get("customers", 1, "customer")
    assert caught.value.status == 401
    with economic(economic_url, grant="not-the-grant") as eco, pytest.raises(AuthError) as caught:
        eco.get("self")
    assert caught.value.status == 401


def test_validation_errors_name_the_fields(rackbeat_url: str, economic_url: str) -> None:
    with rackbeat(rackbeat_url) as rb, pytest.raises(ValidationFailed) as caught:
        rb.create("products", "product", {"name": "no number"})
    assert caught.value.status == 422
    assert "number" in caught.value.field_errors
    with economic(economic_url) as eco, pytest.raises(ValidationFailed) as caught:
        eco.create("customers", {"name": "incomplete"}, idempotency_key=f"bad-{tag()}")
    assert caught.value.status == 400
    assert {"currency", "customerGroup", "vatZone", "paymentTerms"} <= set(caught.value.field_errors)


def test_429_with_retry_after_penalizes_the_shared_bucket(rackbeat_url, economic_url, bucket_factory) -> None:
    for url, make, api in ((rackbeat_url, rackbeat, "rackbeat"), (economic_url, economic, "economic")):
        admin(url, "PUT", "faults", {"rate_limit_burst": 1, "retry_after_seconds": 30})
        bucket = bucket_factory(api, capacity=100)
        with make(url, limiter=bucket) as client, pytest.raises(RateLimitedError) as caught:
            client.request("GET", "customers")
        assert caught.value.status == 429
        assert caught.value.retry_after == 30
        assert bucket.try_acquire() >= 29


def test_server_errors_are_transient(rackbeat_url: str, economic_url: str) -> None:
    admin(rackbeat_url, "PUT", "faults", {"error_rate": 1.0})
    admin(economic_url, "PUT", "faults", {"error_rate": 1.0})
    with rackbeat(rackbeat_url) as rb, pytest.raises(TransientError) as caught:
        rb.get("customers", 1, "customer")
    assert caught.value.status in (500, 502, 503)
    with economic(economic_url) as eco, pytest.raises(TransientError) as caught:
        eco.get("units")
    assert caught.value.status in (500, 502, 503)


def test_dropped_connections_are_transient(rackbeat_url: str, economic_url: str) -> None:
    admin(rackbeat_url, "PUT", "faults", {"drop_rate": 1.0})
    admin(economic_url, "PUT", "faults", {"drop_rate": 1.0})
    with rackbeat(rackbeat_url) as rb, pytest.raises(TransientError) as caught:
        rb.get("customers", 1, "customer")
    assert caught.value.status is None and caught.value.request_sent is True
    with economic(economic_url) as eco, pytest.raises(TransientError) as caught:
        eco.create("units", {"name": "box"}, idempotency_key=f"u-{tag()}")
    assert caught.value.status is None and caught.value.request_sent is True


def test_a_lost_answer_is_replayed_not_written_twice(economic_url: str) -> None:
    """The write commits but the connection drops; the retry with the same key gets the original answer.

    The caller's retry here (call-level retry off): what the task-level retry relies on. The client's
    own retry of the same case is in test_call_retry.py.
    """
    name = f"unit-{tag()}"
    key = f"create-{name}"
    admin(economic_url, "PUT", "faults", {"commit_then_fail": 1, "drop_after_commit": True})
    with economic(economic_url, call_retries=0) as client:
        with pytest.raises(TransientError) as caught:
            client.create("units", {"name": name}, idempotency_key=key)
        assert caught.value.request_sent is True
        replayed = client.create("units", {"name": name}, idempotency_key=key)
        assert client.last_response_from_cache is True
        again = client.create("units", {"name": name}, idempotency_key=key)
        assert again == replayed
        matching = [u for u in client.iter_collection("units") if u["name"] == name]
        assert [u["unitNumber"] for u in matching] == [replayed["unitNumber"]]
        client.get_item("units", replayed["unitNumber"])
        assert client.last_response_from_cache is False


def test_economic_rate_header_keeps_the_bucket_in_step(economic_url: str, bucket_factory) -> None:
    bucket = bucket_factory("economic", capacity=10000)
    with economic(economic_url, limiter=bucket) as client:
        client.get("units")
        client.get("units")
    # our own two debits at least; more if the sandbox counted other tests' calls on this agreement
    assert bucket.available() <= 9998 + 1e-3


def test_economic_openapi_service(economic_url: str) -> None:
    with economic(economic_url) as client:
        groups = list(client.openapi_iter("suppliersapi/v2.0.0", "Groups"))
        assert groups and all("number" in g for g in groups)
        assert (
            client.openapi_get("suppliersapi/v2.0.0", f"Groups/{groups[0]['number']}")["number"]
            == groups[0]["number"]
        )


def test_rackbeat_webhook_registration_round_trip(rackbeat_url: str) -> None:
    url = f"https://example.invalid/hooks/{tag()}"
    with rackbeat(rackbeat_url) as client:
        hook = client.register_webhook("product.updated", url)
        assert hook["event"] == "product.updated" and hook["url"] == url
        assert len(hook.get("token") or "") == 32
        assert any(h["id"] == hook["id"] for h in client.list_webhooks())
        client.delete_webhook(hook["id"])
        assert all(h["id"] != hook["id"] for h in client.list_webhooks())


def test_economic_openapi_writes_and_problem_details(economic_url: str) -> None:
    service = "suppliersapi/v2.0.0"
    with economic(economic_url) as client:
        assert client.openapi_post(
            service,
            "Groups",
            {"number": 77, "name": "New", "accountNumber": 6800},
            idempotency_key="g-create",
        ) == {"number": 77}
        current = client.openapi_get(service, "Groups/77")
        client.openapi_put(service, "Groups", {**current, "name": "Renamed"}, idempotency_key="g-rename")
        assert client.openapi_get(service, "Groups/77")["name"] == "Renamed"
        with pytest.raises(PermanentError) as stale:  # the objectVersion we hold is now out of date
            client.openapi_put(service, "Groups", {**current, "name": "Stale"}, idempotency_key="g-stale")
        assert stale.value.status == 409 and stale.value.error_code
        client.openapi_delete(service, "Groups/77", idempotency_key="g-delete")
        with pytest.raises(NotFoundError):
            client.openapi_get(service, "Groups/77")
        with pytest.raises(ValidationFailed) as invalid:
            client.openapi_post(service, "Groups", {}, idempotency_key="g-empty")
        assert {"number", "name", "accountNumber"} <= set(invalid.value.field_errors)
