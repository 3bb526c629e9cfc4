"""The employee's import (e-conomic -> Rackbeat, read from projectsapi Employees): pure mapper, spec and
finder; one test per rule of tasks/entities/employee.py."""

from __future__ import annotations

from typing import Any

from tasks.entities import employee
from tasks.entities.base import MappingContext, OpenApiRoute
from tasks.settings import Settings
from tasks.sync.direction import owner
from tests.entities.test_dependency_imports import FakeRackbeat

EMPLOYEE = {
    "number": 5,
    "groupNumber": 1,
    "name": " Mette Kjær ",
    "isBarred": False,
    "phone": "+45 75 50 12 01",
    "email": "mk@nordvik-byg.dk",
    "objectVersion": "AAA=",
}


def mapped(**fields: Any) -> dict[str, Any]:
    return employee.to_rackbeat({**EMPLOYEE, **fields}, MappingContext())


def test_an_employee_keeps_its_number_name_email_and_phone() -> None:
    assert mapped() == {
        "name": "Mette Kjær",
        "contact_email": "mk@nordvik-byg.dk",
        "contact_phone": "+45 75 50 12 01",
    }
    rules = employee.SPEC.import_rules
    assert rules.rackbeat_key(EMPLOYEE) == 5 and employee.SPEC.economic_key_of(EMPLOYEE) == 5


def test_a_cleared_email_or_phone_is_sent_as_null_which_clears_it_in_rackbeat() -> None:
    without = {k: v for k, v in EMPLOYEE.items() if k not in ("email", "phone")}
    body = employee.to_rackbeat(without, MappingContext())
    assert (body["contact_email"], body["contact_phone"]) == (None, None)


def test_never_copied_the_group_or_the_bar_and_a_barred_employee_still_comes() -> None:
    assert mapped(groupNumber=7, isBarred=True) == mapped()
    assert employee.SPEC.import_rules.never_copied == ("groupNumber", "isBarred")


def test_it_is_read_where_the_export_writes_it() -> None:
    route = OpenApiRoute(service="projectsapi", version="v1.1.0", route="Employees")
    assert employee.SPEC.import_sources() == (route,)


def test_an_employee_is_found_at_its_number_and_matched_by_number_then_name() -> None:
    rules = employee.SPEC.import_rules
    assert rules.find_existing is not None
    rackbeat = FakeRackbeat({"employees": [{"number": 5, "name": "Mette"}]})
    assert rules.find_existing(rackbeat, EMPLOYEE) == {"number": 5, "name": "Mette"}
    assert rules.find_existing(rackbeat, {**EMPLOYEE, "number": 6}) is None
    assert rules.match_on == (("number",), ("name",))


def test_rackbeat_owns_employees_after_the_startup_sync_so_no_poll_reads_them() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rackbeat_token="t",
        economic_app_secret_token="t",
        economic_agreement_grant_token="t",
    )
    assert owner(employee.SPEC, settings) == "rackbeat"
    assert employee.SPEC.import_rules.poll is None


def test_an_imported_employee_exports_back_unchanged() -> None:
    """What the export sends for the Rackbeat employee the import made is e-conomic's own employee."""
    rackbeat = {"number": 5, **mapped()}
    body = employee.employee_payload(rackbeat, employee_group=1)
    for name in ("number", "groupNumber", "email", "phone", "isBarred"):
        assert body[name] == EMPLOYEE[name], name
    assert body["name"] == "Mette Kjær"
