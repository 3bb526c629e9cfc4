"""The stock-value voucher through a real Celery worker, both sandboxes over loopback and the real Redis
(issue 11): rise, fall and no change; negatives in and out; exactly once under concurrent sends and a
lost answer; older unbooked adjustments replaced, never stacked; refusals dead-lettered with e-conomic's
words and posted once after the fix; auto-booking of exactly our voucher."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

from sandbox.economic.journals import book_journal
from tasks.cli import main as rbsync_main
from tasks.deadletter import DeadLetterStore
from tasks.dlq_actions import reason_of
from tasks.stock_value.ledger import PeriodLog
from tasks.stock_value.periods import parse_period
from tests.stock_value.support import (
    JOURNAL,
    OFFSET_ACCOUNT,
    STOCK_ACCOUNT,
    Company,
    company,  # noqa: F401  (fixture)
    post,
    post_failing,
)

pytestmark = pytest.mark.usefixtures("celery_worker")


def open_letters(company: Company, period: str | None = None) -> list[dict[str, Any]]:  # noqa: F811
    """Open stock-value dead letters (of one period): entries of earlier tests' periods stay open."""
    store = DeadLetterStore(company.redis, company.settings.connection_id)
    return [
        e
        for e in store.list(kind="stock_value")
        if e["status"] in ("new", "retrying") and period in (None, e["key"])
    ]


def state(company: Company, period: str) -> str | None:  # noqa: F811
    found = PeriodLog(company.redis, company.settings.connection_id).get(parse_period(period))
    return found.status if found else None


def test_a_rise_a_fall_and_no_change_keep_the_books_at_rackbeats_value(company: Company) -> None:  # noqa: F811
    company.use(stock_value_auto_book=True)
    company.stock(**{"SV-A": (10, 25.0), "SV-B": (4, 12.5)})  # 300.00

    rise = post("2026-11-02")
    assert (rise["status"], rise["difference"]) == ("booked", "300.00")
    (entry,) = [e for e in company.booked() if e["account"]["accountNumber"] == STOCK_ACCOUNT]
    assert entry["amount"] == 300.0 and entry["date"] == "2026-11-02"

    company.stock(**{"SV-A": (6, 25.0)})  # 150 + 50 = 200.00
    fall = post("2026-11-03")
    assert (fall["status"], fall["difference"]) == ("booked", "-100.00")
    fall_entries = [e for e in company.booked() if e["text"] == "Rackbeat Justering 2026-11-03"]
    offset_side = [e for e in fall_entries if e["account"]["accountNumber"] == OFFSET_ACCOUNT]
    assert offset_side and offset_side[0]["amount"] == 100.0, "a fall debits the offset account"

    unchanged = post("2026-11-04")
    assert unchanged["status"] == "no-change" and unchanged["voucher"] is None
    assert company.vouchers_of("2026-11-04") == set()
    company.stock(**{"SV-B": (5, 12.5)})  # a later change is the next period's, not a reason to post this one
    assert post("2026-11-04")["status"] == "already-no-change"
    assert company.vouchers_of("2026-11-04") == set()
    company.stock(**{"SV-B": (4, 12.5)})
    assert company.booked_on_stock() == Decimal("200.00")
    assert [e for e in open_letters(company) if e["key"].startswith("2026-11-0")] == []


def test_negative_item_values_count_only_when_the_setting_says_so(company: Company) -> None:  # noqa: F811
    company.stock(**{"SV-P": (10, 10.0), "SV-N": (-3, 20.0)})
    company.use(stock_value_include_negative=False)
    assert post("2026-11-05")["current_value"] == "100.00"
    company.use(stock_value_include_negative=True)
    assert post("2026-11-06")["current_value"] == "40.00"


