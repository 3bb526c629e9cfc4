"""Check a mapped payload against e-conomic's published limits before calling the API.

The table below was read from e-conomic's own schemas (legacy `products.productNumber.put` /
`products.post`, draft-03, and the `ProductGroup` component of the Products OpenAPI spec v2.0.0);
the reference folder is not shipped with the service, so the facts live here as constants. Only
writable properties are listed: the same table tells which fields of a document read back from
e-conomic may be sent in a replace (`writable_projection`).

One rule is not in the schemas but was observed live: ids of 0 are refused ("Integer 0 is less than
minimum value of 1"), so referenced numbers carry a minimum of 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from tasks.sync.errors import MappingError

JsonType = Literal["string", "integer", "number", "boolean", "object"]
INT32_MAX = 2_147_483_647


@dataclass(frozen=True)
class FieldRule:
    """One property of a writable e-conomic document. `path` is dotted; `required` applies when the
    parent object is present."""

    path: str
    type: JsonType
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_decimals: int | None = None


_LEGACY_PRODUCT = (
    FieldRule("productNumber", "string", required=True, min_length=1, max_length=25),
    FieldRule("name", "string", required=True, min_length=1, max_length=300),
    FieldRule("description", "string", max_length=500),
    FieldRule("costPrice", "number"),
    FieldRule("recommendedPrice", "number"),
    FieldRule("salesPrice", "number"),
    FieldRule("barCode", "string", max_length=50),
    FieldRule("barred", "boolean"),
    FieldRule("inventory", "object"),
    FieldRule("inventory.packageVolume", "number", max_decimals=2),
    FieldRule("inventory.recommendedCostPrice", "number", max_decimals=2),
    FieldRule("unit", "object"),
    FieldRule("unit.unitNumber", "integer", required=True, minimum=1),
    FieldRule("productGroup", "object", required=True),
    FieldRule("productGroup.productGroupNumber", "integer", required=True, minimum=1),
    FieldRule("departmentalDistribution", "object"),
    FieldRule("departmentalDistribution.departmentalDistributionNumber", "integer", required=True, minimum=1),
    FieldRule("departmentalDistribution.distributionType", "string"),
)

_OPENAPI_PRODUCT_GROUP = (
    FieldRule("id", "integer", required=True, minimum=1, maximum=INT32_MAX),
    FieldRule("name", "string", required=True, min_length=0, max_length=50),
    FieldRule("domesticAccountId", "integer", required=True, minimum=1, maximum=INT32_MAX),
)

CONSTRAINTS: dict[str, tuple[FieldRule, ...]] = {
    "products": _LEGACY_PRODUCT,
    "productsapi/productgroups": _OPENAPI_PRODUCT_GROUP,
}
"""Writable properties by `EntitySpec.economic_resource`."""


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


def is_writable(resource: str, field_name: str) -> bool:
    """Whether e-conomic takes `field_name` in a write body of `resource` (per the limits table)."""
    return any(rule.path == field_name for rule in CONSTRAINTS.get(resource, ()))


def validate_payload(resource: str, payload: Mapping[str, Any], *, method: str = "PUT") -> None:
    """Raise MappingError naming the first field e-conomic would refuse; resources without rules pass."""
    null_field = _find_null(payload)
    if null_field is not None:
        raise MappingError(
            null_field, "must not be null (leave it out to clear it)", resource=resource, method=method
        )
    for rule in CONSTRAINTS.get(resource, ()):
        parent_present, value = _lookup(payload, rule.path)
        if not parent_present:
            continue
        if value is _MISSING:
            if rule.required:
                raise MappingError(rule.path, "is required", resource=resource, method=method)
            continue
        problem = _problem(rule, value)
        if problem is not None:
            raise MappingError(rule.path, problem, resource=resource, method=method)


def writable_projection(resource: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """Only the writable properties of a document read from e-conomic (read-only, expanded and
    unknown properties dropped), fit to be sent back in a full replace."""
    rules = CONSTRAINTS.get(resource)
    if rules is None:
        raise KeyError(f"no writable-field table for e-conomic resource {resource!r}")
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
