"""Our webhooks at Rackbeat: which events we handle, registering the receiver for them, and their tokens.

None of this serves HTTP, so it lives below `web/`: the receiver (`web/`) registers at start-up and
checks deliveries against the stored tokens; `rbsync webhooks register` and the harness (which waits for
the receiver's registration) use it without importing `web`.

Rackbeat treats POST /webhooks with an existing event + URL pair as an update, so registering again on
every start is safe. It returns a 32-character token only when a webhook is created, so the stored token is
the only copy: it is replaced when Rackbeat sends a new one and kept otherwise (that is what makes restarts
idempotent). Tokens are never logged or printed, only what happened to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from pydantic import SecretStr

from tasks.settings import Settings

log = logging.getLogger(__name__)

# Where the receiver takes Rackbeat's deliveries (web.app routes it; registration points Rackbeat at it).
RECEIVER_PATH = "/webhooks/rackbeat"
TOKENS_HASH = "webhook-tokens"

KeyFn = Callable[..., str]


class WebhookTokenStore:
    """Rackbeat event -> the token Rackbeat returned when the webhook was created (hash `webhook-tokens`)."""

    def __init__(self, client: redis.Redis, key: KeyFn) -> None:
        self._redis = client
        self._hash = key(TOKENS_HASH)

    def get(self, event: str) -> SecretStr | None:
        raw = self._redis.hget(self._hash, event)
        if raw is None:
            return None
        return SecretStr(raw.decode() if isinstance(raw, bytes) else raw)

    def put(self, event: str, token: SecretStr) -> None:
        self._redis.hset(self._hash, event, token.get_secret_value())

    def events(self) -> set[str]:
        return {e.decode() if isinstance(e, bytes) else e for e in self._redis.hkeys(self._hash)}

    def __repr__(self) -> str:
        return f"WebhookTokenStore(hash={self._hash!r})"


class WebhookRegistrar(Protocol):
    """What registration needs from the Rackbeat client (clients.rackbeat.RackbeatClient has it)."""

    def register_webhook(self, event: str, url: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Registration:
    """The outcome for one event. `token` says what happened to the token, never what it is."""

    event: str
    webhook_id: Any
    token: str  # "stored" (Rackbeat sent one), "kept" (it did not, we had one), "missing" (neither)


def receiver_url(public_url: str) -> str:
    return public_url.rstrip("/") + RECEIVER_PATH


def handled_events(specs: Iterable[Any]) -> list[str]:
    """Every Rackbeat event some entity spec handles (changes and deletes), sorted for a stable order."""
    return sorted({event for spec in specs for event in spec.rackbeat.events | spec.rackbeat.delete_events})


def register_webhooks(
    client: WebhookRegistrar, tokens: WebhookTokenStore, public_url: str, events: Iterable[str]
) -> list[Registration]:
    """Upsert one webhook per event and store the tokens Rackbeat returns; client errors propagate."""
    url = receiver_url(public_url)
    results: list[Registration] = []
    for event in events:
        answer = client.register_webhook(event, url)
        token = answer.get("token")
        if isinstance(token, SecretStr):
            token = token.get_secret_value()
        if isinstance(token, str) and token:
            tokens.put(event, SecretStr(token))
            outcome = "stored"
        elif tokens.get(event) is not None:
            outcome = "kept"
        else:
            outcome = "missing"
            log.warning(
                "Rackbeat registered webhook %s for %s without a token and none is stored; deliveries "
                "will be refused unless RBSYNC_WEBHOOK_TOKEN is set (delete the webhook in Rackbeat "
                "to get a new one)",
                answer.get("id"),
                event,
            )
        results.append(Registration(event=event, webhook_id=answer.get("id"), token=outcome))
        log.info(
            "registered Rackbeat webhook %s for %s at %s (token %s)", answer.get("id"), event, url, outcome
        )
    return results


def register_from_settings(settings: Settings) -> list[Registration]:
    """Register for every handled event with the configured Rackbeat account and public URL.

    The client draws from the same Redis rate bucket as the workers, so registration counts against the
    shared per-token budget like every other call.
    """
    from clients.rackbeat import RackbeatClient
    from clients.ratelimit import RedisTokenBucket
    from tasks.entities import REGISTRY
    from tasks.redis import get_redis
    from tasks.redis import key as namespaced_key

    store = get_redis(settings.redis_url)

    def key(*parts: object) -> str:
        return namespaced_key(*parts, connection_id=settings.connection_id)

    bucket = RedisTokenBucket(
        store,
        "rackbeat",
        settings.rackbeat_token,
        capacity=settings.rackbeat_requests_per_minute,
        window_seconds=60,
        namespace=settings.connection_id,
    )
    with RackbeatClient(
        settings.rackbeat_base_url,
        settings.rackbeat_token,
        limiter=bucket,
        timeout=settings.http_timeout_seconds,
    ) as client:
        return register_webhooks(
            client, WebhookTokenStore(store, key), settings.public_url, handled_events(REGISTRY.values())
        )
