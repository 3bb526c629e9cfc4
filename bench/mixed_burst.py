"""A mixed burst of master data, every kind the service knows, from the Rackbeat sandbox to e-conomic.

    .venv/bin/python -m bench.mixed_burst --records 1000 [--rate-limits] [--latency-ms 100] [--pool gevent]

The kinds are whatever `tasks.entities.REGISTRY` holds when it runs (groups, customers, suppliers,
products, lots, payment terms, employees, units, ...). Their records come from the deterministic seed
company (`sandbox.seed`), sized so the burst holds about `--records` of them: the reference data in full
(groups, terms, staff) and the rest shared between the kinds that scale (products, customers, suppliers,
lots). Records of resources no kind handles (locations, layouts) are loaded silently first, as a company
that already exists would have them.

The burst is then written straight into the Rackbeat sandbox, as people working in Rackbeat's UI would:
the resources a record refers to before the record (groups before customers, products before the lots
built from them), and within that order the kinds interleaved, so every kind's webhooks reach the real
receiver and real worker processes together and dependencies are met both ways (exported inside another
record's transfer, or by their own webhook racing it). Printed per kind and overall: latency percentiles
from the Rackbeat write to the record's own transfer event in the `events` stream, the API calls per
record (those of its transfer, dependencies exported inside it included) and the dead-lettered ones;
then the requests each sandbox served, per record and per resource path (Rackbeat and e-conomic apart).
`--latency-ms` adds that much to every answer of both sandboxes; `--pool` picks the worker pool.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench._stackargs import add_stack_arguments, bench_stack_options, describe, stack_options
from bench.e2e_products import _sandbox_requests, _wait_for, percentile
from tasks.harness.stack import Stack
from tasks.harness.workers import DEFAULT_POOL

# Shares of the scaled part of the burst, for the kinds whose Rackbeat resource grows with the company.
SCALED_SHARES = {"products": 0.55, "customers": 0.25, "suppliers": 0.1, "lots": 0.1}
# The e-conomic agreement as it is set up before any integration: what Rackbeat records refer to and no
# kind writes (a customer's layout must exist there, for instance).
ECONOMIC_SETUP = ("currencies", "vat-zones", "accounts", "vat-accounts", "layouts")
WAIT_SECONDS_PER_RECORD = 1.0
SEED = 42


@dataclass(frozen=True)
class BurstRecord:
    kind: str
    resource: str
    key: str
    body: dict[str, Any]


@dataclass
class KindFigures:
    kind: str
    records: int = 0
    latencies: list[float] = field(default_factory=list)
    api_calls: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())

    @property
    def dead_lettered(self) -> int:
        return self.outcomes.get("dead-lettered", 0)


# ------------------------------------------------------------------------------------ choosing the records


def kinds_by_resource() -> dict[str, str]:
    """Rackbeat resource -> the registered kind that moves it to e-conomic (a kind only ever imported from
    e-conomic, such as layouts, is loaded silently like any resource no kind moves)."""
    from tasks.entities import REGISTRY

    return {
        spec.rackbeat.resource: kind
        for kind, spec in REGISTRY.items()
        if spec.exports is not None or spec.posting is not None
    }


def seed_size(records: int, fixed: int, scaled_resources: Iterable[str]) -> Any:
    """A seed size whose scaled resources (those with a registered kind) fill what the fixed ones leave."""
    from sandbox.seed import SeedSize

    chosen = [name for name in scaled_resources if name in SCALED_SHARES]
    weight = sum(SCALED_SHARES[name] for name in chosen) or 1.0
    room = max(0, records - fixed)
    counts = dict.fromkeys(SCALED_SHARES, 0)  # the resource names are SeedSize's field names
    for name in chosen:
        counts[name] = int(room * SCALED_SHARES[name] / weight)
    if chosen:  # what rounding left over goes to the biggest share
        biggest = max(chosen, key=SCALED_SHARES.__getitem__)
        counts[biggest] += room - sum(counts.values())
    if counts["lots"] and not counts["products"]:
        counts["products"] = max(1, counts["lots"])  # lots are built from products
    return SeedSize(
        **counts,
        orders=0,
        customer_invoices=0,
        supplier_invoices=0,
        projects=0,
        economic_orders=0,
        economic_invoices=0,
    )


def resource_depths(resources: Iterable[str]) -> dict[str, int]:
    """How deep each resource sits in Rackbeat's references: 0 refers to nothing, and everything a
    record refers to is shallower (documents with lines sit below the items they list)."""
    from sandbox.rackbeat.resources import RESOURCES

    depth: dict[str, int] = {}

    def depth_of(name: str, seen: frozenset[str]) -> int:
        if name not in depth:
            spec = RESOURCES[name]
            targets = [t for t in spec.references.values() if t in RESOURCES]
            if "lines" in spec.fields:
                targets += ["products"]
            targets = [t for t in targets if t != name and t not in seen]
            depth[name] = 1 + max((depth_of(t, seen | {name}) for t in targets), default=-1)
        return depth[name]

    return {name: depth_of(name, frozenset()) for name in resources}


def writable_body(resource: str, record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a seed record that a create in Rackbeat takes."""
    from sandbox.rackbeat.resources import RESOURCES

    spec = RESOURCES[resource]
    return {name: value for name, value in record.items() if name in spec.fields or name in spec.aliases}


