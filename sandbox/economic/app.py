"""``EconomicSandbox``: the store, the API and the shared sandbox machinery wired into one ASGI app.

Middleware order, outermost first (see ``sandbox.common.base``): request log, rate limit (+ ``X-RateLimiting``
headers), fault injection, auth, idempotency cache, then the routes (admin routes under ``/_sandbox/`` and the
API).

e-conomic's own admin routes, beside the common ones: ``/_sandbox/webhooks`` (subscriptions, deliveries),
``/_sandbox/clock`` (the sandbox's today, which decides overdue and not-due invoices) and
``PUT /_sandbox/invoices/booked/{n}/remainder`` (a test-only knob for what is left to pay on a booked invoice;
the real API records payments through journals) and ``GET``/``PUT /_sandbox/accounting-years/{year}`` (close
or reopen a year with ``{"closed": true|false}``; see ``years.py``). A reset lets the clock follow the
machine's date again.

"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.common.base import BaseSandbox
from sandbox.common.ratelimit import TokenBuckets
from sandbox.economic import attachments, documents, invoices, journals, legacy, years
from sandbox.economic.api import EconomicApi
from sandbox.economic.ids import decode_key
from sandbox.economic.middleware import AuthMiddleware, RateLimitMiddleware
from sandbox.economic.openapi import API_COLLECTIONS
from sandbox.economic.references import resolve_all
from sandbox.economic.resources import SIMPLE_RESOURCES, Resource
from sandbox.economic.seed import seed
from sandbox.economic.store import CANONICAL_BASE, Store
from sandbox.economic.webhooks import WebhookDispatcher
from sandbox.economic.webhooks_api import SERVICE as WEBHOOKS_API
from sandbox.economic.webhooks_api import WebhooksApi

_LOADABLE: dict[str, Resource] = {r.path: r for r in (*SIMPLE_RESOURCES, *documents.DOCUMENT_RESOURCES)}
# Tables kept in the OpenAPI shape (keyed by "number") or internal ones; loadable as-is.
_PLAIN_TABLES = {
    "projects": "number",
    "project-groups": "number",
    "employee-groups": "number",
    journals.ENTRIES.path: "journalEntryNumber",
}

# Tables the sandbox fills itself (dumpable, empty until the first write, not loadable).
_INTERNAL_TABLES = {
    journals.VOUCHERS_TABLE,
    journals.BOOKED_ENTRIES.path,
    attachments.ATTACHMENTS_TABLE,
    attachments.FILES_TABLE,
    attachments.BOOKED_VOUCHERS_TABLE,
}


def _rebased(record: dict[str, Any], request: Request) -> JSONResponse:
    """A stored record as an admin answer, its links on the server's own base (as the API serves them)."""
    base = f"{request.url.scheme}://{request.url.netloc}/"
    return JSONResponse(json.loads(json.dumps(record).replace(CANONICAL_BASE, base)))


def table_name(resource: str) -> str:
    """Admin names use dots where the URL has slashes (``invoices.drafts``); both spellings are accepted."""
    return resource.replace(".", "/")


def admin_name(table: str) -> str:
    return table.replace("/", ".")


