"""Posting claims: the record that a document is about to be posted, written BEFORE the call.

`posting:{kind}:{key}` is a hash: `stage` (what the last attempt sent: `post` or `book`; `attached` between
the two once a voucher's attachment is on it, or it has none) and
`generation` (raised each time the service takes back a draft it wrote, so the next post gets a fresh
Idempotency-Key instead of e-conomic's replay of the withdrawn one). A claim found by a later attempt
means an earlier one may have written without learning the answer: that attempt looks for the document
by its reference before it sends anything. The claim is kept after posting; it costs a few bytes per
document and keeps the generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from clients.errors import AuthError, PermanentError
from tasks.redis import key as namespaced_key
from tasks.redis import text_map


@dataclass(frozen=True)
class Claim:
    stage: str
    generation: int


class PostingClaims:
    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def _name(self, kind: str, key: str) -> str:
        return namespaced_key("posting", kind, key, connection_id=self.connection_id)

    def get(self, kind: str, key: str) -> Claim | None:
        fields = text_map(self.client.hgetall(self._name(kind, key)))
        if not fields:
            return None
        return Claim(stage=fields.get("stage", ""), generation=int(fields.get("generation", "0")))

    def mark(self, kind: str, key: str, stage: str) -> Claim:
        """Record that `stage` is about to be sent; returns the claim with its generation."""
        name = self._name(kind, key)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(name, "stage", stage)
            pipe.hsetnx(name, "generation", 0)
            pipe.hget(name, "generation")
            _, _, generation = pipe.execute()
        return Claim(stage=stage, generation=int(generation or 0))

    @contextmanager
    def fresh_key_after_refusal(self, kind: str, key: str) -> Iterator[None]:
        """Around a write: when e-conomic refuses it (a 4xx other than a refused credential), the claim's
        generation is raised. A refused write wrote nothing, and e-conomic answers a repeated
        Idempotency-Key with its first answer for an hour (economic-api.md §6; whether refusals are replayed
        too is not documented, and the sandbox does replay them), so the retry after the fix (a reopened
        accounting year, a corrected setting) must go under a new key, not be refused again from that
        cache. An unknown outcome (a timeout, a 5xx, a dropped connection) keeps the key: it may have been
        written."""
        try:
            yield
        except PermanentError as refused:
            if not isinstance(refused, AuthError):
                self.withdraw(kind, key)
            raise

    def withdraw(self, kind: str, key: str) -> None:
        """The draft this service wrote was taken back: the next post starts a new generation."""
        name = self._name(kind, key)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hincrby(name, "generation", 1)
            pipe.hdel(name, "stage")
            pipe.execute()
