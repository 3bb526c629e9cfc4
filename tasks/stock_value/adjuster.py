"""One stock-value adjustment per period, exactly once: the figures, the voucher, its replacements, booking.

``Adjuster.post(period)`` under one lock for all stock-value runs (two beats, a manual run and a retry
never interleave):

1. A period is decided once: one already posted is only booked (when auto-booking) and never posted again;
   one found unchanged, ``superseded`` or ``removed`` is not posted, even by a retry. A period older than one
   the books already follow is refused (`PeriodOutOfOrder`).
2. **The trap removed** (rackbeat-api.md 4.6: booking several piled-up adjustments inflates the value):
   every older period of ours whose voucher is still an unbooked draft is marked ``superseded`` and its
   draft entries deleted from the journal, before the new figures are read. Marked first, deleted next: a
   crash in between leaves a superseded period whose draft the next run deletes. A draft an accountant
   booked meanwhile is recorded ``booked`` and left alone; one they deleted, ``removed``. Only periods in
   our own log (`tasks.stock_value.ledger`) are looked at, so nothing we did not write is touched.
3. The figures: Rackbeat's value at the period's end, what is booked on the stock account up to it
   (`tasks.stock_value.figures`). No difference: ``no-change``, nothing posted.
4. The voucher, posted with the poster's protocol (`tasks.sync.claims`, `tasks.sync.channels`): a claim
   before the POST, an Idempotency-Key derived from the period, and an attempt that finds a claim first
   looks for a voucher carrying the period's text (drafts, then booked entries) and adopts it.
5. With auto-booking, exactly this voucher's entries are booked (journalsapi ``bookdraftentries``), again
   claimed first and found booked when the answer was lost.

The period is the document's identity: a crash, a redelivery, a second beat or a manual run at the same
moment all meet the same log entry, claim and text.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import redis

from clients.errors import NotFoundError
from tasks.errors import MappingError, PeriodOutOfOrder, PostedDocumentChanged
from tasks.settings import Settings
from tasks.stock_value.figures import (
    NoAccountingYear,
    read_booked_value,
    read_stock_value,
)
from tasks.stock_value.ledger import PeriodLog, PeriodState
from tasks.stock_value.periods import Frequency, Period, latest_ended, periods_between
from tasks.stock_value.voucher import Accounts, locator, reference, voucher
from tasks.sync.channels import Found, VoucherChannel
from tasks.sync.claims import PostingClaims
from tasks.sync.locks import hold_record
from tasks.sync.ports import ApiClients
from tasks.sync.poster import document_key

logger = logging.getLogger(__name__)

KIND = "stock_value"
"""The kind of a stock-value run in dead letters, events and locks; its key is the period id."""
LOCK_KEY = "adjustments"
LOCK_WAIT_SECONDS = 10.0
MISSED_VALUES_SHOWN = 12
"""Missed periods whose value a run reads for its report; older ones are only named."""


@dataclass(frozen=True)
class StockValueConfig:
    enabled: bool
    frequency: Frequency
    zone: ZoneInfo
    journal: int | None
    stock_account: int | None
    offset_account: int | None
    include_negative: bool
    auto_book: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> StockValueConfig:
        return cls(
            enabled=settings.stock_value_enabled,
            frequency=settings.stock_value_frequency,
            zone=ZoneInfo(settings.company_timezone),
            journal=settings.stock_value_journal,
            stock_account=settings.stock_value_stock_account,
            offset_account=settings.stock_value_offset_account,
            include_negative=settings.stock_value_include_negative,
            auto_book=settings.stock_value_auto_book,
        )

    def accounts(self) -> Accounts:
        """The journal and both accounts; a missing one refuses the run before any call, naming it."""
        for setting, value, why in (
            ("RBSYNC_STOCK_VALUE_JOURNAL", self.journal, "with no journal nothing is posted"),
            ("RBSYNC_STOCK_VALUE_STOCK_ACCOUNT", self.stock_account, "the balance-sheet stock account"),
            ("RBSYNC_STOCK_VALUE_OFFSET_ACCOUNT", self.offset_account, "the offset (cost of goods) account"),
        ):
            if value is None:
                raise MappingError(setting, f"not set ({why})", api="economic", resource="journals/vouchers")
        assert self.journal is not None and self.stock_account is not None and self.offset_account is not None
        return Accounts(self.journal, self.stock_account, self.offset_account)


@dataclass(frozen=True)
class Figures:
    period: Period
    current_value: Decimal
    booked_value: Decimal
    year: str
    year_closed: bool

    @property
    def difference(self) -> Decimal:
        return self.current_value - self.booked_value


@dataclass
class StockValueResult:
    """What a run did, as the task returns it (Flower's result) and the CLI prints it."""

    period: str
    status: str
    outcome: str
    voucher: str | None = None
    current_value: str | None = None
    booked_value: str | None = None
    difference: str | None = None
    journal: int | None = None
    stock_account: int | None = None
    offset_account: int | None = None
    superseded: list[str] = field(default_factory=list)

    @property
    def economic_key(self) -> str | None:
        return self.voucher

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "status": self.status,
            "outcome": self.outcome,
            "economic_key": self.voucher,
            "voucher": self.voucher,
            "current_value": self.current_value,
            "booked_value": self.booked_value,
            "difference": self.difference,
            "journal": self.journal,
            "stock_account": self.stock_account,
            "offset_account": self.offset_account,
            "superseded": list(self.superseded),
        }


