"""A short, human summary of a generated data set, for the sandbox CLI."""

from __future__ import annotations

from sandbox.seed.dataset import SeedData
from sandbox.seed.randomness import BASE_DATE
from sandbox.seed.reference import BASE_CURRENCY, COMPANY_CVR, COMPANY_NAME
from sandbox.seed.size import PRESETS


def size_label(data: SeedData) -> str:
    for name, preset in PRESETS.items():
        if preset == data.size:
            return name
    return "custom"


def _counts_line(label: str, counts: dict[str, int]) -> str:
    return f"  {label}: " + ", ".join(f"{resource} {count:,}" for resource, count in counts.items())


def describe(data: SeedData) -> str:
    """Company, seed, size and the record count of every resource in both views."""
    return "\n".join(
        (
            f"{COMPANY_NAME} (CVR {COMPANY_CVR}, base currency {BASE_CURRENCY}, as of {BASE_DATE:%Y-%m-%d})",
            f"  seed {data.seed}, size {size_label(data)}",
            _counts_line("Rackbeat", data.counts("rackbeat")),
            _counts_line("e-conomic", data.counts("economic")),
        )
    )
