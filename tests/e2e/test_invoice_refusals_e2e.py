"""An invoice e-conomic refuses to book is dead-lettered in e-conomic's words, and after the fix the retry
books it once (issue 10): the refused booking wrote nothing, so its retry goes under a new Idempotency-Key
instead of getting the refusal back from e-conomic's one-hour replay cache."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from tasks.cli import main as rbsync_main
from tasks.deadletter import DeadLetterStore
from tasks.dlq_actions import reason_of
from tasks.settings import Settings
from tasks.transfer import enqueue_export
from tests.e2e.test_customer_invoices_e2e import REFERENCE, booked_invoices, company, documents_by_reference
from tests.e2e.test_products_e2e import Flow, e2e  # noqa: F401  (fixture)
from tests.fixtures.service import apply_settings, wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")


@pytest.fixture
def booking(e2e: Flow) -> Iterator[Settings]:  # noqa: F811
    settings = e2e.settings.model_copy(
        update={"customer_default_layout": 19, "customer_invoices_booked": True}
    )
    apply_settings(settings)
    yield settings
    close_year(e2e, "2026", closed=False)
    apply_settings(e2e.settings)


def close_year(flow: Flow, year: str, *, closed: bool) -> None:
    answer = httpx.put(
        f"{flow.economic.url}/_sandbox/accounting-years/{year}",
        json={"closed": closed},
        headers=flow.economic.headers,
    )
    assert answer.status_code == 200, answer.text


def test_an_invoice_refused_in_a_closed_year_is_booked_once_after_the_year_is_reopened(
    e2e: Flow,  # noqa: F811
    booking: Settings,
) -> None:
    # the third invoice: dead letters outlive a test and the sandbox numbers from 1 again in the next one,
    # whose own first invoice must not meet this test's entry
    invoice = booked_invoices(e2e, company(e2e), 3)[-1]
    key = str(invoice["number"])
    store = DeadLetterStore(e2e.redis, e2e.settings.connection_id)
    close_year(e2e, "2026", closed=True)

    enqueue_export("customer_invoice", key)
    [entry] = wait_for(
        lambda: store.entries_for_record("customer_invoice", key), timeout=60, message="a dead letter"
    )
    assert "Accounting year 2026 is closed." in reason_of(entry)
    assert [d for d in e2e.economic.sandbox.dump("invoices/booked") if d["references"]["other"]] == []

    close_year(e2e, "2026", closed=False)
    retried = CliRunner().invoke(rbsync_main, ["dlq", "retry", entry["id"], "--wait", "60"])
    assert retried.exit_code == 0, retried.output
    booked = [
        d
        for d in e2e.economic.sandbox.dump("invoices/booked")
        if (d.get("references") or {}).get("other") == REFERENCE.format(key)
    ]
    assert len(booked) == 1
    assert documents_by_reference(e2e)[REFERENCE.format(key)] == 1, "the draft became the booked invoice"
