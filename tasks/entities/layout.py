"""Layouts, e-conomic -> Rackbeat only (legacy REST `/layouts`, read-only in e-conomic).

A layout is the invoice/order template e-conomic prints with; Rackbeat keeps a copy so that a customer (and
an order) can name one (`layout_id`). Facts this module rests on:
- e-conomic: `/layouts[/{n}]` is GET only, a layout is {layoutNumber, name (<= 250), deleted, self}
  (economic-api.md §11, §12.8). e-conomic never takes a layout from us, so there are no export rules.
- Rackbeat: layouts are keyed by `number` and carry at least `number` and `name`; its public API documents
  only `GET layouts[/{n}]` (rackbeat-api.md §2.2), yet Rackbeat's own integration imports them in its
  start-up sync (§2.3 "Layout", §4.2). How it writes them is not documented: we write them like every other
  numbered resource, POST `layouts` and PUT `layouts/{n}` (an inference, [I]; the sandbox accepts exactly
  these two, sandbox/rackbeat/resources.py). Should Rackbeat refuse such a write, the refusal is
  dead-lettered in Rackbeat's words like any other refusal, and a customer needing the layout waits for it.

Rules of the import (each has a test in tests/entities/test_layout_import.py):
- Number: e-conomic's layout number is Rackbeat's. The customer export relies on it (it sends a Rackbeat
  `layout_id` to e-conomic as the layout number, tasks/entities/customer.py), so a layout is created at
  e-conomic's number and found there before a create.
- Name: copied, trimmed; a blank name becomes "Layout <n>" (Rackbeat requires one).
- e-conomic owns layouts (there is no other way across), so a Rackbeat layout at the same number is brought
  in step with e-conomic's name. Never copied: `deleted` (Rackbeat has no such field; a layout deleted in
  e-conomic may still be named by old customers, so it is copied like any other). A layout e-conomic no
  longer has is left in Rackbeat as it is (no `when_gone`): customers and orders may name it.
- Matching (`match_on`, the start-up sync): by number, then by name. A name match at another number binds
  a Rackbeat layout whose number e-conomic does not share, which the customer export would then send as
  the layout number; Rackbeat's layouts come only from e-conomic, so the numbers agree in practice.
- No poll: layouts change rarely and only arrive with the start-up sync or as a customer's dependency.
"""

from __future__ import annotations

from typing import Any

from tasks.entities._lookups import by_number
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ImportRules,
    LegacyResource,
    MappingContext,
    RackbeatSide,
    Record,
)

KIND = "layout"
ECONOMIC_RESOURCE = "layouts"
RACKBEAT_RESOURCE = "layouts"


def economic_layout_number(document: Record) -> int:
    return int(document["layoutNumber"])


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat layout for an e-conomic one: its name (the number is its key)."""
    name = str(document.get("name") or "").strip()
    return {"name": name or f"Layout {document['layoutNumber']}"}


SPEC = EntitySpec(
    kind=KIND,
    # Rackbeat fires no layout events (rackbeat-api.md §3.3): nothing to receive.
    rackbeat=RackbeatSide(resource=RACKBEAT_RESOURCE, singular="layout"),
    economic=EconomicSide(target=LegacyResource(path=ECONOMIC_RESOURCE), key_field="layoutNumber"),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=economic_layout_number,
        economic_key=economic_layout_number,
        find_existing=by_number(RACKBEAT_RESOURCE, "layout", economic_layout_number),
        match_on=(("number",), ("name",)),
        never_copied=("deleted",),
    ),
)
