"""The webhook tokens Rackbeat gave us, and the constant-time check of a delivery's token.

Rackbeat returns a 32-character token only when a webhook is created (an upsert of event + URL answers
without it), so the stored token is the only copy: it is replaced when Rackbeat sends a new one and kept
otherwise. Tokens never leave this module except as the boolean answer of `is_authentic`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

import redis
from pydantic import SecretStr

KeyFn = Callable[..., str]
TOKENS_HASH = "webhook-tokens"


class WebhookTokenStore:
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


def _matches(presented: bytes, expected: SecretStr | None) -> bool:
    if expected is None:
        # Still compare, so a missing registration costs the same time as a wrong token.
        hmac.compare_digest(presented, presented)
        return False
    return hmac.compare_digest(presented, expected.get_secret_value().encode())


def is_authentic(presented: str | None, registered: SecretStr | None, fixed: SecretStr | None) -> bool:
    """True when the presented token equals the event's registered token or the fixed one.

    Both candidates are always compared (no short-circuit) with `hmac.compare_digest`, so the answer time
    does not tell which one exists or how much of a guess was right.
    """
    if not presented:
        return False
    data = presented.encode()
    registered_ok = _matches(data, registered)
    fixed_ok = _matches(data, fixed)
    return registered_ok or fixed_ok
