"""Stopgap: hand the engine the writable-field tables of kinds whose e-conomic resource it has none for.

The engine keeps e-conomic's limits per resource in `tasks.sync.validation.CONSTRAINTS`: they are what
`validate_payload` checks before a call, and what `writable_projection` keeps of a document that is sent
back barred. The engine reads that table only, so a kind in its own module registers its rules there at
import (the registry imports every kind before any transfer runs). An entry the engine already has wins.
The generic change that retires this: an `EntitySpec.constraints` field the engine reads.
"""

from __future__ import annotations

from tasks.sync.validation import CONSTRAINTS, FieldRule


def register_writable_fields(resource: str, rules: tuple[FieldRule, ...]) -> tuple[FieldRule, ...]:
    """Make `rules` the engine's table for `resource` unless it has one; returns the table in force."""
    return CONSTRAINTS.setdefault(resource, rules)
