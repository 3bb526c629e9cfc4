"""Registering our receiver URL with Rackbeat for every event the entity registry handles.

Rackbeat treats POST /webhooks with an existing event + URL pair as an update, so registering again on every
start is safe. The token comes back only when the webhook is created; when Rackbeat answers without one we
keep the token stored from the first registration (that is what makes restarts idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretStr

from web.tokens import WebhookTokenStore

log = logging.getLogger(__name__)

RECEIVER_PATH = "/webhooks/rackbeat"


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
    return sorted({event for spec in specs for event in (*spec.events, *getattr(spec, "delete_events", ()))})


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


def register_from_settings(settings: Any) -> list[Registration]:
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
