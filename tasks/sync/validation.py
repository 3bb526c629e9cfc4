"""Check a mapped document against its target's published limits before calling the API.

The limits live with each kind (`EconomicSide.writable_fields`, read from e-conomic's own schemas); this
module only applies them. The same rules tell which fields of a document read back from e-conomic may be
sent in a replace (`writable_projection`).

One rule is not in the schemas but was observed live: ids of 0 are refused ("Integer 0 is less than
minimum value of 1"), so kinds give referenced numbers a minimum of 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tasks.entities.base import EconomicSide, FieldRule, JsonType
from tasks.errors import MappingError


def _lookup(payload: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """(parent present, value or _MISSING) for a dotted path."""
    node: Any = payload
    parts = path.split(".")
    for part in parts[:-1]:
        if not isinstance(node, Mapping) or part not in node:
            return False, _MISSING
        node = node[part]
    if not isinstance(node, Mapping):
        return False, _MISSING
    return True, node.get(parts[-1], _MISSING)


_MISSING = object()


def _decimals(value: float | int) -> int:
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _type_matches(value: Any, expected: JsonType) -> bool:
    if isinstance(value, bool):
        return expected == "boolean"
    if expected == "integer":
        return isinstance(value, int)
    if expected == "number":
        return isinstance(value, int | float)
    if expected == "string":
        return isinstance(value, str)
    if expected == "object":
        return isinstance(value, Mapping)
    return False


def _problem(rule: FieldRule, value: Any) -> str | None:
    if not _type_matches(value, rule.type):
        return f"must be {rule.type}, got {type(value).__name__}"
    if isinstance(value, str):
        if rule.min_length is not None and len(value) < rule.min_length:
            return f"must be at least {rule.min_length} characters long"
        if rule.max_length is not None and len(value) > rule.max_length:
            return f"is {len(value)} characters long; e-conomic allows at most {rule.max_length}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if rule.minimum is not None and value < rule.minimum:
            return f"{value} is less than the minimum {rule.minimum}"
        if rule.maximum is not None and value > rule.maximum:
            return f"{value} is more than the maximum {rule.maximum}"
        if rule.max_decimals is not None and _decimals(value) > rule.max_decimals:
            return f"has more than {rule.max_decimals} decimals"
    return None


def _find_null(payload: Any, prefix: str = "") -> str | None:
    if isinstance(payload, Mapping):
        for name, value in payload.items():
            path = f"{prefix}{name}"
            if value is None:
                return path
            found = _find_null(value, f"{path}.")
            if found:
                return found
    return None


def is_writable(side: EconomicSide, field_name: str) -> bool:
    """Whether e-conomic takes `field_name` in a write body of the kind (per its limits)."""
    return any(rule.path == field_name for rule in side.writable_fields)


def validate_payload(side: EconomicSide, payload: Mapping[str, Any]) -> None:
    """Raise MappingError naming the first field e-conomic would refuse; kinds without limits pass."""
    check_document(side.writable_fields, payload, resource=side.resource)


def check_document(rules: Sequence[FieldRule], payload: Mapping[str, Any], *, resource: str) -> None:
    """`validate_payload` for a bare table of e-conomic rules (documents that are not a kind's)."""
    null_field = _find_null(payload)
    if null_field is not None:
        raise MappingError(
            null_field, "must not be null (leave it out to clear it)", api="economic", resource=resource
        )
    for rule in rules:
        parent_present, value = _lookup(payload, rule.path)
        if not parent_present:
            continue
        if value is _MISSING:
            if rule.required:
                raise MappingError(rule.path, "is required", api="economic", resource=resource)
            continue
        problem = _problem(rule, value)
        if problem is not None:
            raise MappingError(rule.path, problem, api="economic", resource=resource)


def writable_projection(side: EconomicSide, document: Mapping[str, Any]) -> dict[str, Any]:
    """Only the writable properties of a document read from e-conomic (read-only, expanded and
    unknown properties dropped), fit to be sent back in a full replace."""
    rules = side.writable_fields
    if not rules:
        raise KeyError(f"no writable-field table for e-conomic resource {side.resource!r}")
    result: dict[str, Any] = {}
    for rule in rules:
        if rule.type == "object":
            continue
        parent_present, value = _lookup(document, rule.path)
        if not parent_present or value is _MISSING or value is None:
            continue
        node = result
        *parents, leaf = rule.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result
