"""The shared base of both API clients: one ``httpx.Client``, the rate limiter, error mapping.

Everything that is the same for Rackbeat and e-conomic lives here: timeouts, JSON, turning any
failure (HTTP status, timeout, dropped connection, undecodable body) into the taxonomy of
``clients.errors``, ``Retry-After``, call counting, and keeping credentials out of every repr, log
line and exception. A call that is safe to repeat (a read, a write with an ``Idempotency-Key``) rides
out a transient failure with a couple of quick retries; everything longer is the task's retry.
Subclasses add the authentication headers, their API's error-body parser and their own resource
helpers.
"""

from __future__ import annotations

import email.utils
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, Self, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from clients.errors import (
    Api,
    ApiError,
    PermanentError,
    RateLimitedError,
    TransientError,
    error_class_for_status,
    truncate,
)
from clients.secrets import REDACTED, scrub

__all__ = [
    "DEFAULT_CALL_RETRIES",
    "DEFAULT_CALL_RETRY_BACKOFF",
    "DEFAULT_CALL_RETRY_MAX_PAUSE",
    "DEFAULT_MAX_RATE_WAIT",
    "BaseClient",
    "Limiter",
    "ResponseTooLarge",
    "display_url",
    "is_repeatable",
    "parse_retry_after",
]

logger = logging.getLogger("clients.http")

DEFAULT_MAX_RATE_WAIT = 60.0
"""Longest a call waits for a rate-limit token before failing as ``RateLimitedError`` (None: forever)."""

SENSITIVE_QUERY_WORDS = ("token", "secret", "password", "apikey", "api_key", "signature")