def interleaved(groups: Sequence[Sequence[BurstRecord]]) -> list[BurstRecord]:
    """Round-robin over the groups: a, b, c, a, b, c, ..."""
    mixed: list[BurstRecord] = []
    for index in range(max((len(group) for group in groups), default=0)):
        mixed += [group[index] for group in groups if index < len(group)]
    return mixed


def economic_setup() -> dict[str, list[dict[str, Any]]]:
    """The seed company's e-conomic setup (`ECONOMIC_SETUP`), to load before the burst."""
    from sandbox.seed import generate

    data = generate(seed=SEED, size=_reference_only()).economic()
    return {name: data[name] for name in ECONOMIC_SETUP if data.get(name)}


def _reference_only() -> Any:
    from sandbox.seed.size import PRESETS

    return PRESETS["tiny"].with_(
        products=0,
        lots=0,
        customers=0,
        suppliers=0,
        orders=0,
        customer_invoices=0,
        supplier_invoices=0,
        projects=0,
        economic_orders=0,
        economic_invoices=0,
    )


def plan_burst(records: int) -> tuple[list[BurstRecord], dict[str, list[dict[str, Any]]]]:
    """(the burst in write order, the Rackbeat records to load silently beforehand)."""
    from sandbox.seed import generate

    handled = kinds_by_resource()
    reference_sized = generate(seed=SEED, size=_reference_only()).rackbeat()
    fixed = sum(len(rows) for name, rows in reference_sized.items() if name in handled)
    data = generate(seed=SEED, size=seed_size(records, fixed, handled)).rackbeat()

    silent = {name: rows for name, rows in data.items() if rows and name not in handled}
    depths = resource_depths(name for name, rows in data.items() if rows and name in handled)
    by_depth: dict[int, list[list[BurstRecord]]] = defaultdict(list)
    for resource, level in sorted(depths.items()):
        by_depth[level].append(
            [
                BurstRecord(handled[resource], resource, str(row["number"]), writable_body(resource, row))
                for row in data[resource]
            ]
        )
    burst = [record for level in sorted(by_depth) for record in interleaved(by_depth[level])]
    return burst[: max(records, 0)], silent


# ---------------------------------------------------------------------------------------------- the run


def requests_by_path(sandbox: Any, skip: int) -> dict[str, int]:
    """Requests a sandbox served after its first `skip` log entries, by the path's first segment (after
    ``api/`` on Rackbeat, with the service on e-conomic's OpenAPI: ``productsapi/...``)."""
    counts: dict[str, int] = defaultdict(int)
    for entry in sandbox.request_log.entries()[skip:]:
        parts = [part for part in str(entry.get("path", "")).split("/") if part and part != "api"]
        if parts and parts[0].endswith("api") and len(parts) > 2:
            parts = [f"{parts[0]}/{parts[2]}"]
        counts[parts[0] if parts else "/"] += 1
    return dict(counts)


