"""Whose e-conomic record it is: adopting one e-conomic already has, and refusing one another record owns.

An agreement comes with its own units and payment terms. A kind whose e-conomic key is assigned by
e-conomic declares the mapped fields that identify such a record (`ExportRules.adopt_by`): an unbound
Rackbeat record that matches one is bound to it instead of creating a second one.

Two Rackbeat records must never write one e-conomic record (a product and a lot with the same number
both become e-conomic products): the bindings keep an owner per e-conomic record, across kinds, and the
second writer is refused before any call, naming the first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tasks.entities.base import EntitySpec
from tasks.errors import MappingError
from tasks.sync.ports import SyncStore
from tasks.sync.writers import EconomicWriter

logger = logging.getLogger(__name__)


def matching_record(spec: EntitySpec, key: str, payload: Mapping[str, Any], writer: EconomicWriter) -> Any:
    """The key of the e-conomic record an unbound record is the same as (by `adopt_by`), or None.

    Reads the collection a page at a time; it happens once per record, since the binding is kept."""
    adopt_by = spec.export_rules.adopt_by
    wanted = {name: payload.get(name) for name in adopt_by}
    for document in writer.existing():
        if all(document.get(name) == value for name, value in wanted.items()):
            found = document.get(spec.economic.key_field)
            logger.info(
                "%s %r matches e-conomic %r by %s; bound to it instead of creating another",
                spec.kind,
                key,
                found,
                ", ".join(adopt_by),
            )
            return found
    return None


def refuse_a_record_another_owns(spec: EntitySpec, key: str, economic_key: Any, store: SyncStore) -> None:
    """MappingError when another Rackbeat record (of any kind) owns the e-conomic record `economic_key`."""
    resource = spec.economic.resource
    owner = store.bindings.owner(resource, economic_key)
    if owner is not None and owner != (spec.kind, key):
        raise MappingError(
            spec.economic.key_field,
            f"e-conomic {resource} {economic_key!r} is already {owner[0]} {owner[1]!r} from "
            "Rackbeat; refusing to overwrite it",
            api="economic",
            resource=resource,
        )
