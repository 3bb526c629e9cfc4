"""Registry of the kinds the service keeps in step.

Every module in this package that defines a module-level `SPEC` (an `EntitySpec`) is registered at
import, so adding a kind is adding one module. The registry is checked as it is built, so a mistake in a
spec stops start-up instead of surfacing at webhook time: kinds and events are unique, a kind has a way
across, its master family is one a setting exists for, a barrable kind has the writable-field table a
barring replace needs, and kinds written to one e-conomic resource agree on its limits. For the import
direction: master data e-conomic may own is read by the master poll (else its changes would never
arrive), only such kinds are read by it, and a retiring body is not empty.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import get_args

from tasks.entities.base import Action, EntitySpec, MasterData
from tasks.settings import Settings


class SpecError(RuntimeError):
    """A spec contradicts itself or another spec; found when the registry is built."""


def _discover() -> dict[str, EntitySpec]:
    registry: dict[str, EntitySpec] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base" or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        spec = getattr(module, "SPEC", None)
        if not isinstance(spec, EntitySpec):
            continue
        if spec.kind in registry:
            raise SpecError(f"entity kind {spec.kind!r} is defined twice ({module_info.name})")
        registry[spec.kind] = spec
    check_registry(registry)
    return registry


def check_registry(registry: dict[str, EntitySpec]) -> None:
    """Raise SpecError naming the first contradiction (see the module docstring)."""
    events: dict[str, str] = {}
    limits: dict[str, tuple[str, object]] = {}
    for spec in registry.values():
        if spec.exports is None and spec.imports is None:
            raise SpecError(f"{spec.kind}: neither exported nor imported")
        if spec.master is not None and spec.master not in get_args(MasterData):
            raise SpecError(f"{spec.kind}: no setting chooses the master of {spec.master!r}")
        if spec.master is not None and f"{spec.master}_master" not in Settings.model_fields:
            raise SpecError(f"{spec.kind}: setting {spec.master}_master does not exist")
        for event in spec.rackbeat.events | spec.rackbeat.delete_events:
            if event in events:
                raise SpecError(f"event {event!r} is claimed by both {events[event]} and {spec.kind}")
            events[event] = spec.kind
        _check_import_rules(spec)
        if spec.posting is not None and spec.exports is None:
            raise SpecError(f"{spec.kind}: a posted document needs export rules (its mapper)")
        economic = spec.economic
        if economic.barrable and not economic.writable_fields:
            raise SpecError(f"{spec.kind}: a barrable kind needs writable_fields for the barring replace")
        if economic.writable_fields:
            known = limits.setdefault(economic.resource, (spec.kind, economic.writable_fields))
            if known[1] != economic.writable_fields:
                raise SpecError(
                    f"{spec.kind}: e-conomic resource {economic.resource!r} has other limits in {known[0]}"
                )


def _check_import_rules(spec: EntitySpec) -> None:
    rules = spec.imports
    if rules is None:
        return
    if spec.master is not None and rules.poll != "master":
        raise SpecError(f"{spec.kind}: master data e-conomic may own must be read by the master poll")
    if rules.poll == "master" and spec.master is None:
        raise SpecError(f"{spec.kind}: the master poll reads only kinds a master setting gives to e-conomic")
    if rules.when_gone is not None and not rules.when_gone:
        raise SpecError(f"{spec.kind}: when_gone is empty (None leaves the Rackbeat record as it is)")


REGISTRY: dict[str, EntitySpec] = _discover()


def spec_for_event(event: str) -> tuple[EntitySpec, Action] | None:
    """The kind a Rackbeat webhook event is about and what to do, or None for events we do not handle."""
    for spec in REGISTRY.values():
        action = spec.rackbeat.action_for(event)
        if action is not None:
            return spec, action
    return None


def get_spec(kind: str) -> EntitySpec:
    """The spec of a registered kind; KeyError names the kinds there are."""
    try:
        return REGISTRY[kind]
    except KeyError:
        raise KeyError(f"unknown kind {kind!r}; registered: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["REGISTRY", "EntitySpec", "SpecError", "check_registry", "get_spec", "spec_for_event"]
