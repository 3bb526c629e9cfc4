"""`rbsync demo`: a finite, scripted scenario against the sandboxes that shows the service working.

It starts its own stack (fresh Redis namespace, both sandboxes, the receiver and a worker), then, through
the public Rackbeat API like a user would:

1. creates product groups and products       -> each is created in e-conomic;
2. updates some products                      -> each is replaced in e-conomic;
3. breaks one (a description longer than e-conomic allows) -> it lands in the dead-letter list;
4. shows the dead-letter list (`rbsync dlq list`);
5. fixes the record in Rackbeat without a webhook, and retries the entry (`rbsync dlq retry`);
   -> the product reaches e-conomic and the entry is resolved.

Every step is checked against the event stream *and* against the e-conomic sandbox. It exits 0 with a
summary (counts, timings, API calls), or 1 naming the first step that did not happen as scripted.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from clients.errors import ApiError
from tasks.harness.localredis import free_port
from tasks.harness.processes import ChildExited
from tasks.harness.stack import Stack, StackError, StackOptions

STEP_TIMEOUT_SECONDS = 60.0
ECONOMIC_DESCRIPTION_LIMIT = 500

GROUPS = [(9101, "Demo furniture"), (9102, "Demo lighting")]
PRODUCTS = [
    ("DEMO-1001", "Oak stool", 9101, 349.0),
    ("DEMO-1002", "Birch bench", 9101, 1299.0),
    ("DEMO-1003", "Cedar shelf", 9101, 749.5),
    ("DEMO-2001", "Brass desk lamp", 9102, 599.0),
    ("DEMO-2002", "Linen pendant", 9102, 899.0),
]
UPDATES = [("DEMO-1001", {"sales_price": 379.0}), ("DEMO-2001", {"name": "Brass desk lamp, large"})]
BROKEN = ("DEMO-3001", "Walnut cabinet", 9101, 2499.0)


class ScenarioFailed(Exception):
    """A step did not happen as scripted."""


@dataclass
class Summary:
    """What the scenario saw: per-step timings and every transfer event."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    rackbeat_requests: int = 0
    economic_requests: int = 0

    def transfers(self) -> list[dict[str, Any]]:
        """Finished transfers: not `retrying` (one attempt of a transfer still going), not `via` (a
        dependency checked inside another transfer)."""
        return [event for event in self.events if not event.get("via") and event.get("outcome") != "retrying"]

    def retries(self) -> int:
        return sum(1 for event in self.events if event.get("outcome") == "retrying")

    def outcome_counts(self) -> Counter[str]:
        return Counter(str(event.get("outcome")) for event in self.transfers())

    def api_calls(self) -> int:
        """Calls the workers made (a transfer's count includes its dependency checks)."""
        return sum(int(event.get("api_calls") or 0) for event in self.transfers())

    def lines(self) -> list[str]:
        counts = self.outcome_counts()
        transfers = self.transfers()
        lines = ["", "Summary", "-------"]
        lines += [f"  {name:<56} {seconds:6.2f} s" for name, seconds in self.steps]
        lines.append(f"  {'total':<56} {sum(seconds for _, seconds in self.steps):6.2f} s")
        lines.append("")
        lines.append(
            f"  transfers: {len(transfers)} ("
            + ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
            + f"), plus {sum(1 for event in self.events if event.get('via'))} dependency checks inside them"
            + (f" and {self.retries()} retried attempts" if self.retries() else "")
        )
        if self.latencies:
            lines.append(
                f"  Rackbeat write -> transfer finished: median {statistics.median(self.latencies):.2f} s,"
                f" max {max(self.latencies):.2f} s"
            )
        calls = self.api_calls()
        per_transfer = calls / len(transfers) if transfers else 0.0
        lines.append(f"  API calls by the workers: {calls} ({per_transfer:.1f} per transfer)")
        lines.append(
            f"  requests served by the sandboxes: Rackbeat {self.rackbeat_requests},"
            f" e-conomic {self.economic_requests} (including this demo's own writes and checks)"
        )
        return lines


