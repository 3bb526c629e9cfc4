"""``RackbeatSandbox``: the store, the API, webhook delivery, the rate limit and the shared sandbox machinery
wired into one ASGI app (the API under ``/api``, the admin routes under ``/_sandbox/``).

Admin routes of its own, besides the shared ones (``sandbox/common/admin.py``):

GET  /_sandbox/webhook-deliveries            the delivery log and stats
POST /_sandbox/attachments/{resource}/{n}    attach a user's file (``attachments.py``)
GET  /_sandbox/clock                         {"now": ISO-8601, "today": "YYYY-MM-DD" (Copenhagen), "fixed"}
PUT  /_sandbox/clock                         {"now": "<ISO-8601 with offset>"} fixes the clock that dates
                                             stock moves, {"now": null} follows the machine again (a reset
                                             does that too); 422 for anything else (``clock.py``)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from sandbox.common.base import BaseSandbox
from sandbox.common.faults import FaultConfig
from sandbox.common.ratelimit import FixedWindows, RateLimiter, TokenBuckets
from sandbox.rackbeat.api import RackbeatApi
from sandbox.rackbeat.clock import Clock, parse_moment
from sandbox.rackbeat.errors import NotFound
from sandbox.rackbeat.resources import ResourceSpec, event_names
from sandbox.rackbeat.store import Store
from sandbox.rackbeat.webhooks import WebhookDispatcher, WebhookRegistry

#: token-bucket refills continuously (default); fixed-window is Laravel's throttle, counted from the first hit
RATE_LIMIT_STYLES: dict[str, type[TokenBuckets] | type[FixedWindows]] = {
    "token-bucket": TokenBuckets,
    "fixed-window": FixedWindows,
}


class RackbeatSandbox(BaseSandbox):
    """An in-process Rackbeat API: serve ``.app`` (e.g. with ``ServerThread``); clients use ``<url>/api/``."""

    def __init__(
        self,
        token: str = "sandbox-token",
        requests_per_minute: int = 480,
        state_file: str | None = None,
        *,
        extra_tokens: Iterable[str] = (),
        account_id: str = "1001",
        rate_limit_window_seconds: float = 60.0,
        rate_limit_style: str = "token-bucket",
        webhook_max_attempts: int = 5,
        webhook_backoff_seconds: float = 1.0,
        webhook_backoff_max_seconds: float = 60.0,
        webhook_timeout_seconds: float = 15.0,
        fault_config: FaultConfig | None = None,
        state_debounce_seconds: float = 0.5,
    ):
        if rate_limit_style not in RATE_LIMIT_STYLES:
            raise ValueError(f"rate_limit_style must be one of {sorted(RATE_LIMIT_STYLES)}")
        self.clock = Clock()
        self.store = Store(notify=self._fire, clock=self.clock)
        super().__init__(
            lock=self.store.lock,
            state_file=state_file,
            fault_config=fault_config,
            state_debounce_seconds=state_debounce_seconds,
        )
        self.account_id = account_id
        self.rate_limits: RateLimiter = RATE_LIMIT_STYLES[rate_limit_style](
            requests_per_minute, rate_limit_window_seconds
        )
        self.dispatcher = WebhookDispatcher(
            account_id,
            max_attempts=webhook_max_attempts,
            backoff_base_seconds=webhook_backoff_seconds,
            backoff_max_seconds=webhook_backoff_max_seconds,
            read_timeout=webhook_timeout_seconds,
            on_result=self._webhook_result,
        )
        api = RackbeatApi(
            self.store,
            tokens=(token, *extra_tokens),
            rate_limits=self.rate_limits,
            counters=self.counters,
            account_id=account_id,
            on_change=self.data_changed,
        )
        self._finish_init(
            [Mount("/api", app=api)],
            use_idempotency=False,  # Rackbeat has no Idempotency-Key support
            admin_routes=[
                Route("/webhook-deliveries", self._deliveries_endpoint, methods=["GET"]),
                Route("/attachments/{resource}/{key}", self._attach_endpoint, methods=["POST"]),
                Route("/clock", self._clock_endpoint, methods=["GET", "PUT"]),
            ],
        )

    def __repr__(self) -> str:
        return f"RackbeatSandbox(account_id={self.account_id!r}, counts={self.counts()!r})"

    @property
    def webhooks(self) -> WebhookRegistry:
        """The registered webhooks (held by the store, saved with it)."""
        return self.store.webhooks

    def _reset_limits(self) -> None:
        self.rate_limits.reset()

    # -- for tests and tools: the store's reads and writes, as the API makes them (webhooks included) --
    def get(self, resource: str, key: Any) -> dict | None:
        """The stored record (the sandbox's own view, no embeds)."""
        return self.store.get(resource, key)

    def exists(self, resource: str, key: Any) -> bool:
        return self.store.exists(resource, key)

    def create(self, resource: str, payload: dict, *, booked: bool = False, suppress: bool = False) -> dict:
        record = self.store.create(resource, payload, booked=booked, suppress=suppress)
        self.data_changed()
        return record

    def update(self, resource: str, key: Any, payload: dict, *, suppress: bool = False) -> dict:
        record = self.store.update(resource, key, payload, suppress=suppress)
        self.data_changed()
        return record

    def delete(self, resource: str, key: Any, *, suppress: bool = False) -> dict:
        record = self.store.delete(resource, key, suppress=suppress)
        self.data_changed()
        return record

    def book(self, resource: str, key: Any, options: dict, *, suppress: bool = False) -> dict:
        record = self.store.book(resource, key, options, suppress=suppress)
        self.data_changed()
        return record

    def attach(
        self, resource: str, key: Any, filename: str, content: bytes, mime_type: str = "application/pdf"
    ) -> dict:
        """Attach a user's file to a record, as a user would in Rackbeat's UI (no webhook); the stored
        attachment (``id``, ``filename``, ``mime_type``, ``size``, ``created_at``...). Only supplier
        invoices take files (``sandbox.rackbeat.attachments``); ``NotFound`` for an unknown record."""
        stored = self.store.attach(resource, key, filename, content, mime_type)
        self.data_changed()
        return {k: v for k, v in stored.items() if k != "content"}

    async def _attach_endpoint(self, request: Request) -> JSONResponse:
        """``POST /_sandbox/attachments/{resource}/{n}?filename=…``: the raw body is the file, its
        Content-Type the file's type (default ``application/pdf``); 201 ``{"attachment": {...}}``."""
        filename = request.query_params.get("filename", "")
        mime_type = request.headers.get("content-type") or "application/pdf"
        try:
            stored = self.attach(
                request.path_params["resource"],
                request.path_params["key"],
                filename,
                await request.body(),
                mime_type,
            )
        except KeyError:
            return JSONResponse({"message": "unknown resource"}, status_code=404)
        except NotFound:
            return JSONResponse({"message": "Resource not found."}, status_code=404)
        except ValueError as exc:
            return JSONResponse({"message": str(exc)}, status_code=422)
        return JSONResponse({"attachment": stored}, status_code=201)

    async def _clock_endpoint(self, request: Request) -> JSONResponse:
        """``GET``/``PUT /_sandbox/clock``: see the module docstring."""
        if request.method == "PUT":
            try:
                body = json.loads(await request.body() or b"null")
                if not isinstance(body, dict) or "now" not in body:
                    raise ValueError("no now")
                self.clock.fix(None if body["now"] is None else parse_moment(body["now"]))
            except ValueError:
                message = 'body must be {"now": "<ISO-8601 datetime with offset>"} or {"now": null}'
                return JSONResponse({"message": message}, status_code=422)
        return JSONResponse(self.clock.as_dict())

    # -- webhooks --
    def _fire(self, spec: ResourceSpec, action: str, key: Any, suppress: bool) -> None:
        """The store's ``notify``: deliver the event to the matching active webhooks."""
        if spec.event is None:
            return
        if suppress:
            self.counters.incr("webhooks_suppressed")
            return
        with self.store.lock:
            targets = self.store.webhooks.matching(event_names(spec.event, action))
        for hook, event in targets:
            self.dispatcher.send(hook, event, "number", key)

    def _webhook_result(self, webhook_id: int, delivered: bool) -> None:
        with self.store.lock:
            self.store.webhooks.record_result(webhook_id, delivered)

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until queued deliveries (and their retries) are done; for tests."""
        return self.dispatcher.wait_idle(timeout)

    async def _deliveries_endpoint(self, request: Request) -> JSONResponse:
        return JSONResponse({"stats": self.dispatcher.stats(), "deliveries": self.dispatcher.log_entries()})

    # -- admin hooks --
    def _clear_data(self) -> None:
        self.store.clear()
        self.dispatcher.cancel_all()
        self.clock.fix(None)

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def dump(self, resource: str) -> list[dict]:
        return self.store.dump(resource)

    def load(self, data: dict[str, list[dict]]) -> dict[str, int]:
        """Upsert records in the API's JSON shape (no validation, no webhooks): seeding and fixtures."""
        loaded = self.store.load(data)
        self.data_changed()
        return loaded

    def snapshot(self) -> dict:
        return self.store.snapshot()

    def restore(self, state: dict) -> None:
        self.store.restore(state)

    def stats(self) -> dict[str, Any]:
        return super().stats() | {"webhooks": self.dispatcher.stats()}

    def close(self) -> None:
        """Save pending state and stop webhook delivery."""
        super().close()
        self.dispatcher.close()
