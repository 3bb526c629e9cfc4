"""Rackbeat (shared/reference/rackbeat-api.md): Bearer token, ``{singular: {...}}`` envelopes,
206 Partial Content on every list, page/pages paging, and webhook registration.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from clients.errors import parse_rackbeat_error
from clients.http import (
    DEFAULT_CALL_RETRIES,
    DEFAULT_CALL_RETRY_BACKOFF,
    DEFAULT_CALL_RETRY_MAX_PAUSE,
    DEFAULT_MAX_RATE_WAIT,
    BaseClient,
    Limiter,
)
from clients.secrets import Secret, reveal

__all__ = [
    "RackbeatClient",
    "UrlFriendly",
    "filter_time",
    "item_key",
    "path_key",
]

MAX_LIMIT = 1000
FILTER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # rackbeat-api.md §1.4: the value of `updated_at_from` and the like
DEFAULT_USER_AGENT = "rbsync/0.1 (Rackbeat-e-conomic integration)"


class UrlFriendly(str):
    """An item's ``urlfriendly_number`` from Rackbeat: already safe in a path, used as it is."""


def path_key(key: str | int) -> str:
    """A record key as a Rackbeat path segment, which always stays that one segment.

    Integers (customers, orders, webhooks...) go as they are; a ``UrlFriendly`` number as Rackbeat
    made it; any other item number is percent-encoded twice, as Rackbeat's docs advise for numbers
    holding ``/``, ``+``, ``?`` or spaces (``ABC/123+DEF`` -> ``ABC%252F123%252BDEF``).

    Dots are encoded too (``.`` -> ``%2E`` -> ``%252E``), although ``quote`` leaves them alone: a number
    ``.`` or ``..`` would otherwise be a dot segment, which URL normalisation (httpx's included) removes,
    so ``products/..`` would read ``/api`` and ``products/.`` the product list instead of the record.
    """
    if isinstance(key, int):
        return str(key)
    if isinstance(key, UrlFriendly):
        # Already encoded once by Rackbeat; a dot segment would still escape, so encode its dots once.
        return str(key).replace(".", "%2E") if _is_dots(key) else str(key)
    once = quote(str(key), safe="").replace(".", "%2E")
    return quote(once, safe="")


def filter_time(moment: datetime) -> str:
    """A moment as Rackbeat's date filters take it (``updated_at_from=2026-01-08 10:30:00``), in UTC and
    truncated to the second, so a filter ``_from`` it never leaves out a record stamped within that second."""
    return moment.astimezone(UTC).strftime(FILTER_TIME_FORMAT)


def item_key(record: Mapping[str, Any]) -> str | UrlFriendly:
    """The best path key for an item record: its ``urlfriendly_number`` if it has one that really is one
    path segment, else ``number`` (which `path_key` encodes)."""
    friendly = record.get("urlfriendly_number")
    if friendly and not _is_dots(friendly) and not any(c in friendly for c in "/?#"):
        return UrlFriendly(friendly)
    return str(record["number"])


def _under(url: str, base_url: str) -> bool:
    """Whether ``url`` lies under ``base_url``: same scheme, host and port, and within its path."""
    target, base = urlsplit(url), urlsplit(base_url)
    return (
        target.scheme.lower() == base.scheme.lower()
        and (target.hostname, target.port) == (base.hostname, base.port)
        and target.path.startswith(base.path)
        and not target.username
        and "/../" not in f"{target.path}/"
    )


def _is_dots(value: str) -> bool:
    return bool(value) and not value.strip(".")


