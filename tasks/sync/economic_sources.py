"""Reading e-conomic documents for the import direction: one by its key, or what changed since a moment.

A kind's documents live in one or more e-conomic collections (`EntitySpec.import_sources()`): a legacy
REST resource (`customers`, `orders/sent`) or an OpenAPI route (`projectsapi/.../Projects`). Both filter
on `lastUpdated` (economic-api.md §9.3, §10): the value is sent as `YYYY-MM-DDTHH:MM:SSZ` in UTC, never
with an offset (the API refuses one), and with `$gte`, so a change in the very second of the bound is
read (the caller de-duplicates by version).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from clients.economic import EconomicClient
from clients.errors import NotFoundError
from tasks.entities.base import EconomicTarget, LegacyResource, OpenApiRoute

ECONOMIC_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def economic_time(moment: datetime) -> str:
    """A moment as e-conomic's `lastUpdated` filter takes it (`2026-01-02T03:04:05Z`)."""
    return moment.astimezone(UTC).strftime(ECONOMIC_TIME_FORMAT)


def changed_filter(since: datetime) -> str:
    return f"lastUpdated$gte:{economic_time(since)}"


def _service_path(route: OpenApiRoute) -> str:
    return f"{route.service}/{route.version}"


def read_document(target: EconomicTarget, key: Any, economic: EconomicClient) -> dict[str, Any] | None:
    """The document as e-conomic has it now in `target`; None when it has none under `key` (404)."""
    try:
        if isinstance(target, LegacyResource):
            return economic.get_item(target.path, key)
        path = f"{target.route}/{economic.encode_key(key)}"
        return economic.openapi_get(_service_path(target), path)
    except NotFoundError:
        return None


def changed_since(
    target: EconomicTarget, since: datetime, economic: EconomicClient
) -> Iterator[dict[str, Any]]:
    """Every document of `target` whose `lastUpdated` is at or after `since`, streamed a page (1,000
    documents) at a time: with nothing changed, one call."""
    if isinstance(target, LegacyResource):
        return economic.iter_collection(target.path, filter=changed_filter(since))
    return economic.openapi_iter(_service_path(target), target.route, filter=changed_filter(since))
