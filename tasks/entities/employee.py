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
"""

from __future__ import annotations

from typing import Any

from tasks.entities._fields import text
from tasks.entities._numbers import fitting_number, rackbeat_number_or_assigned
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
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
)
