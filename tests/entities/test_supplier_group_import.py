"""The supplier group's import (e-conomic -> Rackbeat, read from suppliersapi Groups): pure mapper, spec and
finder; one test per rule of tasks/entities/supplier_group.py."""

from __future__ import annotations

from tasks.entities import supplier_group
from tasks.entities.base import MappingContext, OpenApiRoute
from tasks.settings import Settings
from tasks.sync.direction import owner
from tests.entities.test_dependency_imports import FakeRackbeat

GROUP = {"number": 2, "name": " Udenlandske leverandører ", "accountNumber": 6810, "objectVersion": "AAA="}


def test_a_group_keeps_its_number_and_its_name_and_never_its_account() -> None:
    assert supplier_group.to_rackbeat(GROUP, MappingContext()) == {"name": "Udenlandske leverandører"}
    rules = supplier_group.SPEC.import_rules
    assert rules.rackbeat_key(GROUP) == 2 and supplier_group.SPEC.economic_key_of(GROUP) == 2
    assert rules.never_copied == ("accountNumber",)
    assert supplier_group.to_rackbeat({**GROUP, "accountNumber": 9999}, MappingContext()) == (
        supplier_group.to_rackbeat(GROUP, MappingContext())
    )


def test_a_group_without_a_name_gets_one_rackbeat_accepts() -> None:
    assert supplier_group.to_rackbeat({"number": 4, "name": ""}, MappingContext()) == {"name": "Group 4"}


def test_it_is_read_where_the_export_writes_it() -> None:
    spec = supplier_group.SPEC
    assert spec.import_sources() == (OpenApiRoute(service="suppliersapi", version="v2.0.0", route="Groups"),)


def test_a_group_is_found_at_its_number_and_matched_by_number_then_name() -> None:
    rules = supplier_group.SPEC.import_rules
    assert rules.find_existing is not None
    rackbeat = FakeRackbeat({"supplier-groups": [{"number": 2, "name": "Foreign"}]})
    assert rules.find_existing(rackbeat, GROUP) == {"number": 2, "name": "Foreign"}
    assert rules.find_existing(rackbeat, {**GROUP, "number": 3}) is None
    assert rules.match_on == (("number",), ("name",))


def test_rackbeat_owns_groups_after_the_startup_sync_so_no_poll_reads_them() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rackbeat_token="t",
        economic_app_secret_token="t",
        economic_agreement_grant_token="t",
    )
    assert owner(supplier_group.SPEC, settings) == "rackbeat"
    assert supplier_group.SPEC.import_rules.poll is None


def test_an_imported_group_exports_back_as_the_same_group() -> None:
    """The export maps the Rackbeat group the import made to e-conomic's number and name."""
    rackbeat = {"number": 2, **supplier_group.to_rackbeat(GROUP, MappingContext())}
    body = supplier_group.supplier_group_payload(rackbeat, 6810)
    assert (body["number"], body["name"]) == (GROUP["number"], "Udenlandske leverandører")
