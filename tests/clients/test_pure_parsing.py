"""Pure helpers: e-conomic key encoding, Rackbeat path keys, Retry-After, X-RateLimiting, URL display."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from clients.economic import encode_key
from clients.http import display_url, parse_retry_after
from clients.rackbeat import UrlFriendly, item_key, path_key
from clients.ratelimit import (
    RateLimitStatus,
    bucket_key,
    credential_fingerprint,
    parse_rate_limiting_header,
)


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("My Awesome Product_Discount5%", "My_9_Awesome_9_Product_8_Discount5_3_"),
        ("<>*%:&/\\_ ?.#+", "_0__1__2__3__4__5__6__7__8__9__10__11__12__13_"),
        ("ABC-123", "ABC-123"),
        ("a_8_b", "a_8_8_8_b"),
        ("æble", "%C3%A6ble"),
        ('x"y', "x%22y"),
        (42, "42"),
    ],
)
def test_economic_key_encoding(key: str | int, encoded: str) -> None:
    assert encode_key(key) == encoded


def test_rackbeat_path_keys() -> None:
    assert path_key("ABC/123+DEF") == "ABC%252F123%252BDEF"
    assert path_key("A 1?") == "A%25201%253F"
    assert path_key(17) == "17"
    assert path_key(UrlFriendly("ABC%2F123")) == "ABC%2F123"
    assert item_key({"number": "A/1", "urlfriendly_number": "A%2F1"}) == "A%2F1"
    assert isinstance(item_key({"number": "A/1", "urlfriendly_number": "A%2F1"}), UrlFriendly)
    assert item_key({"number": "A/1"}) == "A/1"
    assert path_key(item_key({"number": "A/1"})) == "A%252F1"


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("Fri, 02 Jan 2026 03:05:05 GMT", now=now) == 60.0
    for bad in (None, "", "soon", "Someday, 99 Foo 20xx"):
        assert parse_retry_after(bad) is None


def test_rate_limiting_header() -> None:
    assert parse_rate_limiting_header("token-limit-10000-per-60-seconds: 147/10000") == [
        RateLimitStatus(limit=10000, window_seconds=60, used=147)
    ]
    two = parse_rate_limiting_header(
        "token-limit-10000-per-60-seconds: 1/10000, token-limit-50000-per-86400-seconds: 49000/50000"
    )
    assert [s.window_seconds for s in two] == [60, 86400]
    assert two[1].used_fraction == pytest.approx(0.98)
    assert parse_rate_limiting_header("TOKEN-LIMIT-5-PER-1-SECONDS:5 / 5")[0].used == 5
    for bad in (
        None,
        "",
        "garbage",
        "token-limit-10-per-60-seconds: x/10",
        "token-limit-0-per-1-seconds: 0/0",
    ):
        assert parse_rate_limiting_header(bad) == []


def test_bucket_key_never_holds_the_credential() -> None:
    key = bucket_key("conn", "rackbeat", "super-secret-token")
    assert key == f"rbsync:conn:ratelimit:rackbeat:{credential_fingerprint('super-secret-token')}"
    assert "super-secret-token" not in key
    assert len(credential_fingerprint("x")) == 16
    assert credential_fingerprint("a") != credential_fingerprint("b")


def test_display_url_drops_user_info_and_redacts_token_params() -> None:
    shown = display_url("https://user:pw@h.example:8443/api/x?page=2&api_token=abc&filter=name$eq:Joe")
    assert shown == "https://h.example:8443/api/x?page=2&api_token=***&filter=name$eq:Joe"
    assert "pw" not in shown and "abc" not in shown
