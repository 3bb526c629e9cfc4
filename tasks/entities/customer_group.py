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
"""

from __future__ import annotations

from typing import Any

from tasks.entities._customer_limits import CUSTOMER_GROUP_RULES
from tasks.entities.base import EntitySpec, LegacyResource, Record, Refs
from tasks.settings import get_settings

KIND = "customer_group"
RESOURCE = "customer-groups"


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


def to_economic(record: Record, refs: Refs) -> dict[str, Any]:
    return group_payload(record, get_settings().customer_group_account)


SPEC = EntitySpec(
    kind=KIND,
    rackbeat_resource="customer-groups",
    rackbeat_singular="customer_group",
    rackbeat_key_field="number",
    economic_writer=LegacyResource(path=RESOURCE),
    economic_key_field="customerGroupNumber",
    to_economic=to_economic,
    economic_key=economic_key,
    events=frozenset({"customer_group.created", "customer_group.updated"}),
    delete_events=frozenset({"customer_group.deleted"}),
    barrable=False,
    # A bookkeeper may move a group to another debtor account; honoured once the legacy writer reads
    # before it writes (today it replaces, so the setting's account is written back on every change).
    keep_on_update=("account",),
    constraints=CUSTOMER_GROUP_RULES,
)
