"""Nested references (``customerGroup``, ``lines[].product`` ...): resolve, check, normalise.

A reference names its target by its number property or by ``self`` (§4). The sandbox accepts either, checks
that the target exists (unknown -> ``E06000``; neither given -> ``E04500``) and stores it as ``{number,
self}``.

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sandbox.economic import errors as codes
from sandbox.economic.errors import field_error
from sandbox.economic.ids import decode_key, encode_key
from sandbox.economic.store import Store, link


@dataclass(frozen=True)
class Ref:
    """``field`` (dotted for nested objects) points into table ``table`` by ``key``."""

    field: str
    table: str
    key: str
    key_type: type = int
    label: str = ""

    def describe(self) -> str:
        return self.label or self.field.split(".")[-1]


def self_link(table: str, key: Any) -> str:
    return link(f"{table}/{encode_key(key)}")


def key_from_self(url: str, key_type: type) -> Any:
    segment = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    raw = decode_key(segment)
    return int(raw) if key_type is int else raw


def resolve(ref: Ref, node: Any, store: Store) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(normalised reference, error entry) for one reference object."""
    if not isinstance(node, dict):
        return None, None
    value = node.get(ref.key)
    if value is None and isinstance(node.get("self"), str):
        try:
            value = key_from_self(node["self"], ref.key_type)
        except ValueError:
            value = None
    if value is None:
        return None, {
            "errors": [field_error(codes.MISSING_IDENTIFIER, f"Include either a self link or a {ref.key}.")]
        }
    if ref.key_type is int and isinstance(value, str) and value.isdigit():
        value = int(value)
    if not store.exists(ref.table, value):
        return None, {
            "errors": [
                field_error(codes.NOT_FOUND, f"{ref.describe()} does not exist.", value, with_value=True)
            ]
        }
    return {ref.key: value, "self": self_link(ref.table, value)}, None


def resolve_all(record: dict[str, Any], refs: tuple[Ref, ...], store: Store) -> dict[str, Any]:
    """Normalise every reference in ``record`` in place; return the annotated errors (empty when all
    exist)."""
    found: dict[str, Any] = {}
    for ref in refs:
        *parents, leaf = ref.field.split(".")
        holder: Any = record
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or leaf not in holder:
            continue
        normalised, error = resolve(ref, holder[leaf], store)
        if error is not None:
            target = found
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = error
        elif normalised is not None:
            holder[leaf] = normalised
    return found
