"""Hostile bodies against a real `python -m web`: the token is checked before any parsing, decoding is
bounded (nesting depth, size, UTF-8) and never ends in a 5xx, and keys are bounded for the kind they name.

"Nothing enqueued" is read where it would show: the receiver's own broker queue and the pending markers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
import redis
from pydantic import SecretStr

from tasks.sync.pending import PendingMarkers
from tests.web.support import WebProcess, post, queue_length, queued_transfers, registered_token

# The contract, stated here rather than imported, so these tests also run (and fail) against a receiver
# without the bounds: web.deliveries.MAX_NESTING_DEPTH and MAX_INTEGER_KEY (PHP_INT_MAX, Rackbeat is PHP).
MAX_NESTING_DEPTH = 32
MAX_INTEGER_KEY = 2**63 - 1
PRODUCT_EVENT = "product.updated"  # products: keyed by item number (a string)
CUSTOMER_EVENT = "customer.updated"  # customers: keyed by an integer number
DEEP_BODIES = {
    "bare-brackets": b"[" * 50_000,
    "closed-in-data": b'{"key": "1", "data": ' + b"[" * 50_000 + b"1" + b"]" * 50_000 + b"}",
    "objects": b'{"a":' * 40_000,
}


def unique_number() -> int:
    return 10**12 + uuid.uuid4().int % 10**12


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
    web_process: WebProcess,
    tokens: dict[str, str],
    nothing_enqueued: None,
    shape: str,
    token: str | None,
    event_header: bool,
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


# --- 6: integer keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", [PRODUCT_EVENT, CUSTOMER_EVENT])
@pytest.mark.parametrize(
    "raw_key",
    [b"9" * 3772, str(MAX_INTEGER_KEY + 1).encode(), b"1" + b"0" * 19, b"-1"],
    ids=lambda k: f"{len(k)}-chars",
)
def test_integer_keys_beyond_a_signed_64_bit_int_are_refused(
    service_redis: redis.Redis,
    web_process: WebProcess,
    tokens: dict[str, str],
    nothing_enqueued: None,
    event: str,
    raw_key: bytes,
) -> None:
    answer = post(web_process, b'{"key_name": "number", "key": ' + raw_key + b"}", tokens[event], event)

    assert answer.status_code == 400, answer.text
    kind = "product" if event == PRODUCT_EVENT else "customer"
    markers = PendingMarkers(service_redis, web_process.settings.connection_id)
    assert markers.get(kind, raw_key.decode()) is None


@pytest.mark.parametrize(
    "key",
    ["9" * 20, "9" * 99, str(MAX_INTEGER_KEY + 1), "ABC", "+12", "12a", "1.0", "²", "١٢٣", ".", "..", "%2E"],
)
def test_keys_of_integer_keyed_kinds_must_be_bounded_integers(
    web_process: WebProcess, tokens: dict[str, str], nothing_enqueued: None, key: str
) -> None:
    answer = post(web_process, {"key_name": "number", "key": key}, tokens[CUSTOMER_EVENT], CUSTOMER_EVENT)

    assert answer.status_code == 400, answer.text
    assert "customer records have integer numbers" in answer.json()["error"]


def test_the_largest_integer_key_is_accepted_and_leading_zeros_coalesce(
    service_redis: redis.Redis, web_process: WebProcess, tokens: dict[str, str]
) -> None:
    number = unique_number()
    token = tokens[CUSTOMER_EVENT]

    largest = post(web_process, {"key": MAX_INTEGER_KEY}, token, CUSTOMER_EVENT)
    padded = post(web_process, {"key": f"000{number}"}, token, CUSTOMER_EVENT)
    plain = post(web_process, {"key": number}, token, CUSTOMER_EVENT)

    assert (largest.status_code, padded.status_code, plain.status_code) == (202, 202, 202)
    assert largest.json()["key"] == str(MAX_INTEGER_KEY)
    assert (padded.json()["key"], padded.json()["enqueued"]) == (str(number), True)
    assert plain.json()["enqueued"] is False  # the same record: coalesced
    queued = queued_transfers(service_redis, web_process.settings)
    assert queued.count(("customer", str(number))) == 1
    assert ("customer", str(MAX_INTEGER_KEY)) in queued


def test_digit_strings_stay_item_numbers_for_products(
    service_redis: redis.Redis, web_process: WebProcess, tokens: dict[str, str]
) -> None:
    # Item numbers are strings (up to MAX_KEY_LENGTH characters): "00"-prefixed or long digit runs are
    # distinct products, not integers, so neither bounded as one nor normalised.
    key = f"00{unique_number()}{'9' * 30}"

    answer = post(web_process, {"key": key}, tokens[PRODUCT_EVENT])

    assert answer.status_code == 202, answer.text
    assert ("product", key) in queued_transfers(service_redis, web_process.settings)


# --- 7: dot keys ----------------------------------------------------------------------------------------


def test_a_product_numbered_with_dots_is_accepted_as_is(
    service_redis: redis.Redis, web_process: WebProcess, tokens: dict[str, str]
) -> None:
    # Decided in web.rackbeat_webhooks: such a product can exist, and the client keeps its number inside its
    # own path segment (tests/clients/test_rackbeat_keys.py), so its deliveries are queued like any other.
    token = tokens[PRODUCT_EVENT]
    answers = [post(web_process, {"key_name": "number", "key": key}, token) for key in (".", "..")]

    assert [answer.status_code for answer in answers] == [202, 202]
    queued = queued_transfers(service_redis, web_process.settings)
    assert ("product", ".") in queued
    assert ("product", "..") in queued
