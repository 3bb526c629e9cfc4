"""The stock value in the books once per period (issue 11), at full size and under chaos.

    .venv/bin/python -m bench.stock_value [--items 10000] [--locations 5] [--periods 30] [--sends 3]
                                          [--kill-every 2] [--seed 11]

The chaos stack (`bench._chaos_stack`: its own AOF Redis, both sandboxes, a prefork worker with 2
processes) runs with the stock value on: journal 1, stock account 5850, offset account 1320, auto-booking,
daily periods. A company of `--items` items spread over `--locations` locations is loaded into the Rackbeat
sandbox. Then, for each of `--periods` days from 2026-10-01: about 5 % of the items change quantity, written
at noon that day through the sandbox's stock ledger (every seventh day nothing changes), and the period's
post task is sent `--sends` times at once, while the e-conomic sandbox answers 20 % of requests with a 5xx,
drops 5 % of connections and commits a write whose answer it then fails every few periods, and a pool
process is SIGKILLed every `--kill-every` seconds. The next day starts when the period is handled (booked,
or no change).

Counted at the end from the e-conomic sandbox: vouchers per period text (drafts and booked, by voucher
number): one for each period whose value changed, none for the others; the value booked on the stock account
against Rackbeat's value (to the øre); open dead letters; kills, faults; the time one run took (send to
handled: p50, p95, max), the API calls of the runs that posted (the task results' `api_calls`: the
valuation is one call per location plus the location list), and the wall time.
Exit status 1 when a period was posted twice or not at all, the books differ from Rackbeat, a dead letter
is open, or the run did not settle.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bench._chaos_stack import ChaosSettings, ChaosStack, wait

TEXT = "Rackbeat Justering"
JOURNAL, STOCK_ACCOUNT, OFFSET_ACCOUNT = 1, 5850, 1320
FIRST_DAY = date(2026, 10, 1)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class StockSettings(ChaosSettings):
    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "RBSYNC_STOCK_VALUE_ENABLED": "true",
            "RBSYNC_STOCK_VALUE_FREQUENCY": "daily",
            "RBSYNC_STOCK_VALUE_JOURNAL": str(JOURNAL),
            "RBSYNC_STOCK_VALUE_STOCK_ACCOUNT": str(STOCK_ACCOUNT),
            "RBSYNC_STOCK_VALUE_OFFSET_ACCOUNT": str(OFFSET_ACCOUNT),
            "RBSYNC_STOCK_VALUE_AUTO_BOOK": "true",
        }


class Items:
    """The company's stock, as this run believes Rackbeat holds it (quantity, cost price) per item."""

    def __init__(self, count: int, locations: int, rng: random.Random) -> None:
        self.rng = rng
        self.locations = locations
        self.rows = {
            f"SV{i:06d}": (rng.randint(-2, 40), round(rng.uniform(1, 500), 2), 1 + i % locations)
            for i in range(count)
        }

    def records(self, numbers: list[str]) -> list[dict[str, Any]]:
        return [
            {
                "number": number,
                "name": f"Item {number}",
                "stock_quantity": self.rows[number][0],
                "cost_price": self.rows[number][1],
                "default_location_id": self.rows[number][2],
                "inventory_enabled": True,
            }
            for number in numbers
        ]

    def change(self, share: float) -> list[str]:
        """Move the quantity of a share of the items (Rackbeat keeps the cost price itself)."""
        changed = self.rng.sample(sorted(self.rows), max(1, int(len(self.rows) * share)))
        for number in changed:
            quantity, cost, location = self.rows[number]
            self.rows[number] = (quantity + self.rng.choice([-5, -3, -1, 1, 2, 4, 8, 10]), cost, location)
        return changed

    def move(self, sandbox: Any, day: date, numbers: list[str]) -> None:
        """Write the moves at noon Copenhagen time on ``day`` through the sandbox's stock ledger, so a
        valuation read as of an earlier day keeps that day's figures."""
        moment = datetime.combine(day, dtime(12, 0), tzinfo=ZoneInfo("Europe/Copenhagen"))
        sandbox.clock.fix(moment)
        try:
            for number in numbers:
                sandbox.update("products", number, {"stock_quantity": self.rows[number][0]}, suppress=True)
        finally:
            sandbox.clock.fix(None)

    def value(self) -> Decimal:
        total = Decimal(0)
        for quantity, cost, _ in self.rows.values():
            total += (Decimal(quantity) * Decimal(str(cost))).quantize(CENT)
        return total


def sender(stack: ChaosStack) -> Any:
    from celery import Celery

    from tasks.celery import configure
    from tasks.settings import Settings

    fields = {
        name.removeprefix("RBSYNC_").lower(): value
        for name, value in stack.env.items()
        if name.startswith("RBSYNC_")
    }
    app = Celery("bench-stock-value", set_as_current=False)
    configure(app, Settings(_env_file=None, **fields))  # type: ignore[call-arg]
    return app


def period_state(stack: ChaosStack, period: str) -> str | None:
    from tasks.stock_value.ledger import PeriodLog
    from tasks.stock_value.periods import parse_period

    try:
        state = PeriodLog(stack.redis, stack.connection_id).get(parse_period(period))
    except Exception:  # Redis busy: ask again
        return None
    return state.status if state else None


class Killer(threading.Thread):
    def __init__(self, stack: ChaosStack, every: float) -> None:
        super().__init__(daemon=True)
        self.stack, self.every = stack, every
        self.kills = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            pids = self.stack.pool_pids()
            if pids:
                try:
                    self.stack.kill_pool_process(random.choice(pids))
                    self.kills += 1
                except Exception:
                    pass


