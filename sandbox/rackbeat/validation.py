"""Pure validation of write payloads, answering in Laravel's 422 shape: ``{field: ["message", ...]}``.

Values are coerced the way Laravel's rules accept them (``"12.5"`` is numeric, ``"7"`` an integer, ``"1"`` a
boolean); a write stores the coerced value. ``null`` clears an optional field and fails a required one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sandbox.rackbeat.resources import VAT_ZONES, FieldKind, ResourceSpec

Errors = dict[str, list[str]]
_NOT_COERCIBLE = object()
MAX_ITEM_NUMBER_LENGTH = 25
MAX_MATURITY_DAYS = 32767

_KIND_MESSAGES: dict[str, str] = {
    "str": "The {label} must be a string.",
    "int": "The {label} must be an integer.",
    "num": "The {label} must be a number.",
    "bool": "The {label} field must be true or false.",
    "list": "The {label} must be an array.",
    "dict": "The {label} must be an array.",
    "date": "The {label} is not a valid date.",
}


def label(field_path: str) -> str:
    """Laravel's attribute label: ``payment_terms_id`` -> ``payment terms id``."""
    return field_path.replace("_", " ")


def coerce(kind: FieldKind, value: Any) -> Any:
    """The value as ``kind``, or ``_NOT_COERCIBLE``."""
    if kind == "any":
        return value
    if kind == "str":
        return value if isinstance(value, str) else _NOT_COERCIBLE
    if kind == "int":
        if isinstance(value, bool):
            return _NOT_COERCIBLE
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        return _NOT_COERCIBLE
    if kind == "num":
        if isinstance(value, bool):
            return _NOT_COERCIBLE
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return _NOT_COERCIBLE
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
            return value
        return _NOT_COERCIBLE
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in (0, 1, "0", "1", "true", "false"):
            return value in (1, "1", "true")
        return _NOT_COERCIBLE
    if kind == "list":
        return value if isinstance(value, list) else _NOT_COERCIBLE
    if kind == "dict":
        return value if isinstance(value, dict) else _NOT_COERCIBLE
    if kind == "date":
        if not isinstance(value, str):
            return _NOT_COERCIBLE
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return _NOT_COERCIBLE
        return value
    raise ValueError(f"unknown field kind {kind!r}")


def _add(errors: Errors, field_path: str, message: str) -> None:
    errors.setdefault(field_path, []).append(message)


def normalise(spec: ResourceSpec, payload: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Keep the fields the resource accepts, renamed from their write aliases; unknown fields are dropped.

    Returns the fields and ``{stored name: name the client used}`` so errors can speak the client's words.
    """
    fields: dict[str, Any] = {}
    written_as: dict[str, str] = {}
    for name, value in payload.items():
        stored = spec.aliases.get(name, name)
        if stored in spec.fields and (stored not in fields or name == stored):
            fields[stored] = value
            written_as[stored] = name
    return fields, written_as


def validate(
    spec: ResourceSpec,
    fields: dict[str, Any],
    written_as: Mapping[str, str],
    *,
    creating: bool,
    exists: Callable[[str, Any], bool],
    key_taken: Callable[[Any], bool],
) -> Errors:
    """Check and coerce ``fields`` in place; returns the 422 errors (empty when the write may go ahead)."""
    errors: Errors = {}

    def name_of(stored: str) -> str:
        return written_as.get(stored, stored)

    for required in spec.required if creating else ():
        value = fields.get(required)
        if value is None or value == "" or value == []:
            _add(errors, name_of(required), f"The {label(name_of(required))} field is required.")
    for stored, value in list(fields.items()):
        if value is None:
            if not creating and stored in spec.required:
                _add(errors, name_of(stored), f"The {label(name_of(stored))} field is required.")
            continue
        kind = spec.fields[stored]
        coerced = coerce(kind, value)
        if coerced is _NOT_COERCIBLE:
            _add(errors, name_of(stored), _KIND_MESSAGES[kind].format(label=label(name_of(stored))))
            continue
        fields[stored] = coerced
    failed = {stored for stored in fields if name_of(stored) in errors}
    checked = {k: v for k, v in fields.items() if k not in failed}
    for stored, target in spec.references.items():
        value = checked.get(stored)
        if value is not None and not exists(target, value):
            _add(errors, name_of(stored), f"The selected {label(name_of(stored))} is invalid.")
    _check_specific(spec, checked, errors, name_of)
    number = checked.get("number")
    if number is not None and key_taken(number):
        _add(errors, "number", "The number has already been taken.")
    return errors


def _check_specific(spec: ResourceSpec, fields: dict[str, Any], errors: Errors, name_of: Callable) -> None:
    number = fields.get("number")
    if spec.key_type is str and isinstance(number, str):
        if len(number) > MAX_ITEM_NUMBER_LENGTH:
            _add(errors, "number", f"The number may not be greater than {MAX_ITEM_NUMBER_LENGTH} characters.")
        if number.strip() != number or not number:
            _add(errors, "number", "The number format is invalid.")
    if spec.key_type is int and isinstance(number, int) and number < 1:
        _add(errors, "number", "The number must be at least 1.")
    vat_zone = fields.get("vat_zone")
    if vat_zone is not None and vat_zone not in VAT_ZONES:
        _add(errors, "vat_zone", "The selected vat zone is invalid.")
    days = fields.get("maturity_days")
    if days is not None and not 0 <= days <= MAX_MATURITY_DAYS:
        _add(errors, "maturity_days", f"The maturity days must be between 0 and {MAX_MATURITY_DAYS}.")
    for money in ("sales_price", "recommended_cost_price"):
        value = fields.get(money)
        if value is not None and value < 0:
            _add(errors, name_of(money), f"The {label(name_of(money))} must be at least 0.")


def validate_lines(
    lines: list[Any], item_exists: Callable[[str], bool], *, item_field: str = "item_id"
) -> Errors:
    """Document or BOM lines: each an object naming an existing item and a numeric quantity."""
    errors: Errors = {}
    if not lines:
        _add(errors, "lines", "The lines field is required.")
    for index, line in enumerate(lines):
        prefix = f"lines.{index}"
        if not isinstance(line, dict):
            _add(errors, prefix, f"The {prefix} must be an array.")
            continue
        item = line.get("item_id", line.get("child_id", line.get("product_id")))
        if item is None or item == "":
            _add(errors, f"{prefix}.{item_field}", f"The {prefix}.{item_field} field is required.")
        elif not item_exists(str(item)):
            _add(errors, f"{prefix}.{item_field}", f"The selected {prefix}.{item_field} is invalid.")
        quantity = coerce("num", line.get("quantity"))
        if line.get("quantity") is None:
            _add(errors, f"{prefix}.quantity", f"The {prefix}.quantity field is required.")
        elif quantity is _NOT_COERCIBLE:
            _add(errors, f"{prefix}.quantity", f"The {prefix}.quantity must be a number.")
        for money in ("line_price", "unit_price", "discount_percentage", "vat_percentage"):
            if line.get(money) is not None and coerce("num", line[money]) is _NOT_COERCIBLE:
                _add(errors, f"{prefix}.{money}", f"The {prefix}.{money} must be a number.")
    return errors
