"""A replay cache for writes carrying an ``Idempotency-Key`` header (e-conomic's behaviour, one hour).

The first request with a key runs and its answer (status, headers, body) is kept; a repeat within the TTL
gets that answer again, marked with ``replay_header`` (``X-ResultFromCache: true``), without running the
app. A repeat that arrives while the first is still running waits for it. Keys are scoped by credential,
method and path, so two clients (or two resources) can never collide. Only writes are cached; answers of 5xx
are not kept, so a retry after a server error runs again.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.common.asgi import header
from sandbox.common.faults import ADMIN_PREFIX, WRITE_METHODS

DEFAULT_TTL_SECONDS = 3600.0


@dataclass(frozen=True)
class CachedResponse:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    stored_at: float


class IdempotencyCache:
    """Thread-safe (status, headers, body) store per key with a TTL."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, CachedResponse] = {}

    def get(self, key: str) -> CachedResponse | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now - entry.stored_at > self.ttl_seconds:
                del self._entries[key]
                return None
            return entry

    def put(
        self, key: str, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes
    ) -> CachedResponse:
        entry = CachedResponse(status, tuple(headers), body, self._clock())
        with self._lock:
            self._entries[key] = entry
            if len(self._entries) > 100_000:
                self._evict_expired()
        return entry

    def _evict_expired(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if now - e.stored_at > self.ttl_seconds]:
            del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def scoped_key(scope: dict, idempotency_key: str, credential_headers: tuple[bytes, ...]) -> str:
    """Cache key from the caller's credentials, the method, the path and the client's key (hashed)."""
    parts = [header(scope, h) or "" for h in credential_headers]
    parts += [scope["method"], scope["path"], idempotency_key]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


async def _drain(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class IdempotencyMiddleware:
    """ASGI middleware replaying cached answers to repeated writes with the same Idempotency-Key."""

    def __init__(
        self,
        app: Any,
        cache: IdempotencyCache,
        credential_headers: tuple[bytes, ...] = (b"authorization",),
        replay_header: tuple[bytes, bytes] = (b"x-resultfromcache", b"true"),
        on_replay: Callable[[], None] | None = None,
    ):
        self.app = app
        self.cache = cache
        self.credential_headers = credential_headers
        self.replay_header = replay_header
        self.on_replay = on_replay
        self._in_flight: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        exempt = scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX)
        if exempt or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        client_key = header(scope, b"idempotency-key")
        if not client_key:
            await self.app(scope, receive, send)
            return
        key = scoped_key(scope, client_key, self.credential_headers)
        while (running := self._in_flight.get(key)) is not None:
            await running.wait()
        cached = self.cache.get(key)
        if cached is not None:
            await _drain(receive)  # read the body anyway, so the request log records what was sent
            await self._replay(cached, send)
            return
        done = self._in_flight[key] = asyncio.Event()
        try:
            await self._run_and_store(key, scope, receive, send)
        finally:
            del self._in_flight[key]
            done.set()

    async def _replay(self, cached: CachedResponse, send: Any) -> None:
        if self.on_replay is not None:
            self.on_replay()
        headers = [h for h in cached.headers if h[0] != self.replay_header[0]] + [self.replay_header]
        await send({"type": "http.response.start", "status": cached.status, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})

    async def _run_and_store(self, key: str, scope: dict, receive: Any, send: Any) -> None:
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and 0 < status < 500:
                    self.cache.put(key, status, headers, b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)
