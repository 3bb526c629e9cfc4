"""Deterministic seed data for the two sandboxes: one believable company seen from both sides.

The company is a Danish wholesaler of tools and building supplies with many Norwegian customers:
reference data (payment terms, VAT zones, groups, units, layouts, locations, staff, accounts), customers and
suppliers in DK / NO / EU / abroad, a product catalogue with lots (BOMs), sales orders, customer and supplier
invoices (draft and booked) and projects. `data.rackbeat()` and `data.economic()` render the same facts in
each API's JSON shape, so a start-up sync from e-conomic lands exactly on what Rackbeat holds.

    from sandbox.seed import generate, SeedSize, describe
    data = generate(seed=42, size="small")      # or SeedSize(products=200, customers=50, ...)
    data.rackbeat()  # {"products": [...], "customers": [...], ...}
    data.economic()  # {"products": [...], "customers": [...], "invoices/booked": [...], ...}

Same seed and size, same data, always: every random draw comes from a `random.Random` seeded from the seed,
and every date hangs off a fixed base date (BASE_DATE).

Numbering, identical on both sides where both hold the record: customers 10001..., suppliers 70001...,
products `<group>-100000`... (a few with `/`, space, `+`, or bare digits), lots `KIT-1000`..., projects 1...;
Rackbeat orders 1001..., customer invoices 30001..., supplier invoices 5001...; e-conomic's own orders and
invoices from 1. Resource names are the sandboxes' (`customer-invoices`, `invoices/booked`, ...); big data
sets go over HTTP with `data.batches(api)`, and `describe(data)` summarises a data set for the CLI.
"""

from __future__ import annotations

from sandbox.seed.dataset import SeedData
from sandbox.seed.randomness import BASE_DATE
from sandbox.seed.size import PRESETS, SeedSize, resolve_size
from sandbox.seed.summary import describe

__all__ = ["BASE_DATE", "PRESETS", "SeedData", "SeedSize", "describe", "generate"]


def generate(seed: int = 42, size: SeedSize | str | None = None) -> SeedData:
    """The company for `seed` at `size` (a SeedSize or a preset: tiny, small, medium, large)."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return SeedData(seed, resolve_size(size))