def test_concurrent_sends_for_one_period_post_one_voucher(company: Company) -> None:  # noqa: F811
    from tasks.stock_value.jobs import post_stock_value

    company.stock(**{"SV-C": (3, 100.0)})
    company.economic.sandbox.faults.set(latency_ms=150)
    sent = [post_stock_value.apply_async(args=("2026-11-09",)) for _ in range(3)]
    answers: list[dict[str, Any]] = []

    def in_this_process() -> None:
        from tasks.stock_value.jobs import build_adjuster

        answers.append(build_adjuster().post(parse_period("2026-11-09")).as_dict())

    threads = [threading.Thread(target=in_this_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    answers += [result.get(timeout=60) for result in sent]
    for thread in threads:
        thread.join(60)
    assert sorted(a["status"] for a in answers) == ["already-posted"] * 4 + ["posted"]
    assert len(company.vouchers_of("2026-11-09")) == 1
    assert len(company.drafts()) == 1


def test_a_voucher_whose_answer_was_lost_is_found_by_its_text_not_posted_again(
    company: Company,  # noqa: F811
) -> None:
    company.stock(**{"SV-D": (2, 50.0)})
    company.economic.sandbox.faults.set(commit_then_fail=1)
    answer = post("2026-11-10")
    assert answer["status"] == "posted"
    assert company.economic.sandbox.faults.counters.get("commit_then_fail") == 1
    assert len(company.vouchers_of("2026-11-10")) == 1


def test_older_unbooked_adjustments_are_replaced_not_stacked(company: Company) -> None:  # noqa: F811
    foreign = {
        "accountingYear": {"year": "2026"},
        "entries": {
            "financeVouchers": [
                {
                    "account": {"accountNumber": STOCK_ACCOUNT},
                    "contraAccount": {"accountNumber": OFFSET_ACCOUNT},
                    "amount": 7.0,
                    "date": "2026-10-31",
                    "text": "Rackbeat Justering 2026-10-31",  # typed by hand: not ours
                }
            ]
        },
    }
    from sandbox.economic.journals import post_vouchers

    post_vouchers(company.economic.sandbox.store, str(JOURNAL), foreign)

    values = {"2026-11-16": 100.0, "2026-11-17": 130.0, "2026-11-18": 90.0}
    for period, cost in values.items():
        company.stock(**{"SV-E": (1, cost)})
        assert post(period)["status"] == "posted"
    assert state(company, "2026-11-16") == state(company, "2026-11-17") == "superseded"
    assert [e["text"] for e in company.drafts()] == [
        "Rackbeat Justering 2026-10-31",
        "Rackbeat Justering 2026-11-18",
    ], "our older drafts deleted, the hand-made one left alone"

    # a retry of a replaced period never posts it again
    assert post("2026-11-16")["status"] == "superseded"
    assert company.vouchers_of("2026-11-16") == set()

    # the accountant books only the newest of ours: the books hold Rackbeat's value, not a pile-up
    ours = [e["journalEntryNumber"] for e in company.drafts() if e["text"].endswith("2026-11-18")]
    book_journal(company.economic.sandbox.store, JOURNAL, ours)
    assert company.booked_on_stock() == Decimal("90.00")


def test_auto_booking_books_exactly_our_voucher(company: Company) -> None:  # noqa: F811
    from sandbox.economic.journals import post_vouchers

    someone_elses = {
        "accountingYear": {"year": "2026"},
        "entries": {
            "financeVouchers": [
                {
                    "account": {"accountNumber": 5600},
                    "contraAccount": {"accountNumber": OFFSET_ACCOUNT},
                    "amount": 12.0,
                    "date": "2026-11-19",
                    "text": "Bank fee",
                }
            ]
        },
    }
    post_vouchers(company.economic.sandbox.store, str(JOURNAL), someone_elses)
    company.use(stock_value_auto_book=True)
    company.stock(**{"SV-F": (5, 20.0)})
    assert post("2026-11-20")["status"] == "booked"
    remaining = [e["text"] for e in company.economic.sandbox.dump("journal-entries")]
    assert remaining == ["Bank fee"]
    assert company.booked_on_stock() == Decimal("100.00")


def test_a_journal_that_cannot_hold_finance_vouchers_is_dead_lettered_and_posted_once_after_the_fix(
    company: Company,  # noqa: F811
) -> None:
    company.stock(**{"SV-G": (1, 10.0)})
    company.use(stock_value_journal=2)  # the sandbox's supplier-invoice journal
    failed = post_failing("2026-11-23")
    assert "supplierInvoice" in str(failed)
    (letter,) = open_letters(company, "2026-11-23")
    assert letter["kind"] == "stock_value"
    assert "The journal only allows entries of type supplierInvoice." in reason_of(letter)

    company.use(stock_value_journal=JOURNAL)
    result = CliRunner().invoke(rbsync_main, ["dlq", "retry", letter["id"], "--wait", "60"])
    assert result.exit_code == 0, result.output
    assert len(company.vouchers_of("2026-11-23")) == 1
    assert open_letters(company, "2026-11-23") == []


def test_no_journal_set_posts_nothing_and_says_which_setting(company: Company) -> None:  # noqa: F811
    company.stock(**{"SV-H": (1, 10.0)})
    company.use(stock_value_journal=None)
    company.economic.sandbox.request_log.clear()
    failed = post_failing("2026-11-24")
    assert "RBSYNC_STOCK_VALUE_JOURNAL" in str(failed)
    assert len(open_letters(company, "2026-11-24")) == 1
    assert company.economic.sandbox.request_log.entries() == [], "refused before any call"


def test_a_period_older_than_one_the_books_follow_is_refused(company: Company) -> None:  # noqa: F811
    company.stock(**{"SV-I": (1, 10.0)})
    assert post("2026-11-12")["status"] == "posted"
    failed = post_failing("2026-11-11")
    assert "PeriodOutOfOrder" in type(failed).__name__ + str(failed)
    assert company.vouchers_of("2026-11-11") == set()


def test_the_schedule_posts_the_newest_ended_period_at_its_own_value_and_names_the_missed_ones(
    company: Company,  # noqa: F811
) -> None:
    from celery.result import AsyncResult

    from tasks.celery import app

    company.stock(**{"SV-J": (2, 10.0)})  # 20.00 before any move
    assert post("2026-11-02")["status"] == "posted"
    company.move("2026-11-03", **{"SV-J": (5, 10.0)})  # 50.00
    company.move("2026-11-04", **{"SV-J": (6, 10.0)})  # 60.00
    company.move("2026-11-05", **{"SV-J": (3, 10.0)})  # 30.00
    company.move("2026-11-06", **{"SV-J": (9, 10.0)})  # 90.00: today's, after the due period ended
    # the service was down from the 3rd; it comes back on the 6th at 13:00 Copenhagen time
    report = app.send_task("rbsync.stock_value_schedule", kwargs={"now": "2026-11-06T13:00:00+01:00"}).get(
        timeout=60
    )
    assert report["period"] == "2026-11-05" and report["status"] == "queued"
    assert report["missed"] == [
        {"period": "2026-11-03", "value": "50.00"},
        {"period": "2026-11-04", "value": "60.00"},
    ]
    posted = AsyncResult(report["task_id"], app=app).get(timeout=60)
    assert (posted["status"], posted["current_value"]) == ("posted", "30.00")
    assert posted["superseded"] == ["2026-11-02"]
    (entry,) = [e for e in company.drafts() if e["text"].endswith("2026-11-05")]
    assert (entry["amount"], entry["date"]) == (30.0, "2026-11-05")
    again = app.send_task("rbsync.stock_value_schedule", kwargs={"now": "2026-11-06T14:00:00+01:00"}).get(
        timeout=60
    )
    assert again["status"] == "already posted"


def test_sales_and_adjustments_in_rackbeat_move_the_next_periods_value(company: Company) -> None:  # noqa: F811
    import httpx

    company.use(stock_value_auto_book=True)
    company.stock(**{"SV-S": (10, 20.0)})
    assert post("2026-11-14")["difference"] == "200.00"
    sandbox = company.rackbeat.sandbox
    terms = sandbox.create(
        "payment-terms", {"name": "Netto 8", "type": "net", "maturity_days": 8}, suppress=True
    )
    party = {"company_name": "Kunde A/S", "payment_terms_id": terms["number"]}
    customer = sandbox.create("customers", party, suppress=True)
    body = {"customer_id": customer["number"], "lines": [{"item_id": "SV-S", "quantity": 3}]}
    sandbox.create("customer-invoices", body, booked=True, suppress=True)  # 7 left: 140.00
    rackbeat = httpx.Client(base_url=company.rackbeat.api_url, headers=company.rackbeat.headers)
    adjustment = rackbeat.post(
        "inventory-adjustments",
        json={
            "item_id": "SV-S",
            "adjustment_type": "quantity",
            "quantity": 6,
            "location": 1,
            "reason": "count",
        },
    )
    assert adjustment.status_code == 201, adjustment.text
    regulation = adjustment.json()["inventory_regulation"]["id"]
    assert rackbeat.post(f"inventory-adjustments/{regulation}/book").status_code == 200  # 6 left: 120.00
    fall = post("2026-11-30")
    assert (fall["current_value"], fall["difference"]) == ("120.00", "-80.00")
    assert company.booked_on_stock() == Decimal("120.00")


def test_the_command_shows_the_figures_and_posts_only_without_dry_run(company: Company) -> None:  # noqa: F811
    company.stock(**{"SV-M": (4, 25.0)})
    runner = CliRunner()
    dry = runner.invoke(rbsync_main, ["stock-value", "run", "--period", "2026-11-26", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "current value     100.00" in dry.output
    assert "booked value      0.00" in dry.output
    assert f"debit {STOCK_ACCOUNT} (stock) / credit {OFFSET_ACCOUNT} (offset)" in dry.output
    assert "dry run: nothing posted" in dry.output
    assert company.vouchers_of("2026-11-26") == set()

    posted = runner.invoke(rbsync_main, ["stock-value", "run", "--period", "2026-11-26"])
    assert posted.exit_code == 0, posted.output
    assert "result            posted voucher 2026-" in posted.output
    assert len(company.vouchers_of("2026-11-26")) == 1

    status = runner.invoke(rbsync_main, ["stock-value", "status"])
    assert status.exit_code == 0 and "2026-11-26  posted voucher" in status.output, status.output
    refused = runner.invoke(rbsync_main, ["stock-value", "run", "--period", "2026-13"])
    assert refused.exit_code == 2 and "not a period" in refused.output


def test_the_command_says_why_a_period_was_refused(company: Company) -> None:  # noqa: F811
    company.stock(**{"SV-N": (1, 5.0)})
    company.use(stock_value_offset_account=None)
    result = CliRunner().invoke(rbsync_main, ["stock-value", "run", "--period", "2026-11-27"])
    assert result.exit_code == 1
    assert "RBSYNC_STOCK_VALUE_OFFSET_ACCOUNT" in result.output
    assert "dead letter" in result.output


def test_a_closed_accounting_year_is_dead_lettered_and_posted_once_after_it_is_reopened(
    company: Company,  # noqa: F811
) -> None:
    import httpx

    def close(closed: bool) -> None:
        answer = httpx.put(
            f"{company.economic.url}/_sandbox/accounting-years/2026",
            json={"closed": closed},
            headers=company.economic.headers,
        )
        assert answer.status_code == 200, answer.text

    company.stock(**{"SV-O": (2, 30.0)})
    close(True)
    dry = CliRunner().invoke(rbsync_main, ["stock-value", "run", "--period", "2026-11-30", "--dry-run"])
    assert "accounting year   2026 is closed" in dry.output, dry.output
    post_failing("2026-11-30")
    (letter,) = open_letters(company, "2026-11-30")
    assert "Accounting year 2026 is closed." in reason_of(letter)
    assert company.vouchers_of("2026-11-30") == set()

    close(False)
    result = CliRunner().invoke(rbsync_main, ["dlq", "retry", letter["id"], "--wait", "60"])
    assert result.exit_code == 0, result.output
    assert len(company.vouchers_of("2026-11-30")) == 1
    assert open_letters(company, "2026-11-30") == []


def test_an_unknown_account_is_dead_lettered_with_economics_answer(company: Company) -> None:  # noqa: F811
    company.stock(**{"SV-Q": (1, 10.0)})
    company.use(stock_value_offset_account=9999)
    post_failing("2026-11-13")
    (letter,) = open_letters(company, "2026-11-13")
    assert letter["error_class"] == "ValidationFailed"
    assert reason_of(letter) == "entries.financeVouchers[0].contraAccount: Contra account does not exist."
    assert company.vouchers_of("2026-11-13") == set()


@pytest.mark.parametrize(("period", "dated"), [("2026-W47", "2026-11-22"), ("2026-10", "2026-10-31")])
def test_weekly_and_monthly_periods_are_dated_their_last_day(
    company: Company,  # noqa: F811
    period: str,
    dated: str,
) -> None:
    company.use(stock_value_frequency="weekly" if "W" in period else "monthly")
    company.stock(**{"SV-W": (4, 2.5)})
    assert post(period)["status"] == "posted"
    (entry,) = company.drafts()
    assert (entry["text"], entry["date"], entry["amount"]) == (f"Rackbeat Justering {period}", dated, 10.0)
