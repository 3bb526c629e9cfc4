"""A token bucket per API credential, shared by every worker process through Redis.

Both APIs meter per credential, not per process: e-conomic per agreement (its ``X-RateLimiting``
bucket), Rackbeat per token (≈480 requests / minute). So the bucket lives in one Redis hash that a
Lua script reads, refills and debits atomically; every Celery worker draws from the same budget and
calls wait for a token instead of collecting 429s.

The bucket is stored as ``tokens`` (the count at time ``ts``) and ``ts`` (Redis server time, so
all processes share one clock). A penalty after a 429 empties the bucket and moves ``ts`` into the
future: no process refills until the server's ``Retry-After`` has passed.

Every bucket also counts, in the same script call (no extra round trip), what ``/metrics`` reports: the
requests it let out and the 429s it was told of, per API, in the hash ``usage_key(namespace)`` (fields
``<api>|requests`` and ``<api>|rate_limited``, added up across processes and hosts), and it keeps its
``capacity`` and ``window`` beside its tokens and its key in the set ``buckets_key(namespace)``, so the
share of each budget in use can be read without a scan. Neither holds a credential.

Redis is this module's business alone: a bucket whose Redis fails raises the clients' own
``TransientError`` (``request_sent`` False), never a ``redis`` exception, so ``clients.http`` needs to
know nothing about the store behind its limiter.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis as redis_lib

from clients.errors import Api, TransientError
from clients.secrets import Secret, reveal

__all__ = [
    "RateLimitStatus",
    "RedisTokenBucket",
    "bucket_key",
    "buckets_key",
    "credential_fingerprint",
    "parse_rate_limiting_header",
    "usage_key",
]

_BUCKET_LUA = """
local key = KEYS[1]
local usage = KEYS[2]
local buckets = KEYS[3]
local api = ARGV[6]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local op = ARGV[3]
local arg = tonumber(ARGV[4])
local rate = capacity / window
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tokens = tonumber(redis.call('HGET', key, 'tokens'))
local ts = tonumber(redis.call('HGET', key, 'ts'))
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local result = 0
if op == 'reserve' then
  local max_wait = tonumber(ARGV[5])
  local wait = math.max(0, ts - now) + math.max(0, arg - tokens) / rate
  if max_wait < 0 or wait <= max_wait then
    tokens = tokens - arg
    result = wait
    redis.call('HINCRBY', usage, api .. '|requests', 1)
  else
    result = -wait
  end
elseif op == 'acquire' then
  if ts <= now and tokens >= arg then
    tokens = tokens - arg
    redis.call('HINCRBY', usage, api .. '|requests', 1)
  else
    result = (ts - now) + math.max(0, arg - tokens) / rate
  end
elseif op == 'penalize' then
  redis.call('HINCRBY', usage, api .. '|rate_limited', 1)
  tokens = 0
  ts = math.max(ts, now + arg)
elseif op == 'cap_used' then
  tokens = math.min(tokens, math.max(0, capacity - arg))
