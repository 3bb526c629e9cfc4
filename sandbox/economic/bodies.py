"""Check the write bodies a sandbox received against e-conomic's published schemas, after a run.

Tests of the integration drive the sandbox through the real client, then call :func:`check_request_log` to
prove that every POST/PUT body they sent to the legacy API would pass e-conomic's own schema, not merely
the sandbox's validation. Bodies to the OpenAPI services are checked against the required fields and the
types of their component schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.economic import documents
from sandbox.economic.openapi import API_COLLECTIONS
from sandbox.economic.resources import SIMPLE_RESOURCES
from sandbox.economic.schemas import published, write_schema

_BY_PATH = {resource.path: resource for resource in (*SIMPLE_RESOURCES, *documents.DOCUMENT_RESOURCES)}


def schema_name_for(method: str, path: str) -> str | None:
    """The published schema that governs a legacy write, or None when there is none."""
    parts = [part for part in path.split("/") if part]
    if method == "POST" and len(parts) == 3 and parts[0] == "journals" and parts[2] == "vouchers":
        return "journals.journalNumber.vouchers.post"
    if method == "POST" and len(parts) == 4 and parts[:2] == ["invoices", "drafts"] and parts[3] == "lines":
        return "invoices.drafts.draftInvoiceNumber.lines.post"
    if method == "PUT" and len(parts) == 3 and parts[:2] == ["invoices", "booked"]:
        return "invoices.booked.bookWithNumber.put"
    for size in (2, 1):
        resource = _BY_PATH.get("/".join(parts[:size]))
        if resource is None or not resource.schema_base:
            continue
        rest = parts[size:]
        if method == "POST" and not rest:
            return resource.post_schema
        if method == "PUT" and len(rest) == 1:
            return resource.put_schema
    return None


def check_request_log(entries: Iterable[dict[str, Any]]) -> list[str]:
    """One line per logged write body that the published schema (draft-03) refuses; empty when all pass."""
    # A test-time dependency only. jsonschema ships no type information and its stubs (types-jsonschema) are
    # not a dependency of the project, so mypy cannot know the module; the ignore says only that.
    from jsonschema import Draft3Validator  # type: ignore[import-untyped]

    problems: list[str] = []
    for entry in entries:
        method, path, body = entry.get("method"), entry.get("path", ""), entry.get("body")
        if method not in ("POST", "PUT") or body is None:
            continue
        collection = _openapi_collection(path)
        if collection is not None:
            problems += [f"{method} {path}: {p}" for p in _openapi_problems(collection, method, body)]
            continue
        name = schema_name_for(method, path)
        schema = (published(name) or write_schema(name)) if name else None
        if schema is None:
            continue
        validator = Draft3Validator(schema)
        for document in body if isinstance(body, list) else [body]:
            for error in validator.iter_errors(document):
                where = "/".join(str(part) for part in error.absolute_path) or "(body)"
                problems.append(f"{method} {path} [{name}] {where}: {error.message}")
    return problems


# The published lastUpdated pattern lacks its backslashes (``...Td{2}...``) and can match nothing real: the
# one defect of the schemas (§16) an answer check leaves out (the timestamp format is checked on its own).
_BROKEN_PATTERN_MARK = "Td{2}"


def corrected_schema(name: str) -> dict[str, Any] | None:
    """A published schema minus the broken ``lastUpdated`` pattern, or None when it is not published."""
    schema = published(name)
    return None if schema is None else _without_broken_patterns(schema)


def _without_broken_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _without_broken_patterns(value)
            for key, value in node.items()
            if not (key == "pattern" and _BROKEN_PATTERN_MARK in str(value))
        }
    if isinstance(node, list):
        return [_without_broken_patterns(value) for value in node]
    return node


def answer_problems(schema_name: str, document: Any) -> list[str]:
    """One line per way an answer breaks its published GET schema (draft-03); empty when it passes.
    KeyError when the schema is not published."""
    from jsonschema import Draft3Validator  # test-time dependency, unchecked: see check_request_log

    schema = corrected_schema(schema_name)
    if schema is None:
        raise KeyError(schema_name)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(answer)'}: {error.message}"
        for error in Draft3Validator(schema).iter_errors(document)
    ]


def _openapi_collection(path: str) -> Any:
    trimmed = path.strip("/")
    for collection in API_COLLECTIONS:
        if trimmed == collection.prefix:
            return collection
    return None


def _openapi_problems(collection: Any, method: str, body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    found = []
    for name, spec in collection.fields.items():
        creating_without_key = method == "POST" and name == collection.key and collection.assign_key
        if spec.required and name not in body and not creating_without_key:
            found.append(f"'{name}' is required")
    if method == "PUT" and not body.get("objectVersion"):
        found.append("'objectVersion' is required on PUT")
    return found
