"""The "Rackbeat Justering" finance voucher of one period, as a pure function of its figures.

rackbeat-api.md 4.6: one entry for the difference between the booked and the current stock value, as a
draft in the chosen journal with the text "Rackbeat Justering"; debit the stock account and credit the
offset account when the value rose, the reverse when it fell. economic-api.md §12.13: a finance voucher
entry names ``account`` and ``contraAccount`` and needs ``amount`` and ``date``; the account is debited
with a positive amount and the contra account credited. So a rise is ``account`` = stock, a fall is
``account`` = offset, and the amount is always the positive difference (an accountant reads the journal
the way the books are meant to move).

The entry's text is the period's identity: ``Rackbeat Justering 2026-W48``. It is both what the accountant
sees and the reference the service finds the voucher by (journal entries and booked entries filter on
``text``), before and after booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tasks.stock_value.periods import Period

TEXT = "Rackbeat Justering"


def reference(period: Period) -> str:
    return f"{TEXT} {period.id}"


@dataclass(frozen=True)
class Accounts:
    journal: int
    stock: int
    offset: int


def voucher(period: Period, difference: Decimal, year: str, accounts: Accounts) -> dict[str, Any]:
    """The voucher body for ``POST /journals/{journal}/vouchers``; ``difference`` is current minus booked
    and must not be zero."""
    if difference == 0:
        raise ValueError("no voucher for an unchanged stock value")
    debit, credit = (accounts.stock, accounts.offset) if difference > 0 else (accounts.offset, accounts.stock)
    entry = {
        "account": {"accountNumber": debit},
        "contraAccount": {"accountNumber": credit},
        "amount": float(abs(difference)),
        "date": period.last_day.isoformat(),
        "text": reference(period),
    }
    return {
        "accountingYear": {"year": year},
        "journal": {"journalNumber": accounts.journal},
        "entries": {"financeVouchers": [entry]},
    }


def locator(journal: int, year: str) -> dict[str, Any]:
    """What the voucher channel needs to find a period's voucher again: its journal and year."""
    return {"accountingYear": {"year": year}, "journal": {"journalNumber": journal}, "entries": {}}
