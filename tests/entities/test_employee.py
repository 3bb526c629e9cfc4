"""The employee mapper (projectsapi Employees): pure, so nothing needs to run."""

from __future__ import annotations

import pytest

from tasks.entities import REGISTRY, employee, spec_for_event
from tasks.entities.base import MappingContext
from tasks.errors import MappingError
from tasks.sync.validation import validate_payload

RESOURCE = "projectsapi/Employees"


def rackbeat_employee(**overrides):
    record = {
        "number": 12,
        "name": "Mette Kjær",
        "initials": "MK",
        "contact_phone": "+45 20 30 40 50",
        "contact_email": "mk@nordvik-byg.dk",
        "locale": "da",
        "job_title": "Indkøber",
        "should_notify": True,
        "default_location_id": 1,
        "default_location": {"number": 1, "name": "Hovedlager"},
    }
    record.update(overrides)
    return record


def test_an_employee_maps_every_owned_field() -> None:
    assert employee.employee_payload(rackbeat_employee(), 3) == {
        "number": 12,
        "groupNumber": 3,
        "name": "Mette Kjær",
        "isBarred": False,
        "phone": "+45 20 30 40 50",
        "email": "mk@nordvik-byg.dk",
    }


def test_nothing_unmapped_is_sent() -> None:
    payload = employee.employee_payload(rackbeat_employee(), 3)
    assert set(payload) <= {rule.path for rule in employee.WRITABLE_FIELDS}
    for value in ("MK", "Indkøber", "Hovedlager", "da"):
        assert value not in payload.values()


def test_absent_contact_details_are_left_out() -> None:
    payload = employee.employee_payload(rackbeat_employee(contact_phone=None, contact_email="  "), 1)
    assert "phone" not in payload and "email" not in payload


def test_the_number_follows_rackbeat_where_e_conomic_can_take_it() -> None:
    assert employee.economic_key(rackbeat_employee(number="999999")) == 999_999
    assert employee.economic_key(rackbeat_employee(number=1_000_000)) is None
    assert "number" not in employee.employee_payload(rackbeat_employee(number=1_000_000), 1)


def test_group_and_bar_belong_to_e_conomic_once_the_employee_exists() -> None:
    spec = REGISTRY["employee"]
    assert set(spec.economic.keep_on_update) == {"groupNumber", "isBarred"}
    assert (spec.economic.barrable, spec.economic.barred_field) == (
        True,
        "isBarred",
    )  # a deleted employee is barred there


def test_the_payload_satisfies_e_conomic_s_employee_schema() -> None:
    validate_payload(employee.SPEC.economic, employee.employee_payload(rackbeat_employee(), 1))


@pytest.mark.parametrize(
    ("field", "value"), [("contact_email", "x" * 46 + "@a.dk"), ("contact_phone", "1" * 21)]
)
def test_contact_details_longer_than_e_conomic_allows_fail_before_the_call(field: str, value: str) -> None:
    payload = employee.employee_payload(rackbeat_employee(**{field: value}), 1)
    with pytest.raises(MappingError) as raised:
        validate_payload(employee.SPEC.economic, payload)
    assert raised.value.field == {"contact_email": "email", "contact_phone": "phone"}[field]


def test_an_employee_without_a_name_fails_before_the_call() -> None:
    with pytest.raises(MappingError) as raised:
        validate_payload(employee.SPEC.economic, employee.employee_payload(rackbeat_employee(name=" "), 1))
    assert raised.value.field == "name"


def test_the_group_comes_from_the_settings(service_settings) -> None:
    assert service_settings.employee_group == 1
    assert employee.to_economic(rackbeat_employee(), MappingContext())["groupNumber"] == 1


def test_employee_events() -> None:
    spec = REGISTRY["employee"]
    assert spec.economic.resource == RESOURCE
    assert spec_for_event("employee.created") == (spec, "upsert")
    assert spec_for_event("employee.deleted") == (spec, "delete")
