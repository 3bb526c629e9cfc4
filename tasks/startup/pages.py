"""e-conomic's collections read one page at a time, so a run holds one page in memory and can name the
page it got to (the checkpoint).

Legacy REST collections page with `skippages`/`pagesize` (1,000 at most, economic-api.md §9.1): a page's
position is its page number. The OpenAPI services page with a continuation `cursor` (at most 1,000 per
call): a page's position is the cursor it is read with (None: the first). Either way `Page.next` is the
position of the page after it, None after the last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clients.economic import MAX_PAGE_SIZE, EconomicClient
from clients.errors import PermanentError
from tasks.entities.base import EconomicTarget, LegacyResource, OpenApiRoute

PagePosition = int | str | None
"""A legacy page number, or an OpenAPI cursor (None: the first page)."""


@dataclass
class Page:
    documents: list[dict[str, Any]]
    next: PagePosition
    total: int | None = None
    """How many records the collection has, when the page says (legacy REST's `pagination.results`)."""
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the page was asked for (before the call): what it holds is at least this recent."""


def first_position(target: EconomicTarget) -> PagePosition:
    return 0 if isinstance(target, LegacyResource) else None


def _service_path(route: OpenApiRoute) -> str:
    return f"{route.service}/{route.version}"


def read_page(
    economic: EconomicClient, target: EconomicTarget, position: PagePosition, page_size: int = MAX_PAGE_SIZE
) -> Page:
    """The page of `target` at `position`."""
    read_at = datetime.now(UTC)
    if isinstance(target, LegacyResource):
        number = int(position or 0)
        body = economic.get(target.path, params={"skippages": number, "pagesize": page_size}) or {}
        pagination = body.get("pagination") or {}
        documents = list(body.get("collection") or [])
        has_next = bool(pagination.get("nextPage")) and bool(documents)
        results = pagination.get("results")
        return Page(documents, number + 1 if has_next else None, _int_or_none(results), read_at)
    params: dict[str, Any] = {"cursor": position} if position else {}
    body = economic.openapi_get(_service_path(target), target.route, params=params) or {}
    cursor = body.get("cursor")
    documents = list(body.get("items") or [])
    next_position = cursor if cursor and cursor != position and documents else None
    return Page(documents, next_position, None, read_at)


def count(economic: EconomicClient, target: EconomicTarget) -> int | None:
    """How many records `target` has (one small call), None when e-conomic does not say."""
    if isinstance(target, LegacyResource):
        body = economic.get(target.path, params={"skippages": 0, "pagesize": 1}) or {}
        return _int_or_none((body.get("pagination") or {}).get("results"))
    try:
        answer = economic.openapi_get(_service_path(target), f"{target.route}/count")
    except PermanentError:  # a service without `/count`: the total stays unknown, the run goes on
        return None
    return _int_or_none(answer)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
