"""The shared base of both API clients: one ``httpx.Client``, the rate limiter, error mapping.

Everything that is the same for Rackbeat and e-conomic lives here: timeouts, JSON, turning any
failure (HTTP status, timeout, dropped connection, undecodable body) into the taxonomy of
``clients.errors``, ``Retry-After``, call counting, and keeping credentials out of every repr, log
line and exception. Subclasses add the authentication headers, their API's error-body parser and
their own resource helpers.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import redis

from clients.errors import (
    Api,
    ApiError,
    RateLimitedError,
    TransientError,
    error_class_for_status,
    truncate,
)
from clients.secrets import REDACTED, scrub

logger = logging.getLogger("clients.http")

DEFAULT_MAX_RATE_WAIT = 60.0
"""Longest a call waits for a rate-limit token before failing as ``RateLimitedError`` (None: forever)."""

SENSITIVE_QUERY_WORDS = ("token", "secret", "password", "apikey", "api_key", "signature")


@runtime_checkable
class Limiter(Protocol):
    """What a client needs from a rate limiter (``clients.ratelimit.RedisTokenBucket`` is one)."""

    def acquire(self, cost: int = 1, timeout: float | None = None) -> bool: ...

    def penalize(self, retry_after: float | None = None) -> None: ...


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def display_url(url: str | httpx.URL) -> str:
    """The URL with user info dropped and credential-looking query values redacted."""
    parts = urlsplit(str(url))
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode(
        [
            (name, REDACTED if any(w in name.lower() for w in SENSITIVE_QUERY_WORDS) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="$:*,[]()",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class BaseClient:
    """Sync HTTP client for one API and one credential set. Use as a context manager or ``close()``."""

    api: ClassVar[Api]
    success_statuses: ClassVar[frozenset[int]] = frozenset({200, 201, 204})

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        secrets: Iterable[str],
        limiter: Limiter | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        max_rate_wait: float | None = DEFAULT_MAX_RATE_WAIT,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.limiter = limiter
        self.max_rate_wait = max_rate_wait
        self.timeout = timeout
        self._secrets = [s for s in secrets if s]
        self.calls: Counter[str] = Counter()
        """Requests sent, by HTTP method (benchmarks and the engine's ``api_calls``)."""
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Accept": "application/json", **headers},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    # --- lifecycle and presentation ---------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={display_url(self.base_url)!r}, credentials={REDACTED!r})"

    __str__ = __repr__

    @property
    def call_count(self) -> int:
        return sum(self.calls.values())

    # --- the one way a request goes out ------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        expected: Iterable[int] | None = None,
    ) -> httpx.Response:
        """Send one request (after the limiter grants a token) and return the successful response.

        Raises the matching ``ApiError`` subclass for any other outcome.
        """
        method = method.upper()
        ok = frozenset(expected) if expected is not None else self.success_statuses
        request = self._http.build_request(method, url, params=params, json=json, headers=headers)
        shown_url = display_url(request.url)
        self._wait_for_rate_budget(method, shown_url)
        self.calls[method] += 1
        started = time.perf_counter()
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, method, shown_url) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug(
            "%s %s %s -> %s in %.0f ms", self.api, method, shown_url, response.status_code, elapsed_ms
        )
        self._on_response(response)
        if response.status_code in ok:
            return response
        raise self._status_error(response, method, shown_url)

    def _wait_for_rate_budget(self, method: str, url: str) -> None:
        """Take a token from the shared bucket, or give up without sending when the wait is too long.

        A worker should not sleep for minutes inside a task with a time limit: past
        ``max_rate_wait`` the call fails as rate-limited and the task retries later instead.
        """
        if self.limiter is None:
            return
        try:
            granted = self.limiter.acquire(timeout=self.max_rate_wait)
        except redis.RedisError as exc:
            raise TransientError(
                f"The shared rate limiter is unavailable ({type(exc).__name__}); nothing was sent.",
                api=self.api,
                method=method,
                url=url,
                request_sent=False,
            ) from None
        if not granted:
            wait = getattr(self.limiter, "last_wait", None) or self.max_rate_wait
            raise RateLimitedError(
                f"The shared {self.api} rate budget needs {wait:.1f} s to free a token, more than "
                f"{self.max_rate_wait:g} s; nothing was sent.",
                api=self.api,
                method=method,
                url=url,
                retry_after=wait,
                request_sent=False,
            )

    def _penalize_limiter(self, retry_after: float | None) -> None:
        """Tell every worker on this credential to back off; the 429 is raised either way."""
        if self.limiter is None:
            return
        try:
            self.limiter.penalize(retry_after)
        except redis.RedisError as exc:
            logger.warning("%s: could not record a 429 in the shared rate limiter: %r", self.api, exc)

    def _on_response(self, response: httpx.Response) -> None:
        """Hook for per-API response headers (rate-limit state, cache markers). Runs on errors too."""

    def decode_json(self, response: httpx.Response) -> Any:
        """The JSON body of a successful response, None when empty (204)."""
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            # A 2xx we cannot read is most often a truncated body or a proxy's HTML page.
            raise TransientError(
                "The response body is not valid JSON.",
                api=self.api,
                method=response.request.method,
                url=display_url(response.request.url),
                status=response.status_code,
                body=self._scrub(response.text),
            ) from None

    # --- error mapping ----------------------------------------------------------------------

    def parse_error_body(self, payload: Any) -> tuple[str, dict[str, list[str]], str | None]:
        """The API's message, field errors and error code from a decoded error body."""
        raise NotImplementedError

    def _status_error(self, response: httpx.Response, method: str, url: str) -> ApiError:
        text = response.text
        try:
            payload = response.json() if text else None
        except ValueError:
            payload = None
        if payload is not None:
            message, field_errors, code = self.parse_error_body(payload)
        else:
            message, field_errors, code = "", {}, None
        if not message:
            message = truncate(text.strip(), 200) or response.reason_phrase or f"HTTP {response.status_code}"
        cls = error_class_for_status(response.status_code)
        kwargs: dict[str, Any] = {
            "api": self.api,
            "method": method,
            "url": url,
            "status": response.status_code,
            "field_errors": {
                self._scrub(f): [self._scrub(m) for m in msgs] for f, msgs in field_errors.items()
            },
            "body": self._scrub(text),
            "error_code": code,
        }
        if cls is RateLimitedError:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            self._penalize_limiter(retry_after)
            kwargs["retry_after"] = retry_after
        error = cls(self._scrub(message), **kwargs)
        logger.info("%s %s %s failed: %s %s", self.api, method, url, type(error).__name__, error.status)
        return error

    def _transport_error(self, exc: httpx.TransportError, method: str, url: str) -> TransientError:
        # Connect failures never reached the server; anything later may have: a write must be
        # retried with the same idempotency key, never assumed not to have happened.
        not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if isinstance(exc, httpx.TimeoutException):
            what = "Timed out"
        elif not_sent:
            what = "Could not connect"
        else:
            what = "Connection failed"
        stage = "before sending" if not_sent else "after sending; the request may have been applied"
        detail = self._scrub(str(exc)) or type(exc).__name__
        logger.info("%s %s %s failed: %s (%s)", self.api, method, url, type(exc).__name__, stage)
        return TransientError(
            f"{what} {stage} ({type(exc).__name__}: {detail})",
            api=self.api,
            method=method,
            url=url,
            status=None,
            request_sent=not not_sent,
        )

    def _scrub(self, text: str) -> str:
        return scrub(text, self._secrets)
