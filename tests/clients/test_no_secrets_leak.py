"""Tokens never appear in an error's str/repr/to_dict, in a client's repr, or in any log line —
even when the server echoes them back in its error body."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from pydantic import SecretStr

from clients.economic import EconomicClient
from clients.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
    ValidationFailed,
)
from clients.rackbeat import RackbeatClient
from tests.clients.stub_server import Reply, StubServer

APP, GRANT, RB = "APPSECRET-a1b2c3d4e5", "GRANTTOKEN-f6g7h8i9", "RBTOKEN-j0k1l2m3n4o5"
ALL_SECRETS = (APP, GRANT, RB)


def echoing(status: int, headers: dict[str, str] | None = None):
    """A reply that quotes every credential header it received back in message, errors and body."""

    def reply(req) -> Reply:
        seen = " ".join(req.headers.get(h, "") for h in ("X-AppSecretToken", "X-AgreementGrantToken"))
        seen += " " + req.headers.get("Authorization", "")
        body = {
            "message": f"bad credentials {seen}",
            "errors": {f"field {seen}": [f"value {seen}"], "name": {"errors": [{"message": seen}]}},
            "developerHint": seen,
        }
        return Reply(status, body, headers=headers or {})

    return reply


CASES = [
    (400, ValidationFailed),
    (401, AuthError),
    (403, AuthError),
    (404, NotFoundError),
    (409, PermanentError),
    (422, ValidationFailed),
    (429, RateLimitedError),
    (500, TransientError),
]


def assert_clean(err: ApiError, client: object, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(err), repr(err), json.dumps(err.to_dict()), repr(client), str(client), caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        for secret in ALL_SECRETS:
            assert secret not in text


@pytest.mark.parametrize(("status", "cls"), CASES)
def test_economic_errors_hold_no_tokens(stub: StubServer, caplog, status, cls) -> None:
    caplog.set_level(logging.DEBUG)
    stub.route("POST", "/customers", echoing(status, {"Retry-After": "1"}))
    client = EconomicClient(stub.url, stub.url, SecretStr(APP), SecretStr(GRANT))
    with client, pytest.raises(cls) as caught:
        client.create("customers", {"name": "x"}, idempotency_key="k")
    assert type(caught.value) is cls
    assert "***" in caught.value.body  # the echo was there, and was scrubbed
    assert_clean(caught.value, client, caplog)


@pytest.mark.parametrize(("status", "cls"), CASES)
def test_rackbeat_errors_hold_no_tokens(stub: StubServer, caplog, status, cls) -> None:
    caplog.set_level(logging.DEBUG)
    stub.route("GET", "/api/customers/1", echoing(status))
    client = RackbeatClient(stub.url + "/api/", RB)
    with client, pytest.raises(cls) as caught:
        client.get("customers", 1, "customer")
    assert type(caught.value) is cls
    assert_clean(caught.value, client, caplog)


def test_transport_failures_hold_no_tokens(stub: StubServer, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    stub.route("GET", "/api/slow", Reply(200, {}, delay=1.0))
    stub.route("GET", "/api/drop", Reply(200, drop_after_headers=True))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    errors = []
    with RackbeatClient(stub.url + "/api/", RB, timeout=0.2) as client:
        for path in ("slow", "drop"):
            with pytest.raises(TransientError) as caught:
                client.request("GET", path)
            errors.append((caught.value, client))
    with EconomicClient(f"http://127.0.0.1:{closed_port}", stub.url, APP, GRANT) as client:
        with pytest.raises(TransientError) as caught:
            client.get("self")
        errors.append((caught.value, client))
    for err, owner in errors:
        assert_clean(err, owner, caplog)


def test_client_repr_names_the_api_but_not_the_tokens() -> None:
    with EconomicClient("http://127.0.0.1:1", "http://127.0.0.1:1", APP, GRANT) as client:
        assert "EconomicClient" in repr(client) and "***" in repr(client)
        assert APP not in repr(client) and GRANT not in repr(client)
