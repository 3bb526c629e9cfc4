"""Write validation driven by e-conomic's draft-03 schemas, answering in the annotated error shape (§5.1).

Only what e-conomic checks is checked: required flags (also nested), types, lengths, ranges, enums and
``maxDecimal``. Unknown properties and read-only ones are ignored, as the live API does. ``null`` anywhere
and ``0`` for an identifier (a ``...Number`` integer, ``lineNumber``, ``sortKey``) are refused. ``pattern``
is not enforced: several published patterns are broken (``Td{2}``) and e-conomic does not apply them either.

"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.economic import errors as codes
from sandbox.economic.errors import field_error

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def validate(body: Any, schema: dict[str, Any]) -> dict[str, Any] | None:
    """Return the annotated ``errors`` object for ``body``, or None when it is valid."""
    if not isinstance(body, dict):
        return {"errors": [field_error(codes.WRONG_TYPE, "Expected Object.")]}
    found = _validate_object(body, schema)
    return found or None


def _validate_object(body: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    properties = schema.get("properties") or {}
    for name, sub in properties.items():
        if not isinstance(sub, dict) or _read_only(sub):
            continue
        if name not in body:
            if sub.get("required") is True:
                found[name] = {
                    "errors": [field_error(codes.REQUIRED_VALUE_MISSING, f"Property '{name}' is required.")]
                }
            continue
        problem = _validate_value(name, body[name], sub)
        if problem:
            found[name] = problem
    for name, value in body.items():
        if value is None and name not in found:
            found[name] = {"errors": [_null_error(name)]}
    return found


def _null_error(name: str) -> dict[str, Any]:
    return field_error(
        codes.NULL_VALUE, f"Expected a value for '{name}' but got Null.", None, with_value=True
    )


def _validate_value(name: str, value: Any, schema: dict[str, Any]) -> Any:
    if value is None:
        return {"errors": [_null_error(name)]}
    expected = schema.get("type")
    kinds = [expected] if isinstance(expected, str) else list(expected or [])
    if kinds and not any(_is_type(value, kind) for kind in kinds if isinstance(kind, str)):
        wanted = " or ".join(kind.capitalize() for kind in kinds if isinstance(kind, str))
        message = f"Expected {wanted} but got {type(value).__name__}."
        return {"errors": [field_error(codes.WRONG_TYPE, message, value, with_value=True)]}
    if isinstance(value, dict):
        nested = _validate_object(value, schema)
        return nested or None
    if isinstance(value, list):
        return _validate_array(value, schema.get("items"))
    problems = _scalar_problems(name, value, schema)
    return {"errors": problems} if problems else None


def _validate_array(values: list[Any], items: Any) -> list[dict[str, Any]] | None:
    if not isinstance(items, dict):
        return None
    found: list[dict[str, Any]] = []
    for index, element in enumerate(values):
        if isinstance(element, dict) and items.get("type") in ("object", None):
            nested = _validate_object(element, items)
        else:
            problem = _validate_value("item", element, items)
            nested = {"value": problem} if problem else {}
        if nested:
            found.append({"arrayIndex": index, **nested})
    return found or None


def _is_type(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "number" and isinstance(value, int | float):
        return True
    python = _PY_TYPES.get(kind)
    return python is None or isinstance(value, python)


def _scalar_problems(name: str, value: Any, schema: dict[str, Any]) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(
                field_error(
                    codes.TOO_LONG,
                    f"{name} must be at most {schema['maxLength']} characters.",
                    value,
                    with_value=True,
                )
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(
                field_error(
                    codes.TOO_SHORT,
                    f"{name} must be at least {schema['minLength']} characters.",
                    value,
                    with_value=True,
                )
            )
        if schema.get("format") == "full-date" and name != "lastUpdated" and not _DATE.match(value):
            problems.append(
                field_error(codes.WRONG_TYPE, f"{name} must be a date (YYYY-MM-DD).", value, with_value=True)
            )
    if isinstance(value, int | float) and not isinstance(value, bool):
        minimum = schema.get("minimum")
        if minimum is None and value == 0 and _is_identifier(name):
            minimum = 1
        if minimum is not None and value < minimum:
            problems.append(
                field_error(
                    codes.OUT_OF_RANGE,
                    f"Integer {value} is less than minimum value of {minimum}.",
                    value,
                    with_value=True,
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(
                field_error(
                    codes.OUT_OF_RANGE,
                    f"Integer {value} is greater than maximum value of {schema['maximum']}.",
                    value,
                    with_value=True,
                )
            )
        decimals = schema.get("maxDecimal")
        if decimals is not None and _decimal_places(value) > decimals:
            word = "two" if decimals == 2 else str(decimals)
            problems.append(
                field_error(
                    codes.TOO_MANY_DECIMALS,
                    f"{name} scale cannot be greater then {word} decimal places.",
                    value,
                    with_value=True,
                )
            )
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(str(option) for option in schema["enum"])
        problems.append(
            field_error(codes.NOT_IN_ENUM, f"{name} must be one of: {allowed}.", value, with_value=True)
        )
    return problems


def _is_identifier(name: str) -> bool:
    return name.endswith("Number") or name in ("lineNumber", "sortKey")


def _decimal_places(value: float | int) -> int:
    if isinstance(value, int):
        return 0
    try:
        exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    except InvalidOperation:
        return 0
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _read_only(schema: dict[str, Any]) -> bool:
    return schema.get("readOnly") is True or schema.get("readonly") is True
