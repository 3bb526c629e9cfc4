"""The service's metrics: counters kept in Redis, read by a ``prometheus_client`` collector for ``/metrics``.

Counters live in Redis, not in process memory, so they add up across worker processes, hosts and restarts;
writing one costs no round trip of its own (it rides in the pipeline of the write it counts), and reading
them all is a handful of pipelined reads whose size never grows with the history. Keys, all under
``rbsync:{connection_id}:``:

- ``metrics:transfers`` hash, ``<kind>|<outcome>`` -> transfers (every event of tasks.events, dependencies
  brought across inside another transfer included; outcomes as in ``tasks.events.OUTCOMES``);
- ``metrics:retries`` hash, ``<error class>`` -> retries scheduled (the ``retrying`` events);
- ``metrics:latency:<kind>`` hash, ``count``, ``sum`` and one field per bucket (``le:<bound>``, counts
  per bucket, not cumulative; the collector adds them up); the kinds seen are the set
  ``metrics:latency-kinds``;
- ``metrics:polls`` hash, schedule -> epoch seconds of its last successful run (tasks.polls);
- ``metrics:api`` hash and ``metrics:ratelimit-buckets`` set, written by the rate limiter's own script
  (clients.ratelimit): requests let out and 429s per API, and the buckets whose share in use is reported;
- ``metrics:dlq-open`` set and ``metrics:dlq-seen`` string: the dead-letter index below.

**Latency, "event -> done".** The clock starts when the transfer's message is first published, which is
when the receiver accepted the webhook (within milliseconds of its arrival), or when the change poll, the
deletion sweep, a related record's change, ``rbsync resend`` or an operator's dead-letter retry queued it:
that is the earliest moment this service knows of the change. A ``before_task_publish`` hook stamps the
message with that time (header ``rbsync_queued_at``); retries, redeliveries and busy-record re-queues carry
the same message headers along, so their waiting counts too. Coalesced deliveries ride on the transfer
already queued, so for them the figure is an upper bound. The clock stops when the transfer's own event is
recorded with a final outcome that leaves the record in step: created, replaced, unchanged, barred or
ignored. A dead-lettered transfer is not "done" in that sense and is reported by the dead-letter gauges
instead; dependencies transferred inside another record's transfer are counted but not timed (no event of
theirs started the clock). Publisher and worker clocks must agree (NTP); a negative figure counts as 0.

**Dead letters** are read from the dead-letter store itself, so every way an entry opens or closes (a
failure, a successful transfer, ``rbsync dlq discard``) is reflected without hooks. A scan of
``dlq:entries`` would grow with the whole history (closed entries are kept for ever), so the collector keeps
an index of the entries that may be open: each scrape adds the ids ``dlq:order`` scored since the last one
(``DLQ_OVERLAP_SECONDS`` of overlap for late writers and clock skew; the very first scrape reads it once
from the start), reads the indexed entries (open ones, plus those that closed since the last scrape, which
it then drops from the index) and counts the open ones by kind and error class. The work per scrape thus
follows the open entries, which is what an operator has to work through anyway, never the closed history.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import redis
from celery.signals import before_task_publish, task_postrun, task_prerun
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from clients.ratelimit import buckets_key, usage_key
from tasks.celery import QUEUES
from tasks.deadletter import OPEN_STATUSES, DeadLetterStore, parse_iso
from tasks.redis import key as namespaced_key
from tasks.redis import text, text_map, texts

logger = logging.getLogger(__name__)

QUEUED_AT_HEADER = "rbsync_queued_at"
# Final outcomes that leave the record in step: the transfer latency stops there.
DONE_OUTCOMES = frozenset({"created", "replaced", "unchanged", "barred", "ignored"})
# Upper bounds (seconds) of the latency buckets: sub-second webhook transfers up to an hour of retries.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
)
DLQ_OVERLAP_SECONDS = 600
_DLQ_PAGE = 200
# kombu's Redis transport puts a message of priority n in "<queue>\x06\x16<n>" (priority steps 0, 3, 6, 9;
# 0 is the queue's own list).
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")

# Task id -> when its message was first queued, for the tasks running in this process.
_queued_at: dict[str, float] = {}


def metrics_key(*parts: object, connection_id: str | None = None) -> str:
    return namespaced_key("metrics", *parts, connection_id=connection_id)


def bucket_field(seconds: float) -> str:
    """The hash field of the latency bucket that ``seconds`` falls in (``le:+Inf`` past the last bound)."""
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            return f"le:{bound:g}"
    return "le:+Inf"


# --- writing ------------------------------------------------------------------------------------------


@before_task_publish.connect
def _stamp_queued_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Stamp a message with the time it is first queued; a retry or re-queue keeps the first stamp."""
    if headers is not None and QUEUED_AT_HEADER not in headers:
        headers[QUEUED_AT_HEADER] = time.time()


