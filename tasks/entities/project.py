"""Projects, e-conomic -> Rackbeat (projectsapi `Projects` -> Rackbeat `projects`), imported only.

Facts it rests on:
- Rackbeat's own integration: projects created in e-conomic are synced to Rackbeat every hour; projects
  created in Rackbeat are not synced to e-conomic; project management works only when the feature is
  switched on (rackbeat-api.md §4.3). So the kind has import rules and no export rules (e-conomic owns
  it, `tasks.sync.direction`), its poll is the `projects` group, which runs only with
  `RBSYNC_PROJECT_MANAGEMENT_ENABLED` (and the receiver acknowledges a project webhook without importing
  it while that is off: tasks.economic_webhooks.imports_kind).
- A Rackbeat project is `number`, `name`, `description`, created or updated with `POST projects/upsert`
  (rackbeat-api.md §2.2, §2.3 "Project"): `upsert_path`. Rackbeat sends no webhook we handle for it.
- e-conomic's projects live in the Projects OpenAPI service (`projectsapi/v1.1.0/Projects`, §12.9): the
  legacy API publishes no `/projects` collection (a project there is only a reference, and whether
  `GET /projects` answers is unverified, §17), and only the OpenAPI resource carries `lastUpdated`, which
  the hourly poll filters on (§10). A project: required `name` (<= 100) and `projectGroupNumber`;
  `number` 0..999 999 999; `description` (<= 2500); `customerNumber`, `isBarred`, `isClosed`, ...

Decisions (each has a test in tests/entities/test_project.py):
- **Keyed by e-conomic's project number**, which is also Rackbeat's number (`rackbeat_key`): a document
  and an order in Rackbeat name the same project number e-conomic shows. `find_existing` looks it up at
  that number first, so a Rackbeat project of the same number is adopted (and then kept in step, since
  e-conomic owns projects) instead of silently overwritten by the upsert.
- **Name and description only.** They are all Rackbeat's project holds; a name e-conomic cannot lack is
  still never sent empty (Rackbeat requires one: "Project <n>"), a description e-conomic cleared is sent
  empty, which clears it in Rackbeat.
- **No customer link**: the reference gives Rackbeat's project no customer field, so `customerNumber`
  is not copied, and neither is anything else in `NEVER_COPIED` (group, responsible employees, status,
  dates, prices, mileage, department, contact person, delivery location, references).
- **Barred and closed projects are imported like any other** (Rackbeat's project has no such flag, and
  documents in Rackbeat may still name the project); **a project deleted in e-conomic** stays in Rackbeat
  as it is (`when_gone` None: the importer logs it), since orders and invoices may refer to it.
"""

from __future__ import annotations

from typing import Any

from tasks.entities._lookups import by_number
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ImportRules,
    MappingContext,
    OpenApiRoute,
    RackbeatSide,
    Record,
)

KIND = "project"
ECONOMIC_TARGET = OpenApiRoute("projectsapi", "v1.1.0", "Projects")
RACKBEAT_RESOURCE = "projects"
RACKBEAT_SINGULAR = "project"
UPSERT_PATH = "projects/upsert"
MAX_NAME = 100  # e-conomic's limit (S4); Rackbeat's is not documented and no shorter one is known

NEVER_COPIED = (
    "projectGroupNumber",
    "customerNumber",
    "isMainProject",
    "mainProjectNumber",
    "isBarred",
    "isClosed",
    "closedDate",
    "isMileageInvoiced",
    "mileage",
    "responsibleEmployeeNumber",
    "otherResponsibleEmployeeNumber",
    "status",
    "deliveryDate",
    "departmentNumber",
    "fixedPrice",
    "contactPersonId",
    "deliveryLocationNumber",
    "otherReference",
    "costPrice",
    "salesPrice",
    "invoicedTotal",
)
"""e-conomic project fields the import leaves out on purpose: Rackbeat's project has no place for them."""


def project_number(document: Record) -> int:
    """e-conomic's project number, the key on both sides."""
    return int(document["number"])


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat project for an e-conomic project: its name and description (the number is the key)."""
    name = str(document.get("name") or "").strip()[:MAX_NAME]
    description = document.get("description")
    return {
        "name": name or f"Project {document['number']}",
        "description": description.strip() if isinstance(description, str) else "",
    }


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide(resource=RACKBEAT_RESOURCE, singular=RACKBEAT_SINGULAR),
    economic=EconomicSide(target=ECONOMIC_TARGET, key_field="number"),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=project_number,
        economic_key=project_number,
        find_existing=by_number(RACKBEAT_RESOURCE, RACKBEAT_SINGULAR, project_number),
        never_copied=NEVER_COPIED,
        poll="projects",
        upsert_path=UPSERT_PATH,
    ),
)
