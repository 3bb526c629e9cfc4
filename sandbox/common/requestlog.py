"""The request log each sandbox keeps (``GET /_sandbox/requests``): what the client sent and what it got.

Entries are ``{method, path, query, status, body, at, user_agent, idempotency_key}``; ``body`` only for
writes (parsed JSON when it is JSON), ``status`` is ``None`` when the connection was dropped without an
answer. Of the headers only ``User-Agent`` and ``Idempotency-Key`` are kept (they tell which client wrote,
so a test run can check the bodies its service sent and leave aside those a test sent on purpose); no
other header is logged, so tokens cannot leak into the log. The log is bounded (oldest entries fall off).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sandbox.common.asgi import header
from sandbox.common.faults import ADMIN_PREFIX, WRITE_METHODS

DEFAULT_MAX_ENTRIES = 10_000


class RequestLog:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES):
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def record(
        self,
        method: str,
        path: str,
        query: str,
        status: int | None,
        body: Any = None,
        *,
        user_agent: str | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        entry = {
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "body": body,
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "user_agent": user_agent,
            "idempotency_key": idempotency_key,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries())


def _decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


class RequestLogMiddleware:
    """Outermost middleware: logs every API request (not ``/_sandbox/``) with the status the client saw."""

    def __init__(self, app: Any, log: RequestLog, counters: Any = None):
        self.app = app
        self.log = log
        self.counters = counters  # anything with incr(name): counts requests by method and status

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        is_write = scope["method"] in WRITE_METHODS
        body = bytearray()
        status: int | None = None

        body_done = not is_write

        async def tee_receive() -> dict:
            nonlocal body_done
            message = await receive()
            if message["type"] == "http.request" and not body_done:
                body.extend(message.get("body", b""))
                body_done = not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                body_done = True
            return message

        async def watch_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # An answer given without reading the body (401, 429...): read it now, while uvicorn still
                # hands it out (after the answer, receive() only reports a disconnect), so the log has it.
                while not body_done:
                    await tee_receive()
            await send(message)

        try:
            await self.app(scope, tee_receive, watch_send)
        finally:
            if self.counters is not None:
                self.counters.incr(f"requests:{scope['method']}")
                self.counters.incr(f"status:{status if status is not None else 'dropped'}")
            self.log.record(
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                status,
                _decode_body(bytes(body)) if is_write else None,
                user_agent=header(scope, b"user-agent"),
                idempotency_key=header(scope, b"idempotency-key"),
            )