@task_prerun.connect
def _remember_queued_at(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    if task_id is None or request is None:
        return
    stamp: Any = (getattr(request, "headers", None) or {}).get(QUEUED_AT_HEADER)
    if stamp is None:
        stamp = getattr(request, QUEUED_AT_HEADER, None)
    try:
        _queued_at[task_id] = float(stamp)
    except (TypeError, ValueError):  # no stamp (published by an older version) or not a number
        _queued_at.pop(task_id, None)


@task_postrun.connect
def _forget_queued_at(task_id: str | None = None, **_: Any) -> None:
    if task_id is not None:
        _queued_at.pop(task_id, None)


def queued_at(task_id: str) -> float | None:
    """When the message of ``task_id``, running in this process, was first queued (None if unknown)."""
    return _queued_at.get(task_id)


def count_event(
    pipe: Any,
    *,
    kind: str,
    outcome: str,
    task_id: str,
    error_class: str | None = None,
    timed: bool = True,
    at: float | None = None,
    connection_id: str | None = None,
) -> None:
    """Queue the counter updates of one transfer event on ``pipe`` (the pipeline that records the event).

    ``timed`` False: a dependency transferred inside another record's transfer (counted, not timed).
    """
    pipe.hincrby(metrics_key("transfers", connection_id=connection_id), f"{kind}|{outcome}", 1)
    if outcome == "retrying":
        pipe.hincrby(metrics_key("retries", connection_id=connection_id), error_class or "unknown", 1)
    if not timed or outcome not in DONE_OUTCOMES:
        return
    started = queued_at(task_id)
    if started is None:
        return
    seconds = max(0.0, (time.time() if at is None else at) - started)
    histogram = metrics_key("latency", kind, connection_id=connection_id)
    pipe.sadd(metrics_key("latency-kinds", connection_id=connection_id), kind)
    pipe.hincrby(histogram, bucket_field(seconds), 1)
    pipe.hincrby(histogram, "count", 1)
    pipe.hincrbyfloat(histogram, "sum", seconds)


def record_poll_success(client: redis.Redis, schedule: str, *, connection_id: str | None = None) -> None:
    """Note that ``schedule`` (a beat schedule's name) just ran to its end."""
    client.hset(metrics_key("polls", connection_id=connection_id), schedule, repr(time.time()))


# --- reading ------------------------------------------------------------------------------------------


def _number(value: str | None) -> float:
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def budget_share(fields: Sequence[str | None], now: float) -> float | None:
    """Share of a bucket's capacity in use now, from its ``tokens, ts, capacity, window`` (None: no state).

    The bucket refills evenly over its window; a bucket penalised after a 429 (``ts`` in the future) is
    fully in use until then. Clamped to 0..1 (reservations may take the count below zero)."""
    tokens, ts, capacity, window = (_number(value) if value else None for value in fields)
    if tokens is None or ts is None or not capacity or not window:
        return None
    if now > ts:
        tokens = min(capacity, tokens + (now - ts) * capacity / window)
    return min(1.0, max(0.0, (capacity - tokens) / capacity))


def api_of_bucket(bucket: str) -> str:
    """``rbsync:<ns>:ratelimit:<api>:<fingerprint>`` -> ``<api>``."""
    parts = bucket.split(":")
    return parts[-2] if len(parts) >= 2 else bucket


class OpenDeadLetters:
    """Open dead letters by (kind, error class) and the oldest one's first failure (see the docstring)."""

    def __init__(self, client: redis.Redis, connection_id: str) -> None:
        self.client = client
        self.store = DeadLetterStore(client, connection_id)
        self.index = metrics_key("dlq-open", connection_id=connection_id)
        self.seen = metrics_key("dlq-seen", connection_id=connection_id)

    def _index_new_entries(self) -> None:
        watermark = text(self.client.get(self.seen))
        low: float | str = "-inf" if watermark is None else float(watermark) - DLQ_OVERLAP_SECONDS
        rows: Any = self.client.zrangebyscore(self.store.order_key, low, "+inf", withscores=True)
        fresh = [(text(entry_id), float(score)) for entry_id, score in rows]
        if not fresh:
            return
        # Never past now: one entry stamped by a clock ahead of ours would otherwise lift the watermark
        # above every later entry, and they would never be counted.
        newest = min(max(score for _, score in fresh), time.time())
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(fresh), 1000):
            pipe.sadd(self.index, *[entry_id for entry_id, _ in fresh[start : start + 1000]])
        if watermark is None or newest > float(watermark):
            pipe.set(self.seen, repr(newest))
        pipe.execute()

    def read(self) -> tuple[dict[tuple[str, str], int], float | None]:
        """Counts per (kind, error class) and the epoch of the oldest open entry's first failure."""
        self._index_new_entries()
        ids = sorted(texts(self.client.smembers(self.index)))
        counts: dict[tuple[str, str], int] = defaultdict(int)
        oldest: float | None = None
        closed: list[str] = []
        for start in range(0, len(ids), _DLQ_PAGE):
            page = ids[start : start + _DLQ_PAGE]
            for entry_id, raw in zip(page, self.client.hmget(self.store.entries_key, page), strict=True):
                entry = json.loads(raw) if raw else None
                if entry is None or entry.get("status") not in OPEN_STATUSES:
                    closed.append(entry_id)
                    continue
                counts[(str(entry.get("kind")), str(entry.get("error_class")))] += 1
                first = parse_iso(entry["first_failed_at"])
                oldest = first if oldest is None else min(oldest, first)
        if closed:  # a closed entry never opens again (a new failure makes a new entry)
            self.client.srem(self.index, *closed)
        return dict(counts), oldest


