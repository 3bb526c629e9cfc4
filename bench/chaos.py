"""Chaos: the real service (receiver, broker, prefork worker, Redis) under the faults it must outlast.

    .venv/bin/python -m bench.chaos [--records 300] [--only SCENARIO]... [--seed 20261] [--keep-logs]
                                    [--pool prefork|gevent] [--latency-ms 0]

Every scenario runs on a fresh stack (`bench._chaos_stack`): its own `redis-server` with AOF (fsync on every
write) on its own port, both sandboxes in this process, `python -m web` (which registers its webhooks with
the Rackbeat sandbox, so Rackbeat's own deliveries drive it) and `celery -A tasks worker` (prefork,
concurrency 2). Settings: a visibility timeout of 5 s (`RBSYNC_VISIBILITY_TIMEOUT_SECONDS`), so a message
whose worker died is back in seconds; 60 transfer retries with backoff capped at 2 s, so faults are
outlasted; a 10 s time limit, so a killed transfer's record lock expires soon. While a process or Redis
is killed, Rackbeat answers 150 ms late, so a transfer that has started is still in its call.
`--pool gevent` runs the transfers on a gevent worker instead (tasks/harness/workers.py): a "pool kill"
then SIGKILLs that worker process itself, which holds every running transfer, and starts it again.
`--latency-ms` adds that much to every answer of both sandboxes for the whole run.

Records (`bench._chaos_records`): a product group, a customer group and a payment term, then products and
one customer per 20 records, written into Rackbeat as a person would (webhooks fire); every fourth
product is then changed, so "arrived" means e-conomic shows the final values. Scenarios:

- `webhooks-x3`: the records are written quietly; then every delivery Rackbeat would have made is posted
  to the receiver three times, shuffled, from 4 threads, with the registered tokens.
- `pool-kill`: three times during the burst (after a quarter, half, three quarters of the products
  arrived), the pool process running a transfer is SIGKILLed (the transfer's delivery counter
  `deliveries:<task id>` exists and Celery's STARTED state names the process); the worker replaces it
  and requeues the message.
- `worker-kill`: halfway through the burst the whole worker (main process and pool) is SIGKILLed while
  transfers run, and started again a second later; its unacked messages come back after the visibility
  timeout.
- `redis-term` / `redis-kill`: half the records are written, Redis is stopped (SIGTERM / SIGKILL) while
  transfers run and Rackbeat is still delivering that half's webhooks, the other half is written while
  it is down (its deliveries meet 503s and are retried), and after 3 s Redis starts again on its AOF.
  (The tests wait for the first half's deliveries to be answered before stopping Redis: a delivery
  caught between its pending claim and its publish loses its record, see tests/chaos/test_pending_claim.py.)
- `api-faults`: both sandboxes answer 20 % of requests with a 5xx and drop 5 % of connections, a burst of
  429s hits both at the start and again halfway, and e-conomic commits some writes and then fails the
  answer (a 500 in the first half, a dropped connection in the second).

After the writes, the run waits (bounded) until it settles: no message queued or unacked, no pending
marker, no webhook delivery Rackbeat still retries, and nothing changing for 2 s. Then per record:
arrived (e-conomic has the final values), duplicated (more e-conomic records, or more creating writes,
than one), dead-lettered (an open DLQ entry), lost (neither arrived nor dead-lettered). Last, the secrets
scan (`bench._chaos_secrets`): every token value looked for in the run's logs, Redis (every key, by type)
and AOF (goal 0 hits; the webhook-tokens hash holds the webhook tokens by design and is not a hit).

Printed: one line per scenario as it finishes, then one table: scenario | sent | arrived | duplicated |
lost | dead-lettered | wall time | secret hits. Wall time runs from the first write to the moment the
stack was last seen changing. A lost record's line shows how the receiver answered Rackbeat's deliveries
of it; a failed scenario keeps its logs and AOF (the path is printed). Exit status 1 when any scenario
lost or duplicated a record, leaked a secret, answered a valid delivery it was sent with a 5xx, or could
not run. The 3,000 fuzzed receiver requests (no 5xx for bad input) are `bench.chaos_receiver_fuzz`, a
module of its own that `python -m bench` runs too.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench._chaos_records import (
    Batch,
    Tally,
    Write,
    create_dependencies,
    deliveries,
    plan,
    record_writes,
    run_writes,
    tally,
)
from bench._chaos_secrets import SecretsScan, as_bytes_client, describe, scan_secrets, webhook_secrets
from bench._chaos_stack import ChaosSettings, ChaosStack, wait
from tasks.harness.workers import POOLS

RECEIVER_PATH = "/webhooks/rackbeat"


@dataclass(frozen=True)
class Options:
    records: int = 300
    seed: int = 20261
    pool_kills: int = 3
    worker_kills: int = 1
    outage_seconds: float = 3.0
    # Rackbeat answers this slowly while a fault is dealt, so a transfer that has started is still in
    # its API call when the fault lands.
    latency_ms: int = 150
    quiet_seconds: float = 2.0
    settle_seconds: float | None = None  # None: 60 s + 0.5 s per record, at most 600 s
    threads: int = 4
    # Stop Redis as soon as a transfer runs, while Rackbeat is still delivering the first half's webhooks
    # (the bench); False waits for those deliveries to be answered first (the tests: deterministic).
    stop_amid_deliveries: bool = True
    rate_limit_burst: int | None = None  # 429s per burst in api-faults; None: a tenth of the records, >= 5
    commit_then_fail: int | None = None  # commit-then-fail writes per half; None: a twentieth, >= 2

    @property
    def settle_deadline(self) -> float:
        if self.settle_seconds is not None:
            return self.settle_seconds
        return min(600.0, 60.0 + 0.5 * self.records)


@dataclass
class Row:
    scenario: str
    sent: int = 0
    arrived: int = 0
    duplicated: int = 0
    lost: int = 0
    dead_lettered: int = 0
    seconds: float = 0.0
    secret_hits: int = 0
    settled: bool = False
    server_errors: int = 0  # 5xx (or no answer) to deliveries the scenario posted itself
    missed: list[str] = field(default_factory=list)  # faults that could not be dealt at their moment
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    log_dir: str = ""
    error: str = ""  # the scenario could not run to its end (the stack did not come up, say)

    @property
    def ok(self) -> bool:
        return (
            not self.error
            and self.lost == 0
            and self.duplicated == 0
            and self.secret_hits == 0
            and self.server_errors == 0
        )

    def report(self) -> str:
        lines = [
            f"{self.scenario}: sent {self.sent}, arrived {self.arrived}, duplicated {self.duplicated}, "
            f"lost {self.lost}, dead-lettered {self.dead_lettered}, {self.seconds:.1f} s, "
            f"secret hits {self.secret_hits}{'' if self.settled else ' (did NOT settle in time)'}"
        ]
        if self.error:
            lines.append(f"  ! the scenario did not finish: {self.error}")
        lines.extend(f"  {note}" for note in self.notes)
        lines.extend(f"  ! fault missed: {missed}" for missed in self.missed)
        lines.extend(f"  ! {problem}" for problem in self.problems[:15])
        if len(self.problems) > 15:
            lines.append(f"  ! ... and {len(self.problems) - 15} more")
        if self.log_dir:
            lines.append(f"  logs kept in {self.log_dir}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------ helpers


class Background:
    """Run the writes in a thread while the scenario deals its faults; `join()` re-raises their error."""

    def __init__(self, writes: Sequence[Write], threads: int, per_second: float = 0.0) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chaos-writer")
        self._future: Future[None] = self._pool.submit(
            run_writes, writes, threads=threads, per_second=per_second
        )

    @property
    def done(self) -> bool:
        return self._future.done()

    def join(self, timeout: float = 600) -> None:
        try:
            self._future.result(timeout=timeout)
        finally:
            self._pool.shutdown(wait=False)


def wait_in_flight(stack: ChaosStack, timeout: float = 30) -> list[dict[str, Any]]:
    """Until a transfer is running in a pool process (see `ChaosStack.in_flight`); [] when none did."""
    return list(wait(stack.in_flight, timeout, 0.01) or [])


def post_deliveries(stack: ChaosStack, items: Sequence[tuple[str, str]], threads: int) -> Counter[int | str]:
    """POST each (event, key) to the receiver as Rackbeat would (token, event header, body); answers
    counted by status ("no answer" for a connection error)."""
    tokens = stack.webhook_tokens()
    url = stack.web_url + RECEIVER_PATH
    answers: Counter[int | str] = Counter()
    lock = threading.Lock()
    local = threading.local()

    def one(item: tuple[str, str]) -> None:
        event, key = item
        if getattr(local, "client", None) is None:
            local.client = httpx.Client(timeout=10, headers={"User-Agent": "Rackbeat Webhook"})
        try:
            response = local.client.post(
                url,
                json={"event": event, "key_name": "number", "key": key},
                headers={"Rackbeat-Webhook-Token": tokens[event], "Rackbeat-Webhook-Event": event},
            )
            status: int | str = response.status_code
        except httpx.TransportError:
            status = "no answer"
        with lock:
            answers[status] += 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, items))
    return answers


def split_writes(writes: Sequence[Write]) -> tuple[list[Write], list[Write]]:
    """The first half of the creations; the rest (the other creations, then the changes)."""
    creations = [w for w in writes if not w.change]
    half = len(creations) // 2
    return creations[:half], creations[half:] + [w for w in writes if w.change]


# ---------------------------------------------------------------------------------------- scenarios


Scenario = Callable[[ChaosStack, Batch, Options, "Row"], None]


def webhooks_x3(stack: ChaosStack, batch: Batch, options: Options, row: Row) -> None:
    rackbeat = stack.rackbeat
    create_dependencies(rackbeat, batch, quietly=True)
    run_writes(record_writes(rackbeat, batch, quietly=True), threads=options.threads)
    items = deliveries(batch) * 3
    random.Random(options.seed).shuffle(items)
    answers = post_deliveries(stack, items, options.threads)
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(answers.items(), key=str))
    row.notes.append(f"{len(items)} deliveries posted (each record's x3, shuffled); answers {shown}")
    row.server_errors += sum(
        n for status, n in answers.items() if not isinstance(status, int) or status >= 500
    )


def describe_running(running: Sequence[dict[str, Any]]) -> str:
    return " + ".join(f"{t['kind']} {t['key']}" for t in running)


def products_arrived(stack: ChaosStack, batch: Batch) -> int:
    numbers = set(batch.products)
    return sum(1 for row in stack.economic.dump("products") if row.get("productNumber") in numbers)


def _kill_during_burst(
    stack: ChaosStack,
    batch: Batch,
    row: Row,
    times: int,
    what: str,
    kill: Callable[[list[dict[str, Any]]], str],
) -> list[str]:
    """`kill(running)` `times` times spread over the burst (after 1/(times+1), 2/(times+1)... of the
    products arrived), each time while a transfer runs; what each kill hit."""
    killed: list[str] = []
    for number in range(1, times + 1):
        wanted = batch.product_count * number // (times + 1)
        wait(lambda wanted=wanted: products_arrived(stack, batch) >= wanted, 60, 0.05)
        running = wait_in_flight(stack)
        if not running:
            row.missed.append(f"{what}: no transfer was running within 30 s")
            break
        killed.append(kill(running))
    return killed


def _kills_amid_writes(
    stack: ChaosStack,
    batch: Batch,
    options: Options,
    row: Row,
    count: int,
    what: str,
    kill: Callable[[list[dict[str, Any]]], str],
) -> list[str]:
    """Write the batch in the background (Rackbeat answering slowly) and deal ``count`` kills meanwhile."""
    rackbeat = stack.rackbeat
    rackbeat.faults.set(latency_ms=options.latency_ms)
    create_dependencies(rackbeat, batch)
    writer = Background(record_writes(rackbeat, batch), options.threads)
    try:
        return _kill_during_burst(stack, batch, row, count, what, kill)
    finally:
        rackbeat.faults.set(latency_ms=stack.settings.latency_ms)
        writer.join()


def pool_kill(stack: ChaosStack, batch: Batch, options: Options, row: Row) -> None:
    def kill(running: list[dict[str, Any]]) -> str:
        stack.kill_pool_process(running[0]["pid"])  # the process running that transfer
        return describe_running(running[:1])

    def kill_green(running: list[dict[str, Any]]) -> str:
        stack.kill_pool_process(running[0]["pid"])  # the gevent worker itself, every transfer it runs
        return describe_running(running)

    if stack.green:
        killed = _kills_amid_writes(stack, batch, options, row, options.pool_kills, "pool-kill", kill_green)
        row.notes.append(
            f"the gevent worker process SIGKILLed {len(killed)} time(s), each while running transfers"
            f" ({'; '.join(killed)}); started again each time"
        )
        return
    killed = _kills_amid_writes(stack, batch, options, row, options.pool_kills, "pool-kill", kill)
    row.notes.append(
        f"{len(killed)} pool processes SIGKILLed, each while running a transfer ({', '.join(killed)});"
        " each replaced"
    )


def worker_kill(stack: ChaosStack, batch: Batch, options: Options, row: Row) -> None:
    def kill(running: list[dict[str, Any]]) -> str:
        stack.kill_worker()
        time.sleep(1.0)
        stack.restart_worker()
        return describe_running(running)

    killed = _kills_amid_writes(stack, batch, options, row, options.worker_kills, "worker-kill", kill)
    row.notes.append(
        f"whole worker SIGKILLed {len(killed)} time(s), while transferring {'; '.join(killed)}; started"
        " again 1 s later each time"
    )


def _redis_outage(stack: ChaosStack, batch: Batch, options: Options, row: Row, *, kill: bool) -> None:
    rackbeat = stack.rackbeat
    rackbeat.faults.set(latency_ms=options.latency_ms)
    create_dependencies(rackbeat, batch)
    before, during = split_writes(record_writes(rackbeat, batch))
    run_writes(before, threads=options.threads)
    if not options.stop_amid_deliveries:
        # Every delivery of the first half answered: no delivery is between its pending claim and its
        # publish when Redis stops (see the README's chaos notes for what happens when one is).
        wait(lambda: stack.rackbeat.dispatcher.pending == 0, 30, 0.01)
    running = wait_in_flight(stack)
    if not running:
        row.missed.append("no transfer was running when Redis stopped")
    streaming = stack.rackbeat.dispatcher.pending
    stopped = time.monotonic()
    stack.stop_redis(kill=kill)
    creations = [w for w in during if not w.change]
    try:
        # The rest is written while Redis is down: Rackbeat's deliveries meet 503s and are retried.
        run_writes(creations, threads=options.threads, per_second=len(creations) / options.outage_seconds)
        time.sleep(max(0.0, stopped + options.outage_seconds - time.monotonic()))
    finally:
        outage = time.monotonic() - stopped
        stack.start_redis()
        rackbeat.faults.set(latency_ms=stack.settings.latency_ms)
    run_writes([w for w in during if w.change], threads=options.threads)
    row.notes.append(
        f"Redis stopped with {'SIGKILL' if kill else 'SIGTERM'} while {len(running)} transfers ran and"
        f" {streaming} webhook deliveries were under way; {len(creations)} records written during the"
        f" {outage:.1f} s outage; restarted on its AOF"
    )


def redis_term(stack: ChaosStack, batch: Batch, options: Options, row: Row) -> None:
    _redis_outage(stack, batch, options, row, kill=False)


def redis_kill(stack: ChaosStack, batch: Batch, options: Options, row: Row) -> None:
    _redis_outage(stack, batch, options, row, kill=True)


def api_faults(stack: ChaosStack, batch: Batch, options: Options, row: Row) -> None:
    rackbeat, economic = stack.rackbeat, stack.economic
    burst = options.rate_limit_burst if options.rate_limit_burst is not None else max(5, batch.sent // 10)
    commits = options.commit_then_fail if options.commit_then_fail is not None else max(2, batch.sent // 20)
    for number, sandbox in enumerate((rackbeat, economic)):
        sandbox.faults.set(error_rate=0.2, drop_rate=0.05, seed=options.seed + number, rate_limit_burst=burst)
    economic.faults.set(commit_then_fail=commits, drop_after_commit=False)
    create_dependencies(rackbeat, batch)
    first, second = split_writes(record_writes(rackbeat, batch))
    run_writes(first, threads=options.threads)
    # Halfway: another 429 burst on both, and commit-then-fail now drops the connection instead.
    # The first half's records carry the 500s: they are far more than the faults, so every one is dealt.
    if not wait(lambda: economic.faults.config.commit_then_fail == 0, options.settle_deadline, 0.05):
        row.missed.append(
            f"only {commits - economic.faults.config.commit_then_fail} of {commits} commit-then-fail 500s"
            f" were dealt within {options.settle_deadline:.0f} s"
        )
    for sandbox in (rackbeat, economic):
        sandbox.faults.set(rate_limit_burst=burst)
    economic.faults.set(commit_then_fail=commits, drop_after_commit=True)
    run_writes(second, threads=options.threads)
    # The faults stay on until the run has settled (run_scenario switches them off).
    row.notes.append(
        f"faults: 20 % 5xx, 5 % dropped connections on both APIs; 2 bursts of {burst} 429s on each;"
        f" 2 x {commits} e-conomic writes committed then failed (a 500, then a dropped connection)"
    )


SCENARIOS: dict[str, Scenario] = {
    "webhooks-x3": webhooks_x3,
    "pool-kill": pool_kill,
    "worker-kill": worker_kill,
    "redis-term": redis_term,
    "redis-kill": redis_kill,
    "api-faults": api_faults,
}


# ------------------------------------------------------------------------------------ settle, count


def settle(stack: ChaosStack, timeout: float, quiet: float = 2.0) -> tuple[bool, float]:
    """Wait until nothing is left to do and nothing changed for `quiet` seconds; (settled, the monotonic
    time of the last change seen)."""
    deadline = time.monotonic() + timeout
    last_state: Any = object()
    last_change = time.monotonic()
    while time.monotonic() < deadline:
        busy = stack.busy()
        requests = (len(stack.economic.request_log), len(stack.rackbeat.request_log))
        state = (busy, stack.events_length(), requests)
        now = time.monotonic()
        if state != last_state:
            last_state, last_change = state, now
        elif busy is not None and not any(busy.values()) and now - last_change >= quiet:
            return True, last_change
        time.sleep(0.2)
    return False, time.monotonic()


def run_notes(stack: ChaosStack, counted: Tally) -> list[str]:
    """What else happened: webhook deliveries, transfers, writes, replays, faults dealt."""
    hooks = stack.rackbeat.dispatcher.stats()
    server_errors = sum(
        1 for entry in stack.rackbeat.dispatcher.log_entries() if (entry.get("status") or 0) >= 500
    )
    economic = stack.economic
    writes = sum(1 for entry in economic.request_log.entries() if entry.get("method") in ("POST", "PUT"))
    faults = Counter(stack.rackbeat.faults.counters) + Counter(economic.faults.counters)
    shown_faults = ", ".join(
        f"{name} {faults[name]}"
        for name in ("errors_5xx", "dropped", "rate_limited_429", "commit_then_fail")
        if faults[name]
    )
    notes = [
        f"Rackbeat webhooks: {hooks.get('delivered', 0)} delivered, {server_errors} answered 5xx and "
        f"retried, {hooks.get('given_up', 0)} given up",
        f"e-conomic: {writes} writes, {counted.creating_writes} creating, {economic.replays} idempotent "
        f"replays; {counted.superseded} dead letters superseded by a later success"
        + (f"; faults dealt: {shown_faults}" if shown_faults else ""),
    ]
    if counted.request_log_full:
        notes.append("e-conomic's request log was full: creating writes are a lower bound")
    if stack.worker_restarts:
        notes.append(f"worker restarted {stack.worker_restarts} time(s)")
    return notes


EVENT_PREFIX = {"payment_term": "payment_terms"}


def delivery_history(stack: ChaosStack, kind: str, key: str) -> str:
    """The answers Rackbeat's deliveries for one record got, in order (for a lost record's line)."""
    prefix = EVENT_PREFIX.get(kind, kind) + "."
    answers = [
        str(entry.get("status") or entry.get("error"))
        for entry in stack.rackbeat.dispatcher.log_entries()
        if entry["event"].startswith(prefix) and str(entry["body"].get("key")) == key
    ]
    return f"Rackbeat's deliveries of {kind} {key} were answered: {', '.join(answers) or 'none made'}"


def secrets_of(stack: ChaosStack) -> SecretsScan:
    client = as_bytes_client(stack.redis_server.url) if stack.redis_server is not None else None
    try:
        return scan_secrets(
            {**stack.tokens, **webhook_secrets(stack.webhook_tokens())},
            log_files=stack.log_files(),
            redis_client=client,
            aof_files=stack.aof_files(),
            tokens_key=stack.key("webhook-tokens"),
        )
    finally:
        if client is not None:
            client.close()


def run_scenario(
    name: str,
    options: Options | None = None,
    settings: ChaosSettings | None = None,
    *,
    keep_logs: bool = False,
    stack: ChaosStack | None = None,
) -> Row:
    """One scenario on a fresh stack, or on `stack` (a test's, shared by several scenarios: each batch has
    records of its own, and the run settles before it is counted); the row of the table (logs kept when it
    failed, or when asked)."""
    options = options or Options()
    if stack is not None:
        return _run_on(stack, name, options, keep_logs)
    with ChaosStack(settings, label=f"chaos-{name}") as fresh:
        return _run_on(fresh, name, options, keep_logs)


def _run_on(stack: ChaosStack, name: str, options: Options, keep_logs: bool) -> Row:
    scenario = SCENARIOS[name]
    row = Row(scenario=name)
    batch = plan(uuid.uuid4().hex[:4], options.records)
    row.sent = batch.sent
    started = time.monotonic()
    try:
        scenario(stack, batch, options, row)
    finally:
        row.settled, last_change = settle(stack, options.settle_deadline, options.quiet_seconds)
        row.seconds = last_change - started
        for sandbox in (stack.rackbeat, stack.economic):
            sandbox.faults.set(
                error_rate=0.0,
                drop_rate=0.0,
                rate_limit_burst=0,
                commit_then_fail=0,
                latency_ms=stack.settings.latency_ms,
            )
    counted = tally(stack, batch)
    row.arrived, row.duplicated = counted.arrived, counted.duplicated
    row.lost, row.dead_lettered = counted.lost, counted.dead_lettered
    row.problems.extend(counted.problems)
    row.problems.extend(delivery_history(stack, kind, key) for kind, key in counted.lost_records[:5])
    row.notes.extend(run_notes(stack, counted))
    scan = secrets_of(stack)
    row.secret_hits = len(scan.hits)
    row.notes.extend(describe(scan))
    died = stack.check_children()
    if died:
        row.problems.extend(f"{child} during the run" for child in died)
    if keep_logs or not row.ok or not row.settled or died:
        stack.keep_logs = True
        stack.copy_aof_to_logs()
        row.log_dir = str(stack.log_dir)
    return row


def table(rows: Sequence[Row]) -> str:
    header = (
        f"{'scenario':<13} {'sent':>6} {'arrived':>8} {'duplicated':>10} {'lost':>5} {'dead-lettered':>13}"
        f" {'wall time':>10} {'secret hits':>11}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.scenario:<13} {row.sent:>6} {row.arrived:>8} {row.duplicated:>10} {row.lost:>5}"
            f" {row.dead_lettered:>13} {row.seconds:>9.1f}s {row.secret_hits:>11}"
            + ("  (error: see above)" if row.error else "" if row.settled else "  (not settled)")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=300, help="records per scenario (default 300)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        choices=sorted(SCENARIOS),
        metavar="SCENARIO",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--seed", type=int, default=20261, help="seed of the shuffles and faults")
    parser.add_argument("--keep-logs", action="store_true", help="keep every run's logs (and say where)")
    parser.add_argument(
        "--pool", choices=POOLS, default="prefork", help="the worker pool (tasks/harness/workers.py)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every sandbox answer")
    args = parser.parse_args(argv)
    if not 5 <= args.records <= 5000:
        parser.error("--records must be within 5..5000")
    options = Options(records=args.records, seed=args.seed)
    chosen = [name for name in SCENARIOS if not args.only or name in args.only]
    settings = ChaosSettings(pool=args.pool, latency_ms=max(0.0, args.latency_ms))
    workers = (
        f"gevent pool ({settings.green_concurrency} greenlets) for transfers"
        if settings.pool == "gevent"
        else f"worker concurrency {settings.concurrency}"
    )
    print(
        f"chaos: {len(chosen)} scenario(s), {args.records} records each, {workers}, visibility timeout "
        f"{settings.visibility_timeout_seconds} s, API latency {settings.latency_ms:g} ms",
        flush=True,
    )
    rows = []
    for name in chosen:
        print(f"\n--- {name} ...", flush=True)
        try:
            row = run_scenario(name, options, settings, keep_logs=args.keep_logs)
        except Exception as error:  # one broken scenario must not hide the others' figures
            row = Row(scenario=name, error=f"{type(error).__name__}: {error}")
        print(row.report(), flush=True)
        rows.append(row)
    print()
    print(table(rows))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
