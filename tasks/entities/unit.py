"""Units of measure (pcs, kg, box), Rackbeat -> e-conomic (legacy REST `/units`).

A product or lot refers to its unit; e-conomic needs the unit to exist before a product can point at it,
so products name their unit as a dependency and the engine exports it first, inside the product's
transfer (for free when the unit Rackbeat embeds in the product is the one last written).

Numbers: e-conomic assigns `unitNumber` itself (POST `/units`), so Rackbeat's unit number cannot be
followed; the binding records the pair (Rackbeat number -> e-conomic unitNumber) and updates are PUT at
the bound number. A unit has no `barred` in e-conomic: a unit deleted in Rackbeat is left in e-conomic
(products there may still be counted in it) and the engine logs the event as ignored.

Limits (`units.post` / `units.unitNumber.put`, draft-03): `name` is the only writable property,
required, at most 100 characters. The spec carries them (`writable_fields`); an empty name is refused too
(e-conomic would store a nameless unit that nobody can pick).

Import (as a product's dependency, tests/entities/test_dependency_imports.py): Rackbeat owns units, so an
e-conomic unit is imported only when Rackbeat has no unit of that name; Rackbeat numbers a new one itself
and the binding keeps the pair.
"""

from __future__ import annotations

from typing import Any

from tasks.entities._lookups import by_fields
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    ImportRules,
    LegacyResource,
    MappingContext,
    RackbeatSide,
    Record,
)

KIND = "unit"
ECONOMIC_RESOURCE = "units"
NAME_MAX_LENGTH = 100

WRITABLE_FIELDS = (FieldRule("name", "string", required=True, min_length=1, max_length=NAME_MAX_LENGTH),)


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    """The legacy unit document: the name only (e-conomic's number is never sent, it is in the address)."""
    return {"name": str(record.get("name") or "").strip()}


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat unit for an e-conomic one: its name (Rackbeat numbers it)."""
    return {"name": str(document.get("name") or "").strip()}


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("units", "unit"),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="unitNumber",
        writable_fields=WRITABLE_FIELDS,
    ),
    exports=ExportRules(to_economic=to_economic, adopt_by=("name",)),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        find_existing=by_fields("units", "units", lambda document: to_rackbeat(document, MappingContext())),
        match_on=(("name",),),
    ),
)
