"""Visma e-conomic: the legacy REST API plus the OpenAPI services (shared/reference/economic-api.md).

Every write requires an idempotency key, so a retry after a lost answer replays e-conomic's cached
response (``X-ResultFromCache: true``) instead of writing twice; ``last_response_from_cache`` says
whether that happened. ``X-RateLimiting`` on every response keeps the shared token bucket in step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from clients.errors import NotFoundError, TransientError, economic_error_details, parse_economic_error
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
    "EconomicClient",
    "encode_key",
]

logger = logging.getLogger("clients.economic")

MAX_PAGE_SIZE = 1000

# economic-api.md §4: characters with a dedicated escape in string ids; others are percent-encoded.
_KEY_ESCAPES = {
    "<": "_0_",
    ">": "_1_",
    "*": "_2_",
    "%": "_3_",
    ":": "_4_",
    "&": "_5_",
    "/": "_6_",
    "\\": "_7_",
    "_": "_8_",
    " ": "_9_",
    "?": "_10_",
    ".": "_11_",
    "#": "_12_",
    "+": "_13_",
}


def encode_key(key: str | int) -> str:
    """A resource id as e-conomic wants it in a URL path segment.

    ``My Awesome Product_Discount5%`` -> ``My_9_Awesome_9_Product_8_Discount5_3_``. Applied one
    character at a time, so the underscores the escapes introduce are never escaped again.
    """
    text = str(key)
    return "".join(_KEY_ESCAPES.get(ch) or quote(ch, safe="") for ch in text)


def _require_idempotency_key(idempotency_key: str) -> dict[str, str]:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError("every e-conomic write needs a non-empty idempotency_key")
    return {"Idempotency-Key": idempotency_key}


class EconomicClient(BaseClient):
    """e-conomic for one agreement. ``resource`` arguments are legacy paths such as ``"products"``."""

    api = "economic"

    def __init__(
        self,
        base_url: str,
        openapi_base_url: str,
        app_secret_token: Secret,
        agreement_grant_token: Secret,
        limiter: Limiter | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        max_rate_wait: float | None = DEFAULT_MAX_RATE_WAIT,
        call_retries: int = DEFAULT_CALL_RETRIES,
        call_retry_backoff: float = DEFAULT_CALL_RETRY_BACKOFF,
        call_retry_max_pause: float = DEFAULT_CALL_RETRY_MAX_PAUSE,
    ) -> None:
        app, grant = reveal(app_secret_token), reveal(agreement_grant_token)
        super().__init__(
            base_url,
            headers={"X-AppSecretToken": app, "X-AgreementGrantToken": grant},
            secrets=[app, grant],
            limiter=limiter,
            timeout=timeout,
            transport=transport,
            max_rate_wait=max_rate_wait,
            call_retries=call_retries,
            call_retry_backoff=call_retry_backoff,
            call_retry_max_pause=call_retry_max_pause,
        )
        self.openapi_base_url = openapi_base_url if openapi_base_url.endswith("/") else openapi_base_url + "/"
        self.last_response_from_cache = False
        """True when e-conomic answered the last call from its idempotency cache (a replay)."""
        self.last_call_cost: int | None = None

    encode_key = staticmethod(encode_key)

    def _on_response(self, response: httpx.Response) -> None:
        self.last_response_from_cache = response.headers.get("X-ResultFromCache", "").lower() == "true"
        cost = response.headers.get("X-CallCost", "")
        self.last_call_cost = int(cost) if cost.strip().isdigit() else None
        rate_limiting = response.headers.get("X-RateLimiting")
        sync = getattr(self.limiter, "sync_from_header", None)
        if rate_limiting and sync is not None:
            # The answer has arrived (a write may have been applied): losing Redis here must not
            # turn it into a failure, only cost us one step of rate-limit bookkeeping.
            try:
                sync(rate_limiting)
            except TransientError as error:
                logger.warning(
                    "economic: could not sync the rate limiter from X-RateLimiting: %s", error.message
                )

    def parse_error_body(self, payload: Any) -> tuple[str, dict[str, list[str]], str | None]:
        return parse_economic_error(payload)

    def error_details(self, payload: Any) -> dict[str, str]:
        return economic_error_details(payload)

    # --- legacy REST: reads ------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a legacy path (``"customers/20"``, ``"self"``) and return its JSON."""
        return self.request_json("GET", path, params=params, expected=(200,))

    def get_item(self, resource: str, key: str | int) -> dict[str, Any]:
        return self.get(self.item_path(resource, key))

    def iter_collection(
        self,
        path: str,
        filter: str | None = None,
        sort: str | None = None,
        pagesize: int = MAX_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, one page in memory at a time, following ``pagination.nextPage``.

        The next page is requested on our own ``path`` with the query of e-conomic's link, so a
        base URL that differs from the host e-conomic writes into its links still works.
        """
        if not 1 <= pagesize <= MAX_PAGE_SIZE:
            raise ValueError(f"pagesize must be within 1..{MAX_PAGE_SIZE}")
        params: dict[str, Any] = {"skippages": 0, "pagesize": pagesize}
        if filter:
            params["filter"] = filter
        if sort:
            params["sort"] = sort
        while True:
            page = self.get(path, params=params)
            yield from page.get("collection") or []
            next_page = (page.get("pagination") or {}).get("nextPage")
            if not next_page:
                return
            next_params = dict(parse_qsl(urlsplit(next_page).query, keep_blank_values=True))
            if next_params == params:  # a server that links a page to itself would loop forever
                return
            params = next_params

    # --- legacy REST: writes -----------------------------------------------------------------

    def create(self, resource: str, body: Any, *, idempotency_key: str) -> Any:
        """POST to a collection (201 with the created entity; vouchers answer with a list)."""
        headers = _require_idempotency_key(idempotency_key)
        return self.request_json("POST", resource, json=body, headers=headers, expected=(200, 201))

    def replace(self, resource: str, key: str | int, body: Any, *, idempotency_key: str) -> Any:
        """PUT a whole document (true replace; 201 when the key did not exist yet)."""
        headers = _require_idempotency_key(idempotency_key)
        path = self.item_path(resource, key)
        return self.request_json("PUT", path, json=body, headers=headers, expected=(200, 201))

    def delete(self, resource: str, key: str | int, *, idempotency_key: str) -> Any:
        """DELETE one resource: None for 204, the status body for the 200 that draft invoices give."""
        headers = _require_idempotency_key(idempotency_key)
        path = self.item_path(resource, key)
        return self.request_json("DELETE", path, headers=headers, expected=(200, 204))

    # --- voucher attachments (economic-api.md §12.13) ------------------------------------------

    def attach_voucher_file(
        self,
        journal_number: int,
        voucher_key: str,
        filename: str,
        content: bytes,
        *,
        idempotency_key: str,
        content_type: str = "application/pdf",
    ) -> Any:
        """Upload a voucher's attachment: ``POST journals/{n}/vouchers/{year-number}/attachment/file``.

        One multipart/form-data part named ``file``. ``voucher_key`` is ``"{accountingYear}-{voucherNumber}"``
        (``"2026-2"``). e-conomic takes jpg, jpeg, pdf, gif and png up to 9.0 MB per request; a refusal is a
        ``PermanentError`` (413, 415 or ``ValidationFailed``, e.g. when the voucher already has one). Like
        every write it carries the idempotency key, so a retry after a lost answer is replayed, not
        uploaded twice. Returns e-conomic's answer (the attachment's metadata).
        """
        if not isinstance(content, bytes):
            raise TypeError("content must be bytes")
        headers = _require_idempotency_key(idempotency_key)
        path = f"{self.voucher_attachment_path(journal_number, voucher_key)}/file"
        files = {"file": (filename, content, content_type)}
        return self.request_json("POST", path, headers=headers, files=files, expected=(200, 201, 204))

    def voucher_attachment(self, journal_number: int, voucher_key: str) -> dict[str, Any] | None:
        """A voucher's attachment metadata (``createdAt``, ``pages``, ``file``, ``self``), None on a 404 (no
        attachment, or no such voucher)."""
        try:
            return self.get(self.voucher_attachment_path(journal_number, voucher_key))
        except NotFoundError:
            return None

    @staticmethod
    def voucher_attachment_path(journal_number: int, voucher_key: str) -> str:
        return f"journals/{int(journal_number)}/vouchers/{encode_key(voucher_key)}/attachment"

    @staticmethod
    def item_path(resource: str, key: str | int) -> str:
        return f"{resource.strip('/')}/{encode_key(key)}"

    # --- OpenAPI services (apis.e-conomic.com/{service}/{version}/...) --------------------------

    def openapi_url(self, service_path: str, path: str) -> str:
        return f"{self.openapi_base_url}{service_path.strip('/')}/{path.lstrip('/')}"

    def openapi_get(self, service_path: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        url = self.openapi_url(service_path, path)
        return self.request_json("GET", url, params=params, expected=(200,))

    def openapi_iter(
        self, service_path: str, path: str, filter: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of an OpenAPI collection, following the continuation ``cursor``."""
        params: dict[str, Any] = {"filter": filter} if filter else {}
        while True:
            page = self.openapi_get(service_path, path, params=params)
            yield from page.get("items") or []
            cursor = page.get("cursor")
            if not cursor or cursor == params.get("cursor"):
                return
            params = {**params, "cursor": cursor}

    def openapi_post(self, service_path: str, path: str, body: Any, *, idempotency_key: str) -> Any:
        headers = _require_idempotency_key(idempotency_key)
        url = self.openapi_url(service_path, path)
        # 204: actions such as journalsapi's bookdraftentries answer without a body
        return self.request_json("POST", url, json=body, headers=headers, expected=(200, 201, 204))

    def openapi_put(self, service_path: str, path: str, body: Any, *, idempotency_key: str) -> Any:
        headers = _require_idempotency_key(idempotency_key)
        url = self.openapi_url(service_path, path)
        return self.request_json("PUT", url, json=body, headers=headers, expected=(200, 201, 204))

    def openapi_delete(self, service_path: str, path: str, *, idempotency_key: str) -> Any:
        headers = _require_idempotency_key(idempotency_key)
        url = self.openapi_url(service_path, path)
        return self.request_json("DELETE", url, headers=headers, expected=(200, 204))
