"""Generic legacy REST behaviour: collection paging/filter/sort, item reads, POST/PUT/DELETE with validation.

Handlers here are plain functions over the store; the Starlette layer (``app.py``) only parses requests and
serialises answers. Resource-specific rules (pricing, booking, vouchers) live in ``documents.py`` and plug
in through :class:`WriteHooks`.

"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sandbox.economic import errors as codes
from sandbox.economic.errors import EconomicError, field_error, not_found, validation_error
from sandbox.economic.filters import FilterError, compile_filter
from sandbox.economic.references import resolve_all
from sandbox.economic.resources import Resource
from sandbox.economic.schemas import write_schema
from sandbox.economic.sorting import SortError, parse_sort, sort_records
from sandbox.economic.store import Store, link, now_timestamp
from sandbox.economic.validation import validate

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000


class RawItems(list[str]):
    """A page's items already serialised (JSON texts with links on the caller's base), spliced in unparsed."""


class RawJson(str):
    """A whole answer body already serialised with links on the caller's base."""


@dataclass(frozen=True)
class Page:
    skip_pages: int
    page_size: int


def lower_params(params: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in params.items()}


def parse_page(params: Mapping[str, str]) -> Page:
    size_text = params.get("pagesize")
    skip_text = params.get("skippages")
    try:
        size = DEFAULT_PAGE_SIZE if size_text is None else int(size_text)
    except ValueError:
        size = -1
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise EconomicError(
            400,
            "pagesize must be a positive whole number between 1 and 1000.",
            error_code=codes.BAD_PAGE_SIZE,
            developer_hint="Use a pagesize between 1 and 1000.",
        )
    try:
        skip = 0 if skip_text is None else int(skip_text)
    except ValueError:
        skip = -1
    if skip < 0:
        raise EconomicError(400, "skippages must be a positive whole number.", error_code=codes.BAD_PAGE_SIZE)
    return Page(skip, size)


def select(
    records: Iterable[dict[str, Any]],
    params: Mapping[str, str],
    filterable: dict[str, str],
    sortable: dict[str, str],
    default_sort: str | None,
) -> list[dict[str, Any]]:
    """Filter and sort per the query; the default order is the key ascending (dict order when None)."""
    rows = list(records)
    filter_text = params.get("filter")
    if filter_text:
        try:
            predicate = compile_filter(filter_text, filterable)
        except FilterError as exc:
            extra = {"allowedFilteringFields": exc.allowed} if exc.allowed is not None else None
            raise EconomicError(
                400,
                "Could not parse query string filter.",
                errors=[str(exc)],
                extra=extra,
                developer_hint="Check the filter syntax and the properties you filter on.",
            ) from None
        rows = [row for row in rows if predicate(row)]
    sort_text = params.get("sort")
    if sort_text:
        try:
            keys = parse_sort(sort_text, sortable)
        except SortError as exc:
            raise EconomicError(
                400, "Could not parse query string sort parameter", errors=[str(exc)]
            ) from None
        rows = sort_records(rows, keys)
    elif default_sort:
        rows.sort(key=lambda row: (row.get(default_sort) is None, row.get(default_sort)))
    return rows


def collection_body(
    path: str,
    rows: list[dict[str, Any]],
    total: int,
    params: Mapping[str, str],
    page: Page,
    *,
    view: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    create_description: str = "",
    items: RawItems | None = None,
    results: int | None = None,
) -> dict[str, Any]:
    """The legacy envelope: ``collection``, ``pagination`` (``nextPage`` absent on the last page),
    ``self``. ``rows`` are all matches (sliced here), unless the page comes pre-serialised in ``items``."""
    chunk: list[Any]
    if items is not None:
        chunk = items
        results = len(rows) if results is None else results
    else:
        results = len(rows)
        start = page.skip_pages * page.page_size
        chunk = rows[start : start + page.page_size]
        if view is not None:
            chunk = [view(row) for row in chunk]
    last = max(math.ceil(results / page.page_size) - 1, 0)
    kept = _kept_query(params)

    def page_link(skip: int) -> str:
        return link(f"{path}?skippages={skip}&pagesize={page.page_size}{kept}")

    pagination: dict[str, Any] = {
        "maxPageSizeAllowed": MAX_PAGE_SIZE,
        "skipPages": page.skip_pages,
        "pageSize": page.page_size,
        "results": results,
        "resultsWithoutFilter": total,
        "firstPage": page_link(0),
    }
    if page.skip_pages < last:
        pagination["nextPage"] = page_link(page.skip_pages + 1)
    pagination["lastPage"] = page_link(last)
    body: dict[str, Any] = {"collection": chunk, "pagination": pagination}
    if create_description:
        body["metaData"] = {
            "create": {"description": create_description, "href": link(path), "httpMethod": "post"}
        }
    body["self"] = link(f"{path}?skippages={page.skip_pages}&pagesize={page.page_size}{kept}")
    return body


def _kept_query(params: Mapping[str, str]) -> str:
    parts = [f"&{name}={quote(params[name], safe='')}" for name in ("filter", "sort") if params.get(name)]
    return "".join(parts)