class RackbeatClient(BaseClient):
    """Rackbeat for one API token. ``resource`` arguments are paths such as ``"products"``."""

    api = "rackbeat"
    success_statuses = frozenset({200, 201, 204, 206})

    def __init__(
        self,
        base_url: str,
        token: Secret,
        limiter: Limiter | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        consumer_name: str = "rbsync",
        max_rate_wait: float | None = DEFAULT_MAX_RATE_WAIT,
        call_retries: int = DEFAULT_CALL_RETRIES,
        call_retry_backoff: float = DEFAULT_CALL_RETRY_BACKOFF,
        call_retry_max_pause: float = DEFAULT_CALL_RETRY_MAX_PAUSE,
    ) -> None:
        secret = reveal(token)
        super().__init__(
            base_url,
            headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
                "User-Agent": user_agent,
                "Consumer-Name": consumer_name,
            },
            secrets=[secret],
            limiter=limiter,
            timeout=timeout,
            transport=transport,
            max_rate_wait=max_rate_wait,
            call_retries=call_retries,
            call_retry_backoff=call_retry_backoff,
            call_retry_max_pause=call_retry_max_pause,
        )

    def parse_error_body(self, payload: Any) -> tuple[str, dict[str, list[str]], str | None]:
        message, field_errors = parse_rackbeat_error(payload)
        return message, field_errors, None

    def _item_path(self, resource: str, key: str | int) -> str:
        return f"{resource.strip('/')}/{path_key(key)}"

    @staticmethod
    def _unwrap(payload: Any, singular: str) -> Any:
        if isinstance(payload, Mapping) and singular in payload:
            return payload[singular]
        return payload

    # --- reads --------------------------------------------------------------------------------

    def get(self, resource: str, key: str | int, singular: str) -> dict[str, Any]:
        """One record, unwrapped from ``{singular: {...}}``."""
        return self._unwrap(self.request_json("GET", self._item_path(resource, key)), singular)

    def iter(
        self,
        resource: str,
        plural: str,
        params: Mapping[str, Any] | None = None,
        limit: int = MAX_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a list, one page in memory at a time (pages are 1-based; stop at ``pages``)."""
        number = 1
        while True:
            records, pages = self.page(resource, plural, params, page=number, limit=limit)
            yield from records
            if number >= pages or not records:
                return
            number += 1

    def page(
        self,
        resource: str,
        plural: str,
        params: Mapping[str, Any] | None = None,
        *,
        page: int = 1,
        limit: int = MAX_LIMIT,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a list (one call): its records and how many pages the list has."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_LIMIT}")
        query = {**(params or {}), "page": page, "limit": limit}
        payload = self.request_json("GET", resource.strip("/"), params=query) or {}
        return list(payload.get(plural) or []), int(payload.get("pages") or 0)

    def valuation(self, location: int, date_to: date) -> dict[str, Any]:
        """The stock valuation of one location (not its sub-locations) as of the end of ``date_to``:
        ``{"lineables": [{number, quantity, cost_price, value, ...}], "total_value"}`` (rackbeat-api.md
        §2 Reports and §4 "Stock value"; the keys are inferred there, so callers read them defensively)."""
        params = {"location": location, "date_to": date_to.isoformat()}
        return self.request_json("GET", "reports/valuation", params=params) or {}

    # --- attachments --------------------------------------------------------------------------

    def attachments(self, resource: str, key: str | int) -> list[dict[str, Any]]:
        """The files a user attached to a record (``GET {resource}/{key}/attachments``; the shape is the
        sandbox's reading of an undocumented endpoint, ``sandbox/rackbeat/attachments.py``): each with
        ``id``, ``filename``, ``mime_type``, ``size`` (bytes), ``created_at``, ``self``, ``download_url``."""
        return list(self.iter(f"{self._item_path(resource, key)}/attachments", "attachments"))

    def download(self, url_or_path: str, *, max_bytes: int | None = None) -> bytes:
        """A file's bytes (an attachment's ``download_url``, or a path under the base URL), streamed.

        A file larger than ``max_bytes`` is not read whole: ``clients.http.ResponseTooLarge`` (a
        ``PermanentError``) with its ``size`` (from ``Content-Length``; None when the server did not say)
        and ``limit``. None: no limit. An absolute URL must lie under the client's base URL, else
        ``ValueError``: the bearer token is never sent anywhere else.
        """
        absolute = bool(urlsplit(url_or_path).scheme) or url_or_path.startswith("//")
        if absolute and not _under(url_or_path, self.base_url):
            raise ValueError("refusing a download from outside the Rackbeat base URL (the token goes along)")
        return self.request_bytes("GET", url_or_path, headers={"Accept": "*/*"}, max_bytes=max_bytes)

    # --- writes -------------------------------------------------------------------------------

    def create(self, resource: str, singular: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._unwrap(self.request_json("POST", resource.strip("/"), json=body), singular)

    def update(self, resource: str, key: str | int, singular: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._unwrap(self.request_json("PUT", self._item_path(resource, key), json=body), singular)

    def delete(self, resource: str, key: str | int) -> Any:
        return self.request_json("DELETE", self._item_path(resource, key))

    # --- webhooks -----------------------------------------------------------------------------

    def register_webhook(self, event: str, url: str) -> dict[str, Any]:
        """Create (or, for the same event and URL, update) a webhook: ``{id, event, url, token?}``.

        Rackbeat returns the delivery token only when it creates the webhook; keep it then.
        """
        return self.create("webhooks", "webhook", {"event": event, "url": url, "is_active": True})

    def list_webhooks(self) -> list[dict[str, Any]]:
        return list(self.iter("webhooks", "webhooks"))

    def delete_webhook(self, webhook_id: int | str) -> None:
        self.delete("webhooks", int(webhook_id) if str(webhook_id).isdigit() else webhook_id)
