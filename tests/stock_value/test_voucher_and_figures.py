"""The voucher of a period and the sums it rests on, as pure functions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tasks.errors import MappingError
from tasks.stock_value.adjuster import StockValueConfig
from tasks.stock_value.figures import booked_value, stock_value
from tasks.stock_value.periods import parse_period
from tasks.stock_value.voucher import Accounts, reference, voucher

ACCOUNTS = Accounts(journal=1, stock=5850, offset=1310)


def test_a_rise_debits_stock_and_credits_the_offset():
    body = voucher(parse_period("2026-W48"), Decimal("1234.50"), "2026", ACCOUNTS)
    (entry,) = body["entries"]["financeVouchers"]
    assert entry == {
        "account": {"accountNumber": 5850},
        "contraAccount": {"accountNumber": 1310},
        "amount": 1234.5,
        "date": "2026-11-29",
        "text": "Rackbeat Justering 2026-W48",
    }
    assert body["accountingYear"] == {"year": "2026"}
    assert body["journal"] == {"journalNumber": 1}


def test_a_fall_debits_the_offset_and_credits_stock_with_a_positive_amount():
    body = voucher(parse_period("2026-11"), Decimal("-0.01"), "2026", ACCOUNTS)
    (entry,) = body["entries"]["financeVouchers"]
    assert entry["account"] == {"accountNumber": 1310}
    assert entry["contraAccount"] == {"accountNumber": 5850}
    assert entry["amount"] == 0.01
    assert entry["date"] == "2026-11-30"


def test_no_voucher_for_no_difference():
    with pytest.raises(ValueError):
        voucher(parse_period("2026-11"), Decimal("0.00"), "2026", ACCOUNTS)


def test_the_reference_carries_the_seed_text_and_the_period():
    assert reference(parse_period("2026-03-29")) == "Rackbeat Justering 2026-03-29"


LINES = [
    {"number": "A", "quantity": 3, "cost_price": 10.005, "value": 30.02},
    {"number": "B", "quantity": -2, "cost_price": 5, "value": -10.0},
    {"number": "C", "quantity": 1.5, "cost_price": 2.1},  # no value key: quantity x cost
]


def test_negative_lines_count_or_not_by_setting():
    assert stock_value(LINES, include_negative=True) == Decimal("23.17")
    assert stock_value(LINES, include_negative=False) == Decimal("33.17")


def test_booked_value_prefers_the_base_currency_amount():
    entries = [{"amount": 100.0, "amountInBaseCurrency": 745.5}, {"amount": -0.5}]
    assert booked_value(entries) == Decimal("745.00")


@pytest.mark.parametrize(
    ("missing", "setting"),
    [
        ({"journal": None}, "RBSYNC_STOCK_VALUE_JOURNAL"),
        ({"stock_account": None}, "RBSYNC_STOCK_VALUE_STOCK_ACCOUNT"),
        ({"offset_account": None}, "RBSYNC_STOCK_VALUE_OFFSET_ACCOUNT"),
    ],
)
def test_a_missing_setting_is_named_before_any_call(missing, setting):
    from zoneinfo import ZoneInfo

    fields = dict(
        enabled=True,
        frequency="daily",
        zone=ZoneInfo("Europe/Copenhagen"),
        journal=1,
        stock_account=5850,
        offset_account=1310,
        include_negative=True,
        auto_book=False,
    )
    config = StockValueConfig(**{**fields, **missing})
    with pytest.raises(MappingError, match=setting) as refused:
        config.accounts()
    assert refused.value.permanent
