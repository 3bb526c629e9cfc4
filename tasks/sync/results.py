"""What a transfer reports: its outcome, the key on the other side, and what it did on the way."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tasks.entities.base import RecordRef

Outcome = Literal["created", "replaced", "unchanged", "barred", "ignored"]

WRITTEN: frozenset[str] = frozenset({"created", "replaced", "barred"})
"""Outcomes that changed the target's document, so records reading this one may map differently now."""


@dataclass
class TransferResult:
    kind: str
    key: str
    outcome: Outcome
    economic_key: Any = None
    """The e-conomic side of the record's binding (a binding pairs a Rackbeat key with an e-conomic key,
    whichever way the record moved)."""
    api_calls: int = 0
    """Requests to either API made by this transfer, its dependencies' included."""
    dependencies: list[TransferResult] = field(default_factory=list)
    notified: list[RecordRef] = field(default_factory=list)
    """Records that read this one and were queued again because this transfer wrote it."""
    source_version: str | None = None
    """The source's ``updated_at`` of the record as this transfer read it (None: gone, or not given)."""
    read_at: datetime | None = None
    """When the read of that version started (earlier than the transfer when a batch read it); None: not
    known, the transfer's own start stands for it."""

    def all_results(self) -> Iterator[TransferResult]:
        """This result and every dependency's, dependencies first (the order they were transferred)."""
        for dependency in self.dependencies:
            yield from dependency.all_results()
        yield self
