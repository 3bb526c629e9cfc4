"""Supplier groups, Rackbeat -> e-conomic.

e-conomic's legacy REST API only reads supplier groups; they are written through the Suppliers OpenAPI
service (`suppliersapi`, `Groups`), where a group is {number, name (<= 50), accountNumber} and all three
are required. Rackbeat's group number is the e-conomic number, so a lost binding finds the same group.

Rackbeat groups carry no account. A new group is filed under the creditor account of the setting
`supplier_group_creditor_account` (6800 "Kreditorer" in e-conomic's standard chart of accounts); an
update keeps the account the group has in e-conomic, so a bookkeeper's choice survives.
Supplier groups cannot be barred: one deleted in Rackbeat stays in e-conomic (the engine logs it).

Import (the start-up sync, and a supplier's dependency; tests/entities/test_supplier_group_import.py): groups
"are synchronised so they always appear in both places" and the start-up sync transfers them with the
suppliers (rackbeat-api.md §4.2, §4.3), but Rackbeat owns them afterwards (they have export rules), so a group
is imported only when Rackbeat lacks it: at e-conomic's number, with its name. The group is read from
`suppliersapi` `Groups` (the route the export writes, whose `Group` shape e-conomic publishes; the legacy
`/supplier-groups` shape is undocumented, economic-api.md §12.4). The creditor account stays in e-conomic.
No poll: after the start-up sync a new group is made in Rackbeat.
"""

from __future__ import annotations

from typing import Any

from tasks.entities._lookups import by_number
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    ImportRules,
    MappingContext,
    OpenApiRoute,
    RackbeatSide,
    Record,
)

KIND = "supplier_group"
NUMBER_MAX = 999_999_999

WRITABLE_FIELDS = (
    FieldRule("number", "integer", required=True, minimum=1, maximum=NUMBER_MAX),
    FieldRule("name", "string", required=True, min_length=0, max_length=50),
    FieldRule("accountNumber", "integer", required=True, minimum=1, maximum=NUMBER_MAX),
)
"""From the `Group` component of e-conomic's Suppliers OpenAPI spec (v2.0.0)."""


def economic_key(record: Record) -> int:
    """Rackbeat's group number is the e-conomic supplier group number."""
    return int(record["number"])


def supplier_group_payload(record: Record, creditor_account: int) -> dict[str, Any]:
    """The suppliersapi Group body for a Rackbeat supplier group filed under `creditor_account`."""
    return {
        "number": economic_key(record),
        "name": str(record.get("name") or "").strip(),
        "accountNumber": creditor_account,
    }


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    return supplier_group_payload(record, context.defaults.supplier_group_creditor_account)


def economic_group_number(document: Record) -> int:
    """The suppliersapi Group's number, which is Rackbeat's group number too."""
    return int(document["number"])


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat supplier group for an e-conomic one: its name (the number is its key)."""
    name = str(document.get("name") or "").strip()
    return {"name": name or f"Group {document['number']}"}


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("supplier-groups", "supplier_group"),
    economic=EconomicSide(
        target=OpenApiRoute(service="suppliersapi", version="v2.0.0", route="Groups"),
        key_field="number",
        writable_fields=WRITABLE_FIELDS,
        keep_on_update=("accountNumber",),
    ),
    exports=ExportRules(to_economic=to_economic, economic_key=economic_key),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=economic_group_number,
        economic_key=economic_group_number,
        find_existing=by_number("supplier-groups", "supplier_group", economic_group_number),
        match_on=(("number",), ("name",)),
        never_copied=("accountNumber",),
    ),
)
