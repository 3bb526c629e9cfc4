"""The transfer event stream: one Redis stream entry per finished (or retried) transfer.

``rbsync run`` prints it, benchmarks read latencies from it, tests wait on it. Entries are flat string
maps (a Redis stream stores strings): ``kind, key, outcome, economic_key, api_calls, task_id, at``
(epoch seconds), plus ``retry_in`` (seconds) on ``retrying`` and ``entry_id`` on ``dead-lettered``.
Each event also adds to the counters of tasks.metrics (``/metrics``), in the same round trip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import redis

from tasks.metrics import count_event
from tasks.redis import field_map, read_entries, stream_entries, text
from tasks.redis import key as namespaced_key

STREAM_MAXLEN = 10000
OUTCOMES = ("created", "replaced", "unchanged", "barred", "ignored", "dead-lettered", "retrying")


def stream_key(connection_id: str | None = None) -> str:
    return namespaced_key("events", connection_id=connection_id)


def record_event(
    client: redis.Redis,
    *,
    kind: str,
    key: str,
    outcome: str,
    task_id: str,
    economic_key: object = None,
    api_calls: int = 0,
    at: float | None = None,
    connection_id: str | None = None,
    **extra: Any,
) -> str:
    """Append one event (the stream is trimmed to about ``STREAM_MAXLEN``); returns the stream id."""
    fields: dict[str, str] = {
        "kind": kind,
        "key": str(key),
        "outcome": outcome,
        "economic_key": "" if economic_key is None else str(economic_key),
        "api_calls": str(int(api_calls)),
        "task_id": task_id,
        "at": repr(time.time() if at is None else at),
    }
    fields.update({name: "" if value is None else str(value) for name, value in extra.items()})
    pipe = client.pipeline(transaction=False)  # the event and its counters (tasks.metrics): one round trip
    pipe.xadd(stream_key(connection_id), field_map(fields), maxlen=STREAM_MAXLEN, approximate=True)
    count_event(
        pipe,
        kind=kind,
        outcome=outcome,
        task_id=task_id,
        error_class=extra.get("error_class"),
        timed=extra.get("via") is None,
        at=at,
        connection_id=connection_id,
    )
    return text(pipe.execute()[0])


def parse_event(fields: dict[str, str]) -> dict[str, Any]:
    """Typed view of a stream entry: numbers as numbers, empty strings as None."""
    event: dict[str, Any] = {name: (value if value != "" else None) for name, value in fields.items()}
    event["api_calls"] = int(fields.get("api_calls") or 0)
    event["at"] = float(fields["at"]) if fields.get("at") else None
    if fields.get("retry_in"):
        event["retry_in"] = float(fields["retry_in"])
    return event


def read_events(
    client: redis.Redis, *, after: str = "0", count: int = 1000, connection_id: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Events after stream id ``after`` (``"0"`` for the start), oldest first."""
    rows = client.xrange(stream_key(connection_id), min=f"({after}" if after != "0" else "-", count=count)
    return [(stream_id, parse_event(fields)) for stream_id, fields in stream_entries(rows)]


def follow_events(
    client: redis.Redis, *, after: str = "$", block_ms: int = 1000, connection_id: str | None = None
) -> Iterator[tuple[str, dict[str, Any]] | None]:
    """Yield events as they arrive (``"$"``: only new ones); yields None after each idle ``block_ms``."""
    name = stream_key(connection_id)
    last = after
    if last == "$":  # pin "now" once: a bare "$" on every call would skip events between two reads
        newest = stream_entries(client.xrevrange(name, count=1))
        last = newest[0][0] if newest else "0-0"
    while True:
        answer = client.xread({name: last}, block=block_ms, count=100)
        if not answer:
            yield None
            continue
        for stream_id, fields in read_entries(answer):
            last = stream_id
            yield stream_id, parse_event(fields)