def run(
    records: int, rate_limits: bool, concurrency: int, stack_kwargs: dict[str, Any] | None = None
) -> tuple[list[KindFigures], dict[str, Any]]:
    from tasks.events import read_events
    from tasks.redis import get_redis

    burst, silent = plan_burst(records)
    options = bench_stack_options(rate_limits=rate_limits, concurrency=concurrency, **(stack_kwargs or {}))
    with Stack(options) as stack:
        rackbeat = stack.rackbeat_sandbox
        rackbeat.load(silent)
        stack.economic_sandbox.load(economic_setup())
        redis_client = get_redis()
        last = redis_client.xrevrange(_stream(), count=1)
        start_id = str(last[0][0]) if last else "0"
        baseline = _sandbox_requests(stack)

        written_at: dict[tuple[str, str], float] = {}
        started = time.time()
        for record in burst:
            written_at[(record.kind, record.key)] = time.time()
            rackbeat.create(record.resource, record.body)
        timeout = 120 + WAIT_SECONDS_PER_RECORD * len(burst)
        _last, events = _wait_for(redis_client, read_events, start_id, set(written_at), timeout, stack=stack)
        finished = max((float(event["at"]) for event in events.values()), default=time.time())
        after = _sandbox_requests(stack)
        paths = {
            "Rackbeat": requests_by_path(rackbeat, baseline["rackbeat"]),
            "e-conomic": requests_by_path(stack.economic_sandbox, baseline["economic"]),
        }
        reasons = dead_letter_reasons(redis_client)
        retries = retry_reasons(redis_client, read_events, start_id)

    figures: dict[str, KindFigures] = {}
    for record in burst:
        kind = figures.setdefault(record.kind, KindFigures(record.kind))
        kind.records += 1
        event = events.get((record.kind, record.key))
        if event is None:
            continue
        kind.outcomes[str(event.get("outcome"))] += 1
        kind.latencies.append(float(event["at"]) - written_at[(record.kind, record.key)])
        kind.api_calls.append(int(event.get("api_calls") or 0))
    totals = {
        "records": len(burst),
        "wall_seconds": finished - started,
        "rackbeat_requests": after["rackbeat"] - baseline["rackbeat"],
        "economic_requests": after["economic"] - baseline["economic"],
        "rate_limited": after["429"] - baseline["429"],
        "dead_letter_reasons": reasons,
        "paths": paths,
        "retries": retries,
    }
    return sorted(figures.values(), key=lambda f: f.kind), totals


def retry_reasons(redis_client: Any, read_events: Any, after: str) -> dict[tuple[str, str], int]:
    """(kind, why) -> transfer attempts retried during the run, from the event stream (a retried attempt
    reads its record again: at higher concurrency this is where extra Rackbeat calls come from)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    while True:
        rows = read_events(redis_client, after=after)
        if not rows:
            return dict(counts)
        for stream_id, event in rows:
            after = stream_id
            if event.get("outcome") == "retrying":
                counts[(str(event.get("kind")), str(event.get("reason") or event.get("error_class")))] += 1


def dead_letter_reasons(redis_client: Any) -> dict[tuple[str, str], int]:
    """(kind, what went wrong) -> how many records, from the run's dead-letter list."""
    from tasks.deadletter import DeadLetterStore
    from tasks.settings import get_settings

    reasons: dict[tuple[str, str], int] = defaultdict(int)
    for entry in DeadLetterStore(redis_client, get_settings().connection_id).list():
        fields = entry.get("field_errors") or {}
        what = "; ".join(f"{name}: {', '.join(problems)}" for name, problems in sorted(fields.items()))
        summary = f"{entry.get('error_class')} {what or entry.get('error', '')}"[:150]
        reasons[(str(entry.get("kind")), summary)] += 1
    return reasons


