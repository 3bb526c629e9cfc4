"""Employees, Rackbeat -> e-conomic.

e-conomic's legacy REST API only reads employees; they are written through the Projects OpenAPI service
(`projectsapi`, `Employees`), where an employee is {number (0-999,999), groupNumber, name (<= 100),
isBarred, phone (<= 20), email (<= 50)}, the first four required.

- Rackbeat's employee number is the e-conomic number when it fits, so a lost binding finds the same
  employee; a larger number is left to e-conomic to assign, and the binding records the pair.
- Rackbeat has no employee groups: new employees go to the `employee_group` setting's group. Rackbeat
  cannot bar an employee either. Both are therefore e-conomic's to decide once the employee exists
  (`keep_on_update`): an update never moves an employee back or lifts a bar set by a bookkeeper.
- Deleted in Rackbeat: barred in e-conomic (`isBarred`, named by `barred_field`), since its bookings
  and time entries must stay readable there.

Import (the start-up sync, and a customer's sales person; tests/entities/test_employee_import.py): the
start-up sync copies employees (rackbeat-api.md §4.2), but Rackbeat owns them afterwards (they have export
rules), so an employee is imported only when Rackbeat lacks it, at e-conomic's number:
- Source: `projectsapi` `Employees`, the route the export writes (so the binding names one e-conomic
  resource both ways), which Rackbeat's own integration reads employees from (§4.1) and which answers
  without the Project module (economic-api.md §12.9). Legacy `/employees` has the same records.
- Copied: name, e-mail (`contact_email`), phone (`contact_phone`): what both sides have. Never copied:
  `groupNumber` and `isBarred` (Rackbeat has neither). A barred employee is still imported, since customers
  and documents may name it as their sales person. Rackbeat's initials, job title and locale have no
  e-conomic counterpart and are left as Rackbeat has them.
- No poll: after the start-up sync a new employee is made in Rackbeat.
"""

from __future__ import annotations

from typing import Any

from tasks.entities._fields import text
from tasks.entities._lookups import by_number
from tasks.entities._numbers import fitting_number, rackbeat_number_or_assigned
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

KIND = "employee"
NUMBER_MAX = 999_999

WRITABLE_FIELDS = (
    FieldRule("number", "integer", minimum=1, maximum=NUMBER_MAX),
    FieldRule("groupNumber", "integer", required=True, minimum=1),
    FieldRule("name", "string", required=True, min_length=1, max_length=100),
    FieldRule("isBarred", "boolean", required=True),
    FieldRule("phone", "string", max_length=20),
    FieldRule("email", "string", max_length=50),
)
"""From the `Employee` component of e-conomic's Projects OpenAPI spec (v1.1.0). The spec allows number 0,
which e-conomic refuses for ids in practice; Rackbeat numbers start at 1."""


def economic_key(record: Record) -> int | None:
    return rackbeat_number_or_assigned(KIND, record, NUMBER_MAX)


def employee_payload(record: Record, employee_group: int) -> dict[str, Any]:
    """The projectsapi Employee body for a Rackbeat employee filed under `employee_group`."""
    payload: dict[str, Any] = {}
    number = fitting_number(record.get("number"), NUMBER_MAX)
    if number is not None:
        payload["number"] = number
    payload["groupNumber"] = employee_group
    payload["name"] = text(record.get("name")) or ""
    payload["isBarred"] = False
    phone = text(record.get("contact_phone"))
    if phone is not None:
        payload["phone"] = phone
    email = text(record.get("contact_email"))
    if email is not None:
        payload["email"] = email
    return payload


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    return employee_payload(record, context.defaults.employee_group)


def economic_employee_number(document: Record) -> int:
    """The projectsapi Employee's number, which is Rackbeat's employee number too."""
    return int(document["number"])


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat employee for an e-conomic one; a cleared e-mail or phone is sent as null (clears it)."""
    return {
        "name": text(document.get("name")) or f"Employee {document['number']}",
        "contact_email": text(document.get("email")),
        "contact_phone": text(document.get("phone")),
    }


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("employees", "employee"),
    economic=EconomicSide(
        target=OpenApiRoute(service="projectsapi", version="v1.1.0", route="Employees"),
        key_field="number",
        barred_field="isBarred",
        writable_fields=WRITABLE_FIELDS,
        keep_on_update=("groupNumber", "isBarred"),
    ),
    exports=ExportRules(to_economic=to_economic, economic_key=economic_key),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=economic_employee_number,
        economic_key=economic_employee_number,
        find_existing=by_number("employees", "employee", economic_employee_number),
        match_on=(("number",), ("name",)),
        never_copied=("groupNumber", "isBarred"),
    ),
)
