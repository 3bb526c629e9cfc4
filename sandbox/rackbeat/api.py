"""The HTTP face of the Rackbeat sandbox: routing under ``/api/``, auth, the rate limit, envelopes.

Routing reads the raw (still percent-encoded) path, because item numbers may contain ``/``: a number is found
single-encoded (``ABC%2F1``), double-encoded (``ABC%252F1``) or by its ``urlfriendly_number``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sandbox.common.base import Counters
from sandbox.common.ratelimit import RateLimiter
from sandbox.rackbeat import adjustments as adj
from sandbox.rackbeat import ledger, reports
from sandbox.rackbeat.attachments import ATTACHABLE, FileBody
from sandbox.rackbeat.attachments import public_view as attachment_view
from sandbox.rackbeat.errors import Invalid, NotFound, RackbeatError, invalid
from sandbox.rackbeat.present import present
from sandbox.rackbeat.query import ListQuery, pages_for, parse_list_query, select_fields
from sandbox.rackbeat.resources import RESOURCES, ResourceSpec
from sandbox.rackbeat.store import Collection, Store, sort_value
from sandbox.rackbeat.webhooks import public_view

API_PREFIX = "/api/"
TRUE_WORDS = ("1", "true", "yes")


class MethodNotAllowed(RackbeatError):
    status = 405


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def _segments(raw_path: bytes) -> list[str]:
    """Path segments after /api/, still percent-encoded."""
    path = raw_path.decode("latin-1")
    rest = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else ""
    return [s for s in rest.split("/") if s != ""]


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str | int) and str(value).lower() in TRUE_WORDS)


class RackbeatApi:
    """ASGI app mounted at ``/api``: answers from ``store``; bearer ``tokens`` and ``rate_limits`` guard it.

    ``counters`` counts the 429s it gives; ``on_change`` is called after each write it answered with success
    (the sandbox saves its state file then); ``account_id`` is what ``GET /self`` shows."""

    def __init__(
        self,
        store: Store,
        *,
        tokens: Iterable[str],
        rate_limits: RateLimiter,
        counters: Counters,
        account_id: str,
        on_change: Callable[[], None],
    ) -> None:
        self.store = store
        self._tokens = tuple(t.encode() for t in tokens)
        self.rate_limits = rate_limits
        self.counters = counters
        self.account_id = account_id
        self.on_change = on_change

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    def token_is_valid(self, presented: str) -> bool:
        candidate = presented.encode()
        return any(hmac.compare_digest(candidate, known) for known in self._tokens)

    async def handle(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token or not self.token_is_valid(token.strip()):
            return json_response({"message": "Unauthenticated."}, 401)
        bucket = self.rate_limits.acquire(token.strip())
        limit_headers = {
            "X-RateLimit-Limit": str(bucket.capacity),
            "X-RateLimit-Remaining": str(bucket.remaining),
        }
        if not bucket.allowed:
            self.counters.incr("rate_limited_429")
            headers = limit_headers | {"Retry-After": bucket.retry_after_header}
            return json_response({"message": "Too Many Attempts."}, 429, headers)
        try:
            body, status = await self.route(request)
        except RackbeatError as error:
            body, status = error.body(), error.status
        if request.method != "GET" and 200 <= status < 300:
            self.on_change()
        if isinstance(body, FileBody):
            disposition = body.filename.replace("\\", "_").replace('"', "_")
            response = Response(
                body.content,
                status_code=status,
                media_type=body.media_type,
                headers={"Content-Disposition": f'attachment; filename="{disposition}"'},
            )
            response.headers.update(limit_headers)
            return response
        response = json_response(body, status)
        response.headers.update(limit_headers)
        return response

    # -- routing --
    async def route(self, request: Request) -> tuple[Any, int]:
        segments = _segments(request.scope.get("raw_path") or request.scope["path"].encode())
        method = request.method
        if not segments:
            raise NotFound()
        head, rest = segments[0], segments[1:]
        if head == "self" and not rest:
            return self._self(method), 200
        if head == "webhooks":
            return await self._webhooks(request, rest)
        if head == "reports":
            return self._reports(request, rest)
        if head == "items":
            return self._items(request, rest)
        if head == adj.PATH:
            return await self._adjustments(request, rest)
        spec = RESOURCES.get(head)
        if spec is None:
            raise NotFound()
        if head == "projects" and rest == ["upsert"]:
            _allow(method, "POST")
            payload, suppress = await self._write_body(request)
            record, created = self.store.upsert_project(payload, suppress=suppress)
            return self._one(request, spec, record), 201 if created else 200
        if not rest:
            return await self._collection(request, spec)
        if spec.bookable and rest == ["drafts"]:
            _allow(method, "POST")
            payload, suppress = await self._write_body(request)
            record = self.store.create(spec.path, payload, booked=False, suppress=suppress)
            return self._one(request, spec, record), 201
        key = self._resolve_key(spec, rest[0])
        if len(rest) == 1:
            return await self._record(request, spec, key)
        if spec.bookable and rest[1:] == ["book"]:
            _allow(method, "POST")
            payload, suppress = await self._write_body(request)
            record = self.store.book(spec.path, key, payload, suppress=suppress)
            return self._one(request, spec, record), 200
        if spec.path == "orders" and rest[1:] == ["convert-to-invoice"]:
            _allow(method, "POST")
            payload, suppress = await self._write_body(request)
            book = _flag(request.query_params.get("book", payload.get("book", True)))
            invoice = self.store.convert_order_to_invoice(key, book=book, suppress=suppress)
            return {"invoice_id": invoice["number"]}, 200
        if spec.path in ATTACHABLE and rest[1] == "attachments":
            return self._attachments(request, spec, key, rest[2:])
        if spec.path == "lots" and rest[1:] == ["lines"]:
            _allow(method, "GET")
            return {"lines": self._existing(spec, key).get("lines", [])}, 200
        raise NotFound()

    def _resolve_key(self, spec: ResourceSpec, raw: str) -> Any:
        """The stored key a path segment names (see the module docstring); unknown keys pass through."""
        if spec.key_type is int:
            try:
                return int(unquote(raw))
            except ValueError:
                raise NotFound() from None
        collection = self.store.collections[spec.path]
        once = unquote(raw)
        if collection.get(once) is not None:
            return once
        twice = unquote(once)
        if collection.get(twice) is not None:
            return twice
        by_friendly = collection.find_by_urlfriendly(raw) or collection.find_by_urlfriendly(once)
        return by_friendly["number"] if by_friendly is not None else once

    def _existing(self, spec: ResourceSpec, key: Any) -> dict:
        record = self.store.collections[spec.path].get(key)
        if record is None:
            raise NotFound()
        return record

    # -- bodies --
    async def _write_body(self, request: Request) -> tuple[dict, bool]:
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise invalid("body", "The request body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise invalid("body", "The request body must be a JSON object.")
        suppress = _flag(request.query_params.get("suppress_webhooks")) or _flag(
            payload.pop("suppress_webhooks", None)
        )
        return payload, suppress

    def _one(self, request: Request, spec: ResourceSpec, record: dict) -> dict:
        return {spec.singular: present(spec, record, self.store.lookup, self._base(request))}

    @staticmethod
    def _base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{API_PREFIX}"

    # -- resources --
    async def _collection(self, request: Request, spec: ResourceSpec) -> tuple[Any, int]:
        if request.method == "GET":
            return self._list(request, spec), 206
        _allow(request.method, "POST" if spec.writable else "GET")
        payload, suppress = await self._write_body(request)
        booked = spec.bookable and not _flag(payload.pop("is_draft", False))
        record = self.store.create(spec.path, payload, booked=booked, suppress=suppress)
        return self._one(request, spec, record), 201

    async def _record(self, request: Request, spec: ResourceSpec, key: Any) -> tuple[Any, int]:
        method = request.method
        if method == "GET":
            return self._one(request, spec, self._existing(spec, key)), 200
        _allow(method, *(spec.record_writes if spec.writable else ("GET",)))
        payload, suppress = await self._write_body(request)
        if method == "DELETE":
            record = self.store.delete(spec.path, key, suppress=suppress)
            return self._one(request, spec, record), 200
        record = self.store.update(spec.path, key, payload, suppress=suppress)
        return self._one(request, spec, record), 200

    def _list(self, request: Request, spec: ResourceSpec) -> dict:
        query = parse_list_query(request.query_params, search_fields=spec.search_fields)
        if query.errors:
            raise Invalid(query.errors)
        with self.store.lock:
            page, total = self._page(self.store.collections[spec.path], query)
        base = self._base(request)
        lookup = self.store.lookup
        rows = [select_fields(present(spec, r, lookup, base), query.fields) for r in page]
        return {
            spec.plural: rows,
            "total": total,
            "pages": pages_for(total, query.limit),
            "limit": query.limit,
            "page": query.page,
        }

    @staticmethod
    def _page(collection: Collection, query: ListQuery) -> tuple[list[dict], int]:
        by_key = query.order_by in (None, "number")
        if not query.predicates and by_key:
            return collection.page_in_key_order(query.offset, query.limit, query.descending), len(collection)
        records = collection.sorted_records()
        if query.predicates:
            records = [r for r in records if all(p(r) for p in query.predicates)]
        if not by_key:
            records = sorted(
                records, key=lambda r: sort_value(r.get(query.order_by)), reverse=query.descending
            )
        elif query.descending:
            records = records[::-1]
        return records[query.offset : query.offset + query.limit], len(records)

    def _attachments(
        self, request: Request, spec: ResourceSpec, key: Any, rest: list[str]
    ) -> tuple[Any, int]:
        """A record's attached files (``sandbox.rackbeat.attachments``): list, one, its bytes."""
        _allow(request.method, "GET")
        record = self._existing(spec, key)
        record_url = f"{self._base(request)}{spec.path}/{record['number']}"
        stored = self.store.attachments.of(spec.path, record["number"])
        if not rest:
            query = parse_list_query(request.query_params, search_fields=("filename",))
            if query.errors:
                raise Invalid(query.errors)
            page = stored[query.offset : query.offset + query.limit]
            return {
                "attachments": [attachment_view(a, record_url) for a in page],
                "total": len(stored),
                "pages": pages_for(len(stored), query.limit),
                "limit": query.limit,
                "page": query.page,
            }, 206
        try:
            attachment_id = int(unquote(rest[0]))
        except ValueError:
            raise NotFound() from None
        found = next((a for a in stored if a["id"] == attachment_id), None)
        if found is None or len(rest) > 2 or (len(rest) == 2 and rest[1] != "download"):
            raise NotFound()
        if len(rest) == 1:
            return {"attachment": attachment_view(found, record_url)}, 200
        return FileBody(found["content"], found["mime_type"], found["filename"]), 200

    # -- the odd ones --
    def _self(self, method: str) -> dict:
        _allow(method, "GET")
        return {
            "user_account": {
                "id": int(self.account_id) if self.account_id.isdigit() else 1,
                "company_name": "Rackbeat Sandbox ApS",
            },
            "user": {"id": 1, "name": "Sandbox API user", "email": "api@sandbox.invalid"},
        }

    def _items(self, request: Request, rest: list[str]) -> tuple[Any, int]:
        """The generic read-only item interface over products and lots."""
        _allow(request.method, "GET")
        products, lots = RESOURCES["products"], RESOURCES["lots"]
        if rest:
            for spec in (products, lots):
                key = self._resolve_key(spec, rest[0])
                record = self.store.collections[spec.path].get(key)
                if record is not None and len(rest) == 1:
                    return {"item": present(spec, record, self.store.lookup, self._base(request))}, 200
            raise NotFound()
        query = parse_list_query(request.query_params, search_fields=products.search_fields)
        with self.store.lock:
            merged = sorted(
                [
                    *self.store.collections["products"].records.values(),
                    *self.store.collections["lots"].records.values(),
                ],
                key=lambda r: sort_value(r["number"]),
            )
        merged = [r for r in merged if all(p(r) for p in query.predicates)]
        page = merged[query.offset : query.offset + query.limit]
        base = self._base(request)
        rows = [
            present(lots if r.get("type") == "lot" else products, r, self.store.lookup, base) for r in page
        ]
        return {
            "items": rows,
            "total": len(merged),
            "pages": pages_for(len(merged), query.limit),
            "limit": query.limit,
            "page": query.page,
        }, 206

    def _reports(self, request: Request, rest: list[str]) -> tuple[Any, int]:
        _allow(request.method, "GET")
        if len(rest) == 2 and rest[0] == "ledger":
            return self._ledger(request, rest[1])
        if rest not in (["valuation"], ["valuation", "total"]):
            raise NotFound()
        raw_day = request.query_params.get("date_to")
        as_of = None
        if raw_day not in (None, ""):
            day = ledger.parse_day(raw_day)
            if day is None:
                raise invalid("date_to", "The date to is not a valid date.")
            as_of = ledger.end_of_day(day)
        with self.store.lock:
            items = [
                *self.store.collections["products"].records.values(),
                *self.store.collections["lots"].records.values(),
            ]
            locations = list(self.store.collections["locations"].records.values())
            entries = self.store.stock.ledger.snapshot() if as_of is not None else []
        default_location = next((loc["number"] for loc in locations if loc.get("is_default")), None)
        if rest == ["valuation"]:
            raw = request.query_params.get("location")
            try:
                location = int(raw) if raw not in (None, "") else None
            except ValueError:
                raise invalid("location", "The selected location is invalid.") from None
            if location is not None and self.store.collections["locations"].get(location) is None:
                raise invalid("location", "The selected location is invalid.")
            return reports.valuation(items, location, default_location, entries, as_of), 200
        return reports.valuation_total(items, locations, default_location, entries, as_of), 200

    def _ledger(self, request: Request, raw_item: str) -> tuple[Any, int]:
        """``GET reports/ledger/{item}``: the item's stock ledger entries, oldest first, as a paged list
        (``ledger_items``, reference §1.2; the entry's fields are the sandbox's, see ``ledger.py``)."""
        for spec in (RESOURCES["products"], RESOURCES["lots"]):
            record = self.store.collections[spec.path].get(self._resolve_key(spec, raw_item))
            if record is not None:
                break
        else:
            raise NotFound()
        query = parse_list_query(request.query_params, search_fields=())
        with self.store.lock:
            entries = self.store.stock.ledger.of_item(ledger.item_key(record))
        return {
            "ledger_items": entries[query.offset : query.offset + query.limit],
            "total": len(entries),
            "pages": pages_for(len(entries), query.limit),
            "limit": query.limit,
            "page": query.page,
        }, 206

    async def _adjustments(self, request: Request, rest: list[str]) -> tuple[Any, int]:
        """Inventory adjustments (``adjustments.py``): list, create, show, book."""
        method = request.method
        base = self._base(request)
        if not rest:
            if method == "GET":
                return self._adjustment_list(request), 206
            _allow(method, "POST")
            payload, _ = await self._write_body(request)
            created = self.store.create_adjustment(payload)
            return {adj.SINGULAR: adj.present(created, base)}, 201
        try:
            regulation_id = int(unquote(rest[0]))
        except ValueError:
            raise NotFound() from None
        if len(rest) == 1:
            _allow(method, "GET")
            with self.store.lock:
                found = self.store.stock.regulations.get(regulation_id)
            if found is None:
                raise NotFound()
            return {adj.SINGULAR: adj.present(found, base)}, 200
        if rest[1:] == ["book"]:
            _allow(method, "POST")
            await self._write_body(request)
            booked = self.store.book_adjustment(regulation_id)
            return {adj.SINGULAR: adj.present(booked, base)}, 200
        raise NotFound()

    def _adjustment_list(self, request: Request) -> dict:
        query = parse_list_query(request.query_params, search_fields=("reason", "description"))
        if query.errors:
            raise Invalid(query.errors)
        with self.store.lock:
            rows = [r for r in self.store.stock.regulations.in_order() if all(p(r) for p in query.predicates)]
        if query.descending:
            rows.reverse()
        base = self._base(request)
        return {
            adj.PLURAL: [
                select_fields(adj.present(r, base), query.fields)
                for r in rows[query.offset : query.offset + query.limit]
            ],
            "total": len(rows),
            "pages": pages_for(len(rows), query.limit),
            "limit": query.limit,
            "page": query.page,
        }

    async def _webhooks(self, request: Request, rest: list[str]) -> tuple[Any, int]:
        method = request.method
        registry = self.store.webhooks
        if not rest:
            if method == "GET":
                event = request.query_params.get("event")
                with self.store.lock:
                    hooks = [public_view(h) for h in registry.hooks.values() if event in (None, h["event"])]
                return {
                    "webhooks": hooks,
                    "total": len(hooks),
                    "pages": 1,
                    "limit": max(1, len(hooks)),
                    "page": 1,
                }, 206
            _allow(method, "POST")
            payload, _ = await self._write_body(request)
            event, url = payload.get("event"), payload.get("url")
            errors: dict[str, list[str]] = {}
            if not isinstance(event, str) or not event:
                errors["event"] = ["The event field is required."]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                errors["url"] = ["The url must be a valid URL."]
            if errors or not isinstance(event, str) or not isinstance(url, str):
                raise Invalid(errors)
            with self.store.lock:
                stored, created = registry.upsert(event, url, _flag(payload.get("is_active", True)))
            return {"webhook": public_view(stored, with_token=created)}, 201 if created else 200
        try:
            webhook_id = int(rest[0])
        except ValueError:
            raise NotFound() from None
        hook = registry.hooks.get(webhook_id)
        if hook is None or len(rest) > 1:
            raise NotFound()
        if method == "GET":
            return {"webhook": public_view(hook)}, 200
        _allow(method, "PUT", "DELETE")
        payload, _ = await self._write_body(request)
        with self.store.lock:
            if method == "DELETE":
                registry.delete(webhook_id)
            else:
                if "is_active" in payload:
                    hook["is_active"] = _flag(payload["is_active"])
                if isinstance(payload.get("url"), str):
                    hook["url"] = payload["url"]
        return {"webhook": public_view(hook)}, 200


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise MethodNotAllowed(
            f"The {method} method is not supported for this route. Supported: {', '.join(allowed)}."
        )