class ServiceCollector(Collector):
    """Transfers, retries, latency, queues, API use and budgets, dead letters and polls, from Redis.

    ``store`` is our Redis (the counters), ``broker`` the broker's (queue lengths, under ``broker_prefix``).
    Every value is read when Prometheus scrapes; nothing is cached in the process.
    """

    def __init__(
        self,
        store: redis.Redis,
        broker: redis.Redis,
        *,
        connection_id: str,
        broker_prefix: str = "",
        queues: Iterable[str] = QUEUES,
        clock: Any = time.time,
    ) -> None:
        self.store = store
        self.broker = broker
        self.connection_id = connection_id
        self.broker_prefix = broker_prefix
        self.queues = tuple(queues)
        self.clock = clock
        self.dead_letters = OpenDeadLetters(store, connection_id)

    def _key(self, *parts: object) -> str:
        return metrics_key(*parts, connection_id=self.connection_id)

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to read at registration; families are built per scrape

    def collect(self) -> Iterator[Metric]:
        pipe = self.store.pipeline(transaction=False)
        pipe.hgetall(self._key("transfers"))
        pipe.hgetall(self._key("retries"))
        pipe.smembers(self._key("latency-kinds"))
        pipe.hgetall(self._key("polls"))
        pipe.hgetall(usage_key(self.connection_id))
        pipe.smembers(buckets_key(self.connection_id))
        pipe.time()
        transfers, retries, kinds, polls, usage, buckets, server_time = pipe.execute()

        yield from self._queues()
        yield self._transfers(text_map(transfers))
        yield self._retries(text_map(retries))
        yield self._latency(sorted(texts(kinds)))
        yield from self._api(text_map(usage), sorted(texts(buckets)), server_time)
        yield from self._dead_letters()
        yield self._polls(text_map(polls))

    def _queues(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "rbsync_queue_length",
            "Messages waiting in each Celery queue (not yet taken by a worker).",
            labels=["queue"],
        )
        pipe = self.broker.pipeline(transaction=False)
        for queue in self.queues:
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(f"{self.broker_prefix}{queue}{suffix}")
        lengths = pipe.execute()
        per_queue = len(PRIORITY_SUFFIXES)
        for number, queue in enumerate(self.queues):
            family.add_metric(
                [queue], sum(int(n) for n in lengths[number * per_queue : (number + 1) * per_queue])
            )
        yield family

    @staticmethod
    def _transfers(counts: Mapping[str, str]) -> Metric:
        family = CounterMetricFamily(
            "rbsync_transfers",
            "Transfer events by kind and outcome (created, replaced, unchanged, barred, ignored, retrying, "
            "dead-lettered).",
            labels=["kind", "outcome"],
        )
        for field, value in sorted(counts.items()):
            kind, _, outcome = field.partition("|")
            family.add_metric([kind, outcome], _number(value))
        return family

    @staticmethod
    def _retries(counts: Mapping[str, str]) -> Metric:
        family = CounterMetricFamily(
            "rbsync_transfer_retries",
            "Transfer retries scheduled, by the error class that caused them.",
            labels=["error_class"],
        )
        for error_class, value in sorted(counts.items()):
            family.add_metric([error_class], _number(value))
        return family

    def _latency(self, kinds: Sequence[str]) -> Metric:
        family = HistogramMetricFamily(
            "rbsync_transfer_latency_seconds",
            "Seconds from the transfer's first queueing (webhook accepted, poll, resend) to its final "
            "in-step outcome, by kind.",
            labels=["kind"],
        )
        pipe = self.store.pipeline(transaction=False)
        for kind in kinds:
            pipe.hgetall(self._key("latency", kind))
        for kind, raw in zip(kinds, pipe.execute(), strict=True):
            fields = text_map(raw)
            cumulative = 0.0
            buckets: list[tuple[str, float]] = []
            for bound in LATENCY_BUCKETS:
                cumulative += _number(fields.get(f"le:{bound:g}"))
                buckets.append((f"{bound:g}", cumulative))
            cumulative += _number(fields.get("le:+Inf"))
            buckets.append(("+Inf", cumulative))
            family.add_metric([kind], buckets, sum_value=_number(fields.get("sum")))
        return family

    def _api(self, usage: Mapping[str, str], buckets: Sequence[str], server_time: Any) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "rbsync_api_requests", "Requests let out to each API by the shared rate limiter.", labels=["api"]
        )
        limited = CounterMetricFamily(
            "rbsync_api_rate_limited", "HTTP 429 answers received from each API.", labels=["api"]
        )
        apis = sorted({field.partition("|")[0] for field in usage} | {api_of_bucket(b) for b in buckets})
        for api in apis:
            requests.add_metric([api], _number(usage.get(f"{api}|requests")))
            limited.add_metric([api], _number(usage.get(f"{api}|rate_limited")))
        yield requests
        yield limited

        share = GaugeMetricFamily(
            "rbsync_api_budget_used_ratio",
            "Share (0-1) of each API's rate budget in use now, as the shared token bucket sees it.",
            labels=["api"],
        )
        now = float(server_time[0]) + float(server_time[1]) / 1_000_000
        pipe = self.store.pipeline(transaction=False)
        for bucket in buckets:
            pipe.hmget(bucket, ["tokens", "ts", "capacity", "window"])
        shares: dict[str, float] = {}
        gone: list[str] = []
        for bucket, fields in zip(buckets, pipe.execute(), strict=True):
            api = api_of_bucket(bucket)
            used = budget_share([text(value) for value in fields], now)
            if used is None:
                gone.append(bucket)  # expired: unused for two windows, so nothing of it is in use
                used = 0.0
            shares[api] = max(shares.get(api, 0.0), used)
        if gone:
            self.store.srem(buckets_key(self.connection_id), *gone)
        for api, value in sorted(shares.items()):
            share.add_metric([api], value)
        yield share

    def _dead_letters(self) -> Iterator[Metric]:
        counts, oldest = self.dead_letters.read()
        family = GaugeMetricFamily(
            "rbsync_dead_letters_open",
            "Open dead letters (new or retrying) by kind and error class.",
            labels=["kind", "error_class"],
        )
        for (kind, error_class), count in sorted(counts.items()):
            family.add_metric([kind, error_class], count)
        yield family
        yield GaugeMetricFamily(
            "rbsync_dead_letter_oldest_open_age_seconds",
            "Seconds since the first failure of the oldest open dead letter (0 when none is open).",
            value=0.0 if oldest is None else max(0.0, self.clock() - oldest),
        )

    @staticmethod
    def _polls(polls: Mapping[str, str]) -> Metric:
        family = GaugeMetricFamily(
            "rbsync_poll_last_success_timestamp_seconds",
            "Epoch seconds at which each beat poll last ran to its end.",
            labels=["schedule"],
        )
        for schedule, value in sorted(polls.items()):
            family.add_metric([schedule], _number(value))
        return family
