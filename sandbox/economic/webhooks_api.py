"""e-conomic's webhooks API (``webhooksapi/v1.0.0``, economic-api.md §14): webhooks an app manages itself.

Routes (S4 openapi-webhooks-api.json): ``GET /EventTypes``; ``GET /webhooks`` (cursor list ``{items,
cursor?}``, ``filter``), ``POST /webhooks`` (201 ``{eventType}``), ``PUT /webhooks`` (204; needs the current
``objectVersion``, stale -> 409); ``GET``/``DELETE /webhooks/{eventType}`` (404 when there is none);
``GET /webhooks/paged`` (bare array, ``pageSize`` 1-100, ``skipPages``, ``sort``) and ``GET /webhooks/count``
(bare integer). Errors are problem+json (§5.2).

Facts it rests on, each tested in tests/sandbox/test_economic_webhooks_api.py:
- A Webhook requires ``eventType``, ``name`` (<= 100), ``url`` (<= 1000) and ``contentType`` (<= 50);
  ``postData`` (<= 4000) is the payload template, ``customHeaders`` at most 5 ``{key, value}`` pairs,
  ``isDisabled`` a boolean; ``lastUpdated`` and ``lastDisabledDate`` are read-only.
- Only one webhook per event type per agreement: a second POST for a type is refused (400; POST lists no
  409). ``PUT`` and ``DELETE`` address the webhook by its event type.
- The API needs the Superuser role: with ``superuser`` off every route answers 403.
- A registered webhook is called like a classic one (``webhooks.WebhookDispatcher``): POST to ``url`` with
  the rendered ``postData``, ``contentType`` as the Content-Type and every custom header; a disabled one is
  not called.

Choices where the reference is silent (sandbox's own):
- The event types are the ones the sandbox fires, named like the documented ``CUSTOMER_UPDATED`` and
  ``INVOICE_BOOKED``: ``CUSTOMER_UPDATED``, ``PRODUCT_UPDATED``, ``ORDER_UPDATED``, ``PROJECT_UPDATED``,
  ``INVOICE_BOOKED``, with the merge fields of the UI types (§14 table). ``JOURNAL_BOOKED`` (observed live)
  is not listed because the sandbox never fires it. An ``eventType`` not listed is refused with 400.
- Error codes ``DuplicateWebhook``, ``UnknownEventType``, ``TooManyCustomHeaders`` and ``AccessDenied``.
- The API shows every webhook of the agreement (live, only the calling app's; the sandbox has one app).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.economic.errors import ProblemError, problem_body
from sandbox.economic.filters import FilterError, compile_filter
from sandbox.economic.sorting import SortError, parse_sort, sort_records
from sandbox.economic.store import Store, now_timestamp
from sandbox.economic.webhooks import FORM, Subscription

SERVICE = "webhooksapi/v1.0.0"
TABLE = "webhooks"
CURSOR_MAX = 1000
PAGED_MAX = 100
MAX_CUSTOM_HEADERS = 5
LIMITS = {"name": 100, "url": 1000, "contentType": 50, "postData": 4000}
REQUIRED = ("eventType", "name", "url", "contentType")


@dataclass(frozen=True)
class EventType:
    name: str
    event: str  # the dispatcher's event (webhooks.EVENTS)
    description: str
    merge_fields: tuple[tuple[str, str], ...]

    def as_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "mergeFields": [{"fieldName": f, "description": d} for f, d in self.merge_fields],
        }


_NUMBERS = (
    ("[OLDNUMBER]", "The number before the change (empty when the record was created)."),
    ("[NEWNUMBER]", "The number after the change (empty when the record was deleted)."),
)
EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        "CUSTOMER_UPDATED", "customer", "A customer was created, changed, renumbered or deleted.", _NUMBERS
    ),
    EventType(
        "PRODUCT_UPDATED", "product", "A product was created, changed, renumbered or deleted.", _NUMBERS
    ),
    EventType("ORDER_UPDATED", "order", "An order was created, changed or deleted.", _NUMBERS),
    EventType(
        "PROJECT_UPDATED", "project", "A project was created, changed, renumbered or deleted.", _NUMBERS
    ),
    EventType(
        "INVOICE_BOOKED", "invoice", "An invoice was booked.", (("[INVOICENO]", "The booked number."),)
    ),
)
BY_NAME = {event_type.name: event_type for event_type in EVENT_TYPES}
FILTERABLE = {"eventType": "string", "name": "string", "url": "string", "isDisabled": "boolean"}
SORTABLE = {"eventType": "string", "name": "string"}


def _problem(status: int, title: str, code: str, detail: str = "", errors: Any = None) -> ProblemError:
    return ProblemError(status, title, error_code=code, detail=detail or title, errors=errors)


def _invalid(errors: list[dict[str, Any]]) -> ProblemError:
    return _problem(
        400,
        "Validation failed",
        "ValidationFailed",
        "Your request does not pass our validation. Check the errors array.",
        errors,
    )


def _error(prop: str, code: str, message: str) -> dict[str, Any]:
    return {"message": message, "errorCode": code, "property": prop}


def _missing(event_type: str) -> ProblemError:
    return _problem(404, "Resource not found", "ResourceNotFound", f"No webhook for event type {event_type}.")


def validated(body: Any) -> dict[str, Any]:
    """The writable fields of a Webhook body, or 400 naming every problem."""
    if not isinstance(body, dict):
        raise _invalid([_error("", "InvalidBody", "The body must be a JSON object.")])
    problems: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for name in REQUIRED:
        value = body.get(name)
        if value is None or (name == "eventType" and value == ""):
            problems.append(_error(name, "Required", f"'{name}' is required."))
        elif not isinstance(value, str):
            problems.append(_error(name, "InvalidType", f"'{name}' must be of type string."))
        else:
            data[name] = value
    post_data = body.get("postData")
    if post_data is not None:
        if isinstance(post_data, str):
            data["postData"] = post_data
        else:
            problems.append(_error("postData", "InvalidType", "'postData' must be of type string."))
    for name, limit in LIMITS.items():
        if isinstance(data.get(name), str) and len(data[name]) > limit:
            problems.append(_error(name, "MaxLength", f"'{name}' must be at most {limit} characters."))
    if isinstance(data.get("eventType"), str) and data["eventType"] not in BY_NAME:
        known = ", ".join(BY_NAME)
        problems.append(
            _error(
                "eventType", "UnknownEventType", f"Unknown event type {data['eventType']!r}; known: {known}."
            )
        )
    headers = body.get("customHeaders")
    if headers is not None:
        if not isinstance(headers, list) or not all(
            isinstance(pair, dict) and isinstance(pair.get("key"), str) and isinstance(pair.get("value"), str)
            for pair in headers
        ):
            problems.append(
                _error(
                    "customHeaders", "InvalidType", "'customHeaders' must be a list of {key, value} strings."
                )
            )
        elif len(headers) > MAX_CUSTOM_HEADERS:
            problems.append(
                _error(
                    "customHeaders",
                    "TooManyCustomHeaders",
                    f"At most {MAX_CUSTOM_HEADERS} custom headers are allowed.",
                )
            )
        else:
            data["customHeaders"] = [{"key": p["key"], "value": p["value"]} for p in headers]
    disabled = body.get("isDisabled")
    if disabled is not None:
        if isinstance(disabled, bool):
            data["isDisabled"] = disabled
        else:
            problems.append(_error("isDisabled", "InvalidType", "'isDisabled' must be of type boolean."))
    if isinstance(body.get("objectVersion"), str):
        data["objectVersion"] = body["objectVersion"]
    if problems:
        raise _invalid(problems)
    return data


class WebhooksApi:
    """The routes under ``/webhooksapi/v1.0.0/`` over the store's ``webhooks`` table (keyed by event type)."""

    def __init__(self, store: Store, on_change: Callable[[], None]) -> None:
        self.store = store
        self.on_change = on_change
        self.superuser = True
        """Whether the grant has the Superuser role the API needs (a test knob: off, every route is 403)."""

    # ---------------------------------------------------------------------------------- delivery side
    def subscriptions_for(self, event: str) -> list[Subscription]:
        """The registered, enabled webhooks the dispatcher calls for one of its events."""
        with self.store.lock:
            rows = [
                row for row in self.store.table(TABLE).values() if BY_NAME[row["eventType"]].event == event
            ]
        return [
            Subscription(
                row["url"],
                row.get("postData") or "",
                row["contentType"] or FORM,
                headers=tuple((pair["key"], pair["value"]) for pair in row.get("customHeaders") or ()),
            )
            for row in rows
            if not row.get("isDisabled")
        ]

    # ---------------------------------------------------------------------------------- HTTP
    async def handle(self, request: Request) -> Response:
        rest = request.path_params.get("rest", "").strip("/")
        try:
            if not self.superuser:
                raise _problem(
                    403,
                    "Access forbidden",
                    "AccessDenied",
                    "The webhooks API needs the Superuser role; this grant does not have it.",
                )
            status, body = await self._route(request, rest)
        except ProblemError as exc:
            answer = problem_body(
                exc.status,
                exc.title,
                error_code=exc.error_code,
                detail=exc.detail,
                errors=exc.errors,
                instance=request.url.path,
            )
            return _json(exc.status, answer, problem=True)
        if request.method != "GET" and 200 <= status < 300:
            self.on_change()
        if body is None:
            return Response(status_code=status)
        return _json(status, body)

    async def _route(self, request: Request, rest: str) -> tuple[int, Any]:
        method = request.method
        params = dict(request.query_params)
        if rest.lower() == "eventtypes" and method == "GET":
            return 200, [event_type.as_api() for event_type in EVENT_TYPES]
        if rest == "webhooks":
            if method == "GET":
                return 200, self._cursor_list(params)
            if method == "POST":
                return 201, self._create(await _json_body(request))
            if method == "PUT":
                self._replace(await _json_body(request))
                return 204, None
        elif rest == "webhooks/paged" and method == "GET":
            return 200, self._paged(params)
        elif rest == "webhooks/count" and method == "GET":
            return 200, len(self._selected(params))
        elif rest.startswith("webhooks/") and rest.count("/") == 1:
            event_type = rest.split("/", 1)[1]
            if method == "GET":
                return 200, self._one(event_type)
            if method == "DELETE":
                with self.store.lock:
                    if self.store.delete(TABLE, event_type) is None:
                        raise _missing(event_type)
                return 204, None
        else:
            raise _problem(404, "Resource not found", "ResourceNotFound")
        raise _problem(405, "Method not allowed", "MethodNotAllowed")

    def _view(self, event_type: str, row: dict[str, Any]) -> dict[str, Any]:
        view = {
            "eventType": event_type,
            "name": row["name"],
            "url": row["url"],
            "contentType": row["contentType"],
            "postData": row.get("postData"),
            "customHeaders": row.get("customHeaders") or [],
            "isDisabled": bool(row.get("isDisabled", False)),
            "lastDisabledDate": row.get("lastDisabledDate"),
            "lastUpdated": row.get("lastUpdated"),
            "objectVersion": self.store.meta_of(TABLE, event_type).get("objectVersion", ""),
        }
        return view

    def _one(self, event_type: str) -> dict[str, Any]:
        with self.store.lock:
            row = self.store.get(TABLE, event_type)
            if row is None:
                raise _missing(event_type)
            return self._view(event_type, row)

    def _selected(self, params: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            rows = [self._view(key, row) for key, row in sorted(self.store.table(TABLE).items())]
        if params.get("filter"):
            try:
                predicate = compile_filter(params["filter"], FILTERABLE)
            except FilterError as exc:
                raise _problem(400, "Bad filter request", "BadFilterRequest", str(exc)) from None
            rows = [row for row in rows if predicate(row)]
        return rows

    def _cursor_list(self, params: dict[str, str]) -> dict[str, Any]:
        rows = self._selected(params)
        start = _decode_cursor(params.get("cursor"))
        body: dict[str, Any] = {"items": rows[start : start + CURSOR_MAX]}
        if start + CURSOR_MAX < len(rows):
            body["cursor"] = base64.urlsafe_b64encode(str(start + CURSOR_MAX).encode()).decode()
        return body

    def _paged(self, params: dict[str, str]) -> list[dict[str, Any]]:
        lowered = {name.lower(): value for name, value in params.items()}
        try:
            size, skip = int(lowered.get("pagesize", 20)), int(lowered.get("skippages", 0))
        except ValueError:
            size = skip = -1
        if not 1 <= size <= PAGED_MAX or not 0 <= skip <= 100:
            raise _problem(400, "Bad request", "BadRequest", "pageSize must be 1-100 and skipPages 0-100.")
        rows = self._selected(params)
        if params.get("sort"):
            try:
                rows = sort_records(rows, parse_sort(params["sort"], SORTABLE))
            except SortError as exc:
                raise _problem(400, "Bad sort request", "BadSortRequest", str(exc)) from None
        return rows[skip * size : (skip + 1) * size]

    def _create(self, body: Any) -> dict[str, Any]:
        data = validated(body)
        data.pop("objectVersion", None)
        event_type = data["eventType"]
        with self.store.lock:
            if self.store.exists(TABLE, event_type):
                raise _invalid(
                    [
                        _error(
                            "eventType",
                            "DuplicateWebhook",
                            f"A webhook for {event_type} exists; only one per event type per agreement.",
                        )
                    ]
                )
            self.store.put(TABLE, event_type, {**data, "lastUpdated": now_timestamp()})
        return {"eventType": event_type}

    def _replace(self, body: Any) -> None:
        data = validated(body)
        version = data.pop("objectVersion", None)
        if not version:
            raise _invalid([_error("objectVersion", "Required", "'objectVersion' is required.")])
        event_type = data["eventType"]
        with self.store.lock:
            existing = self.store.get(TABLE, event_type)
            if existing is None:
                raise _missing(event_type)
            if self.store.meta_of(TABLE, event_type).get("objectVersion") != version:
                raise _problem(
                    409,
                    "Update conflict",
                    "UpdateConflict",
                    "The objectVersion is stale: the resource was changed by someone else.",
                )
            record = {**data, "lastUpdated": now_timestamp()}
            if data.get("isDisabled") and not existing.get("isDisabled"):
                record["lastDisabledDate"] = record["lastUpdated"]
            elif existing.get("lastDisabledDate"):
                record["lastDisabledDate"] = existing["lastDisabledDate"]
            self.store.put(TABLE, event_type, record)


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(int(base64.urlsafe_b64decode(cursor.encode()).decode()), 0)
    except (ValueError, UnicodeDecodeError):
        raise _problem(400, "Bad request", "BadCursor", "The cursor is not valid.") from None


async def _json_body(request: Request) -> Any:
    if "json" not in request.headers.get("content-type", "").lower():
        raise _problem(
            415, "Unsupported media type", "UnsupportedMediaType", "Send the body as application/json."
        )
    try:
        return json.loads(await request.body())
    except ValueError:
        raise _problem(400, "Bad request", "InvalidJson", "The body is not valid JSON.") from None


def _json(status: int, body: Any, *, problem: bool = False) -> Response:
    media = "application/problem+json" if problem else "application/json; charset=utf-8"
    return Response(json.dumps(body, ensure_ascii=False), status_code=status, media_type=media)
