"""Fault injection for the sandboxes: latency, 5xx answers, 429 bursts, dropped connections, commit-then-fail.

The :class:`FaultInjector` holds the switchable :class:`FaultConfig` and decides, per request, what goes
wrong; :class:`FaultMiddleware` carries the decision out. Admin routes (``/_sandbox/``) are never faulted,
so a test can always switch faults off again.

Order of checks for one request: latency (always added), then a 429 from the burst, then a dropped
connection (``drop_rate``), then a 5xx (``error_rate``), then, for writes only, commit-then-fail.
``commit_then_fail`` counts down only on writes the sandbox actually committed (a 2xx answer); a write it
rejected (422, 404...) passes through unchanged because there was nothing to commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sandbox.common.server import ABORT_EXTENSION

ADMIN_PREFIX = "/_sandbox"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SERVER_ERROR_STATUSES = (500, 502, 503)


@dataclass
class FaultConfig:
    latency_ms: float = 0
    error_rate: float = 0.0
    rate_limit_burst: int = 0
    drop_rate: float = 0.0
    commit_then_fail: int = 0
    drop_after_commit: bool = False
    seed: int | None = None
    retry_after_seconds: int = 1  # the Retry-After sent with a burst 429

    def validate(self) -> None:
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        for name in ("latency_ms", "rate_limit_burst", "commit_then_fail", "retry_after_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "latency_ms": (int, float),
    "error_rate": (int, float),
    "rate_limit_burst": (int,),
    "drop_rate": (int, float),
    "commit_then_fail": (int,),
    "drop_after_commit": (bool,),
    "seed": (int, type(None)),
    "retry_after_seconds": (int,),
}


@dataclass(frozen=True)
class FaultDecision:
    """What the middleware must do with one request (before the app runs)."""

    latency_s: float = 0.0
    status: int | None = None  # answer this status instead of running the app (429 or 5xx)
    drop: bool = False  # close the connection instead of running the app
    commit_then_fail: bool = False  # run the app, then fail the answer if it committed
    retry_after: int | None = None


class FaultInjector:
    """Thread-safe holder of the fault configuration and counters."""

    def __init__(self, config: FaultConfig | None = None):
        self._lock = threading.Lock()
        self.config = config or FaultConfig()
        self.config.validate()
        self._rng = random.Random(self.config.seed)
        self.counters: Counter[str] = Counter()

    def set(self, **changes: Any) -> FaultConfig:
        """Change some fields; unknown names or wrong types raise ValueError and change nothing."""
        for name, value in changes.items():
            if name not in _FIELD_TYPES:
                raise ValueError(f"unknown fault setting {name!r}")
            allowed = _FIELD_TYPES[name]
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise ValueError(f"fault setting {name!r} has the wrong type: {value!r}")
        with self._lock:
            candidate = dataclasses.replace(self.config, **changes)
            candidate.validate()
            self.config = candidate
            if "seed" in changes:
                self._rng = random.Random(candidate.seed)
        return candidate

    def reset(self) -> None:
        """All faults off, counters zeroed."""
        with self._lock:
            self.config = FaultConfig()
            self._rng = random.Random()
            self.counters.clear()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return dataclasses.asdict(self.config)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def decide(self, method: str) -> FaultDecision:
        """Draw the fate of one API request; consumes burst and commit-then-fail budgets."""
        with self._lock:
            cfg = self.config
            latency = cfg.latency_ms / 1000.0
            if latency:
                self.counters["latency_injected"] += 1
            if cfg.rate_limit_burst > 0:
                cfg.rate_limit_burst -= 1
                self.counters["rate_limited_429"] += 1
                return FaultDecision(latency, status=429, retry_after=cfg.retry_after_seconds)
            if cfg.drop_rate and self._rng.random() < cfg.drop_rate:
                self.counters["dropped"] += 1
                return FaultDecision(latency, drop=True)
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                status = self._rng.choice(SERVER_ERROR_STATUSES)
                self.counters[f"error_{status}"] += 1
                self.counters["errors_5xx"] += 1
                return FaultDecision(latency, status=status)
            if cfg.commit_then_fail > 0 and method in WRITE_METHODS:
                return FaultDecision(latency, commit_then_fail=True)
            return FaultDecision(latency)

    def claim_commit_then_fail(self) -> bool | None:
        """Called after a write committed: None when the budget is spent, else whether to drop (vs 500)."""
        with self._lock:
            if self.config.commit_then_fail <= 0:
                return None
            self.config.commit_then_fail -= 1
            self.counters["commit_then_fail"] += 1
            return self.config.drop_after_commit

    def __repr__(self) -> str:
        return f"FaultInjector({self.config!r})"


def _error_body(status: int) -> bytes:
    if status == 429:
        return b'{"message":"Too Many Attempts."}'
    return json.dumps({"message": f"Sandbox injected fault: HTTP {status}"}).encode()


async def _send_json(send: Any, status: int, body: bytes, extra_headers: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + extra_headers})
    await send({"type": "http.response.body", "body": body})


async def abort_connection(scope: dict, send: Any) -> None:
    """Close the TCP connection without an answer; falls back to a 502 when not served by ServerThread."""
    abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
    if abort is None:
        await _send_json(send, 502, b'{"message":"Sandbox injected fault: connection dropped"}', [])
        return
    abort()
    # Let uvicorn's connection_lost run, so it marks the cycle disconnected and does not write a 500.
    for _ in range(3):
        await asyncio.sleep(0)


class FaultMiddleware:
    """ASGI middleware applying a FaultInjector's decisions to every request outside ``/_sandbox/``."""

    def __init__(self, app: Any, injector: FaultInjector):
        self.app = app
        self.injector = injector

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        decision = self.injector.decide(scope["method"])
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.drop:
            await abort_connection(scope, send)
            return
        if decision.status is not None:
            extra = [(b"retry-after", str(decision.retry_after).encode())] if decision.retry_after else []
            await _send_json(send, decision.status, _error_body(decision.status), extra)
            return
        if not decision.commit_then_fail:
            await self.app(scope, receive, send)
            return
        await self._commit_then_fail(scope, receive, send)

    async def _commit_then_fail(self, scope: dict, receive: Any, send: Any) -> None:
        messages: list[dict] = []

        async def hold(message: dict) -> None:
            messages.append(message)

        await self.app(scope, receive, hold)
        status = next((m["status"] for m in messages if m["type"] == "http.response.start"), 500)
        drop = self.injector.claim_commit_then_fail() if 200 <= status < 300 else None
        if drop is None:
            for message in messages:
                await send(message)
        elif drop:
            await abort_connection(scope, send)
        else:
            await _send_json(send, 500, _error_body(500), [])
