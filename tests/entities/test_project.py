"""The project spec and mapper (e-conomic projectsapi -> Rackbeat projects): pure, so nothing needs to run."""

from __future__ import annotations

from typing import Any

import pytest

from clients.errors import NotFoundError
from tasks.entities import REGISTRY, project
from tasks.entities.base import MappingContext, OpenApiRoute
from tasks.settings import Settings


def economic_project(**overrides: Any) -> dict[str, Any]:
    """A project as projectsapi/v1.1.0 answers GET Projects/{number} (S4 Project)."""
    document: dict[str, Any] = {
        "number": 41,
        "name": "Harbour fit-out",
        "projectGroupNumber": 2,
        "customerNumber": 1007,
        "isMainProject": False,
        "isBarred": False,
        "isClosed": False,
        "isMileageInvoiced": True,
        "responsibleEmployeeNumber": 3,
        "status": 2,
        "description": "Phase 1: the quay",
        "deliveryDate": "2026-09-30",
        "departmentNumber": 1,
        "fixedPrice": 125000.0,
        "otherReference": "PO-7781",
        "costPrice": 40000.0,
        "salesPrice": 60000.0,
        "invoicedTotal": 0.0,
        "lastUpdated": "2026-05-04T10:11:12Z",
        "objectVersion": "AAAAAAAAAAE=",
    }
    document.update(overrides)
    return document


def test_projects_are_import_only_and_keyed_by_the_economic_number() -> None:
    spec = REGISTRY["project"]
    assert spec.exports is None and spec.imports is not None and spec.master is None
    assert spec.economic.target == OpenApiRoute("projectsapi", "v1.1.0", "Projects")  # lastUpdated (§10)
    assert spec.economic.key_field == "number"
    assert (spec.rackbeat.resource, spec.rackbeat.singular, spec.rackbeat.key_field) == (
        "projects",
        "project",
        "number",
    )
    # Rackbeat's project events are not ours to handle: projects made in Rackbeat are not sent (§4.3)
    assert spec.rackbeat.events == frozenset() and spec.rackbeat.delete_events == frozenset()
    rules = spec.imports
    assert rules.upsert_path == "projects/upsert"  # rackbeat-api.md §2.2: POST projects/upsert
    assert rules.poll == "projects"
    assert rules.when_gone is None  # a project deleted in e-conomic stays in Rackbeat
    assert rules.rackbeat_key(economic_project()) == 41
    assert rules.economic_key is not None and rules.economic_key(economic_project(number="41")) == 41


def test_e_conomic_owns_projects_whatever_the_master_settings_say() -> None:
    from tasks.sync.direction import Directions

    for masters in ({}, {"customers_master": "economic", "products_master": "economic"}):
        directions = Directions.of(Settings.model_construct(**masters))
        assert "project" in directions.imported and "project" not in directions.exported


def test_the_mapper_sends_the_name_and_the_description_only() -> None:
    assert project.to_rackbeat(economic_project(), MappingContext()) == {
        "name": "Harbour fit-out",
        "description": "Phase 1: the quay",
    }


def test_no_customer_group_employee_price_or_date_is_copied() -> None:
    mapped = project.to_rackbeat(economic_project(), MappingContext())
    assert set(mapped) == {"name", "description"}
    assert {"customerNumber", "projectGroupNumber", "fixedPrice", "deliveryDate"} <= set(project.NEVER_COPIED)
    assert REGISTRY["project"].imports is not None
    assert REGISTRY["project"].imports.never_copied == project.NEVER_COPIED
    for value in ("1007", "PO-7781", "125000", "2026-09-30"):
        assert value not in str(mapped)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"description": None}, {"description": ""}),  # cleared in e-conomic: cleared in Rackbeat
        ({"description": "  padded  "}, {"description": "padded"}),
        ({"name": "   "}, {"name": "Project 41"}),  # Rackbeat requires a name
        ({"name": "N" * 120}, {"name": "N" * 100}),
        ({"isBarred": True, "isClosed": True}, {"name": "Harbour fit-out"}),  # imported like any other
    ],
)
def test_edge_values(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    mapped = project.to_rackbeat(economic_project(**changes), MappingContext())
    for name, value in expected.items():
        assert mapped[name] == value


def test_a_document_without_a_description_field_maps_to_an_empty_one() -> None:
    document = economic_project()
    del document["description"]
    assert project.to_rackbeat(document, MappingContext())["description"] == ""


class Lookup:
    def __init__(self, records: dict[int, dict[str, Any]]) -> None:
        self.records = records
        self.calls: list[tuple[str, Any, str]] = []

    def get(self, resource: str, key: str | int, singular: str) -> dict[str, Any]:
        self.calls.append((resource, key, singular))
        if key not in self.records:
            raise NotFoundError(
                "not found", api="rackbeat", method="GET", url=f"{resource}/{key}", status=404
            )
        return self.records[int(key)]

    def iter(self, resource: str, plural: str, params: Any = None, limit: int = 1000) -> Any:
        raise AssertionError("a project is looked up by its number, never by listing")


def test_an_unbound_project_is_looked_up_in_rackbeat_at_its_number_first() -> None:
    find = REGISTRY["project"].imports.find_existing  # type: ignore[union-attr]
    assert find is not None
    rackbeat = Lookup({41: {"number": 41, "name": "Made in Rackbeat"}})
    assert find(rackbeat, economic_project()) == {"number": 41, "name": "Made in Rackbeat"}
    assert find(rackbeat, economic_project(number=42)) is None
    assert rackbeat.calls == [("projects", 41, "project"), ("projects", 42, "project")]
