"""The layout's import (e-conomic -> Rackbeat only): pure mapper, spec and finder; one test per rule of
tasks/entities/layout.py."""

from __future__ import annotations

from tasks.entities import REGISTRY, layout
from tasks.entities.base import MappingContext
from tasks.settings import Settings
from tasks.sync.direction import Directions, owner
from tests.entities.test_dependency_imports import FakeRackbeat

DOCUMENT = {
    "layoutNumber": 19,
    "name": " Standard faktura ",
    "deleted": False,
    "self": "https://x/layouts/19",
}


def test_a_layout_keeps_its_number_and_its_name() -> None:
    rules = layout.SPEC.import_rules
    assert layout.to_rackbeat(DOCUMENT, MappingContext()) == {"name": "Standard faktura"}
    assert rules.rackbeat_key(DOCUMENT) == 19
    assert layout.SPEC.economic_key_of(DOCUMENT) == 19


def test_a_layout_without_a_name_gets_one_rackbeat_accepts() -> None:
    assert layout.to_rackbeat({"layoutNumber": 20, "name": "  "}, MappingContext()) == {"name": "Layout 20"}


def test_never_copied_the_deleted_flag() -> None:
    deleted = layout.to_rackbeat({**DOCUMENT, "deleted": True}, MappingContext())
    assert deleted == layout.to_rackbeat(DOCUMENT, MappingContext())
    assert layout.SPEC.import_rules.never_copied == ("deleted",)


def test_a_layout_is_found_at_its_number_and_matched_by_number_then_name() -> None:
    rules = layout.SPEC.import_rules
    assert rules.find_existing is not None
    rackbeat = FakeRackbeat({"layouts": [{"number": 19, "name": "Old name"}]})
    assert rules.find_existing(rackbeat, DOCUMENT) == {"number": 19, "name": "Old name"}
    assert rules.find_existing(rackbeat, {"layoutNumber": 21, "name": "Old name"}) is None
    assert rules.match_on == (("number",), ("name",))
    assert rules.dependencies(DOCUMENT) == []


def test_layouts_only_come_from_economic_which_owns_them() -> None:
    spec = REGISTRY["layout"]
    assert spec is layout.SPEC
    assert spec.exports is None, "e-conomic's layouts are read-only"
    assert spec.economic.resource == "layouts" and spec.rackbeat.resource == "layouts"
    assert not spec.rackbeat.events, "Rackbeat fires no layout events"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rackbeat_token="t",
        economic_app_secret_token="t",
        economic_agreement_grant_token="t",
    )
    assert owner(spec, settings) == "economic"
    assert Directions.of(settings).imports("layout")
    assert spec.import_rules.poll is None and spec.import_rules.when_gone is None
