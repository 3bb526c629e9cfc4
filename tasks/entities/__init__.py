"""Registry of the kinds that move from Rackbeat to e-conomic.

Every module in this package that defines a module-level `SPEC` (an `EntitySpec`) is registered at
import, so adding a kind is adding one module; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from tasks.entities.base import Action, EntitySpec
from tasks.sync.validation import CONSTRAINTS


def _discover() -> dict[str, EntitySpec]:
    registry: dict[str, EntitySpec] = {}
    events: dict[str, str] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base" or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        spec = getattr(module, "SPEC", None)
        if not isinstance(spec, EntitySpec):
            continue
        if spec.kind in registry:
            raise RuntimeError(f"entity kind {spec.kind!r} is defined twice ({module_info.name})")
        for event in spec.events | spec.delete_events:
            if event in events:
                raise RuntimeError(f"event {event!r} is claimed by both {events[event]} and {spec.kind}")
            events[event] = spec.kind
        registry[spec.kind] = spec
        _install_constraints(spec)
    return registry


def _install_constraints(spec: EntitySpec) -> None:
    """Give the engine's limits table (tasks.sync.validation.CONSTRAINTS) the kind's own rules."""
    if not spec.constraints:
        return
    known = CONSTRAINTS.setdefault(spec.economic_resource, spec.constraints)
    if known != spec.constraints:
        raise RuntimeError(
            f"{spec.kind}: e-conomic resource {spec.economic_resource!r} has other limits already"
        )


REGISTRY: dict[str, EntitySpec] = _discover()


def spec_for_event(event: str) -> tuple[EntitySpec, Action] | None:
    """The kind a Rackbeat webhook event is about and what to do, or None for events we do not handle."""
    for spec in REGISTRY.values():
        action = spec.action_for(event)
        if action is not None:
            return spec, action
    return None


def get_spec(kind: str) -> EntitySpec:
    """The spec of a registered kind; KeyError names the kinds there are."""
    try:
        return REGISTRY[kind]
    except KeyError:
        raise KeyError(f"unknown kind {kind!r}; registered: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["REGISTRY", "EntitySpec", "get_spec", "spec_for_event"]
