"""Token comparison, the token store and the metrics counters (real Redis, session namespace)."""

from __future__ import annotations

import uuid

import pytest
import redis
from prometheus_client import generate_latest
from pydantic import SecretStr

from tasks.webhooks import WebhookTokenStore
from web.metrics import Increment, WebhookCollector, WebhookMetrics, metrics_registry
from web.tokens import is_authentic


@pytest.fixture
def key(session_namespace: str):
    """A key function under the session namespace, unique per test so tests never share counters."""
    test_id = uuid.uuid4().hex[:8]

    def build(*parts: str) -> str:
        return ":".join(("rbsync", session_namespace, f"web-unit-{test_id}", *parts))

    return build


@pytest.mark.parametrize(
    ("presented", "registered", "fixed", "expected"),
    [
        ("a" * 32, "a" * 32, None, True),
        ("b" * 32, None, "b" * 32, True),
        ("b" * 32, "a" * 32, "b" * 32, True),
        ("a" * 31, "a" * 32, None, False),
        ("c" * 32, "a" * 32, "b" * 32, False),
        ("", "a" * 32, None, False),
        (None, None, None, False),
        ("anything", None, None, False),
    ],
)
def test_is_authentic(presented, registered, fixed, expected) -> None:
    wrap = lambda v: SecretStr(v) if v is not None else None  # noqa: E731
    assert is_authentic(presented, wrap(registered), wrap(fixed)) is expected


def test_token_store_round_trip_and_repr_hides_tokens(redis_client: redis.Redis, key) -> None:
    store = WebhookTokenStore(redis_client, key)
    assert store.get("product.updated") is None
    store.put("product.updated", SecretStr("t" * 32))
    got = store.get("product.updated")
    assert got is not None and got.get_secret_value() == "t" * 32
    assert store.events() == {"product.updated"}
    assert "t" * 32 not in repr(store) and "t" * 32 not in repr(got)


def test_metrics_count_in_redis_and_render_as_prometheus(redis_client: redis.Redis, key) -> None:
    metrics = WebhookMetrics(redis_client, key)
    metrics.record([Increment("received"), Increment("refused", "bad-token")])
    metrics.record([Increment("received"), Increment("ignored", "unhandled-event")], ignored_event="x.y")
    metrics.record([Increment("received"), Increment("ignored", "unhandled-event")], ignored_event="x.y")
    assert metrics.snapshot() == {"received": 3, "refused|bad-token": 1, "ignored|unhandled-event": 2}
    assert metrics.ignored_events() == {"x.y": 2}
    # prometheus_client's exposition (web.metrics.WebhookCollector): the same names, values as floats
    text = generate_latest(metrics_registry(WebhookCollector(metrics, dict))).decode()
    assert "rbsync_webhooks_received_total 3.0\n" in text
    assert 'rbsync_webhooks_refused_total{reason="bad-token"} 1.0\n' in text
    assert 'rbsync_webhooks_ignored_total{reason="unhandled-event"} 2.0\n' in text
    assert "rbsync_webhooks_enqueued_total 0.0\n" in text
    assert "# TYPE rbsync_webhooks_coalesced_total counter" in text
    assert 'rbsync_webhooks_ignored_by_event_total{event="x.y"} 2.0\n' in text


def test_unknown_counter_is_a_programming_error(redis_client: redis.Redis, key) -> None:
    with pytest.raises(ValueError, match="unknown webhook counter"):
        WebhookMetrics(redis_client, key).record([Increment("bogus")])
