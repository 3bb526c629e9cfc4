"""One error taxonomy for both APIs (docs/ARCHITECTURE.md, "Error taxonomy").

The class says what the caller should do: retry a ``TransientError`` (honouring
``RateLimitedError.retry_after``), dead-letter a ``PermanentError`` at once.

The parsers at the bottom are pure: they turn either API's error body into the API's own summary
text and a flat ``{field path: [messages]}`` map, so a dead-letter record can say *which* field of
*which* line the API rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "BODY_LIMIT",
    "Api",
    "ApiError",
    "AuthError",
    "NotFoundError",
    "PermanentError",
    "RateLimitedError",
    "TransientError",
    "ValidationFailed",
    "economic_error_details",
    "error_class_for_status",
    "parse_economic_error",
    "parse_rackbeat_error",
    "truncate",
]

Api = Literal["economic", "rackbeat"]

BODY_LIMIT = 2048
"""Characters of the raw response body kept on an error (enough to diagnose, small enough for a DLQ)."""


class ApiError(Exception):
    """A call to Rackbeat or e-conomic that did not give the answer the caller needed.

    ``url`` carries no credentials (tokens travel in headers, never in URLs), ``message`` is the
    API's own text, ``body`` the start of the raw response body.
    """

    def __init__(
        self,
        message: str,
        *,
        api: Api,
        method: str,
        url: str,
        status: int | None = None,
        field_errors: Mapping[str, list[str]] | None = None,
        body: str = "",
        error_code: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.api = api
        self.method = method.upper()
        self.url = url
        self.status = status
        self.message = message
        self.field_errors: dict[str, list[str]] = {k: list(v) for k, v in (field_errors or {}).items()}
        self.body = truncate(body)
        self.error_code = error_code
        self.details: dict[str, str] = dict(details or {})
        """The API's own diagnostics beside the message (e-conomic: ``developerHint``, ``logId``/``logTime``
        or, from the OpenAPI services, ``traceId``/``traceTimeUtc``: the ids Visma support asks for)."""

    def __str__(self) -> str:
        status = self.status if self.status is not None else "no response"
        text = f"{self.api} {self.method} {self.url} -> {status}: {self.message}"
        if self.field_errors:
            fields = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in self.field_errors.items())
            text += f" ({fields})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description for dead-letter records and logs."""
        return {
            "error_class": type(self).__name__,
            "api": self.api,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "message": self.message,
            "error_code": self.error_code,
            "field_errors": {k: list(v) for k, v in self.field_errors.items()},
            "details": dict(self.details),
            "body": self.body,
        }


class TransientError(ApiError):
    """Timeouts, dropped connections, 5xx: the same call may well succeed later.

    ``request_sent`` is True when the request may have reached the server before the answer was
    lost (read timeout, connection dropped mid-response). For a write this means it may already have
    happened, so the retry must carry the same idempotency key.
    """

    def __init__(self, message: str, *, request_sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_sent = request_sent

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "request_sent": self.request_sent}


