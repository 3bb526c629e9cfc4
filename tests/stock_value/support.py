"""What the stock-value scenarios share: a company with stock in the Rackbeat sandbox, the settings that
turn the adjustment on, and counting what e-conomic holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis

from tasks.settings import Settings
from tasks.stock_value.ledger import PeriodLog
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import apply_settings

JOURNAL = 1  # the sandbox's "Daily journal", open to every entry type
STOCK_ACCOUNT = 5850  # Inventory (balance sheet)
OFFSET_ACCOUNT = 1320  # Stock value adjustment (profit and loss, no VAT code)
LOCATION = 1
TEXT = "Rackbeat Justering"

STOCK_SETTINGS: dict[str, Any] = {
    "stock_value_enabled": True,
    "stock_value_frequency": "daily",
    "stock_value_journal": JOURNAL,
    "stock_value_stock_account": STOCK_ACCOUNT,
    "stock_value_offset_account": OFFSET_ACCOUNT,
    "stock_value_include_negative": True,
    "stock_value_auto_book": False,
    "transfer_max_retries": 20,
    "retry_backoff_base_seconds": 0.05,
    "retry_backoff_max_seconds": 0.5,
}


class Company:
    """The scenario's handles: both sandboxes, Redis and the settings the worker runs with."""

    def __init__(self, settings: Settings, rackbeat: Any, economic: Any, client: redis.Redis) -> None:
        self.settings = settings
        self.rackbeat = rackbeat
        self.economic = economic
        self.redis = client

    def use(self, **overrides: Any) -> Settings:
        """Run the worker with these settings changed (for the rest of the test)."""
        self.settings = self.settings.model_copy(update=overrides)
        for name, value in overrides.items():
            # apply_settings writes set values only: an unset one must leave the environment
            if value is None:
                os.environ.pop(f"RBSYNC_{name.upper()}", None)
        apply_settings(self.settings)
        return self.settings

    def stock(self, **items: tuple[float, float]) -> None:
        """Set items' (quantity, cost price) at the one location, as they are now and at every date."""
        rows = [
            {
                "number": number,
                "name": f"Item {number}",
                "stock_quantity": quantity,
                "cost_price": cost,
                "default_location_id": LOCATION,
                "inventory_enabled": True,
            }
            for number, (quantity, cost) in items.items()
        ]
        self.rackbeat.sandbox.load({"products": rows})

    def move(self, day: str, **items: tuple[float, float]) -> None:
        """Items' (quantity, cost price) change at noon Copenhagen time on ``day``: written through the
        sandbox's stock ledger, so a valuation read as of an earlier day still shows the earlier figures."""
        from datetime import datetime
        from zoneinfo import ZoneInfo

        sandbox = self.rackbeat.sandbox
        sandbox.clock.fix(
            datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=ZoneInfo("Europe/Copenhagen"))
        )
        try:
            for number, (quantity, cost) in items.items():
                sandbox.update(
                    "products", number, {"stock_quantity": quantity, "cost_price": cost}, suppress=True
                )
        finally:
            sandbox.clock.fix(None)

    def drafts(self) -> list[dict[str, Any]]:
        """Our journal's draft entries carrying the adjustment text."""
        return [
            entry
            for entry in self.economic.sandbox.dump("journal-entries")
            if str(entry.get("text", "")).startswith(TEXT) and entry["journal"]["journalNumber"] == JOURNAL
        ]

    def booked(self) -> list[dict[str, Any]]:
        entries = self.economic.sandbox.dump("booked-entries")
        return [e for e in entries if str(e.get("text", "")).startswith(TEXT)]

    def vouchers_of(self, period: str) -> set[tuple[str, int]]:
        """(where, voucher number) of every draft or booked entry carrying the period's text."""
        text = f"{TEXT} {period}"
        found = {("draft", e["voucher"]["voucherNumber"]) for e in self.drafts() if e["text"] == text}
        found |= {("booked", e["voucherNumber"]) for e in self.booked() if e.get("text") == text}
        return found

    def booked_on_stock(self) -> Decimal:
        total = Decimal(0)
        for entry in self.economic.sandbox.dump("booked-entries"):
            if (entry.get("account") or {}).get("accountNumber") == STOCK_ACCOUNT:
                total += Decimal(str(entry["amount"]))
        return total.quantize(Decimal("0.01"))


@pytest.fixture
def company(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[Company]:
    forget_records(redis_client, session_namespace)
    PeriodLog(redis_client, sandbox_settings.connection_id).clear()
    rackbeat_sandbox.sandbox.load({"locations": [{"number": LOCATION, "name": "Lager", "is_default": True}]})
    handle = Company(sandbox_settings, rackbeat_sandbox, economic_sandbox, redis_client)
    handle.use(**STOCK_SETTINGS)
    yield handle
    apply_settings(sandbox_settings)
    economic_sandbox.sandbox.faults.reset()
    rackbeat_sandbox.sandbox.faults.reset()
    PeriodLog(redis_client, sandbox_settings.connection_id).clear()


def post(period: str, timeout: float = 60) -> dict[str, Any]:
    """Send the per-period task to the worker and wait for its answer."""
    from tasks.stock_value.jobs import post_stock_value

    return post_stock_value.apply_async(args=(period,)).get(timeout=timeout)


def post_failing(period: str, timeout: float = 60) -> BaseException:
    from tasks.stock_value.jobs import post_stock_value

    result = post_stock_value.apply_async(args=(period,))
    try:
        result.get(timeout=timeout)
    except Exception as failed:
        return failed
    raise AssertionError(f"{period} was posted: {result.result}")
