"""Resolving the records a record refers to, before it is mapped.

A dependency of a registered kind is transferred first, in the same transfer and under its own lock,
so it is current and not merely bound; for a kind nobody transfers only its binding is looked up. A
dependency that cannot be resolved is left out of the refs: the mapper decides whether it was optional.

A posted document only needs the e-conomic keys of what it refers to (it carries its own copy of the rest):
with `settled=True` a dependency that a transfer already brought across (`BindingStore.settled_key`) is
referred to by its binding's key, with no call; only one that is not yet bound (or was found gone) is
transferred first. Its later changes come across by its own webhook and the change poll. A dependency the
document embeds a view of (an invoice's payment terms) is checked by that view instead, as for any record:
current when the view maps to what was last written, else transferred first, so e-conomic never books a
document against terms Rackbeat has since changed (e-conomic derives the due date from them).

A dependency of master data that a transfer found in step a moment ago, with no event for it since and no
change its view shows, is taken from the shared look-ups (`tasks.sync.lookups`, when the store has them)
without a call; posted documents keep the rules above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasks.entities import REGISTRY
from tasks.entities.base import EntitySpec, MappingContext, MappingDefaults, Record, RecordRef
from tasks.sync.ports import SyncStore
from tasks.sync.refs import payload_hash
from tasks.sync.results import TransferResult

Transfer = Callable[[str, str, tuple[RecordRef, ...]], TransferResult]
"""`(kind, key, chain) -> result`: the synchronizer's own transfer, for a dependency."""


def resolve_dependencies(
    spec: EntitySpec,
    record: Record,
    store: SyncStore,
    defaults: MappingDefaults,
    transfer: Transfer,
    chain: tuple[RecordRef, ...],
    *,
    settled: bool = False,
) -> tuple[list[TransferResult], dict[RecordRef, Any]]:
    """The dependencies' own results (in the order they ran) and their e-conomic keys by ref; with
    `settled`, a dependency already brought across is taken from its binding (no result, no call)."""
    rules = spec.export_rules
    results: list[TransferResult] = []
    refs: dict[RecordRef, Any] = {}
    views = rules.embedded(record)
    for dep_kind, dep_key in rules.depends_on(record):
        dep_key = str(dep_key)
        view = views.get((dep_kind, dep_key))
        # a view the record embeds shows the dependency as it is now: it wins over a settled binding
        known = store.bindings.settled_key(dep_kind, dep_key) if settled and view is None else None
        if known is not None:
            refs[(dep_kind, dep_key)] = known
        elif dep_kind in REGISTRY:
            dep_result = current_by_view(dep_kind, dep_key, view, store, defaults)
            if dep_result is None and store.lookups is not None and not settled:
                dep_result = store.lookups.current(dep_kind, dep_key, view, store.bindings)
            if dep_result is None:
                dep_result = transfer(dep_kind, dep_key, chain)
            results.append(dep_result)
            if dep_result.economic_key is not None:
                refs[(dep_kind, dep_key)] = dep_result.economic_key
        else:
            binding = store.bindings.get(dep_kind, dep_key)
            if binding is not None:
                refs[(dep_kind, dep_key)] = binding.economic_key
    return results, refs


def current_by_view(
    kind: str, key: str, view: Record | None, store: SyncStore, defaults: MappingDefaults
) -> TransferResult | None:
    """ "unchanged" when the dependency's embedded view maps to exactly what was last written for it.

    Anything else (no view, unbound, a different hash, a dependency with dependencies of its own) returns
    None and the dependency is transferred in full. A change the view cannot show still reaches e-conomic
    through the dependency's own webhook.
    """
    rules = REGISTRY[kind].exports
    if rules is None or view is None or rules.depends_on(view) or rules.related_refs(view):
        return None
    binding = store.bindings.get(kind, key)
    if binding is None or binding.hash is None:
        return None
    try:
        payload = rules.to_economic(view, MappingContext(defaults=defaults))
    except (KeyError, TypeError, ValueError):
        return None
    if payload_hash(payload) != binding.hash:
        return None
    return TransferResult(kind, key, "unchanged", binding.economic_key)