class EconomicSandbox(BaseSandbox):
    """A faithful local e-conomic: legacy REST at the root, OpenAPI services under their prefixes."""

    #: idempotency keys are scoped by both tokens
    credential_headers = (b"x-appsecrettoken", b"x-agreementgranttoken")

    def __init__(
        self,
        app_secret_token: str = "sandbox-app-secret",
        agreement_grant_token: str = "sandbox-grant",
        bucket_size: int = 10000,
        bucket_window_seconds: float = 60,
        state_file: str | None = None,
        webhook_urls: dict[str, Any] | None = None,
    ) -> None:
        self.store = Store()
        super().__init__(lock=self.store.lock, state_file=state_file)
        self._tokens = (app_secret_token, agreement_grant_token)
        self.buckets = TokenBuckets(bucket_size, bucket_window_seconds)
        self.webhooks = WebhookDispatcher(webhook_urls)
        self.clock = invoices.Clock()
        api = EconomicApi(self.store, self.webhooks, self.data_changed, self.clock)
        self.webhooks_api = WebhooksApi(self.store, self.data_changed)  # webhooksapi/v1.0.0 (webhooks_api.py)
        self.webhooks.registered = self.webhooks_api.subscriptions_for
        self._finish_init(
            [
                Route(
                    f"/{WEBHOOKS_API}/{{rest:path}}",
                    self.webhooks_api.handle,
                    methods=["GET", "POST", "PUT", "DELETE"],
                ),
                Route("/{path:path}", api.handle, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            ],
            admin_routes=[
                Route("/webhooks", self._webhooks_endpoint, methods=["GET", "PUT"]),
                Route("/clock", self._clock_endpoint, methods=["GET", "PUT"]),
                Route("/invoices/booked/{number:int}/remainder", self._remainder_endpoint, methods=["PUT"]),
                Route("/accounting-years/{year:path}", self._year_endpoint, methods=["GET", "PUT"]),
            ],
        )

    def _auth_middleware(self, app: Any) -> Any:
        return AuthMiddleware(app, *self._tokens)

    def _rate_limit_middleware(self, app: Any) -> Any:
        return RateLimitMiddleware(app, self.buckets)

    def _reset_limits(self) -> None:
        self.buckets.reset()

    @property
    def replays(self) -> int:
        """Writes answered from the idempotency cache."""
        return self.counters.get("idempotent_replays")

    async def _webhooks_endpoint(self, request: Request) -> JSONResponse:
        """``GET``/``PUT /_sandbox/webhooks``: the subscriptions (PUT replaces them) and the deliveries."""
        if request.method == "PUT":
            try:
                self.webhooks.configure(await request.json())
            except ValueError as exc:
                return JSONResponse({"message": str(exc)}, status_code=422)
        return JSONResponse(
            {"subscriptions": self.webhooks.as_dict(), "deliveries": self.webhooks.deliveries}
        )

    async def _clock_endpoint(self, request: Request) -> JSONResponse:
        """``GET``/``PUT /_sandbox/clock``: the sandbox's today (which booked invoices are overdue or not
        due, the date of a sent invoice). PUT ``{"today": "YYYY-MM-DD"}`` fixes it, ``{"today": null}``
        follows the machine's date again; a reset does that too."""
        if request.method == "PUT":
            try:
                body = await request.json()
                text = body["today"] if isinstance(body, dict) else ""
                self.clock.fix(None if text is None else date.fromisoformat(str(text)))
            except (ValueError, KeyError):
                return JSONResponse(
                    {"message": 'body must be {"today": "YYYY-MM-DD" or null}'}, status_code=422
                )
        return JSONResponse({"today": self.clock.today().isoformat(), "fixed": self.clock.fixed is not None})

    async def _remainder_endpoint(self, request: Request) -> JSONResponse:
        """``PUT /_sandbox/invoices/booked/{n}/remainder``: a test-only knob that sets what is left to pay on
        a booked invoice (the real API has no such route; see ``invoices.set_remainder``)."""
        number = request.path_params["number"]
        try:
            body = await request.json()
            updated = invoices.set_remainder(self.store, number, body)
        except KeyError:
            return JSONResponse({"message": f"booked invoice {number} does not exist"}, status_code=404)
        except ValueError as exc:
            return JSONResponse({"message": str(exc)}, status_code=422)
        self.data_changed()
        return JSONResponse(
            {
                "bookedInvoiceNumber": number,
                "remainder": updated["remainder"],
                "remainderInBaseCurrency": updated["remainderInBaseCurrency"],
            }
        )

    async def _year_endpoint(self, request: Request) -> JSONResponse:
        """``GET``/``PUT /_sandbox/accounting-years/{year}``: a test-only knob that closes or reopens an
        accounting year (``{"closed": true|false}``); the answer is the year as
        ``GET /accounting-years/{year}`` shows it. While a year is closed, new transactions dated in it are
        refused (see ``years.py``)."""
        segment = request.path_params["year"]
        if request.method == "PUT":
            try:
                body = await request.json()
            except ValueError:
                body = None
            closed = body.get("closed") if isinstance(body, dict) else None
            if not isinstance(closed, bool):
                return JSONResponse({"message": 'body must be {"closed": true or false}'}, status_code=422)
            try:
                record = years.set_closed(self.store, segment, closed)
            except KeyError:
                return JSONResponse({"message": f"accounting year {segment} does not exist"}, status_code=404)
            self.data_changed()
            return _rebased(record, request)
        with self.store.lock:
            found = self.store.get(years.TABLE, decode_key(segment))
        if found is None:
            return JSONResponse({"message": f"accounting year {segment} does not exist"}, status_code=404)
        return _rebased(found, request)

    # ------------------------------------------------------------------------------------------ admin
    def _clear_data(self) -> None:
        self.store.clear()
        self.webhooks.reset()
        self.clock.fix(None)

    def _fresh_data(self) -> None:
        """A fresh agreement (see ``seed.py``)."""
        seed(self.store)

    def load(self, data: dict[str, list[dict]]) -> dict[str, int]:
        """Upsert records by key, completing links the way a write would (references are not checked)."""
        loaded: dict[str, int] = {}
        with self.store.lock:
            for name, records in data.items():
                table = table_name(name)
                if not isinstance(records, list):
                    raise TypeError(f"{name}: expected a list of records")
                if table in _LOADABLE:
                    for record in records:
                        self._load_legacy(_LOADABLE[table], record)
                elif table in _PLAIN_TABLES:
                    key_name = _PLAIN_TABLES[table]
                    for record in records:
                        if not isinstance(record, dict) or key_name not in record:
                            raise ValueError(f"{name}: every record needs {key_name!r}")
                        self.store.put(table, record[key_name], copy.deepcopy(record))
                else:
                    raise KeyError(name)
                loaded[admin_name(table)] = len(records)
        self.data_changed()
        return loaded

    def _load_legacy(self, resource: Resource, record: Any) -> None:
        if not isinstance(record, dict) or resource.key not in record:
            raise ValueError(f"{admin_name(resource.path)}: every record needs {resource.key!r}")
        item = copy.deepcopy(record)
        key = item[resource.key]
        refs = resource.refs
        errors = resolve_all(item, refs, self.store)
        if errors:
            raise ValueError(f"{admin_name(resource.path)} {key}: unknown references {sorted(errors)}")
        documents_with_totals = (
            documents.DRAFT_INVOICES,
            documents.DRAFT_ORDERS,
            documents.SENT_ORDERS,
            documents.ARCHIVED_ORDERS,
        )
        if resource in documents_with_totals and "netAmount" not in item:
            documents.price_document(self.store, item, None)  # loaded documents keep the totals they bring
        if resource is documents.BOOKED_INVOICES and "remainder" not in item:  # nothing paid yet, as booked
            item["remainder"] = item.get("grossAmount", 0.0)
            item["remainderInBaseCurrency"] = item.get("grossAmountInBaseCurrency", item["remainder"])
        given_timestamp = item.get("lastUpdated")
        legacy.finish_record(resource, item, key)
        if given_timestamp:
            item["lastUpdated"] = given_timestamp
        self.store.put(resource.path, key, item)

    def counts(self) -> dict[str, int]:
        with self.store.lock:
            return {admin_name(name): len(rows) for name, rows in sorted(self.store.tables.items())}

    def dump(self, resource: str) -> list[dict]:
        table = table_name(resource)
        known = (self.store.tables, _LOADABLE, _PLAIN_TABLES, _INTERNAL_TABLES)
        if not any(table in names for names in known):
            raise KeyError(resource)
        return self.store.copy_of(table)

    def stats(self) -> dict[str, Any]:
        return {
            "faults": dict(self.faults.counters),
            "idempotent_replays": self.replays,
            "requests_logged": len(self.request_log),
            "webhook_deliveries": len(self.webhooks.deliveries),
            "openapi_collections": [c.prefix for c in API_COLLECTIONS],
        }

    def snapshot(self) -> dict[str, Any]:
        """The whole store, JSON-safe (what ``--state`` saves)."""
        return self.store.snapshot()

    def restore(self, state: dict[str, Any]) -> None:
        self.store.restore(state)

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until every queued webhook call has been attempted; False on timeout."""
        return self.webhooks.wait_idle(timeout)

    def close(self) -> None:
        """Stop the webhook thread and save pending state."""
        self.webhooks.close()
        super().close()
