"""Reading Rackbeat record fields the same way in every kind's mapper."""

from __future__ import annotations

from typing import Any

from tasks.entities.base import Record


def text(value: Any) -> str | None:
    """A trimmed string, or None for absent or blank values (e-conomic refuses null; blank is cleared)."""
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


def reference_key(record: Record, field: str, embedded_field: str | None = None) -> str | None:
    """The Rackbeat number a record refers to in `field`, which holds the number itself or an expanded
    object carrying it; when it is empty, the embedded view in `embedded_field` is read instead."""
    value = record.get(field)
    if isinstance(value, dict):
        value = value.get("number")
    if value is None and embedded_field is not None:
        view = record.get(embedded_field)
        value = view.get("number") if isinstance(view, dict) else None
    if value is None or value == "":
        return None
    return str(value)
