"""The kinds the start-up sync copies, in dependency order (pure: no I/O).

Every record refers only to records of kinds before it: layouts, employees, payment terms and the groups
come before the customers, suppliers and products that use them. Units are not read as a kind of their
own: a product's unit comes along as its dependency, through the importer's own `resolve` (matched by name
in Rackbeat, created when missing); their index is built with the products' (`COMPANIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tasks.entities.base import EntitySpec

KINDS: tuple[str, ...] = (
    "layout",
    "employee",
    "payment_term",
    "customer_group",
    "supplier_group",
    "product_group",
    "customer",
    "supplier",
    "product",
)
"""The nine kinds, each after the kinds its records refer to."""

COMPANIONS: Mapping[str, tuple[str, ...]] = {"product": ("unit",)}
"""Kinds that are not read as kinds of their own but come along as dependencies of one: their Rackbeat
records are indexed before that kind's documents are brought across."""


@dataclass(frozen=True)
class KindChoice:
    """One of `KINDS`: its spec when it can be brought across, else why not (`note`)."""

    kind: str
    spec: EntitySpec | None
    note: str | None = None

    @property
    def runs(self) -> bool:
        return self.spec is not None


def choose_kinds(registry: Mapping[str, EntitySpec], only: tuple[str, ...] = ()) -> list[KindChoice]:
    """`KINDS` in order (or those of them in `only`), each with its spec, or a note when the registry has
    no import rules for it yet (the kind is skipped, the others run)."""
    chosen: list[KindChoice] = []
    for kind in KINDS:
        if only and kind not in only:
            continue
        spec = registry.get(kind)
        if spec is None:
            chosen.append(KindChoice(kind, None, "not a registered kind yet: skipped"))
        elif spec.imports is None:
            chosen.append(KindChoice(kind, None, "has no import rules yet: skipped"))
        else:
            chosen.append(KindChoice(kind, spec))
    return chosen


def companions(kind: str, registry: Mapping[str, EntitySpec]) -> list[EntitySpec]:
    """The specs of the kinds that come along with `kind` and can be imported (their index is built)."""
    found = []
    for name in COMPANIONS.get(kind, ()):
        spec = registry.get(name)
        if spec is not None and spec.imports is not None:
            found.append(spec)
    return found
