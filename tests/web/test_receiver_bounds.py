"""Hostile bodies against a real `python -m web`: the token is checked before any parsing, and decoding is
bounded (nesting depth, size, UTF-8) and never ends in a 5xx.

"Nothing enqueued" is read where it would show: the receiver's own broker queue and the pending markers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest
import redis
from pydantic import SecretStr

from tests.web.support import WebProcess, queue_length, queued_transfers, registered_token

# The contract, stated here rather than imported, so these tests also run (and fail) against a receiver
# without the bound: web.deliveries.MAX_NESTING_DEPTH.
MAX_NESTING_DEPTH = 32
PRODUCT_EVENT = "product.updated"  # products: keyed by item number (a string)
CUSTOMER_EVENT = "customer.updated"  # customers: keyed by an integer number
DEEP_BODIES = {
    "bare-brackets": b"[" * 50_000,
    "closed-in-data": b'{"key": "1", "data": ' + b"[" * 50_000 + b"1" + b"]" * 50_000 + b"}",
    "objects": b'{"a":' * 40_000,
}


def post(
    web: WebProcess, body: object | bytes, token: str | None, event: str | None = PRODUCT_EVENT
) -> httpx.Response:
    headers = {"Content-Type": "application/json", "User-Agent": "Rackbeat Webhook"}
    if token is not None:
        headers["Rackbeat-Webhook-Token"] = token
    if event is not None:
        headers["Rackbeat-Webhook-Event"] = event
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(web.receiver_url, content=content, headers=headers, timeout=20)


@pytest.fixture
def tokens(service_redis: redis.Redis, web_process: WebProcess) -> dict[str, str]:
    found = {event: uuid.uuid4().hex for event in (PRODUCT_EVENT, CUSTOMER_EVENT)}
    for event, token in found.items():
        registered_token(service_redis, web_process.settings, event, token)
    return found


@pytest.fixture
def nothing_enqueued(service_redis: redis.Redis, web_process: WebProcess):
    """Asserts, after the test, that the receiver's queue did not grow."""
    before = queue_length(service_redis, web_process.settings)
    yield
    assert queue_length(service_redis, web_process.settings) == before


# --- 5: deep nesting and decoding ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
@pytest.mark.parametrize("token", [None, "wrong-token"])
@pytest.mark.parametrize("event_header", [True, False])
def test_deep_nesting_without_the_token_is_401(
    web_process: WebProcess, tokens: dict[str, str], nothing_enqueued: None,
    shape: str, token: str | None, event_header: bool,
) -> None:
    answer = post(web_process, DEEP_BODIES[shape], token, PRODUCT_EVENT if event_header else None)

    assert answer.status_code == 401, answer.text
    assert answer.json()["status"] == "refused"


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
def test_deep_nesting_with_the_token_is_400(
    web_process: WebProcess, tokens: dict[str, str], nothing_enqueued: None, shape: str
) -> None:
    answer = post(web_process, DEEP_BODIES[shape], tokens[PRODUCT_EVENT])

    assert answer.status_code == 400, answer.text
    assert f"nests deeper than {MAX_NESTING_DEPTH} levels" in answer.json()["error"]


def test_a_deep_body_that_must_name_the_event_is_refused_with_a_4xx(
    web_process: WebProcess, tokens: dict[str, str], nothing_enqueued: None
) -> None:
    # No event header: the body has to be decoded to find the event, and it cannot be; the event's token
    # cannot be matched without the event, so the caller is refused as unauthenticated.
    answer = post(web_process, DEEP_BODIES["closed-in-data"], tokens[PRODUCT_EVENT], event=None)

    assert answer.status_code == 401, answer.text


def test_with_the_fixed_token_a_deep_body_without_event_header_is_400(
    web_process_factory: Callable[..., WebProcess], service_redis: redis.Redis
) -> None:
    fixed = uuid.uuid4().hex
    web = web_process_factory(webhook_token=SecretStr(fixed))

    answers = [post(web, body, fixed, event=None) for body in DEEP_BODIES.values()]

    assert [answer.status_code for answer in answers] == [400] * len(DEEP_BODIES), [a.text for a in answers]
    assert queue_length(service_redis, web.settings) == 0


def test_nesting_up_to_the_limit_is_accepted_and_one_level_more_is_refused(
    service_redis: redis.Redis, web_process: WebProcess, tokens: dict[str, str]
) -> None:
    key = f"DEEP-{uuid.uuid4().hex[:8]}"
    inner = MAX_NESTING_DEPTH - 1  # the delivery object is the first level

    def body(levels: int) -> bytes:
        return f'{{"key": "{key}", "data": {"[" * levels}"[[[ in a string ]"{"]" * levels}}}'.encode()

    deeper = post(web_process, body(inner + 1), tokens[PRODUCT_EVENT])
    limit = post(web_process, body(inner), tokens[PRODUCT_EVENT])

    assert deeper.status_code == 400, deeper.text
    assert limit.status_code == 202, limit.text
    assert queued_transfers(service_redis, web_process.settings).count(("product", key)) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"key": ' + b"7" * 5000 + b"}",  # beyond Python's int conversion limit: a ValueError
        json.dumps({"key": "UTF16-1"}).encode("utf-16"),
        '{"key": "L\u00f8"}'.encode("latin-1"),
        b'{"key": "\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8
        b'{"key": "A\\ud800"}',  # an escaped lone surrogate: valid JSON, not a printable key
        b'{"key": NaN}',
        b'{"key": 1e999}',
        b'{"key": "A\x01B"}',
        b'{"key": "unterminated\\',
        b"\x00",
        b"\xef\xbb\xbfnot json",
        b'{"key": "1", "key_name": ' + b'"\\' * 1000,
        b'{"key": ' + b'"\\"' * 20_000,
    ],
    ids=lambda body: repr(body[:24]),
)
def test_any_undecodable_body_is_400_never_5xx(
    web_process: WebProcess, tokens: dict[str, str], nothing_enqueued: None, body: bytes
) -> None:
    answer = post(web_process, body, tokens[PRODUCT_EVENT])

    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == "refused"


def test_a_missing_token_is_refused_before_the_body_is_looked_at(
    web_process: WebProcess, nothing_enqueued: None
) -> None:
    answers = [post(web_process, body, None, event) for body in DEEP_BODIES.values() for event in (None, "x")]

    assert {answer.status_code for answer in answers} == {401}
    assert {answer.json()["error"] for answer in answers} == {"missing or wrong Rackbeat-Webhook-Token"}
