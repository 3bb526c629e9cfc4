"""Pure helpers the export engine derives its identities from: payload hashes and idempotency keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The one serialisation hashes are taken of: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def idempotency_key(
    connection_id: str,
    kind: str,
    key: str,
    previous_hash: str | None,
    new_hash: str,
    previous_written_at: str | None,
) -> str:
    """The Idempotency-Key of the write that moves a record from `previous_hash` to `new_hash`.

    A retry after an unknown outcome sees the same binding (it is written only after the write
    succeeded) and maps the same record, so it sends the same key and e-conomic replays its first
    answer instead of acting twice. A later, different change gets a different key.

    The binding's `written_at` is part of the key because the two hashes alone repeat: a record that
    goes A -> B -> A -> B within e-conomic's replay hour would send the first A -> B key again, and
    e-conomic would answer from its cache without applying the change. `written_at` moves only when a
    write succeeded, so it tells those transitions apart and still holds still for a retry.
    """
    parts = (connection_id, kind, key, previous_hash or "", new_hash, previous_written_at or "")
    material = "\x1f".join(parts).encode("utf-8")
    return hashlib.sha256(material).hexdigest()
