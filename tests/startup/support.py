"""Helpers of the start-up sync tests: a seeded e-conomic, Rackbeat's request log, the run in-process."""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis

from tasks.redis import key as namespaced_key

SEED = 7
RACKBEAT_COLLECTIONS = (
    "layouts",
    "employees",
    "payment-terms",
    "customer-groups",
    "supplier-groups",
    "product-groups",
    "customers",
    "suppliers",
    "products",
    "units",
)


def seed_economic(economic: Any, size: Any = "tiny") -> dict[str, list[dict[str, Any]]]:
    """Load the believable company (`sandbox.seed`, as `python -m sandbox economic --seed N --size S`)."""
    from sandbox.seed import generate

    data = generate(seed=SEED, size=size).economic()
    economic.sandbox.load(data)
    return data


def rackbeat_writes(rackbeat: Any) -> list[dict[str, Any]]:
    """The writes Rackbeat's sandbox answered (its request log, admin routes left out)."""
    return [
        entry
        for entry in rackbeat.sandbox.request_log.entries()
        if entry["method"] in ("POST", "PUT", "PATCH", "DELETE") and not entry["path"].startswith("/_sandbox")
    ]


def dump(rackbeat: Any, resource: str) -> list[dict[str, Any]]:
    return list(rackbeat.sandbox.dump(resource))


def duplicates(rackbeat: Any, resource: str, field: str) -> dict[Any, int]:
    counts = Counter(str(record.get(field)) for record in dump(rackbeat, resource))
    return {value: count for value, count in counts.items() if count > 1}


def forget_startup(client: redis.Redis, namespace: str) -> None:
    """Drop every binding, lock and start-up sync key of the session (a clean company)."""
    for pattern in ("binding*", "startup:*", "lock:*", "dlq:*"):
        names = list(client.scan_iter(match=namespaced_key(pattern, connection_id=namespace), count=1000))
        if names:
            client.delete(*names)
