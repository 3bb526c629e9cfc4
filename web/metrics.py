"""Webhook counters kept in Redis and rendered as Prometheus text.

Counters live in Redis (hash ``stats:webhooks``) rather than in process memory so they survive restarts and
add up across several receiver processes; every request updates them in one pipeline round trip.
Field names are ``<counter>`` or ``<counter>|<reason>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import redis

KeyFn = Callable[..., str]

METRICS_HASH = ("stats", "webhooks")
IGNORED_EVENTS_HASH = ("stats", "ignored-events")

# name -> help text; the order is the order of the /metrics page.
COUNTERS: dict[str, str] = {
    "received": "Webhook deliveries received from Rackbeat.",
    "accepted": "Deliveries accepted for a transfer (enqueued or coalesced).",
    "ignored": "Authentic deliveries answered 2xx without a transfer, by reason.",
    "refused": "Deliveries refused (401/400), by reason.",
    "enqueued": "Transfers enqueued by the receiver.",
    "coalesced": "Deliveries folded into a transfer that was already pending.",
    "failed": "Deliveries answered 503 because Redis or the broker could not be reached.",
}
PREFIX = "rbsync_webhooks"


@dataclass(frozen=True)
class Increment:
    counter: str
    reason: str | None = None

    @property
    def field(self) -> str:
        return self.counter if self.reason is None else f"{self.counter}|{self.reason}"


class WebhookMetrics:
    def __init__(self, client: redis.Redis, key: KeyFn) -> None:
        self._redis = client
        self._hash = key(*METRICS_HASH)
        self._ignored_events = key(*IGNORED_EVENTS_HASH)

    def record(self, increments: Iterable[Increment], ignored_event: str | None = None) -> None:
        """Add one to each counter (and to the per-event ignored count) in a single round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for inc in increments:
            if inc.counter not in COUNTERS:
                raise ValueError(f"unknown webhook counter {inc.counter!r}")
            pipe.hincrby(self._hash, inc.field, 1)
        if ignored_event is not None:
            pipe.hincrby(self._ignored_events, ignored_event, 1)
        pipe.execute()

    def snapshot(self) -> dict[str, int]:
        return {field: int(value) for field, value in _decoded(self._redis.hgetall(self._hash)).items()}

    def ignored_events(self) -> dict[str, int]:
        return {
            field: int(value) for field, value in _decoded(self._redis.hgetall(self._ignored_events)).items()
        }


def render_prometheus(snapshot: Mapping[str, int], ignored_events: Mapping[str, int] | None = None) -> str:
    """Prometheus text exposition (version 0.0.4) of the counters; counters never seen are reported as 0.

    `ignored_events` (from `stats:ignored-events`) adds one series per ignored event name, so an operator
    sees which Rackbeat events arrive that nothing handles.
    """
    lines: list[str] = []
    for counter, help_text in COUNTERS.items():
        name = f"{PREFIX}_{counter}_total"
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} counter")
        by_reason = {
            field.partition("|")[2]: value
            for field, value in snapshot.items()
            if field.startswith(f"{counter}|")
        }
        if by_reason:
            for reason, value in sorted(by_reason.items()):
                lines.append(f'{name}{{reason="{_escape_label(reason)}"}} {value}')
        else:
            lines.append(f"{name} {snapshot.get(counter, 0)}")
    if ignored_events:
        name = f"{PREFIX}_ignored_by_event_total"
        lines.append(f"# HELP {name} Authentic deliveries answered 2xx without a transfer, by event.")
        lines.append(f"# TYPE {name} counter")
        for event, value in sorted(ignored_events.items()):
            lines.append(f'{name}{{event="{_escape_label(event)}"}} {value}')
    return "\n".join(lines) + "\n"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _decoded(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return {text(k): text(v) for k, v in raw.items()}


def render_credentials(states: Mapping[str, Mapping[str, object]]) -> str:
    """One gauge per API: 1 while its credentials work (or were never refused), 0 while it refuses them."""
    name = "rbsync_api_credentials_ok"
    lines = [
        f"# HELP {name} 1 when the API accepts our credentials, 0 while it refuses them (see /status).",
        f"# TYPE {name} gauge",
    ]
    for api, state in sorted(states.items()):
        lines.append(f'{name}{{api="{_escape_label(api)}"}} {0 if state.get("state") == "refused" else 1}')
    return "\n".join(lines) + "\n"