class RateLimitedError(TransientError):
    """429: the shared budget is spent. ``retry_after`` is in seconds when the server said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_after": self.retry_after}


class PermanentError(ApiError):
    """A 4xx that repeating the same request cannot fix."""


class AuthError(PermanentError):
    """401/403: wrong, revoked or under-privileged credentials."""


class NotFoundError(PermanentError):
    """404: the resource does not exist (or no longer does)."""


class ValidationFailed(PermanentError):
    """400/422: the API rejected the request; ``field_errors`` says which fields and why."""


TRANSIENT_STATUSES = frozenset({408, 425, 500, 502, 503, 504})
"""Beyond these (and 429), 5xx counts as transient too, except 501 (not implemented, never will be)."""


def error_class_for_status(status: int) -> type[ApiError]:
    """The taxonomy class for a non-success HTTP status."""
    if status == 429:
        return RateLimitedError
    if status in TRANSIENT_STATUSES or (status >= 500 and status != 501):
        return TransientError
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    if status in (400, 422):
        return ValidationFailed
    return PermanentError


def truncate(text: str, limit: int = BODY_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


# --- error bodies -------------------------------------------------------------------------------


def parse_economic_error(payload: Any) -> tuple[str, dict[str, list[str]], str | None]:
    """Message, field errors and error code from an e-conomic error body.

    Handles the legacy REST shape (``message``, ``errorCode``, ``developerHint``, ``errors`` as an
    annotated object mirroring the request, or as a list of strings for filter/sort errors) and the
    OpenAPI services' problem+json (``title``, ``detail``, ``errors[{property, message}]``).
    """
    if not isinstance(payload, Mapping):
        return _text_of(payload), {}, None
    message = _first_text(payload, "message", "detail", "title")
    hint = _first_text(payload, "developerHint")
    error_code = _first_text(payload, "errorCode") or None
    field_errors: dict[str, list[str]] = {}
    loose: list[str] = []
    errors = payload.get("errors")
    if isinstance(errors, Mapping):
        _collect_annotated(errors, "", field_errors)
    elif isinstance(errors, list):
        for entry in errors:
            if isinstance(entry, Mapping) and ("property" in entry or "arrayIndex" in entry):
                if "property" in entry:
                    _add(field_errors, str(entry.get("property") or ""), _text_of(entry.get("message")))
                else:  # bulk POST: one annotated object per rejected document
                    _collect_annotated(entry, f"[{entry['arrayIndex']}]", field_errors)
            elif isinstance(entry, Mapping):
                loose.append(_text_of(entry.get("message", entry)))
            else:
                loose.append(_text_of(entry))
    allowed = payload.get("allowedFilteringFields")
    if isinstance(allowed, list) and allowed:
        loose.append("Filterable fields: " + ", ".join(str(f) for f in allowed))
    parts = [p for p in (message, *loose) if p]
    if not parts and hint:
        parts.append(hint)
    return " ".join(parts), field_errors, error_code


# Legacy REST bodies carry developerHint, logId and logTime; the OpenAPI services' problem+json traceId and
# traceTimeUtc (economic-api.md, errors). The ids are what Visma support asks for.
ECONOMIC_DIAGNOSTICS = ("developerHint", "logId", "logTime", "traceId", "traceTimeUtc")


def economic_error_details(payload: Any) -> dict[str, str]:
    """e-conomic's diagnostics of an error body, beside its message and field errors."""
    if not isinstance(payload, Mapping):
        return {}
    return {name: str(payload[name]) for name in ECONOMIC_DIAGNOSTICS if payload.get(name) not in (None, "")}


def parse_rackbeat_error(payload: Any) -> tuple[str, dict[str, list[str]]]:
    """Message and field errors from a Rackbeat (Laravel) error body.

    ``{"message": "..."}`` and ``{"message"?: "...", "errors": {"lines.0.item_id": ["..."]}}``.
    """
    if not isinstance(payload, Mapping):
        return _text_of(payload), {}
    message = _first_text(payload, "message", "error")
    field_errors: dict[str, list[str]] = {}
    errors = payload.get("errors")
    if isinstance(errors, Mapping):
        for field, messages in errors.items():
            if isinstance(messages, list):
                for msg in messages:
                    _add(field_errors, str(field), _text_of(msg))
            else:
                _add(field_errors, str(field), _text_of(messages))
    elif isinstance(errors, list):
        extra = " ".join(_text_of(e) for e in errors)
        message = f"{message} {extra}".strip()
    if not message and field_errors:
        message = "The given data was invalid."
    return message, field_errors


def _collect_annotated(node: Mapping[str, Any], path: str, out: dict[str, list[str]]) -> None:
    """Walk e-conomic's annotated validation object: ``{prop: {errors: [...]}, lines: [{arrayIndex..}]}``."""
    own = node.get("errors")
    if isinstance(own, list) and all(isinstance(e, Mapping) for e in own):
        for entry in own:
            _add(out, path or "(document)", _text_of(entry.get("message") or entry.get("errorCode")))
    for name, child in node.items():
        if name in ("errors", "arrayIndex"):
            continue
        child_path = f"{path}.{name}" if path else str(name)
        if isinstance(child, Mapping):
            _collect_annotated(child, child_path, out)
        elif isinstance(child, list):
            for position, element in enumerate(child):
                if isinstance(element, str):  # problem+json validation form {"Name": ["msg"]}
                    _add(out, child_path, element)
                elif isinstance(element, Mapping):
                    index = element.get("arrayIndex", position)
                    _collect_annotated(element, f"{child_path}[{index}]", out)


def _add(out: dict[str, list[str]], field: str, message: str) -> None:
    out.setdefault(field, []).append(message)


def _first_text(payload: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
