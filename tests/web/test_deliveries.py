"""The pure parsing of a delivery: what counts as malformed, and how keys and events are read."""

from __future__ import annotations

import contextlib
import random

import pytest
from starlette.datastructures import Headers

from web.deliveries import (
    MAX_BODY_BYTES,
    MAX_INTEGER_KEY,
    MAX_KEY_LENGTH,
    MAX_NESTING_DEPTH,
    MalformedDelivery,
    decode_body,
    event_name,
    integer_key,
    nesting_depth,
    parse_delivery,
)


def headers(**values: str) -> Headers:
    return Headers({name.replace("_", "-"): value for name, value in values.items()})


def test_header_event_wins_over_body_event() -> None:
    delivery = parse_delivery(
        headers(rackbeat_webhook_event="product.updated"), {"key": "A-1", "event": "order.created"}
    )
    assert delivery.event == "product.updated"
    assert delivery.key == "A-1"


def test_body_event_is_the_fallback() -> None:
    assert parse_delivery(headers(), {"key": 7, "event": "customer.created"}).event == "customer.created"


def test_observed_minimal_body_with_string_key() -> None:
    delivery = parse_delivery(
        headers(rackbeat_webhook_event="order.created"), {"key_name": "number", "key": "1021"}
    )
    assert (delivery.key, delivery.key_name) == ("1021", "number")


def test_integer_and_string_keys_normalise_to_the_same_string() -> None:
    h = headers(rackbeat_webhook_event="customer.updated")
    assert parse_delivery(h, {"key": 1021}).key == parse_delivery(h, {"key": " 1021 "}).key == "1021"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([{"key": 1}], "must be a JSON object, not an array"),
        ("1021", "must be a JSON object, not a string"),
        (None, "must be a JSON object, not null"),
        ({"key_name": "number"}, "has no 'key'"),
        ({"key": None}, "string or an integer"),
        ({"key": True}, "string or an integer"),
        ({"key": 12.5}, "not a number"),
        ({"key": {"number": 1}}, "not an object"),
        ({"key": ["1"]}, "not an array"),
        ({"key": ""}, "is empty"),
        ({"key": "   "}, "is empty"),
        ({"key": -3}, "negative"),
        ({"key": "x" * (MAX_KEY_LENGTH + 1)}, "longer than"),
        ({"key": "A\n1"}, "control characters"),
        ({"key": "1", "key_name": 5}, "'key_name' must be a string"),
    ],
)
def test_malformed_payloads_name_the_problem(payload: object, message: str) -> None:
    with pytest.raises(MalformedDelivery, match=message):
        parse_delivery(headers(rackbeat_webhook_event="product.updated"), payload)


def test_no_event_anywhere_is_malformed() -> None:
    with pytest.raises(MalformedDelivery, match="no event"):
        parse_delivery(headers(), {"key": "1"})


@pytest.mark.parametrize("body", [b"", b"  ", b"{not json", b"\xff\xfe", b'{"key": 1'])
def test_undecodable_bodies(body: bytes) -> None:
    with pytest.raises(MalformedDelivery):
        decode_body(body)


def test_over_long_body_is_refused_before_decoding() -> None:
    with pytest.raises(MalformedDelivery, match="longer than"):
        decode_body(b" " * (MAX_BODY_BYTES + 1))


@pytest.mark.parametrize("value", ["", "   ", "x" * 101, "bad\x00event"])
def test_unusable_event_names_are_none(value: str) -> None:
    assert event_name(headers(rackbeat_webhook_event=value), {"key": 1}) is None


# --- bounded decoding (nesting depth, UTF-8) and integer keys ------------------------------------------


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ('{"key": "1"}', 1),
        ('{"a": [1, {"b": [2]}]}', 4),
        ('{"a": "[[[[[[", "b": "{{{{"}', 1),  # brackets inside strings open nothing
        ('{"a": "\\"[[[", "b": ["\\\\", ["x"]]}', 3),  # escaped quotes and backslashes
        ('["unterminated [[[', 1),
        ('"\\', 0),
        ("[" * 40, MAX_NESTING_DEPTH + 1),  # stops counting past the limit
    ],
)
def test_nesting_depth_skips_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_nesting_up_to_the_limit_decodes_and_one_more_level_is_malformed() -> None:
    def body(levels: int) -> bytes:
        return ('{"key": "1", "data": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}").encode()

    assert decode_body(body(MAX_NESTING_DEPTH))["key"] == "1"
    with pytest.raises(MalformedDelivery, match="nests deeper"):
        decode_body(body(MAX_NESTING_DEPTH + 1))


def test_decoding_raises_nothing_but_malformed_delivery() -> None:
    rnd = random.Random(5)
    seeds = [b'{"key": "A-1", "data": {"lines": [1, 2.5, "x"]}}', b"[" * 50_000, b'{"a":' * 30_000]
    bodies = [
        b'{"key": ' + b"9" * 5000 + b"}",
        '{"key": "ø"}'.encode("utf-16"),
        b'{"key": "\xed\xa0\x80"}',
        b'"' + b'\\"' * 50_000,
    ]
    for _ in range(1500):
        base = bytearray(rnd.choice(seeds))
        for _ in range(rnd.randrange(1, 6)):
            base[rnd.randrange(len(base))] = rnd.randrange(256)
        bodies.append(bytes(base[: rnd.randrange(1, len(base) + 1)]))
        bodies.append(rnd.randbytes(rnd.randrange(1, 64)))
    for body in bodies:
        with contextlib.suppress(MalformedDelivery):  # anything else fails the test
            decode_body(body)


def test_a_utf8_bom_is_tolerated() -> None:
    assert decode_body(b'\xef\xbb\xbf{"key": 1}') == {"key": 1}


def test_integer_keys_are_bounded_by_a_signed_64_bit_int() -> None:
    h = headers(rackbeat_webhook_event="product.updated")
    assert parse_delivery(h, {"key": MAX_INTEGER_KEY}).key == str(MAX_INTEGER_KEY)
    with pytest.raises(MalformedDelivery, match="larger than"):
        parse_delivery(h, {"key": MAX_INTEGER_KEY + 1})


@pytest.mark.parametrize(("key", "normalised"), [("42", "42"), ("0042", "42"), ("0", "0"), ("00", "0")])
def test_integer_key_normalises_digits(key: str, normalised: str) -> None:
    assert integer_key(key) == normalised


@pytest.mark.parametrize(
    "key", ["", "ABC", "+1", "-1", "1.0", "1e3", "²", "١٢٣", ".", "..", "9" * 20, str(MAX_INTEGER_KEY + 1)]
)
def test_integer_key_refuses_anything_but_bounded_ascii_digits(key: str) -> None:
    with pytest.raises(MalformedDelivery):
        integer_key(key)
