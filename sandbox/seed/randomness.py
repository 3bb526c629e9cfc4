"""Deterministic randomness and the fixed clock every generated date hangs off.

Each resource draws from its own `random.Random` stream, seeded from (seed, resource), and its records are
generated in order, one at a time, so 100,000 products stream out without being held. (Seeding a Mersenne
Twister per record costs more than generating the record, so streams are per resource, not per record.)
Documents reference a "popular" prefix of the catalogue and of the customer list, which is realistic and
means no record has to be found by random access.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

# "Today" for the generated company. Nothing reads the wall clock, so a seed gives the same data forever.
BASE_DATE = date(2026, 3, 31)
BASE_DATETIME = datetime(2026, 3, 31, 16, 0, 0, tzinfo=UTC)


def rng_for(seed: int, resource: str) -> random.Random:
    """The random stream of one resource (string seeding is stable across runs and Python versions)."""
    return random.Random(f"rbsync-seed:{seed}:{resource}")


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """rng.choice without its per-call overhead (it matters at 100,000 products)."""
    return options[int(rng.random() * len(options))]


def money(value: float) -> float:
    """Round half away from zero to two decimals, as both APIs store amounts.

    (Plain round() rounds half to even and trips over binary fractions such as 2.675.)"""
    scaled = abs(value) * 100 + 0.5 + 1e-7
    return math.copysign(math.floor(scaled) / 100, value)


def shelf_price(value: float) -> float:
    """A price a wholesaler would print: quarter kroner below 100, whole kroner ending in 5 or 9 above."""
    if value < 100:
        return money(max(1.0, round(value * 4) / 4))
    whole = int(value)
    last = whole % 10
    return float(whole - last + (5 if last < 5 else 9))


def timestamp_before(rng: random.Random, max_days: int) -> datetime:
    """A UTC second within the last max_days before the base time."""
    return BASE_DATETIME - timedelta(seconds=int(rng.random() * max_days * 86_400))


def economic_timestamp(value: datetime) -> str:
    """e-conomic writes lastUpdated as YYYY-MM-DDTHH:MM:SSZ (every generated time is UTC; isoformat is
    several times faster than strftime, which matters at 100,000 products)."""
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def rackbeat_timestamp(value: datetime) -> str:
    """ISO 8601 with offset, whole seconds (as the Rackbeat sandbox writes its own timestamps)."""
    return value.replace(microsecond=0).isoformat()