DEFAULT_CALL_RETRIES = 2
"""Extra attempts a repeatable call gets after a transient failure, before the task-level retry takes over."""
DEFAULT_CALL_RETRY_BACKOFF = 0.2
"""Ceiling of the first pause between attempts (s), x2.5 for each later one; a pause is drawn at random
between half its ceiling and all of it (0.1-0.2 s, then 0.25-0.5 s)."""
DEFAULT_CALL_RETRY_MAX_PAUSE = 2.0
"""Longest pause between attempts (s); a 429 asking for a longer ``Retry-After`` is raised at once."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_repeatable(request: httpx.Request) -> bool:
    """Whether a call may be sent again after a transient failure without any risk of a second effect.

    Reads change nothing. A write only when it carries an ``Idempotency-Key``: the server answers a
    repeat from its replay cache instead of writing twice (economic-api.md §6).

    PUT without a key is *not* repeated, although HTTP calls PUT idempotent. The project's rule
    (docs/ARCHITECTURE.md, ``TransientError.request_sent``) is that a write whose outcome is unknown
    is sent again only under the same idempotency key, and a key-less PUT shows why: the first one
    may have been applied. Sent again blindly, a body built from reads made before it would overwrite
    whatever was written in between (a user's edit in Rackbeat), a PUT guarded by ``objectVersion``
    would come back 409 (a permanent error for a write that succeeded), and every applied Rackbeat
    write fires its webhook again (an echo). The task-level retry re-reads the current state before
    it writes again, so those are left to it.
    """
    return request.method in SAFE_METHODS or bool(request.headers.get("Idempotency-Key", "").strip())


class ResponseTooLarge(PermanentError):
    """A file bigger than the caller's ``max_bytes``: it was not read whole (``request_bytes``).

    ``size`` is the file's size in bytes when the server named it (``Content-Length``), else None: then
    more than ``limit`` bytes arrived before reading stopped. Permanent: the same file stays too big.
    """

    def __init__(self, message: str, *, size: int | None, limit: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.size = size
        self.limit = limit

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "size": self.size, "limit": self.limit}


Attempt = Callable[[httpx.Request, str, str, frozenset[int]], tuple[httpx.Response, Any]]
"""One attempt at a call: (request, method, shown URL, success statuses) -> (response, its payload)."""


@runtime_checkable
class Limiter(Protocol):
    """What a client needs from a rate limiter (``clients.ratelimit.RedisTokenBucket`` is one).

    A limiter whose own store fails raises ``TransientError`` (``request_sent`` False), never its
    store's exceptions: the client fills in the call and otherwise passes it on.
    """

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
        call_retries: int = DEFAULT_CALL_RETRIES,
        call_retry_backoff: float = DEFAULT_CALL_RETRY_BACKOFF,
        call_retry_max_pause: float = DEFAULT_CALL_RETRY_MAX_PAUSE,
    ) -> None:
        if call_retries < 0 or call_retry_backoff < 0 or call_retry_max_pause < 0:
            raise ValueError("call_retries, call_retry_backoff and call_retry_max_pause must not be negative")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.limiter = limiter
        self.max_rate_wait = max_rate_wait
        self.call_retries = call_retries
        """Extra attempts for a repeatable call (``is_repeatable``) that failed transiently; 0: none."""
        self.call_retry_backoff = call_retry_backoff
        self.call_retry_max_pause = call_retry_max_pause
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
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """Send one call and return the successful response; raise the matching ``ApiError`` otherwise.

        A repeatable call (``is_repeatable``) that fails transiently is sent again, at most
        ``call_retries`` times, after a short pause. Every attempt takes a rate-limit token and is
        counted in ``calls``. ``files`` (field -> (file name, bytes, media type)) sends a
        multipart/form-data body instead of JSON; bytes, so every attempt sends the same body again.
        """
        response, _ = self._call(method, url, params, json, headers, expected, decode=False, files=files)
        return response

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        expected: Iterable[int] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        """``request`` then ``decode_json``, as one call: an unreadable success body is retried like a 5xx."""
        _, payload = self._call(method, url, params, json, headers, expected, decode=True, files=files)
        return payload

    def request_bytes(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Iterable[int] | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """The body of a successful answer as bytes, streamed: a file is never held beyond ``max_bytes``.

        Past ``max_bytes`` (by ``Content-Length`` before any of it is read, else while reading) the
        answer is closed and ``ResponseTooLarge`` raised, naming the size when the server gave it. The
        same retries, rate budget and error mapping as ``request``; a connection lost mid-body is a
        ``TransientError`` (and a GET is tried again).
        """
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must not be negative")

        def attempt(
            request: httpx.Request, method: str, shown_url: str, ok: frozenset[int]
        ) -> tuple[httpx.Response, Any]:
            return self._send_streamed(request, method, shown_url, ok, max_bytes)

        _, content = self._call(
            method, url, params, None, headers, expected, decode=False, send_attempt=attempt
        )
        return bytes(content)

    def _call(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        expected: Iterable[int] | None,
        decode: bool,
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        send_attempt: Attempt | None = None,
    ) -> tuple[httpx.Response, Any]:
        method = method.upper()
        ok = frozenset(expected) if expected is not None else self.success_statuses
        if files:
            # Named here, so a client-wide ``Content-Type: application/json`` cannot hide the boundary
            # (httpx takes the boundary from this header).
            boundary = secrets.token_hex(16)
            headers = {**(headers or {}), "Content-Type": f"multipart/form-data; boundary={boundary}"}
        request = self._http.build_request(
            method, url, params=params, json=json, headers=headers, files=dict(files) if files else None
        )
        shown_url = display_url(request.url)
        attempts = 1 + (self.call_retries if is_repeatable(request) else 0)
        started = time.monotonic()
        attempt = 1
        while True:
            # Outside the try: a limiter that is down or would make us wait too long is final here.
            self._wait_for_rate_budget(method, shown_url)
            try:
                if send_attempt is not None:
                    return send_attempt(request, method, shown_url, ok)
                response = self._send(request, method, shown_url, ok)
                return response, (self.decode_json(response) if decode else None)
            except TransientError as error:
                pause = self._pause_before_retry(error, attempt, started) if attempt < attempts else None
                if pause is None:
                    raise
                logger.info(
                    "%s %s %s -> %s (%s) on attempt %d of %d; retrying in %.2f s",
                    self.api,
                    method,
                    shown_url,
                    error.status or "no response",
                    type(error).__name__,
                    attempt,
                    attempts,
                    pause,
                )
                time.sleep(pause)
            attempt += 1

    def _pause_before_retry(self, error: TransientError, attempt: int, started: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to raise ``error`` now.

        Short on purpose: this only rides out a blip. Anything longer is the task-level retry's job
        (long backoff, a fresh read of the record, its own time limit).
        """
        if isinstance(error, RateLimitedError):
            # The server asks for room: wait as long as it says if that is short; without a
            # Retry-After, or with a long one, back to the task, which waits with backoff.
            if error.retry_after is None or error.retry_after > self.call_retry_max_pause:
                return None
            pause = error.retry_after
        else:
            ceiling = min(self.call_retry_backoff * 2.5 ** (attempt - 1), self.call_retry_max_pause)
            pause = random.uniform(ceiling / 2, ceiling)
        # A slow API (an attempt that ran into the timeout) is not tried again here: three 30 s
        # timeouts in one call would eat most of a transfer's time limit.
        if time.monotonic() - started + pause > self.timeout:
            return None
        return pause

    def _send(
        self, request: httpx.Request, method: str, shown_url: str, ok: frozenset[int], *, stream: bool = False
    ) -> httpx.Response:
        """One attempt: send, count, map any failure into the taxonomy. With ``stream`` a successful
        answer's body is left unread, for the caller to read and close."""
        self.calls[method] += 1
        started = time.perf_counter()
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, method, shown_url) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug(
            "%s %s %s -> %s in %.0f ms", self.api, method, shown_url, response.status_code, elapsed_ms
        )
        self._on_response(response)
        if response.status_code in ok:
            return response
        if stream:
            try:
                response.read()  # the error body, which the mapping reads
            except httpx.TransportError as exc:
                raise self._transport_error(exc, method, shown_url) from None
            finally:
                response.close()
        raise self._status_error(response, method, shown_url)

    def _send_streamed(
        self, request: httpx.Request, method: str, shown_url: str, ok: frozenset[int], max_bytes: int | None
    ) -> tuple[httpx.Response, bytes]:
        """One attempt of ``request_bytes``: ``_send``, then the body read in chunks up to the limit."""
        response = self._send(request, method, shown_url, ok, stream=True)
        try:
            declared = response.headers.get("Content-Length", "")
            size = int(declared) if declared.strip().isdigit() else None
            if max_bytes is not None and size is not None and size > max_bytes:
                raise self._too_large(method, shown_url, response.status_code, size, max_bytes)
            content = bytearray()
            for chunk in response.iter_bytes():
                content += chunk
                if max_bytes is not None and len(content) > max_bytes:
                    raise self._too_large(method, shown_url, response.status_code, size, max_bytes)
            return response, bytes(content)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, method, shown_url) from None
        finally:
            response.close()

    def _too_large(
        self, method: str, url: str, status: int, size: int | None, limit: int
    ) -> ResponseTooLarge:
        told = f"is {size} bytes" if size is not None else f"is more than {limit} bytes"
        logger.info("%s %s %s: the file %s; not read", self.api, method, url, told)
        return ResponseTooLarge(
            f"The file {told}, over the limit of {limit} bytes; it was not downloaded.",
            api=self.api,
            method=method,
            url=url,
            status=status,
            size=size,
            limit=limit,
        )

    def _wait_for_rate_budget(self, method: str, url: str) -> None:
        """Take a token from the shared bucket, or give up without sending when the wait is too long.

        A worker should not sleep for minutes inside a task with a time limit: past
        ``max_rate_wait`` the call fails as rate-limited and the task retries later instead.
        """
        if self.limiter is None:
            return
        try:
            granted = self.limiter.acquire(timeout=self.max_rate_wait)
        except TransientError as error:
            # The limiter knows no request: name the call it held back, as httpx's request_context
            # attaches the request to an error raised below it.
            error.api, error.method, error.url = self.api, method, url
            raise
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
        except TransientError as error:
            logger.warning(
                "%s: could not record a 429 in the shared rate limiter: %s", self.api, error.message
            )

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

    def error_details(self, payload: Any) -> dict[str, str]:
        """The API's own diagnostics in a decoded error body (log ids, hints); none by default."""
        return {}

    def _status_error(self, response: httpx.Response, method: str, url: str) -> ApiError:
        text = response.text
        try:
            payload = response.json() if text else None
        except ValueError:
            payload = None
        details: dict[str, str] = {}
        if payload is not None:
            message, field_errors, code = self.parse_error_body(payload)
            details = {name: self._scrub(value) for name, value in self.error_details(payload).items()}
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
            "details": details,
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
