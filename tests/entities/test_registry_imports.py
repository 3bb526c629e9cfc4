"""The registry's checks of import rules: a spec that could never be polled right is refused at start-up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tasks.entities import SpecError, check_registry
from tasks.entities.base import EconomicSide, EntitySpec, ImportRules, LegacyResource, RackbeatSide


def imported(kind: str, **changes: object) -> EntitySpec:
    base = EntitySpec(
        kind=kind,
        rackbeat=RackbeatSide(resource=f"{kind}s", singular=kind),
        economic=EconomicSide(target=LegacyResource(f"{kind}s"), key_field="number"),
        imports=ImportRules(to_rackbeat=lambda document, context: {}),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rules(**changes: object) -> ImportRules:
    return replace(ImportRules(to_rackbeat=lambda document, context: {}), **changes)  # type: ignore[arg-type]


def test_an_import_only_kind_passes() -> None:
    check_registry({"order": imported("order", imports=rules(poll="orders"))})


def test_master_data_economic_may_own_must_be_read_by_the_master_poll() -> None:
    with pytest.raises(SpecError, match="must be read by the master poll"):
        check_registry({"c": imported("c", master="customers")})


def test_the_master_poll_reads_only_kinds_a_master_setting_chooses() -> None:
    with pytest.raises(SpecError, match="reads only kinds a master setting gives"):
        check_registry({"o": imported("o", imports=rules(poll="master"))})


def test_an_empty_retiring_body_is_refused() -> None:
    with pytest.raises(SpecError, match="when_gone is empty"):
        check_registry({"p": imported("p", imports=rules(when_gone={}))})