def list_resource(
    store: Store,
    resource: Resource,
    params: Mapping[str, str],
    base: str,
    *,
    view: Callable[[dict[str, Any]], Any] | None = None,
    view_name: str = "",
    where: Callable[[dict[str, Any]], bool] | None = None,
    path: str | None = None,
    fields: tuple[dict[str, str], dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A page of a stored table. The hot path: keys kept sorted, items served from the per-record text
    cache, so an unfiltered page costs a slice and a join.

    A view over the table (``/invoices/paid``, ``/customers/{n}/invoices/booked``) passes ``where`` (the
    records it holds), its own ``path`` for the links and its own ``fields`` (filterable, sortable) from its
    schema; ``resultsWithoutFilter`` then counts the view, and no ``metaData.create`` is offered."""
    page = parse_page(params)
    table = store.table(resource.path)
    ordered = store.sorted_keys(resource.path)
    if where is not None:
        ordered = [key for key in ordered if where(table[key])]
    total = len(table) if where is None else len(ordered)
    if params.get("filter") or params.get("sort"):
        filterable, sortable = fields or resource.fields()
        rows = select((table[key] for key in ordered), params, filterable, sortable, None)
        keys = [row[resource.key] for row in rows]
    else:
        keys = ordered
    start = page.skip_pages * page.page_size
    items = RawItems(
        store.text(resource.path, key, base, view, view_name) for key in keys[start : start + page.page_size]
    )
    return collection_body(
        path or resource.path,
        [],
        total,
        params,
        page,
        items=items,
        results=len(keys),
        create_description=resource.create_description if path is None else "",
    )


def item_text(store: Store, resource: Resource, segment: str, base: str) -> RawJson:
    """One stored record, serialised from the text cache."""
    record = get_item(store, resource, segment)
    return RawJson(store.text(resource.path, record[resource.key], base))


def get_item(store: Store, resource: Resource, segment: str) -> dict[str, Any]:
    try:
        key = resource.parse_key(segment)
    except ValueError:
        raise not_found() from None
    record = store.get(resource.path, key)
    if record is None:
        raise not_found()
    return record


# ---------------------------------------------------------------------------------------------------- writes


@dataclass
class WriteHooks:
    """Resource-specific steps of a write; each may raise :class:`EconomicError`."""

    prepare: Callable[[Store, dict[str, Any], dict[str, Any] | None], None] | None = None
    can_delete: Callable[[Store, Any], None] | None = None


def prune(value: Any, schema: dict[str, Any] | None) -> Any:
    """Keep only properties the write schema declares and that are not read-only (unknown ones are
    ignored)."""
    if schema is None:
        return value
    if isinstance(value, dict):
        properties = schema.get("properties")
        if not properties:
            return value
        kept = {}
        for name, sub in properties.items():
            if name in value and isinstance(sub, dict) and not (sub.get("readOnly") or sub.get("readonly")):
                kept[name] = prune(value[name], sub)
        return kept
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"]) for item in value]
    return value


def merge_errors(target: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for name, value in extra.items():
        if name in target and isinstance(target[name], dict) and isinstance(value, dict):
            merge_errors(target[name], value)
        else:
            target.setdefault(name, value)
    return target


def check_body(body: Any, schema_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pruned record, annotated errors) for a write body against its schema."""
    schema = write_schema(schema_name)
    found = validate(body, schema) if schema is not None else None
    if not isinstance(body, dict):
        raise validation_error(found or {})
    return prune(body, schema), dict(found or {})


def write_resource(
    store: Store, resource: Resource, body: Any, *, segment: str | None, hooks: WriteHooks | None = None
) -> tuple[int, dict[str, Any]]:
    """POST (``segment`` None) or PUT; returns (status, stored record)."""
    is_put = segment is not None
    record, found = check_body(body, resource.put_schema if is_put else resource.post_schema)
    url_key: Any = None
    if segment is not None:
        try:
            url_key = resource.parse_key(segment)
        except ValueError:
            raise not_found() from None
        if resource.key_type is int and url_key < 1:
            raise not_found()
    with store.lock:
        merge_errors(found, resolve_all(record, resource.refs, store))
        if found:
            raise validation_error(found)
        existing = store.get(resource.path, url_key) if is_put else None
        key = url_key if is_put else record.get(resource.key)
        if key is None:
            if not resource.assign_key:
                raise validation_error(
                    {
                        resource.key: {
                            "errors": [
                                field_error(
                                    codes.REQUIRED_VALUE_MISSING, f"Property '{resource.key}' is required."
                                )
                            ]
                        }
                    }
                )
            key = max(store.next_number(table) for table in resource.series_tables())
        elif not is_put and any(store.exists(table, key) for table in resource.series_tables()):
            raise validation_error(
                {
                    resource.key: {
                        "errors": [
                            field_error(
                                codes.CONFLICT,
                                f"A record with {resource.key} {key} already exists.",
                                key,
                                with_value=True,
                            )
                        ]
                    }
                }
            )
        record[resource.key] = key
        if hooks and hooks.prepare:
            hooks.prepare(store, record, existing)
        finish_record(resource, record, key)
        store.put(resource.path, key, record)
    return (200 if existing is not None else 201), record


def finish_record(resource: Resource, record: dict[str, Any], key: Any) -> None:
    """Add the server-maintained parts: ``lastUpdated``, links and ``self`` (kept last, as e-conomic does)."""
    if resource.last_updated:
        record["lastUpdated"] = now_timestamp()
    if resource.links:
        record.update(resource.links(key))
    record.pop("self", None)
    record["self"] = resource.self_link(key)


def delete_resource(
    store: Store, resource: Resource, segment: str, hooks: WriteHooks | None = None
) -> dict[str, Any]:
    try:
        key = resource.parse_key(segment)
    except ValueError:
        raise not_found() from None
    with store.lock:
        if not store.exists(resource.path, key):
            raise not_found()
        if hooks and hooks.can_delete:
            hooks.can_delete(store, key)
        return store.delete(resource.path, key) or {}
