"""The kinds' order (pure): every kind after the kinds its records refer to; a kind without import rules
is skipped with a note, the others still run."""

from __future__ import annotations

from tasks.entities import REGISTRY
from tasks.startup.order import KINDS, choose_kinds, companions


def test_every_dependency_of_a_kind_comes_before_it() -> None:
    position = {kind: number for number, kind in enumerate(KINDS)}
    for kind in KINDS:
        spec = REGISTRY.get(kind)
        if spec is None or spec.imports is None:
            continue
        for dependency in {dep for dep, _ in _sample_dependencies(kind)}:
            if dependency in position:
                assert position[dependency] < position[kind], (dependency, kind)


def _sample_dependencies(kind: str) -> list[tuple[str, str]]:
    """The dependency kinds a fully referenced document of `kind` names."""
    document = {
        "customerGroup": {"customerGroupNumber": 1},
        "supplierGroup": {"supplierGroupNumber": 1},
        "productGroup": {"productGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "layout": {"layoutNumber": 1},
        "salesPerson": {"employeeNumber": 1},
        "unit": {"unitNumber": 1},
    }
    return [(dep, str(key)) for dep, key in REGISTRY[kind].import_rules.dependencies(document)]


def test_a_kind_without_import_rules_is_skipped_with_a_note() -> None:
    registry = {kind: spec for kind, spec in REGISTRY.items() if kind != "layout"}

    chosen = choose_kinds(registry)

    assert [choice.kind for choice in chosen] == list(KINDS)
    layout = chosen[0]
    assert not layout.runs and layout.note and "skipped" in layout.note
    assert all(choice.runs for choice in chosen[1:] if REGISTRY[choice.kind].imports is not None)
    assert [spec.kind for spec in companions("product", REGISTRY)] == ["unit"]
