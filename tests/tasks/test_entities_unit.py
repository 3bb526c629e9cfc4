"""The unit mapper and spec: pure, so these tests need nothing running."""

from __future__ import annotations

import pytest

from tasks.entities import REGISTRY, spec_for_event, unit
from tasks.sync.errors import MappingError
from tasks.sync.validation import CONSTRAINTS, validate_payload, writable_projection


def test_only_the_name_is_sent() -> None:
    record = {"id": 9, "number": 3, "name": "  kasse ", "created_at": "2026-01-01T00:00:00+00:00"}
    assert unit.to_economic(record, {}) == {"name": "kasse"}


def test_the_embedded_view_maps_like_the_full_record() -> None:
    # a product embeds {number, name}: the engine may take it as the unit's current state
    full = {"id": 9, "number": 3, "name": "kasse", "updated_at": "2026-01-01T00:00:00+00:00"}
    assert unit.to_economic({"number": 3, "name": "kasse"}, {}) == unit.to_economic(full, {})


def test_e_conomic_assigns_the_number() -> None:
    spec = REGISTRY["unit"]
    assert spec is unit.SPEC
    assert spec.economic_key({"number": 3, "name": "kasse"}) is None  # POST when unbound, PUT when bound
    assert spec.economic_resource == "units"
    assert spec.economic_key_field == "unitNumber"


def test_a_deleted_unit_is_left_in_e_conomic() -> None:
    assert not unit.SPEC.barrable
    assert spec_for_event("unit.deleted") == (unit.SPEC, "delete")
    assert spec_for_event("unit.updated") == (unit.SPEC, "upsert")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("x" * 101, "is 101 characters long; e-conomic allows at most 100"),
        ("   ", "must be at least 1 characters long"),
    ],
)
def test_names_e_conomic_refuses_fail_before_the_call(name: str, problem: str) -> None:
    with pytest.raises(MappingError) as caught:
        validate_payload("units", unit.to_economic({"number": 1, "name": name}, {}), method="POST")
    assert caught.value.field == "name"
    assert caught.value.problem == problem


def test_the_longest_name_e_conomic_takes_passes() -> None:
    validate_payload("units", unit.to_economic({"number": 1, "name": "x" * 100}, {}))


def test_the_engine_knows_the_writable_fields_of_a_unit() -> None:
    assert CONSTRAINTS["units"] == unit.UNIT_RULES
    document = {"unitNumber": 4, "name": "kasse", "products": "https://x/units/4/products", "self": "x"}
    assert writable_projection("units", document) == {"name": "kasse"}
