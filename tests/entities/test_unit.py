"""The unit mapper and spec: pure, so these tests need nothing running."""

from __future__ import annotations

import pytest

from tasks.entities import REGISTRY, get_spec, spec_for_event, unit
from tasks.entities.base import MappingContext
from tasks.errors import MappingError
from tasks.sync.validation import validate_payload, writable_projection


def test_only_the_name_is_sent() -> None:
    record = {"id": 9, "number": 3, "name": "  kasse ", "created_at": "2026-01-01T00:00:00+00:00"}
    assert unit.to_economic(record, MappingContext()) == {"name": "kasse"}


def test_the_embedded_view_maps_like_the_full_record() -> None:
    # a product embeds {number, name}: the engine may take it as the unit's current state
    full = {"id": 9, "number": 3, "name": "kasse", "updated_at": "2026-01-01T00:00:00+00:00"}
    assert unit.to_economic({"number": 3, "name": "kasse"}, MappingContext()) == unit.to_economic(
        full, MappingContext()
    )


def test_e_conomic_assigns_the_number() -> None:
    spec = REGISTRY["unit"]
    assert spec is unit.SPEC
    assert (
        spec.exports.economic_key({"number": 3, "name": "kasse"}) is None
    )  # POST when unbound, PUT when bound
    assert spec.economic.resource == "units"
    assert spec.economic.key_field == "unitNumber"


def test_a_deleted_unit_is_left_in_e_conomic() -> None:
    assert not unit.SPEC.economic.barrable
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
        validate_payload(
            get_spec("unit").economic, unit.to_economic({"number": 1, "name": name}, MappingContext())
        )
    assert caught.value.field == "name"
    assert caught.value.problem == problem


def test_the_longest_name_e_conomic_takes_passes() -> None:
    validate_payload(
        get_spec("unit").economic, unit.to_economic({"number": 1, "name": "x" * 100}, MappingContext())
    )


def test_the_engine_knows_the_writable_fields_of_a_unit() -> None:
    assert get_spec("unit").economic.writable_fields == unit.WRITABLE_FIELDS
    document = {"unitNumber": 4, "name": "kasse", "products": "https://x/units/4/products", "self": "x"}
    assert writable_projection(get_spec("unit").economic, document) == {"name": "kasse"}
