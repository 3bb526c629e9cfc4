"""Customer groups, Rackbeat -> e-conomic (legacy REST `/customer-groups`).

Rules that live here:
- e-conomic's customer group number is chosen by the caller, so Rackbeat's group number is used as is
  and every write is a PUT at that number (an upsert: a lost binding cannot create a second group).
  The number travels in the address only: `customerGroupNumber` is read-only in a PUT body.
- A group needs a debtor account in e-conomic and Rackbeat has none: groups get the account in the
  setting `customer_group_account` (default 5600, "Debitorer" in e-conomic's standard chart).
- Groups cannot be barred in e-conomic: a group deleted in Rackbeat is left alone there (the engine
  logs it and reports `ignored`), since customers and booked invoices may still point at it.
- Only the name and the account are sent; Rackbeat's `is_draft` has no counterpart.

Import (as a customer's dependency, tests/entities/test_dependency_imports.py): Rackbeat owns groups, so a
group is imported only when Rackbeat lacks it, at e-conomic's number (the number both sides share), with its
name; the debtor account and layout stay in e-conomic.
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
    LegacyResource,
    MappingContext,
    RackbeatSide,
    Record,
)

KIND = "customer_group"
ECONOMIC_RESOURCE = "customer-groups"

WRITABLE_FIELDS = (
    FieldRule("name", "string", max_length=50),
    FieldRule("account", "object", required=True),
    FieldRule("account.accountNumber", "integer", required=True, minimum=1),
    FieldRule("layout", "object"),
    FieldRule("layout.layoutNumber", "integer", required=True, minimum=1),
)
"""PUT body (`customerGroupNumber` is read-only there: the number travels in the address). The
account is required by our own rule: a group e-conomic creates without one cannot be invoiced."""


def economic_key(record: Record) -> int:
    """Rackbeat's group number is the e-conomic customerGroupNumber."""
    return int(record["number"])


def group_payload(record: Record, debtor_account: int) -> dict[str, Any]:
    """The PUT body for a Rackbeat customer group, booked on `debtor_account`."""
    payload: dict[str, Any] = {"account": {"accountNumber": debtor_account}}
    name = str(record.get("name") or "").strip()
    if name:
        payload["name"] = name
    return payload


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    return group_payload(record, context.defaults.customer_group_account)


def economic_group_number(document: Record) -> int:
    return int(document["customerGroupNumber"])


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat customer group for an e-conomic one: its name (the number is its key)."""
    return {"name": str(document.get("name") or "").strip() or f"Group {document['customerGroupNumber']}"}


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("customer-groups", "customer_group"),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="customerGroupNumber",
        writable_fields=WRITABLE_FIELDS,
        # A bookkeeper may move a group to another debtor account; honoured once the legacy writer reads
        # before it writes (today it replaces, so the setting's account is written back on every change).
        keep_on_update=("account",),
    ),
    exports=ExportRules(to_economic=to_economic, economic_key=economic_key),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=economic_group_number,
        economic_key=economic_group_number,
        find_existing=by_number("customer-groups", "customer_group", economic_group_number),
        match_on=(("number",), ("name",)),
        never_copied=("account", "layout"),
    ),
)
