"""Product groups, Rackbeat -> e-conomic.

e-conomic's legacy REST API can only read product groups, so they are written through the Products
OpenAPI service (`productsapi`), where a group is {id, name (<= 50), domesticAccountId} and all three
are required. The group number is chosen by us: Rackbeat's group number becomes the e-conomic id, which
makes a lost binding harmless (the engine finds the group by its id before creating it).

Rackbeat groups carry no sales account, while e-conomic insists on one: a group is created with the
account in `DOMESTIC_SALES_ACCOUNT` (1010 "Salg af varer/ydelser m/moms" in e-conomic's standard chart
of accounts) and bookkeepers can move it afterwards, since an update keeps whatever account the group
already has in e-conomic (`keep_on_update`).

Import (as a product's dependency, tests/entities/test_dependency_imports.py): Rackbeat owns groups, so a
group is imported only when Rackbeat lacks it, read from legacy REST `/product-groups` (read-only there) and
created at e-conomic's number with its name and inventory flag; its accounts stay in e-conomic.
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
    OpenApiRoute,
    RackbeatSide,
    Record,
)

KIND = "product_group"
DOMESTIC_SALES_ACCOUNT = 1010
INT32_MAX = 2_147_483_647

WRITABLE_FIELDS = (
    FieldRule("id", "integer", required=True, minimum=1, maximum=INT32_MAX),
    FieldRule("name", "string", required=True, min_length=0, max_length=50),
    FieldRule("domesticAccountId", "integer", required=True, minimum=1, maximum=INT32_MAX),
)
"""From the `ProductGroup` component of e-conomic's Products OpenAPI spec (v2.0.0)."""


def economic_key(record: Record) -> int:
    """Rackbeat's group number is the e-conomic product group id."""
    return int(record["number"])


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    """The productsapi ProductGroup body for a Rackbeat product group."""
    return {
        "id": economic_key(record),
        "name": str(record.get("name") or "").strip(),
        "domesticAccountId": DOMESTIC_SALES_ACCOUNT,
    }


def economic_group_number(document: Record) -> int:
    return int(document["productGroupNumber"])


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat product group for an e-conomic one (legacy shape): name and inventory flag."""
    body: dict[str, Any] = {
        "name": str(document.get("name") or "").strip() or f"Group {document['productGroupNumber']}"
    }
    if document.get("inventoryEnabled") is not None:
        body["has_inventory"] = bool(document["inventoryEnabled"])
    return body


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("product-groups", "product_group"),
    economic=EconomicSide(
        target=OpenApiRoute(service="productsapi", version="v2.0.0", route="productgroups"),
        key_field="id",
        writable_fields=WRITABLE_FIELDS,
        keep_on_update=("domesticAccountId",),
    ),
    exports=ExportRules(to_economic=to_economic, economic_key=economic_key),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=economic_group_number,
        economic_key=economic_group_number,
        find_existing=by_number("product-groups", "product_group", economic_group_number),
        match_on=(("number",), ("name",)),
        never_copied=("salesAccounts", "accrual"),
        sources=(LegacyResource(path="product-groups"),),
    ),
)
