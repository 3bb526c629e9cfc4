"""ASGI middleware that gives every answer e-conomic's envelope of behaviour.

- :class:`RateLimitMiddleware` (outside the fault middleware, so injected failures carry the headers too): a
  token bucket per agreement grant token; every answer gets ``X-CallCost`` and ``X-RateLimiting:
  token-limit-<size>-per-<window>-seconds: <used>/<size>``; an empty bucket answers 429 with ``Retry-After``
  and a legacy error body. Every call costs 1 token (the reference says costs differ but gives no table).
- :class:`AuthMiddleware`: both token headers must match the configured tokens, else 401 (legacy error
  body, or problem+json under an OpenAPI prefix). Both set to ``demo`` open the agreement read-only, like
  e-conomic's demo agreement; a write with them answers 403 (the reference leaves 401 or 403 open). An
  ``Idempotency-Key`` on a GET is refused with 400.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from sandbox.common.asgi import header
from sandbox.common.faults import ADMIN_PREFIX
from sandbox.common.ratelimit import TokenBuckets
from sandbox.economic.errors import legacy_error_body, problem_body

OPENAPI_PREFIXES = ("/productsapi/", "/suppliersapi/", "/projectsapi/", "/journalsapi/", "/webhooksapi/")
TOO_MANY_CALLS = (
    "You have made too many calls over your quota. Need to wait a bit. Check info in the response headers."
)


async def send_json(
    send: Any,
    status: int,
    body: dict[str, Any],
    headers: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes = b"application/json; charset=utf-8",
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RateLimitMiddleware:
    def __init__(self, app: Any, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    def label(self) -> str:
        window = self.buckets.window_seconds
        shown = int(window) if float(window).is_integer() else window
        return f"token-limit-{self.buckets.capacity}-per-{shown}-seconds"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        credential = header(scope, b"x-agreementgranttoken") or ""
        result = self.buckets.acquire(credential)
        rate_headers = [
            (b"x-callcost", b"1"),
            (b"x-ratelimiting", f"{self.label()}: {result.used}/{result.capacity}".encode()),
        ]
        if not result.allowed:
            body = legacy_error_body(429, TOO_MANY_CALLS)
            await send_json(
                send, 429, body, [*rate_headers, (b"retry-after", result.retry_after_header.encode())]
            )
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *rate_headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


class AuthMiddleware:
    def __init__(self, app: Any, app_secret_token: str, agreement_grant_token: str) -> None:
        self.app = app
        self._expected = (app_secret_token.encode(), agreement_grant_token.encode())

    @staticmethod
    def is_demo(scope: dict) -> bool:
        """``demo``/``demo`` opens the shared demo agreement: reads only (§3, §15.1)."""
        return (
            header(scope, b"x-appsecrettoken") == "demo" and header(scope, b"x-agreementgranttoken") == "demo"
        )

    def authorised(self, scope: dict) -> bool:
        secret = (header(scope, b"x-appsecrettoken") or "").encode()
        grant = (header(scope, b"x-agreementgranttoken") or "").encode()
        # Both compared every time, in constant time, so the answer never tells which one was wrong.
        first = hmac.compare_digest(secret, self._expected[0])
        second = hmac.compare_digest(grant, self._expected[1])
        return first and second

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        openapi = scope["path"].startswith(OPENAPI_PREFIXES)
        if self.is_demo(scope):
            if scope["method"] in ("GET", "HEAD"):
                await self.app(scope, receive, send)
                return
            await send_json(
                send,
                403,
                legacy_error_body(
                    403,
                    "The demo agreement is read-only.",
                    developer_hint="Use your own app secret token and agreement grant token to write.",
                ),
            )
            return
        if not self.authorised(scope):
            if openapi:
                body = problem_body(
                    401,
                    "Unauthorized",
                    error_code="Unauthorized",
                    instance=scope["path"],
                    detail="Missing or invalid X-AppSecretToken / X-AgreementGrantToken.",
                )
                await send_json(send, 401, body, content_type=b"application/problem+json")
            else:
                await send_json(
                    send,
                    401,
                    legacy_error_body(
                        401,
                        "Unauthorized: the app secret token or agreement grant token is missing or wrong.",
                    ),
                )
            return
        if scope["method"] in ("GET", "HEAD") and header(scope, b"idempotency-key") is not None:
            await send_json(
                send,
                400,
                legacy_error_body(
                    400,
                    "The Idempotency-Key header is not allowed on GET requests.",
                    developer_hint="Send Idempotency-Key only with POST, PUT, PATCH or DELETE.",
                ),
            )
            return
        await self.app(scope, receive, send)