def vouchers(stack: ChaosStack) -> dict[str, set[tuple[str, int]]]:
    found: dict[str, set[tuple[str, int]]] = {}
    for entry in stack.economic.dump("journal-entries"):
        if str(entry.get("text", "")).startswith(TEXT):
            found.setdefault(entry["text"], set()).add(("draft", entry["voucher"]["voucherNumber"]))
    for entry in stack.economic.dump("booked-entries"):
        if str(entry.get("text", "")).startswith(TEXT):
            found.setdefault(entry["text"], set()).add(("booked", entry["voucherNumber"]))
    return found


def booked_on_stock(stack: ChaosStack) -> Decimal:
    total = Decimal(0)
    for entry in stack.economic.dump("booked-entries"):
        if (entry.get("account") or {}).get("accountNumber") == STOCK_ACCOUNT:
            total += Decimal(str(entry["amount"]))
    return total.quantize(CENT)


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    started = time.monotonic()
    with ChaosStack(StockSettings(), label="stock-value") as stack:
        items = Items(args.items, args.locations, rng)
        stack.rackbeat.load(
            {
                "locations": [
                    {"number": n, "name": f"Lager {n}", "is_default": n == 1}
                    for n in range(1, args.locations + 1)
                ]
            }
        )
        stack.rackbeat.load({"products": items.records(sorted(items.rows))})
        app = sender(stack)
        killer = Killer(stack, args.kill_every)
        stack.economic.faults.set(error_rate=0.2, drop_rate=0.05, seed=args.seed)
        killer.start()
        expected: dict[str, bool] = {}
        durations: list[float] = []
        results: list[dict[str, Any]] = []
        value_before = Decimal(0)
        unsettled: list[str] = []
        for index in range(args.periods):
            day = FIRST_DAY + timedelta(days=index)
            period = day.isoformat()
            if index % 7 != 6:
                items.move(stack.rackbeat, day, items.change(0.05))
            if index % 5 == 2:
                stack.economic.faults.set(commit_then_fail=1)
            value = items.value()
            expected[period] = value != value_before
            value_before = value
            sent_at = time.monotonic()
            tasks = [
                app.send_task("rbsync.post_stock_value", args=[period], queue="transfers")
                for _ in range(args.sends)
            ]
            handled = wait(
                lambda period=period: period_state(stack, period) in ("booked", "no-change"), 180, 0.05
            )
            if not handled:
                unsettled.append(period)
                break
            durations.append(time.monotonic() - sent_at)
            for task in tasks:
                try:
                    results.append(task.get(timeout=60))
                except Exception as failed:  # a copy may have been dead-lettered: counted below
                    results.append({"status": f"failed: {type(failed).__name__}"})
        killer.stopping.set()
        killer.join(5)
        faults = dict(stack.economic.faults.counters)
        stack.economic.faults.reset()
        found = vouchers(stack)
        twice = sorted(p for p in expected if len(found.get(f"{TEXT} {p}", set())) > 1)
        missing = sorted(p for p, changed in expected.items() if changed and not found.get(f"{TEXT} {p}"))
        extra = sorted(p for p, changed in expected.items() if not changed and found.get(f"{TEXT} {p}"))
        from tasks.deadletter import DeadLetterStore

        letters = [
            e
            for e in DeadLetterStore(stack.redis, stack.connection_id).list(kind="stock_value")
            if e["status"] in ("new", "retrying")
        ]
        books, rackbeat = booked_on_stock(stack), items.value()
        posted_calls = [r["api_calls"] for r in results if r.get("status") in ("posted", "booked")]
        changed_periods = sum(1 for changed in expected.values() if changed)
        print(
            f"stock value: {args.items:,} items at {args.locations} locations, {args.periods} daily periods, "
            f"each sent {args.sends}x"
        )
        print(f"  periods handled       {len(durations)} of {args.periods}; unsettled: {unsettled or 'none'}")
        print(
            f"  vouchers              {changed_periods} expected; posted twice: {twice or 'none'}; "
            f"missing: {missing or 'none'}; for no change: {extra or 'none'}"
        )
        verdict = "equal" if books == rackbeat else "DIFFERENT"
        print(f"  books vs Rackbeat     {books} booked on {STOCK_ACCOUNT}, Rackbeat {rackbeat}: {verdict}")
        print(f"  open dead letters     {len(letters)}")
        chaos = (
            f"{killer.kills} pool processes killed, {faults.get('errors_5xx', 0)} 5xx, "
            f"{faults.get('dropped', 0)} dropped, {faults.get('commit_then_fail', 0)} commits then failed"
        )
        print(f"  chaos                 {chaos}")
        if durations:
            ordered = sorted(durations)
            p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            print(
                f"  send -> handled       p50 {statistics.median(ordered):.2f} s, p95 {p95:.2f} s, "
                f"max {ordered[-1]:.2f} s"
            )
        if posted_calls:
            print(
                f"  API calls per post    median {statistics.median(posted_calls):.0f} "
                "(locations, a valuation per location, year, entries, older drafts, voucher, booking)"
            )
        print(f"  wall time             {time.monotonic() - started:.0f} s")
        ok = not (twice or missing or extra or letters or unsettled) and books == rackbeat
        return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stock_value", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=5)
    parser.add_argument("--periods", type=int, default=30)
    parser.add_argument("--sends", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=11)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