elseif op == 'peek' then
  result = tokens
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('HSET', key, 'capacity', ARGV[1], 'window', ARGV[2])
redis.call('SADD', buckets, key)
redis.call('PEXPIRE', key, math.ceil((window + math.max(0, ts - now)) * 2000))
return tostring(result)
"""


@dataclass(frozen=True)
class RateLimitStatus:
    """One bucket as e-conomic reports it: ``used`` of ``limit`` tokens in ``window_seconds``."""

    limit: int
    window_seconds: int
    used: int

    @property
    def used_fraction(self) -> float:
        return self.used / self.limit if self.limit else 1.0


_RATE_LIMITING_RE = re.compile(
    r"token-limit-(?P<limit>\d+)-per-(?P<window>\d+)-seconds\s*:\s*(?P<used>\d+)\s*/\s*(?P<total>\d+)",
    re.IGNORECASE,
)


def parse_rate_limiting_header(value: str | None) -> list[RateLimitStatus]:
    """Parse e-conomic's ``X-RateLimiting`` header, e.g. ``token-limit-10000-per-60-seconds: 147/10000``.

    Returns every bucket found (the format allows more than one, comma-separated); an empty list
    for a missing or unrecognised value, since a header we cannot read must not fail the call.
    """
    if not value:
        return []
    return [
        RateLimitStatus(limit=int(m["total"]), window_seconds=int(m["window"]), used=int(m["used"]))
        for m in _RATE_LIMITING_RE.finditer(value)
        if int(m["total"]) > 0
    ]


def credential_fingerprint(credential: Secret) -> str:
    """First 16 hex digits of sha256(credential): identifies a bucket without storing the secret."""
    return hashlib.sha256(reveal(credential).encode()).hexdigest()[:16]


def bucket_key(namespace: str, api: str, credential: Secret) -> str:
    return f"rbsync:{namespace}:ratelimit:{api}:{credential_fingerprint(credential)}"


def usage_key(namespace: str) -> str:
    """Hash of the request and 429 counters of every bucket of ``namespace`` (``<api>|requests``...)."""
    return f"rbsync:{namespace}:metrics:api"


def buckets_key(namespace: str) -> str:
    """Set of the bucket keys of ``namespace`` that have been used (for the budget gauge)."""
    return f"rbsync:{namespace}:metrics:ratelimit-buckets"


_TAKES_TOKENS = frozenset({"reserve", "acquire"})
"""Script operations run before a call goes out: when they fail, the call is not sent."""


class RedisTokenBucket:
    """Atomic shared token bucket: ``capacity`` tokens refilled evenly over ``window_seconds``.

    Every method that reaches Redis raises ``TransientError`` (``request_sent`` False) when Redis
    fails. The bucket knows no request, so that error carries the bucket's ``api`` and an empty method
    and URL; a client fills in the call it held back.
    """

    def __init__(
        self,
        redis: redis_lib.Redis,
        api: Api,
        credential: Secret,
        capacity: int,
        window_seconds: float,
        namespace: str = "default",
    ) -> None:
        if capacity <= 0 or window_seconds <= 0:
            raise ValueError("capacity and window_seconds must be positive")
        self.api = api
        self.capacity = capacity
        self.window_seconds = float(window_seconds)
        self.key = bucket_key(namespace, api, credential)
        self._keys = [self.key, usage_key(namespace), buckets_key(namespace)]
        self._redis = redis
        self._script = redis.register_script(_BUCKET_LUA)
        self.script_calls = 0
        """How many times this instance ran the script (shows that waiting does not busy-loop)."""
        self.last_wait = 0.0
        """Seconds the last ``acquire`` had to wait (or, when it gave up, would have had to)."""

    def __repr__(self) -> str:
        return (
            f"RedisTokenBucket(key={self.key!r}, capacity={self.capacity}, "
            f"window_seconds={self.window_seconds})"
        )

    @contextmanager
    def _map_redis_errors(self, op: str) -> Iterator[None]:
        """Turn a Redis failure during ``op`` into the clients' ``TransientError``, as httpx maps
        httpcore's exceptions onto its own at the transport."""
        try:
            yield
        except redis_lib.RedisError as exc:
            outcome = "; nothing was sent." if op in _TAKES_TOKENS else ""
            raise TransientError(
                f"The shared rate limiter is unavailable ({type(exc).__name__}){outcome}",
                api=self.api,
                method="",
                url="",
                request_sent=False,
            ) from None

    def _run(self, op: str, arg: float, max_wait: float = -1.0) -> float:
        self.script_calls += 1
        args: list[str | int | float] = [
            self.capacity,
            self.window_seconds,
            op,
            float(arg),
            float(max_wait),
            self.api,
        ]
        with self._map_redis_errors(op):
            return float(self._script(keys=self._keys, args=args))

    def try_acquire(self, cost: int = 1) -> float:
        """Take ``cost`` tokens only if they are there now: 0.0 when taken, else the seconds to wait."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket capacity {self.capacity}")
        return self._run("acquire", cost)

    def reserve(self, cost: int = 1, max_wait: float | None = None) -> float | None:
        """Reserve ``cost`` tokens, in the future if need be: the seconds until they are ours.

        None (and nothing reserved) when that would be more than ``max_wait`` seconds away. The
        count may go below zero, so callers queue in arrival order instead of all waking up for
        the same refilled token.
        """
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket capacity {self.capacity}")
        wait = self._run("reserve", cost, -1.0 if max_wait is None else max(0.0, max_wait))
        self.last_wait = abs(wait)
        return None if wait < 0 else wait

    def acquire(self, cost: int = 1, timeout: float | None = None) -> bool:
        """Block until ``cost`` tokens are ours; False (nothing taken) if that takes over ``timeout`` s.

        One round trip to Redis reserves the tokens, then we sleep exactly until they are due:
        no polling loop.
        """
        wait = self.reserve(cost, timeout)
        if wait is None:
            return False
        if wait > 0:
            time.sleep(wait)
        return True

    def penalize(self, retry_after: float | None = None) -> None:
        """Empty the bucket after a 429 so every worker backs off, for ``retry_after`` seconds if known."""
        self._run("penalize", max(0.0, float(retry_after or 0.0)))

    def sync_from_header(self, value: str | None) -> None:
        """Keep in step with e-conomic's ``X-RateLimiting`` header.

        When the server has counted more use than we have (other apps on the same agreement, calls
        from before this process started), lower our tokens to match; never raise them, since the
        header is older than our own latest debits.
        """
        statuses = parse_rate_limiting_header(value)
        if not statuses:
            return
        tightest = max(statuses, key=lambda s: s.used_fraction)
        used = min(self.capacity, tightest.used_fraction * self.capacity)
        self._run("cap_used", used)

    def available(self) -> float:
        """Tokens available now (refill included). For tests, benchmarks and health output."""
        return self._run("peek", 0)

    def reset(self) -> None:
        """Forget the bucket state (it starts full again)."""
        with self._map_redis_errors("reset"):
            self._redis.delete(self.key)