def _stream() -> str:
    from tasks.events import stream_key

    return stream_key()


# ------------------------------------------------------------------------------------------- the table


def table(kinds: list[KindFigures], totals: dict[str, Any]) -> str:
    overall = KindFigures("ALL")
    for kind in kinds:
        overall.records += kind.records
        overall.latencies += kind.latencies
        overall.api_calls += kind.api_calls
        for outcome, count in kind.outcomes.items():
            overall.outcomes[outcome] += count
    header = (
        f"{'kind':<16} {'N':>5} {'done':>5} {'DLQ':>4} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7}"
        f" {'calls/rec':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in [*kinds, overall]:
        calls = statistics.mean(row.api_calls) if row.api_calls else math.nan
        if row is overall:
            lines.append("-" * len(header))
        lines.append(
            f"{row.kind:<16} {row.records:>5} {row.finished:>5} {row.dead_lettered:>4}"
            f" {percentile(row.latencies, 0.50):>7.2f} {percentile(row.latencies, 0.95):>7.2f}"
            f" {percentile(row.latencies, 0.99):>7.2f} {max(row.latencies, default=math.nan):>7.2f}"
            f" {calls:>9.2f}"
        )
    wall = totals["wall_seconds"]
    requests = totals["rackbeat_requests"] + totals["economic_requests"]
    lines += [
        "",
        f"wall: {wall:.1f} s from the first write to the last event"
        f" ({overall.finished / wall if wall > 0 else math.nan:.1f} records/s)",
        f"requests served: Rackbeat {totals['rackbeat_requests']}, e-conomic {totals['economic_requests']}"
        f" = {requests / max(1, overall.records):.2f} per record"
        f" (Rackbeat {totals['rackbeat_requests'] / max(1, overall.records):.2f},"
        f" e-conomic {totals['economic_requests'] / max(1, overall.records):.2f});"
        f" 429s: {totals['rate_limited']}",
        "latency: Rackbeat write -> the record's own transfer event; calls/rec: API calls of that transfer,",
        "dependencies exported inside it included; done: records whose transfer finished (any outcome).",
    ]
    for api, paths in (totals.get("paths") or {}).items():
        shown = ", ".join(
            f"{path} {count}" for path, count in sorted(paths.items(), key=lambda item: -item[1])
        )
        lines.append(f"{api} requests by path: {shown or 'none'}")
    retries = totals.get("retries") or {}
    shown = ", ".join(
        f"{kind} {why} {count}"
        for (kind, why), count in sorted(retries.items(), key=lambda item: -item[1])[:8]
    )
    lines.append(f"retried attempts: {sum(retries.values())}" + (f" ({shown})" if shown else ""))
    reasons = totals.get("dead_letter_reasons") or {}
    if reasons:
        lines += ["", "dead-lettered (kind, count, reason):"]
        for (kind, what), count in sorted(reasons.items(), key=lambda item: -item[1])[:10]:
            lines.append(f"  {kind:<16} {count:>5}  {what}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mixed_burst", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="records in the burst (default 1000)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="sandboxes enforce the APIs' default limits and the workers use the default budgets",
    )
    add_stack_arguments(parser, default_pool=DEFAULT_POOL)
    args = parser.parse_args(argv)
    stack_kwargs = stack_options(args)
    from tasks.entities import REGISTRY

    print(
        f"mixed burst: {args.records} records across {len(REGISTRY)} kinds ({', '.join(sorted(REGISTRY))}),"
        f" {describe(args)}, rate limits {'on' if args.rate_limits else 'off'} ...",
        flush=True,
    )
    kinds, totals = run(args.records, args.rate_limits, args.concurrency, stack_kwargs)
    print()
    print(table(kinds, totals))
    finished = sum(kind.finished for kind in kinds)
    return 0 if finished == totals["records"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
