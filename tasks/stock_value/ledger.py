"""What the service did for each period, kept in Redis: the one record of which adjustments are ours.

``stock_value:periods`` is a hash, period id -> JSON ``PeriodState``. Statuses:

- ``posted``: our voucher is a draft in the journal (``voucher`` is its ``year-number``);
- ``booked``: our voucher is booked (by us, or found booked by an accountant);
- ``no-change``: the value in the books equalled Rackbeat's, nothing was posted;
- ``superseded``: a later period's voucher replaced our unbooked draft (``superseded_by``); the draft was
  deleted from the journal (``cleared``) and the period is never posted again, even by a retry;
- ``removed``: our unbooked voucher disappeared from e-conomic (deleted by someone there): not recreated.

Only periods in this hash are ever touched in e-conomic, so the service never deletes what it did not write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import redis

from tasks.redis import key as namespaced_key
from tasks.redis import text, text_map
from tasks.stock_value.periods import Period, parse_period

STATUSES = ("posted", "booked", "no-change", "superseded", "removed")
VOUCHER_STATUSES = frozenset({"posted", "booked"})


@dataclass(frozen=True)
class PeriodState:
    period: str
    status: str
    last_day: str
    journal: int | None = None
    year: str | None = None
    voucher: str | None = None
    current_value: str | None = None
    booked_value: str | None = None
    difference: str | None = None
    superseded_by: str | None = None
    cleared: bool = False
    at: str = ""
    history: list[str] = field(default_factory=list)

    def with_status(self, status: str, at: str, **changes: Any) -> PeriodState:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        note = f"{at} {status}"
        return replace(self, status=status, at=at, history=[*self.history, note][-20:], **changes)

    @property
    def ends(self) -> date:
        return date.fromisoformat(self.last_day)

    def as_period(self) -> Period:
        return parse_period(self.period)


class PeriodLog:
    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.name = namespaced_key("stock_value", "periods", connection_id=connection_id)

    def get(self, period: Period) -> PeriodState | None:
        raw = text(self.client.hget(self.name, period.id))
        return _decode(raw) if raw else None

    def put(self, state: PeriodState) -> None:
        self.client.hset(self.name, state.period, json.dumps(asdict(state)))

    def all(self) -> list[PeriodState]:
        states = [_decode(raw) for raw in text_map(self.client.hgetall(self.name)).values()]
        return sorted(states, key=lambda state: (state.last_day, state.period))

    def newest(self) -> PeriodState | None:
        states = self.all()
        return states[-1] if states else None

    def older_with_vouchers(self, period: Period) -> Iterator[PeriodState]:
        """Our periods that end before ``period`` and may still have an unbooked draft in the journal."""
        for state in self.all():
            if state.ends >= period.last_day:
                continue
            if state.status == "posted" or (state.status == "superseded" and not state.cleared):
                yield state

    def newer_handled(self, period: Period) -> PeriodState | None:
        """The newest period after ``period`` that the books already follow (posted, booked or unchanged)."""
        newer = [
            s for s in self.all() if s.ends > period.last_day and s.status in {*VOUCHER_STATUSES, "no-change"}
        ]
        return newer[-1] if newer else None

    def clear(self) -> None:
        self.client.delete(self.name)


def _decode(raw: str) -> PeriodState:
    return PeriodState(**json.loads(raw))
