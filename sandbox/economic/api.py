"""Request dispatch for the legacy REST root and the OpenAPI prefixes: parse, call the handlers, serialise.

Answers are serialised once and the canonical base ``https://restapi.e-conomic.com/`` in them is replaced by
the base URL the client called, so ``self``/``nextPage`` links lead back to this sandbox.

"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.economic import attachments, documents, invoices, journals, ledger, legacy, years
from sandbox.economic.errors import EconomicError, ProblemError, not_found, problem_body
from sandbox.economic.ids import decode_key
from sandbox.economic.openapi import API_COLLECTIONS, ApiCollection, legacy_project
from sandbox.economic.resources import PROJECTS, SIMPLE_RESOURCES, Resource
from sandbox.economic.store import CANONICAL_BASE, Store, link
from sandbox.economic.webhooks import WebhookDispatcher

JSON = "application/json; charset=utf-8"
_RESOURCES: dict[str, Resource] = {resource.path: resource for resource in SIMPLE_RESOURCES}
_DOCUMENTS: dict[str, Resource] = {resource.path: resource for resource in documents.DOCUMENT_RESOURCES}


@dataclass(frozen=True)
class RawBytes:
    """A body served as it is (a voucher attachment's file)."""

    content: bytes
    media_type: str


@dataclass
class Answer:
    status: int
    body: Any = None
    location: str | None = None
    problem: bool = False


def render(answer: Answer, base: str) -> Response:
    headers: dict[str, str] = {}
    if answer.location:
        headers["Location"] = answer.location.replace(CANONICAL_BASE, base, 1)
    body = answer.body
    if body is None:
        return Response(status_code=answer.status, headers=headers)
    if isinstance(body, RawBytes):
        return Response(body.content, status_code=answer.status, headers=headers, media_type=body.media_type)
    if isinstance(body, legacy.RawJson):
        text = str(body)
    elif isinstance(body, dict) and isinstance(body.get("collection"), legacy.RawItems):
        rest = {name: value for name, value in body.items() if name != "collection"}
        text = '{"collection":[' + ",".join(body["collection"]) + "]," + _dumps(rest, base)[1:]
    else:
        text = _dumps(body, base)
    media = "application/problem+json" if answer.problem else JSON
    return Response(text, status_code=answer.status, headers=headers, media_type=media)


def _dumps(body: Any, base: str) -> str:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return text if base == CANONICAL_BASE else text.replace(CANONICAL_BASE, base)


def method_not_allowed() -> EconomicError:
    return EconomicError(405, "The requested HTTP method is not allowed on this resource.")


class EconomicApi:
    """The callable the Starlette route hands every non-admin request to."""

    def __init__(
        self,
        store: Store,
        webhooks: WebhookDispatcher,
        on_change: Callable[[], None],
        clock: invoices.Clock | None = None,
    ) -> None:
        self.store = store
        self.webhooks = webhooks
        self.on_change = on_change
        self.clock = clock or invoices.Clock()

    async def handle(self, request: Request) -> Response:
        base = str(request.base_url)
        path = request.url.path
        collection = _api_collection(path)
        booking = _JOURNAL_BOOKING.match(path)
        try:
            if booking is not None:
                answer = await self._book_journal(request, int(booking["journal"]), booking["action"])
            elif collection is not None:
                answer = await self._openapi(request, *collection)
            else:
                answer = await self._legacy(request)
        except EconomicError as exc:
            return _error_response(exc, base)
        except ProblemError as exc:
            body = problem_body(
                exc.status,
                exc.title,
                error_code=exc.error_code,
                detail=exc.detail,
                errors=exc.errors,
                instance=path,
            )
            return render(Answer(exc.status, body, problem=True), base)
        if request.method != "GET" and 200 <= answer.status < 300:
            self.on_change()
        return render(answer, base)

    # ------------------------------------------------------------------------------------------ legacy
    async def _legacy(self, request: Request) -> Answer:
        method = request.method
        parts = [part for part in request.url.path.split("/") if part]
        params = legacy.lower_params(request.query_params)
        if not parts:
            return Answer(200, _root())
        head = parts[0]
        if head == "self" and len(parts) == 1 and method == "GET":
            return Answer(200, _self_body())
        if head in ("invoices", "orders"):
            return await self._documents(request, method, parts, params)
        if head == "journals" and len(parts) >= 3:
            return await self._journal_parts(request, method, parts, params)
        if head == "projects":
            return self._projects(method, parts, params)
        if head == "accounting-years" and len(parts) >= 3 and parts[2] == "entries" and method == "GET":
            return self._year_entries(parts, params)
        if head == "accounting-years" and len(parts) == 3 and parts[2] == "totals":
            if method != "GET":
                raise method_not_allowed()
            return Answer(200, ledger.year_totals(self.store, parts[1], params))
        if head == "accounts" and len(parts) >= 3 and parts[2] == "accounting-years":
            if method != "GET":
                raise method_not_allowed()
            return Answer(200, ledger.account_answer(self.store, parts[1], parts[3:], params))
        resource = _RESOURCES.get(head)
        if resource is None:
            raise not_found("The resource")
        if len(parts) == 1:
            if method == "GET":
                return Answer(200, legacy.list_resource(self.store, resource, params, str(request.base_url)))
            if method == "POST" and resource.writable:
                return self._write(resource, await _json_body(request), None)
            raise method_not_allowed()
        if len(parts) == 2:
            if method == "GET":
                return Answer(200, legacy.item_text(self.store, resource, parts[1], str(request.base_url)))
            if method == "PUT" and resource.writable:
                return self._write(resource, await _json_body(request), parts[1])
            if method == "DELETE" and resource.deletable:
                old = legacy.delete_resource(
                    self.store, resource, parts[1], documents.HOOKS.get(resource.path)
                )
                self._notify(resource.webhook, old=old.get(resource.key), new="")
                return Answer(204)
            raise method_not_allowed()
        if head == "customers" and len(parts) >= 3 and parts[2] == "templates" and method == "GET":
            return self._customer_templates(parts, params)
        if head == "customers" and len(parts) >= 3 and parts[2] == "invoices":
            if method != "GET":
                raise method_not_allowed()
            return Answer(200, invoices.customer_invoices(self.store, parts, params, str(request.base_url)))
        if len(parts) == 3 and method == "GET":
            return self._sub_collection(resource, parts[1], parts[2], params)
        raise not_found("The resource")

    def _write(self, resource: Resource, body: Any, segment: str | None) -> Answer:
        status, record = legacy.write_resource(
            self.store, resource, body, segment=segment, hooks=documents.HOOKS.get(resource.path)
        )
        key = record[resource.key]
        self._notify(resource.webhook, old="" if status == 201 else key, new=key)
        return Answer(status, record, location=record["self"] if status == 201 else None)

    def _notify(self, event: str | None, **numbers: Any) -> None:
        if event:
            self.webhooks.notify(event, **numbers)

    def _customer_templates(self, parts: list[str], params: dict[str, str]) -> Answer:
        customer = legacy.get_item(self.store, _RESOURCES["customers"], parts[1])
        if len(parts) == 3:
            return Answer(200, documents.customer_templates(customer["customerNumber"]))
        if len(parts) == 4 and parts[3] == "invoice":
            return Answer(
                200, documents.invoice_template(self.store, customer, self.clock.today().isoformat())
            )
        if len(parts) == 5 and parts[3] == "invoiceline":
            product = legacy.get_item(self.store, _RESOURCES["products"], parts[4])
            try:
                quantity = float(params.get("quantity", 1))
            except ValueError:
                raise EconomicError(400, "quantity must be a number.") from None
            return Answer(200, documents.invoiceline_template(customer, product, quantity))
        raise not_found("The resource")

    def _sub_collection(self, resource: Resource, segment: str, name: str, params: dict[str, str]) -> Answer:
        legacy.get_item(self.store, resource, segment)
        key = resource.parse_key(segment)
        if resource.path == "product-groups" and name == "products":
            table, test = "products", lambda r: r.get("productGroup", {}).get("productGroupNumber") == key
            target = _RESOURCES["products"]
        elif resource.path == "customer-groups" and name == "customers":
            table, test = "customers", lambda r: r.get("customerGroup", {}).get("customerGroupNumber") == key
            target = _RESOURCES["customers"]
        elif resource.path == "units" and name == "products":
            table, test = "products", lambda r: r.get("unit", {}).get("unitNumber") == key
            target = _RESOURCES["products"]
        else:
            raise not_found("The resource")
        rows = [record for record in self.store.table(table).values() if test(record)]
        filterable, sortable = target.fields()
        page = legacy.parse_page(params)
        rows = legacy.select(rows, params, filterable, sortable, target.key)
        return Answer(
            200, legacy.collection_body(f"{resource.path}/{segment}/{name}", rows, len(rows), params, page)
        )

    # ------------------------------------------------------------------------------------------ documents
    async def _documents(
        self, request: Request, method: str, parts: list[str], params: dict[str, str]
    ) -> Answer:
        if len(parts) == 1:
            if method != "GET":
                raise method_not_allowed()
            return Answer(200, _document_root(parts[0]))
        if parts[0] == "invoices" and (parts[1] == "totals" or parts[1] in invoices.VIEWS):
            return self._invoice_views(request, method, parts, params)
        resource = _DOCUMENTS.get(f"{parts[0]}/{parts[1]}")
        if resource is None:
            raise not_found("The resource")
        store = self.store
        if len(parts) == 2:
            if method == "GET":
                body = legacy.list_resource(
                    store,
                    resource,
                    params,
                    str(request.base_url),
                    view=documents.without_lines,
                    view_name="list",
                )
                return Answer(200, body)
            if method == "POST":
                return await self._document_post(request, resource)
            if method == "DELETE" and resource is documents.DRAFT_INVOICES:
                filterable, sortable = resource.fields()
                rows = legacy.select(
                    store.table(resource.path).values(), params, filterable, sortable, resource.key
                )
                return Answer(200, documents.delete_all_drafts(store, [row[resource.key] for row in rows]))
            raise method_not_allowed()
        segment = parts[2]
        if len(parts) == 3:
            if method == "GET":
                return Answer(200, legacy.get_item(store, resource, segment))
            if method == "PUT" and resource.writable:
                return self._write(resource, await _json_body(request), segment)
            if method == "PUT" and resource is documents.BOOKED_INVOICES:
                number = _int_or_404(segment)
                booked = documents.book_draft(
                    store, await _json_body(request), url_number=number, today=self.clock.today()
                )
                self._notify("invoice", invoice=number)
                return Answer(201, booked, location=booked["self"])
            if method == "DELETE" and resource is documents.DRAFT_INVOICES:
                legacy.get_item(store, resource, segment)
                return Answer(200, documents.delete_all_drafts(store, [_int_or_404(segment)]))
            if method == "DELETE" and resource in (documents.DRAFT_ORDERS, documents.SENT_ORDERS):
                old = legacy.delete_resource(store, resource, segment)
                self._notify("order", old=old.get("orderNumber"), new="")
                return Answer(204)
            raise method_not_allowed()
        if len(parts) == 4 and parts[3] == "sent" and resource is documents.BOOKED_INVOICES:
            if method != "GET":
                raise method_not_allowed()
            legacy.get_item(store, resource, segment)
            return Answer(200, invoices.sent_of(store, int(segment), params, str(request.base_url)))
        if len(parts) == 4 and parts[3] == "lines" and resource is documents.DRAFT_INVOICES:
            if method != "POST":
                raise method_not_allowed()
            updated = documents.add_lines(store, _int_or_404(segment), await _json_body(request))
            return Answer(201, updated)
        raise not_found("The resource")

    async def _document_post(self, request: Request, resource: Resource) -> Answer:
        body = await _json_body(request)
        if resource is documents.BOOKED_INVOICES:
            booked = documents.book_draft(self.store, body, today=self.clock.today())
            self._notify("invoice", invoice=booked["bookedInvoiceNumber"])
            return Answer(201, booked, location=booked["self"])
        if resource is documents.SENT_ORDERS:
            status, record = documents.move_order(self.store, body, to_sent=True)
            self._notify("order", old=record["orderNumber"], new=record["orderNumber"])
            return Answer(status, record, location=record["self"])
        if (
            resource is documents.DRAFT_ORDERS
            and isinstance(body, dict)
            and self.store.exists("orders/sent", body.get("orderNumber"))
        ):
            status, record = documents.move_order(self.store, body, to_sent=False)
            self._notify("order", old=record["orderNumber"], new=record["orderNumber"])
            return Answer(status, record, location=record["self"])
        if not resource.writable:
            raise method_not_allowed()
        return self._write(resource, body, None)

    def _invoice_views(
        self, request: Request, method: str, parts: list[str], params: dict[str, str]
    ) -> Answer:
        """``/invoices/{paid|unpaid|overdue|not-due}`` and ``/invoices/totals[/...]``: read-only."""
        if method != "GET":
            raise method_not_allowed()
        today = self.clock.today()
        if parts[1] == "totals":
            with self.store.lock:
                return Answer(200, invoices.Totals(self.store, today).answer(parts[2:]))
        if len(parts) != 2:
            raise not_found("The resource")
        return Answer(200, invoices.list_view(self.store, parts[1], params, str(request.base_url), today))

    # ------------------------------------------------------------------------------------------ journals
    async def _journal_parts(
        self, request: Request, method: str, parts: list[str], params: dict[str, str]
    ) -> Answer:
        journal = journals.journal_or_404(self.store, parts[1])
        number = journal["journalNumber"]
        kind = parts[2]
        base_path = f"journals/{number}/{kind}"
        if kind == "vouchers" and len(parts) == 3:
            if method == "POST":
                created = journals.post_vouchers(self.store, parts[1], await _json_body(request))
                return Answer(201, created, location=created[0]["self"] if created else None)
            if method != "GET":
                raise method_not_allowed()
            rows = journals.journal_vouchers(self.store, number)
            page = legacy.parse_page(params)
            return Answer(200, legacy.collection_body(base_path, rows, len(rows), params, page))
        if kind == "vouchers" and len(parts) in (5, 6) and parts[4] == "attachment":
            return await self._attachment(request, method, number, decode_key(parts[3]), parts[5:])
        if kind == "vouchers" and len(parts) == 4 and method == "GET":
            found = self.store.get(journals.VOUCHERS_TABLE, f"{number}/{parts[3]}")
            if found is None:
                raise not_found()
            return Answer(200, found)
        if kind == "entries" and len(parts) == 3:
            if method != "GET":
                raise method_not_allowed()
            rows = journals.journal_entries(self.store, number)
            filterable, sortable = journals.ENTRIES.fields()
            page = legacy.parse_page(params)
            selected = legacy.select(rows, params, filterable, sortable, "journalEntryNumber")
            return Answer(200, legacy.collection_body(base_path, selected, len(rows), params, page))
        if kind == "entries" and len(parts) == 4:
            if method == "GET":
                entry = self.store.get(journals.ENTRIES.path, _int_or_404(parts[3]))
                if entry is None or entry["journal"]["journalNumber"] != number:
                    raise not_found()
                return Answer(200, entry)
            if method == "DELETE":
                journals.delete_entry(self.store, number, parts[3])
                return Answer(204)
            raise method_not_allowed()
        raise not_found("The resource")

    async def _attachment(
        self, request: Request, method: str, journal_number: int, voucher_key: str, rest: list[str]
    ) -> Answer:
        """``…/vouchers/{year-number}/attachment[/file]`` (see ``sandbox.economic.attachments``)."""
        if not rest:
            if method != "GET":
                raise method_not_allowed()
            return Answer(200, attachments.metadata(self.store, journal_number, voucher_key))
        if rest != ["file"]:
            raise not_found("The resource")
        if method == "GET":
            content = attachments.file_content(self.store, journal_number, voucher_key)
            return Answer(200, RawBytes(content, "application/pdf"))
        if method == "POST":
            body, too_large = await _limited_body(request, attachments.MAX_REQUEST_BYTES)
            content_type = request.headers.get("content-type", "")
            record = attachments.store_file(
                self.store, journal_number, voucher_key, content_type, body, too_large
            )
            return Answer(201, record, location=record["self"])
        if method == "DELETE":
            attachments.delete_file(self.store, journal_number, voucher_key)
            return Answer(204)
        if method == "PATCH":
            raise attachments.not_implemented()
        raise method_not_allowed()

    def _year_entries(self, parts: list[str], params: dict[str, str]) -> Answer:
        year = legacy.get_item(self.store, _RESOURCES["accounting-years"], parts[1])["year"]
        rows = journals.year_entries(self.store, year)
        if len(parts) == 4:
            found = next((row for row in rows if str(row["entryNumber"]) == parts[3]), None)
            if found is None:
                raise not_found()
            return Answer(200, found)
        filterable, sortable = journals.BOOKED_ENTRIES.fields()
        page = legacy.parse_page(params)
        selected = legacy.select(rows, params, filterable, sortable, "entryNumber")
        return Answer(
            200, legacy.collection_body(f"accounting-years/{year}/entries", selected, len(rows), params, page)
        )

    def _projects(self, method: str, parts: list[str], params: dict[str, str]) -> Answer:
        if method != "GET":
            raise method_not_allowed()
        table = self.store.table("projects")
        if len(parts) == 1:
            rows = [legacy_project(record) for record in table.values()]
            filterable, sortable = PROJECTS.fields()
            page = legacy.parse_page(params)
            selected = legacy.select(rows, params, filterable, sortable, "projectNumber")
            return Answer(200, legacy.collection_body("projects", selected, len(rows), params, page))
        record = table.get(_int_or_404(parts[1])) if len(parts) == 2 else None
        if record is None:
            raise not_found()
        return Answer(200, legacy_project(record))

    async def _book_journal(self, request: Request, journal_number: int, action: str) -> Answer:
        if request.method != "POST":
            raise ProblemError(405, "Method not allowed", error_code="MethodNotAllowed")
        if not self.store.exists("journals", journal_number):
            raise ProblemError(
                404,
                "Resource not found",
                error_code="ResourceNotFound",
                detail=f"Journal {journal_number} does not exist.",
            )
        numbers = None
        if action == "bookdraftentries":
            body = await _json_body(request, problem=True)
            numbers = body.get("entryNumbers") if isinstance(body, dict) else None
            if not isinstance(numbers, list) or not numbers or not all(isinstance(n, int) for n in numbers):
                raise ProblemError(
                    400,
                    "Validation failed",
                    error_code="ValidationFailed",
                    errors=[
                        {
                            "message": "entryNumbers must list at least one entry number.",
                            "errorCode": "Required",
                            "property": "entryNumbers",
                        }
                    ],
                )
        try:
            journals.book_journal(self.store, journal_number, numbers)
        except years.YearClosedError as exc:
            entries = "; ".join(f"{year}: entries {listed}" for year, listed in exc.closed.items())
            raise ProblemError(
                400,
                "Validation failed",
                error_code="ValidationFailed",
                detail=f"{exc} Nothing was booked ({entries}).",
                errors=[years.closed_problem(year, "entryNumbers") for year in exc.closed],
            ) from None
        except ValueError as exc:
            raise ProblemError(
                400, "Validation failed", error_code="ValidationFailed", detail=str(exc)
            ) from None
        return Answer(204)

    # ------------------------------------------------------------------------------------------ OpenAPI
    async def _openapi(self, request: Request, collection: ApiCollection, rest: str) -> Answer:
        method = request.method
        params = dict(request.query_params)
        store = self.store
        if rest == "":
            if method == "GET":
                return Answer(200, collection.cursor_list(store, params))
            if method == "POST" and collection.writable:
                key, _ = collection.create(store, await _json_body(request, problem=True))
                self._notify(collection.webhook, old="", new=key)
                created = {collection.key: key}
                return Answer(201, created, location=link(f"{collection.prefix}/{key}"))
            if method == "PUT" and collection.writable:
                key, _ = collection.replace(store, await _json_body(request, problem=True))
                self._notify(collection.webhook, old=key, new=key)
                return Answer(204)
        elif rest == "paged" and method == "GET":
            return Answer(200, collection.paged(store, params))
        elif rest == "count" and method == "GET":
            return Answer(200, len(collection.selected(store, params)))
        elif "/" not in rest:
            if method == "GET":
                return Answer(200, collection.get_one(store, rest))
            if method == "DELETE" and collection.deletable:
                key = collection.delete(store, rest)
                self._notify(collection.webhook, old=key, new="")
                return Answer(204)
        else:
            raise ProblemError(404, "Resource not found", error_code="ResourceNotFound")
        raise ProblemError(405, "Method not allowed", error_code="MethodNotAllowed")


_JOURNAL_BOOKING = re.compile(
    r"^/journalsapi/v15\.0\.0/(?:journals|entries/draft)/(?P<journal>\d+)/(?P<action>book|bookdraftentries)/?$"
)


def _api_collection(path: str) -> tuple[ApiCollection, str] | None:
    trimmed = path.strip("/")
    for collection in API_COLLECTIONS:
        if trimmed == collection.prefix or trimmed.startswith(collection.prefix + "/"):
            return collection, trimmed[len(collection.prefix) :].strip("/")
    return None


async def _json_body(request: Request, *, problem: bool = False) -> Any:
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type.lower():
        if problem:
            raise ProblemError(
                415,
                "Unsupported media type",
                error_code="UnsupportedMediaType",
                detail="Send the body as application/json.",
            )
        raise EconomicError(415, "Unsupported Media Type: the body must be application/json.")
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        if problem:
            raise ProblemError(
                400, "Bad request", error_code="InvalidJson", detail="The body is not valid JSON."
            ) from None
        raise EconomicError(
            400, "Could not parse the JSON body.", developer_hint="Send a valid JSON document."
        ) from None


async def _limited_body(request: Request, limit: int) -> tuple[bytes, bool]:
    """The body, read whole; past ``limit`` bytes the rest is read and dropped and the flag is True."""
    kept = bytearray()
    too_large = False
    async for chunk in request.stream():
        if too_large or len(kept) + len(chunk) > limit:
            too_large = True
            continue
        kept += chunk
    return (b"" if too_large else bytes(kept)), too_large


def _int_or_404(segment: str) -> int:
    try:
        return int(segment)
    except ValueError:
        raise not_found() from None


def _error_response(exc: EconomicError, base: str) -> Response:
    response = render(Answer(exc.status, exc.body()), base)
    for name, value in exc.headers.items():
        response.headers[name] = value
    return response


def _root() -> dict[str, Any]:
    resources = [*SIMPLE_RESOURCES, *documents.DOCUMENT_RESOURCES]
    return {
        "apiName": "e-conomic REST API (sandbox)",
        "resources": [
            {"name": resource.path, "version": "stable", "href": link(resource.path)}
            for resource in resources
        ],
        "self": link(""),
    }


def _document_root(kind: str) -> dict[str, Any]:
    if kind == "invoices":
        return invoices.invoices_index()
    names = ("drafts", "sent", "archived")
    return {**{name: link(f"{kind}/{name}") for name in names}, "self": link(kind)}


def _self_body() -> dict[str, Any]:
    return {
        "agreementNumber": 1,
        "company": {
            "name": "Sandbox ApS",
            "addressLine1": "Sandboxvej 1",
            "city": "København",
            "zip": "1000",
            "country": "Danmark",
        },
        "companyAffiliation": "Internal",
        "userName": "sandbox",
        "self": link("self"),
    }