# The transfer outcome each status counts as in events and metrics (tasks.events.OUTCOMES).
OUTCOME_OF = {
    "posted": "created",
    "booked": "created",
    "no-change": "unchanged",
    "already-posted": "unchanged",
    "already-booked": "unchanged",
    "already-no-change": "unchanged",
    "superseded": "ignored",
    "removed": "ignored",
}


@dataclass(frozen=True)
class Due:
    """What the schedule finds: the newest ended period, whether it is handled, and what was missed."""

    period: Period
    state: PeriodState | None
    missed: list[Period]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Adjuster:
    def __init__(
        self,
        clients: ApiClients,
        client: redis.Redis,
        connection_id: str,
        config: StockValueConfig,
        *,
        lock_ttl_seconds: float,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.clients = clients
        self.redis = client
        self.connection_id = connection_id
        self.config = config
        self.lock_ttl_seconds = lock_ttl_seconds
        self.now = now
        self.log = PeriodLog(client, connection_id)
        self.claims = PostingClaims(client, connection_id)
        self.channel = VoucherChannel(clients.economic)

    # --- reading ---------------------------------------------------------------------------------

    def figures(self, period: Period) -> Figures:
        accounts = self.config.accounts()
        current = read_stock_value(
            self.clients.rackbeat, period.last_day, include_negative=self.config.include_negative
        )
        try:
            booked = read_booked_value(self.clients.economic, accounts.stock, period.last_day)
        except NoAccountingYear as missing:
            raise MappingError("date", str(missing), api="economic", resource="accounting-years") from None
        return Figures(period, current, booked.value, booked.year, booked.closed)

    def value_at(self, day: date) -> Decimal:
        return read_stock_value(self.clients.rackbeat, day, include_negative=self.config.include_negative)

    def due(self, instant: datetime | None = None) -> Due:
        """The newest period ended by ``instant`` (now), its state, and the periods between it and the
        newest one in the log (missed while the service was down). Costs no API call."""
        period = latest_ended(instant or self.now(), self.config.frequency, self.config.zone)
        newest = self.log.newest()
        missed = []
        if newest is not None and newest.ends < period.last_day:
            missed = periods_between(newest.as_period(), period)
        return Due(period, self.log.get(period), missed)

    # --- posting ---------------------------------------------------------------------------------

    def post(self, period: Period) -> StockValueResult:
        accounts = self.config.accounts()
        with hold_record(
            self.redis,
            KIND,
            LOCK_KEY,
            ttl_seconds=self.lock_ttl_seconds,
            wait_seconds=LOCK_WAIT_SECONDS,
            connection_id=self.connection_id,
        ):
            return self._post_locked(period, accounts)

    def _post_locked(self, period: Period, accounts: Accounts) -> StockValueResult:
        state = self.log.get(period)
        if state is not None and state.status in ("superseded", "removed"):
            logger.info("stock value %s was %s earlier: not posted again", period, state.status)
            return self._result(state, state.status)
        if state is not None and state.status == "no-change":
            # decided once: a redelivered or repeated run does not read the figures again (they may have
            # moved on since, and would then be posted under the wrong period)
            return self._result(state, "already-no-change")
        if state is None:
            newer = self.log.newer_handled(period)
            if newer is not None:
                raise PeriodOutOfOrder(period.id, newer.period)
        superseded = self._supersede_older(period)
        if state is not None and state.status in ("posted", "booked"):
            already = f"already-{state.status}"
            if self.config.auto_book and state.status == "posted":
                state = self._book(period, state)
                already = state.status
            return self._result(state, already, superseded)
        figures = self.figures(period)
        if figures.difference == 0:
            state = self._state(period, "no-change", figures, None)
            self.log.put(state)
            logger.info(
                "stock value %s: %s in Rackbeat and in the books, nothing posted",
                period,
                figures.current_value,
            )
            return self._result(state, "no-change", superseded)
        state = self._post_voucher(period, figures, accounts)
        if self.config.auto_book and state.status == "posted":
            state = self._book(period, state)
        return self._result(state, state.status, superseded)

    def _post_voucher(self, period: Period, figures: Figures, accounts: Accounts) -> PeriodState:
        document = voucher(period, figures.difference, figures.year, accounts)
        text = reference(period)
        found: Found | None = None
        earlier = self.claims.get(KIND, period.id)
        if earlier is not None and earlier.stage:
            found = self.channel.find(text, document)
            if found is not None:
                logger.info(
                    "stock value %s: an earlier attempt's voucher %s found by its text", period, found.key
                )
        if found is None:
            claim = self.claims.mark(KIND, period.id, "post")
            key = document_key(self.connection_id, KIND, period.id, "post", claim.generation)
            with self.claims.fresh_key_after_refusal(KIND, period.id):
                found = self.channel.post(document, key)
        status = "booked" if found.resource == self.channel.booked else "posted"
        state = self._state(period, status, figures, str(found.key), journal=accounts.journal)
        self.log.put(state)
        logger.info(
            "stock value %s: %s voucher %s for %s (Rackbeat %s, booked %s)",
            period,
            status,
            found.key,
            figures.difference,
            figures.current_value,
            figures.booked_value,
        )
        return state

    def _book(self, period: Period, state: PeriodState) -> PeriodState:
        """Book exactly this period's voucher; a booking whose answer was lost is found booked."""
        text = reference(period)
        where = locator(int(state.journal or 0), str(state.year))
        if not self.channel.still_unbooked(state.voucher, text, where):
            found = self.channel.find(text, where, booked_only=True)
            if found is None:
                self.log.put(state.with_status("removed", self._stamp()))
                raise PostedDocumentChanged(
                    f"the stock-value voucher {state.voucher} of {period} is gone from journal "
                    f"{state.journal} and nothing booked carries its text: deleted in e-conomic, "
                    "not recreated",
                    api="economic",
                    resource="journals/vouchers",
                )
        else:
            claim = self.claims.mark(KIND, period.id, "book")
            key = document_key(self.connection_id, KIND, period.id, "book", claim.generation)
            with self.claims.fresh_key_after_refusal(KIND, period.id):
                self.channel.book(state.voucher, text, where, None, key)
        booked = state.with_status("booked", self._stamp())
        self.log.put(booked)
        return booked

    def _supersede_older(self, period: Period) -> list[str]:
        """Replace our older unbooked drafts (module docstring, step 2); the ids of the periods replaced."""
        replaced: list[str] = []
        for old in list(self.log.older_with_vouchers(period)):
            old_period = old.as_period()
            found = self.channel.find(reference(old_period), locator(int(old.journal or 0), str(old.year)))
            if found is None:
                if old.status == "superseded":
                    self.log.put(old.with_status("superseded", self._stamp(), cleared=True))
                else:
                    logger.warning(
                        "stock value %s: its voucher %s is gone from e-conomic", old.period, old.voucher
                    )
                    self.log.put(old.with_status("removed", self._stamp()))
                continue
            if found.resource == self.channel.booked:
                logger.info(
                    "stock value %s: voucher %s was booked in e-conomic; left as it is",
                    old.period,
                    old.voucher,
                )
                self.log.put(old.with_status("booked", self._stamp(), superseded_by=None))
                continue
            marked = old.with_status("superseded", self._stamp(), superseded_by=period.id, cleared=False)
            self.log.put(marked)
            self._delete_drafts(old, found)
            self.log.put(marked.with_status("superseded", self._stamp(), cleared=True))
            logger.info("stock value %s: unbooked voucher %s replaced by %s", old.period, old.voucher, period)
            replaced.append(old.period)
        return replaced

    def _delete_drafts(self, old: PeriodState, found: Found) -> None:
        path = f"journals/{old.journal}/entries"
        for entry in found.document.get("entries") or []:
            number = entry["journalEntryNumber"]
            key = document_key(self.connection_id, KIND, old.period, f"withdraw-{number}", 0)
            with contextlib.suppress(NotFoundError):  # gone already (an earlier attempt, or e-conomic's user)
                self.clients.economic.delete(path, number, idempotency_key=key)

    # --- helpers ---------------------------------------------------------------------------------

    def _stamp(self) -> str:
        return self.now().astimezone(UTC).isoformat(timespec="seconds")

    def _state(
        self,
        period: Period,
        status: str,
        figures: Figures,
        voucher_key: str | None,
        *,
        journal: int | None = None,
    ) -> PeriodState:
        base = PeriodState(
            period=period.id,
            status=status,
            last_day=period.last_day.isoformat(),
            journal=journal if journal is not None else self.config.journal,
            year=figures.year,
            voucher=voucher_key,
            current_value=str(figures.current_value),
            booked_value=str(figures.booked_value),
            difference=str(figures.difference),
        )
        return base.with_status(status, self._stamp())

    def _result(
        self, state: PeriodState, status: str, superseded: list[str] | None = None
    ) -> StockValueResult:
        return StockValueResult(
            period=state.period,
            status=status,
            outcome=OUTCOME_OF[status],
            voucher=state.voucher,
            current_value=state.current_value,
            booked_value=state.booked_value,
            difference=state.difference,
            journal=state.journal,
            stock_account=self.config.stock_account,
            offset_account=self.config.offset_account,
            superseded=superseded or [],
        )
