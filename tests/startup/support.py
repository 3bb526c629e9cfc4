"""Helpers of the start-up sync tests: a seeded e-conomic, and what Rackbeat's sandbox holds and was sent."""

from __future__ import annotations

from collections import Counter
from typing import Any

SEED = 7


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