class EventWaiter:
    """Waits for transfer events of given records in the stream, remembering where it last read."""

    def __init__(
        self,
        redis_client: Any,
        summary: Summary,
        check: Callable[[], None] = lambda: None,
        connection_id: str | None = None,
        timeout: float = STEP_TIMEOUT_SECONDS,
    ) -> None:
        self._redis = redis_client
        self._summary = summary
        self._check = check  # raises when the service died (Stack.check)
        self._connection_id = connection_id
        self._timeout = timeout
        self._last = "0"

    def wait_for(
        self, wanted: dict[tuple[str, str], set[str]], written_at: dict[tuple[str, str], float] | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Block until each (kind, key) has an event whose outcome is in its set; return those events."""
        from tasks.events import read_events

        found: dict[tuple[str, str], dict[str, Any]] = {}
        deadline = time.monotonic() + self._timeout
        while len(found) < len(wanted):
            for stream_id, event in read_events(
                self._redis, after=self._last, connection_id=self._connection_id
            ):
                self._last = stream_id
                self._summary.events.append(event)
                record = (str(event.get("kind")), str(event.get("key")))
                if event.get("via") or record not in wanted or record in found:
                    continue
                outcome = event.get("outcome")
                if outcome not in wanted[record] and outcome != "retrying":
                    expected = "/".join(sorted(wanted[record]))
                    raise ScenarioFailed(f"{record[0]} {record[1]} was {outcome}, expected {expected}")
                if outcome in wanted[record]:
                    found[record] = event
                    if written_at and record in written_at and event.get("at"):
                        self._summary.latencies.append(float(event["at"]) - written_at[record])
            if len(found) == len(wanted):
                break
            if time.monotonic() > deadline:
                missing = sorted(
                    f"{kind} {key} ({'/'.join(sorted(wanted[(kind, key)]))})"
                    for kind, key in wanted
                    if (kind, key) not in found
                )
                raise ScenarioFailed(
                    f"no transfer event within {self._timeout:.0f} s for: {', '.join(missing)}"
                )
            self._check()
            time.sleep(0.1)
        return found


class DemoScenario:
    """The scripted steps; `run()` returns the summary or raises ScenarioFailed."""

    def __init__(self, stack: Stack, echo: Callable[[str], None] = click.echo) -> None:
        from clients.economic import EconomicClient
        from tasks.settings import get_settings

        settings = get_settings()
        self.stack = stack
        self.echo = echo
        self.summary = Summary()
        from tasks.redis import get_redis

        self.events = EventWaiter(get_redis(), self.summary, check=stack.check)
        self.rackbeat = stack.user_client()
        self.economic = EconomicClient(
            settings.economic_base_url,
            settings.economic_openapi_base_url,
            settings.economic_app_secret_token,
            settings.economic_agreement_grant_token,
        )

    def close(self) -> None:
        self.rackbeat.close()
        self.economic.close()

    def step(self, title: str, action: Callable[[], None]) -> None:
        self.echo(click.style(f"==> {title}", bold=True))
        started = time.monotonic()
        action()
        self.summary.steps.append((title, time.monotonic() - started))

    def run(self) -> Summary:
        self.step("create 2 product groups and 5 products", self.create_catalogue)
        self.step("update 2 products", self.update_products)
        self.step("break a product (description too long for e-conomic)", self.break_product)
        entry_id = self.show_dead_letters()
        self.step("fix it in Rackbeat (no webhook) and retry the entry", lambda: self.fix_and_retry(entry_id))
        self.count_sandbox_requests()
        return self.summary

    # -- steps -----------------------------------------------------------------------------------

    def create_catalogue(self) -> None:
        written: dict[tuple[str, str], float] = {}
        for group_number, group_name in GROUPS:
            self.rackbeat.create(
                "product-groups", "product_group", {"number": group_number, "name": group_name}
            )
            written[("product_group", str(group_number))] = time.time()
            self.echo(f"    Rackbeat: created product group {group_number} {group_name}")
        # Groups first: a product created meanwhile would create its group as a dependency, and the
        # group's own transfer would then find nothing to do (correct, but not the story told here).
        self.report(self.events.wait_for({record: {"created"} for record in written}, written))
        written.clear()
        for number, name, group, price in PRODUCTS:
            self.rackbeat.create(
                "products", "product", {"number": number, "name": name, "group": group, "sales_price": price}
            )
            written[("product", number)] = time.time()
            self.echo(f"    Rackbeat: created product {number} {name} ({price:.2f})")
        self.report(self.events.wait_for({record: {"created"} for record in written}, written))
        for number, name, _group, price in PRODUCTS:
            self.expect_in_economic(number, name=name, salesPrice=price)

    def update_products(self) -> None:
        written: dict[tuple[str, str], float] = {}
        for number, change in UPDATES:
            self.rackbeat.update("products", number, "product", change)
            written[("product", number)] = time.time()
            self.echo(f"    Rackbeat: updated product {number} {change}")
        self.report(self.events.wait_for({record: {"replaced"} for record in written}, written))
        self.expect_in_economic("DEMO-1001", salesPrice=379.0)
        self.expect_in_economic("DEMO-2001", name="Brass desk lamp, large")

    def break_product(self) -> None:
        number, name, group, price = BROKEN
        description = "A walnut cabinet. " * 40
        self.rackbeat.create(
            "products",
            "product",
            {
                "number": number,
                "name": name,
                "group": group,
                "sales_price": price,
                "description": description,
            },
        )
        self.echo(f"    Rackbeat: created product {number} with a {len(description)}-character description")
        self.report(
            self.events.wait_for({("product", number): {"dead-lettered"}}, {("product", number): time.time()})
        )
        if self.economic_product(number) is not None:
            raise ScenarioFailed(f"product {number} reached e-conomic although its description is too long")

    def show_dead_letters(self) -> str:
        from tasks.deadletter import DeadLetterStore
        from tasks.redis import get_redis

        self.echo(click.style("==> the dead-letter list (rbsync dlq list)", bold=True))
        run_cli(["dlq", "list"])
        entries = [
            entry
            for entry in DeadLetterStore(get_redis()).list(status="new")
            if entry.get("kind") == "product" and str(entry.get("key")) == BROKEN[0]
        ]
        if len(entries) != 1:
            raise ScenarioFailed(
                f"expected one open dead letter for product {BROKEN[0]}, found {len(entries)}"
            )
        return str(entries[0]["id"])

    def fix_and_retry(self, entry_id: str) -> None:
        from tasks.deadletter import DeadLetterStore
        from tasks.redis import get_redis

        number = BROKEN[0]
        # suppress_webhooks: the fix must not trigger a transfer by itself; the retry is what we show.
        self.rackbeat.request(
            "PUT",
            f"products/{number}",
            params={"suppress_webhooks": "true"},
            json={"description": "A walnut cabinet."},
        )
        self.echo(f"    Rackbeat: shortened the description of {number} (webhooks suppressed)")
        self.echo(f"    $ rbsync dlq retry {entry_id}")
        run_cli(["dlq", "retry", entry_id])
        self.report(
            self.events.wait_for({("product", number): {"created"}}, {("product", number): time.time()})
        )
        self.expect_in_economic(number, name=BROKEN[1], salesPrice=BROKEN[3])
        entry = DeadLetterStore(get_redis()).get(entry_id) or {}
        deadline = time.monotonic() + 10
        while entry.get("status") not in {"resolved", "superseded"} and time.monotonic() < deadline:
            time.sleep(0.1)
            entry = DeadLetterStore(get_redis()).get(entry_id) or {}
        if entry.get("status") not in {"resolved", "superseded"}:
            raise ScenarioFailed(
                f"dead letter {entry_id} is {entry.get('status')!r} after a successful retry"
            )
        self.echo(f"    dead letter {entry_id}: {entry['status']}")

    # -- checks ----------------------------------------------------------------------------------

    def economic_product(self, number: str) -> dict[str, Any] | None:
        from clients.errors import NotFoundError

        try:
            return self.economic.get_item("products", number)
        except NotFoundError:
            return None

    def expect_in_economic(self, number: str, **fields: Any) -> None:
        product = self.economic_product(number)
        if product is None:
            raise ScenarioFailed(f"product {number} is not in e-conomic")
        for name, value in fields.items():
            if product.get(name) != value:
                raise ScenarioFailed(
                    f"e-conomic product {number}: {name} is {product.get(name)!r}, expected {value!r}"
                )

    def report(self, events: dict[tuple[str, str], dict[str, Any]]) -> None:
        from tasks.cli.run import format_event

        for event in events.values():
            self.echo("    " + format_event(event))

    def count_sandbox_requests(self) -> None:
        from tasks.harness.sandboxes import served_requests

        self.summary.rackbeat_requests = served_requests(self.stack.rackbeat_sandbox)[0]
        self.summary.economic_requests = served_requests(self.stack.economic_sandbox)[0]


def run_cli(args: list[str]) -> None:
    """Run an rbsync sub-command in this process, as an operator would type it."""
    from tasks.cli import main

    try:
        main.main(args=args, prog_name="rbsync", standalone_mode=False)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise ScenarioFailed(f"`rbsync {' '.join(args)}` exited with {exit_.code}") from None
    except click.ClickException as error:
        raise ScenarioFailed(f"`rbsync {' '.join(args)}` failed: {error.format_message()}") from None


@click.command("demo")
@click.option("--concurrency", default=2, show_default=True, help="Celery worker processes.")
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the processes' logs here (default: a temporary directory, kept only if the demo fails).",
)
def demo_command(concurrency: int, log_dir: Path | None) -> None:
    """Run a scripted scenario against the sandboxes: transfers, a dead letter, its fix and retry."""
    started = time.monotonic()
    # Any free port for the receiver: nobody needs to find this one, and 8000 may be an `rbsync run`'s.
    options = StackOptions(
        sandbox=True,
        beat=False,
        seed_size=None,
        concurrency=concurrency,
        log_dir=log_dir,
        web_port=free_port(),
    )
    stack = Stack(options)
    scenario: DemoScenario | None = None
    try:
        click.echo("rbsync demo: starting Redis, the sandboxes, the receiver and a worker ...")
        stack.start()
        for line in stack.endpoints.lines():
            click.echo("  " + line)
        scenario = DemoScenario(stack)
        summary = scenario.run()
    except (ScenarioFailed, StackError, ChildExited, ApiError) as error:
        # ApiError: a sandbox refused one of the demo's own calls, which the script did not expect.
        stack.keep_logs = True
        message = str(error).removeprefix("rbsync: ")
        click.echo(click.style(f"rbsync demo: FAILED: {message}", fg="red"), err=True)
        if stack.has_logs():
            click.echo(f"rbsync demo: the processes' logs are kept in {stack.endpoints.log_dir}", err=True)
        sys.exit(1)
    finally:
        if scenario is not None:
            scenario.close()
        stack.stop()
    for line in summary.lines():
        click.echo(line)
    click.echo(f"\nrbsync demo: OK in {time.monotonic() - started:.1f} s")
