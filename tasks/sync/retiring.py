"""A record gone from its source: bar it on the other side where the kind can be barred.

Accounting keeps its history, so nothing is ever deleted in e-conomic. A replace is a full document, so
the e-conomic copy is read, reduced to its writable fields and sent back with the bar set.
"""

from __future__ import annotations

import logging

from tasks.entities.base import EntitySpec
from tasks.sync.ports import SyncStore
from tasks.sync.refs import idempotency_key, payload_hash
from tasks.sync.results import TransferResult
from tasks.sync.validation import validate_payload, writable_projection
from tasks.sync.writers import EconomicWriter

logger = logging.getLogger(__name__)


def retire_in_economic(
    spec: EntitySpec, key: str, writer: EconomicWriter, store: SyncStore
) -> TransferResult:
    """Bar the e-conomic record bound to Rackbeat's `key`; "ignored" when there is nothing to bar."""
    side = spec.economic
    binding = store.bindings.get(spec.kind, key)
    if binding is None or side.barred_field is None:
        logger.info("%s %r is gone from Rackbeat; nothing to do in e-conomic", spec.kind, key)
        return TransferResult(spec.kind, key, "ignored", binding.economic_key if binding else None)
    document = writer.read(binding.economic_key)
    if document is None:
        logger.info("%s %r is gone from both sides", spec.kind, key)
        return TransferResult(spec.kind, key, "ignored", binding.economic_key)
    if document.get(side.barred_field) is True:
        return TransferResult(spec.kind, key, "unchanged", binding.economic_key)
    body = {**writable_projection(side, document), side.barred_field: True}
    validate_payload(side, body)
    barred_hash = payload_hash(body)
    writer.write(
        binding.economic_key,
        body,
        idempotency_key=idempotency_key(
            store.connection_id, spec.kind, key, binding.hash, barred_hash, binding.written_at
        ),
        bound=True,
        keep_current=False,  # the body is e-conomic's own document already, and the bar must win
    )
    store.bindings.put(
        spec.kind,
        key,
        economic_key=binding.economic_key,
        payload_hash=barred_hash,
        economic_resource=side.resource,
    )
    return TransferResult(spec.kind, key, "barred", binding.economic_key)
