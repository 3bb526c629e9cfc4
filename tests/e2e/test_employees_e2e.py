"""Employees, Rackbeat -> e-conomic (projectsapi Employees), end to end: changes made in the Rackbeat
sandbox reach the e-conomic sandbox through webhooks, the receiver and the session's real worker."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.suppliers_support import bookkeeper_edit, collection_writes, unique_number
from tests.e2e.test_products_e2e import Flow, e2e, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("celery_worker", "receiver")

EMPLOYEES_PATH = "/projectsapi/v1.1.0/Employees"


def economic_employee(flow: Flow, number: int) -> dict[str, Any] | None:
    found = [e for e in flow.economic.sandbox.dump("employees") if e["employeeNumber"] == number]
    return found[0] if found else None


def test_an_employee_is_created_updated_and_barred_when_deleted(e2e: Flow) -> None:  # noqa: F811
    number = unique_number(2, 999_999)  # 1 is e-conomic's administrator
    e2e.rackbeat.sandbox.create(
        "employees",
        {
            "number": number,
            "name": "Mette Kjær",
            "initials": "MK",
            "contact_email": "mk@nordvik-byg.dk",
            "contact_phone": "20304050",
            "job_title": "Indkøber",
        },
    )
    assert e2e.wait_outcome("employee", str(number)) == ["created"]
    stored = economic_employee(e2e, number)
    assert stored is not None
    assert stored["name"] == "Mette Kjær"
    assert (stored["email"], stored["phone"]) == ("mk@nordvik-byg.dk", "20304050")
    assert stored["employeeGroup"]["employeeGroupNumber"] == 1
    assert "Indkøber" not in str(stored) and "MK" not in str(stored)  # not mapped, never sent

    e2e.rackbeat.sandbox.update("employees", number, {"name": "Mette Kjær Holm"})
    assert e2e.wait_outcome("employee", str(number), count=2)[-1] == "replaced"
    assert economic_employee(e2e, number)["name"] == "Mette Kjær Holm"
    writes = len(collection_writes(e2e, EMPLOYEES_PATH, "number", number))
    assert writes == 2

    e2e.rackbeat.sandbox.update("employees", number, {"job_title": "Indkøbschef", "initials": "MKH"})
    assert e2e.wait_outcome("employee", str(number), count=3)[-1] == "unchanged"
    assert len(collection_writes(e2e, EMPLOYEES_PATH, "number", number)) == writes

    e2e.rackbeat.sandbox.delete("employees", number)
    assert e2e.wait_outcome("employee", str(number), count=4)[-1] == "barred"
    stored = economic_employee(e2e, number)
    assert stored is not None and stored.get("barred") is True  # kept, with its history, but barred
    assert stored["name"] == "Mette Kjær Holm"
    assert len(collection_writes(e2e, EMPLOYEES_PATH, "number", number)) == writes + 1


def test_a_bar_set_in_e_conomic_survives_updates_from_rackbeat(e2e: Flow) -> None:  # noqa: F811
    number = unique_number(2, 999_999)
    e2e.rackbeat.sandbox.create("employees", {"number": number, "name": "Ole Sand"})
    assert e2e.wait_outcome("employee", str(number)) == ["created"]

    bookkeeper_edit(e2e.settings, "projectsapi/v1.1.0", "Employees", number, isBarred=True)
    e2e.rackbeat.sandbox.update("employees", number, {"name": "Ole Sand Madsen"})

    assert e2e.wait_outcome("employee", str(number), count=2)[-1] == "replaced"
    stored = economic_employee(e2e, number)
    assert stored["name"] == "Ole Sand Madsen"
    assert stored["barred"] is True
