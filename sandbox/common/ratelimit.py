"""In-memory rate limits per credential for the sandboxes' server side; two styles, one interface.

- :class:`TokenBuckets`: a bucket holds ``capacity`` tokens and refills continuously at
  ``capacity / window_seconds`` per second, so a client keeping to the published rate is never refused while a
  burst above it is. ``used`` drifts back towards 0 as time passes, even between two quick requests.
- :class:`FixedWindows`: Laravel's throttle (and a "used/limit per N seconds" header): a window opens with the
  first request, counts up to ``capacity``, refuses until the window ends, then starts again. ``used`` is the
  exact count of requests in the current window.

Both answer ``acquire(credential) -> BucketResult`` and take ``configure()`` / ``reset()``. Credentials are
kept only as a sha256 fingerprint, so the tables never hold a token.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


def fingerprint(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BucketResult:
    allowed: bool
    remaining: int  # whole tokens left after this request
    capacity: int
    retry_after: float  # seconds until one token is free again (0 when allowed)

    @property
    def used(self) -> int:
        return self.capacity - self.remaining

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1, as HTTP wants them."""
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter(Protocol):
    """What both styles offer (see the module docstring)."""

    capacity: int
    window_seconds: float

    def acquire(self, credential: str, cost: float = 1.0) -> BucketResult: ...
    def configure(self, capacity: int | None = None, window_seconds: float | None = None) -> None: ...
    def reset(self) -> None: ...


class TokenBuckets:
    """Thread-safe token buckets keyed by credential."""

    def __init__(self, capacity: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        if capacity < 1 or window_seconds <= 0:
            raise ValueError("capacity must be >= 1 and window_seconds > 0")
        self.capacity = capacity
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # fingerprint -> (tokens, last refill time)

    @property
    def refill_per_second(self) -> float:
        return self.capacity / self.window_seconds

    def acquire(self, credential: str, cost: float = 1.0) -> BucketResult:
        """Take ``cost`` tokens if there are enough; never blocks."""
        key = fingerprint(credential)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - last) * self.refill_per_second)
            if tokens >= cost:
                tokens -= cost
                self._buckets[key] = (tokens, now)
                return BucketResult(True, int(tokens), self.capacity, 0.0)
            self._buckets[key] = (tokens, now)
            wait = (cost - tokens) / self.refill_per_second
            return BucketResult(False, int(tokens), self.capacity, wait)

    def configure(self, capacity: int | None = None, window_seconds: float | None = None) -> None:
        """Change the limit (and empty the table, so every credential starts full)."""
        with self._lock:
            if capacity is not None:
                self.capacity = capacity
            if window_seconds is not None:
                self.window_seconds = window_seconds
            self._buckets.clear()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class FixedWindows:
    """Thread-safe fixed-window counters keyed by credential (see the module docstring)."""

    def __init__(self, capacity: int, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        if capacity < 1 or window_seconds <= 0:
            raise ValueError("capacity must be >= 1 and window_seconds > 0")
        self.capacity = capacity
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # fingerprint -> (window start, requests counted)

    def acquire(self, credential: str, cost: float = 1.0) -> BucketResult:
        key = fingerprint(credential)
        now = self._clock()
        with self._lock:
            started, count = self._windows.get(key, (now, 0))
            if now - started >= self.window_seconds:
                started, count = now, 0
            if count + cost <= self.capacity:
                count += int(cost)
                self._windows[key] = (started, count)
                return BucketResult(True, self.capacity - count, self.capacity, 0.0)
            self._windows[key] = (started, count)
            wait = started + self.window_seconds - now
            return BucketResult(False, self.capacity - count, self.capacity, wait)

    def configure(self, capacity: int | None = None, window_seconds: float | None = None) -> None:
        with self._lock:
            if capacity is not None:
                self.capacity = capacity
            if window_seconds is not None:
                self.window_seconds = window_seconds
            self._windows.clear()

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
