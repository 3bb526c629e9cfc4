"""e-conomic's error bodies: the legacy REST shape (§5.1) and the OpenAPI problem+json shape (§5.2).

Where the reference names no error code for a case, the sandbox uses a code of its own in e-conomic's style
(documented in ``sandbox/economic/__init__.py``). Every body carries a fresh ``logId``.

"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

# Codes named by the reference.
NOT_FOUND = "E06000"
MISSING_IDENTIFIER = "E04500"
DEPENDENT_VALUE_MISSING = "E04730"
TOO_MANY_DECIMALS = "E04740"
BAD_PAGE_SIZE = "E04810"
REQUIRED_VALUE_MISSING = "E04042"
IMMUTABLE_PAYMENT_TERMS = "E06151"
# Codes the reference does not name; chosen by the sandbox.
WRONG_TYPE = "E04300"
TOO_LONG = "E04200"
TOO_SHORT = "E04210"
OUT_OF_RANGE = "E04400"
NOT_IN_ENUM = "E04600"
NULL_VALUE = "E04310"
CONFLICT = "E04900"
IN_USE = "E06160"
YEAR_CLOSED = "E07090"  # a transaction dated in a closed accounting year (see years.py)
DIRECT_ENTRIES_BLOCKED = "E07130"  # a finance voucher on an account with blockDirectEntries


class EconomicError(Exception):
    """Raised anywhere in a request handler; the app turns it into a legacy error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        developer_hint: str | None = None,
        errors: Any = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.developer_hint = developer_hint
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return legacy_error_body(
            self.status,
            self.message,
            error_code=self.error_code,
            developer_hint=self.developer_hint,
            errors=self.errors,
            extra=self.extra,
        )


def legacy_error_body(
    status: int,
    message: str,
    *,
    error_code: str | None = None,
    developer_hint: str | None = None,
    errors: Any = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if error_code:
        body["errorCode"] = error_code
    body["developerHint"] = developer_hint or _default_hint(status)
    body["logId"] = uuid.uuid4().hex
    body["httpStatusCode"] = status
    body["logTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def _default_hint(status: int) -> str:
    return {
        400: "Inspect validation errors and correct your request.",
        401: "Provide valid X-AppSecretToken and X-AgreementGrantToken headers.",
        404: "Check the identifier in the URL.",
        405: "Use one of the methods the resource supports.",
        409: "Fetch the resource again and retry with its current objectVersion.",
        415: "Send the body as application/json.",
        429: "Wait for the time given in Retry-After before calling again.",
    }.get(status, "")


def field_error(code: str, message: str, value: Any = None, *, with_value: bool = False) -> dict[str, Any]:
    """One entry of a property's ``errors`` list in the annotated validation shape."""
    entry: dict[str, Any] = {"errorCode": code, "message": message}
    if with_value:
        entry["value"] = value
    entry["developerHint"] = "Correct the value and try again."
    return entry


def validation_error(errors: dict[str, Any]) -> EconomicError:
    return EconomicError(400, "Validation error.", errors=errors)


def not_found(what: str = "The requested resource") -> EconomicError:
    return EconomicError(404, f"{what} was not found.", error_code=NOT_FOUND)


def problem_body(
    status: int, title: str, *, error_code: str, detail: str = "", errors: Any = None, instance: str = ""
) -> dict[str, Any]:
    """The OpenAPI services' ``application/problem+json`` body."""
    body: dict[str, Any] = {
        "type": f"https://apis.e-conomic.com/problems/{error_code}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": instance,
        "errorCode": error_code,
        "traceId": uuid.uuid4().hex,
        "traceTimeUtc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    if errors:
        body["errors"] = errors
    return body


class ProblemError(Exception):
    """Raised by OpenAPI handlers; rendered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        *,
        error_code: str,
        detail: str = "",
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.error_code = error_code
        self.detail = detail
        self.errors = errors
