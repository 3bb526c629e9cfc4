"""The registry refuses a spec that contradicts itself or another one when it is built, not in use."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.entities import REGISTRY, SpecError, check_registry
from tasks.entities.base import EconomicSide, EntitySpec, ExportRules, FieldRule, LegacyResource, RackbeatSide


def spec(kind: str, **changes: object) -> EntitySpec:
    base = EntitySpec(
        kind=kind,
        rackbeat=RackbeatSide(resource=f"{kind}s", singular=kind, events=frozenset({f"{kind}.updated"})),
        economic=EconomicSide(target=LegacyResource(f"{kind}s"), key_field="number"),
        exports=ExportRules(to_economic=lambda record, context: {}),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_real_registry_passes() -> None:
    check_registry(dict(REGISTRY))


def test_a_kind_that_moves_neither_way_is_refused() -> None:
    with pytest.raises(SpecError, match="neither exported nor imported"):
        check_registry({"idle": spec("idle", exports=None)})


def test_one_event_claimed_by_two_kinds_is_refused() -> None:
    twin = spec("twin", rackbeat=RackbeatSide(resource="x", singular="x", events=frozenset({"a.updated"})))
    with pytest.raises(SpecError, match=r"'a\.updated' is claimed by both a and twin"):
        check_registry({"a": spec("a"), "twin": twin})


def test_a_barrable_kind_without_writable_fields_is_refused() -> None:
    barred = spec(
        "b", economic=EconomicSide(target=LegacyResource("bs"), key_field="n", barred_field="barred")
    )
    with pytest.raises(SpecError, match="needs writable_fields"):
        check_registry({"b": barred})


def test_two_kinds_disagreeing_on_one_resource_s_limits_are_refused() -> None:
    def writing(kind: str, limit: int) -> EntitySpec:
        rules = (FieldRule("name", "string", max_length=limit),)
        return spec(
            kind, economic=EconomicSide(target=LegacyResource("shared"), key_field="n", writable_fields=rules)
        )

    check_registry({"a": writing("a", 50), "b": replace(writing("b", 50), rackbeat=RackbeatSide("y", "y"))})
    with pytest.raises(SpecError, match="'shared' has other limits in a"):
        check_registry(
            {"a": writing("a", 50), "b": replace(writing("b", 60), rackbeat=RackbeatSide("y", "y"))}
        )


def test_a_master_family_no_setting_chooses_is_refused() -> None:
    with pytest.raises(SpecError, match="no setting chooses the master of 'suppliers'"):
        check_registry({"s": spec("s", master="suppliers")})
