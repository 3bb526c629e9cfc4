"""The Rackbeat sandbox's clock: the machine's time unless a test fixed it (``/_sandbox/clock``).

Like the e-conomic sandbox's ``Clock`` (sandbox/economic/invoices.py), but to the moment rather than the day,
because the stock ledger is read per local day and a test must be able to put a move at 23:30 or 00:30.

What it decides (the sandbox's own choice; the reference has no clock): the time stamp of every stock move
(``ledger.py``) and what "today" is when an inventory adjustment names no ``regulated_at``. Records'
``created_at``/``updated_at`` keep following the machine's clock: the service reads master data
incrementally with ``updated_at_from`` against its own clock, so a record stamped by a clock a test had set
in the past would never be seen. Rackbeat's reports are read per day in Danish time (the stock-value
transfer runs "at 23:59" local time, rackbeat-api.md §4.6 [V-doc H-STOCK1/2]), hence :data:`COPENHAGEN`.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def parse_moment(text: object) -> datetime:
    """An ISO-8601 date and time *with* an offset (``Z`` allowed); ValueError for anything else."""
    if not isinstance(text, str):
        raise ValueError("expected an ISO-8601 datetime string")
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the datetime needs an offset, e.g. 2026-03-29T23:30:00+02:00")
    return moment


class Clock:
    """The sandbox's "now" (thread-safe): fixed by :meth:`fix`, else the machine's."""

    def __init__(self) -> None:
        self._fixed: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """An aware datetime: the fixed moment (with the offset it was given), else the machine's in UTC."""
        with self._lock:
            return self._fixed or datetime.now(UTC)

    def today(self) -> date:
        """The date in Copenhagen at :meth:`now`."""
        return self.now().astimezone(COPENHAGEN).date()

    def fix(self, moment: datetime | None) -> None:
        """Fix now to ``moment`` (aware); None follows the machine's clock again."""
        if moment is not None and moment.utcoffset() is None:
            raise ValueError("a fixed moment needs an offset")
        with self._lock:
            self._fixed = moment

    @property
    def fixed(self) -> datetime | None:
        return self._fixed

    def as_dict(self) -> dict[str, object]:
        """What ``GET /_sandbox/clock`` answers."""
        now = self.now()
        return {
            "now": now.isoformat(),
            "today": now.astimezone(COPENHAGEN).date().isoformat(),
            "fixed": self._fixed is not None,
        }
