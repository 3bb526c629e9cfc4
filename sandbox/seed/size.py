"""How much data to generate: a record count per sized resource, plus named presets.

Reference data (payment terms, VAT zones, groups, units, layouts, locations, employees, accounts) has a fixed
size: a real company has a handful of each whatever its catalogue. Only the resources below grow.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

# e-conomic's product number is at most 25 characters and Rackbeat's UI says the same; the generator's
# numbering scheme leaves room for ten million products, far beyond the largest preset.
MAX_PRODUCTS = 10_000_000


@dataclass(frozen=True)
class SeedSize:
    """Record counts for the resources that scale with the size of the company."""

    products: int = 200
    lots: int = 10
    customers: int = 50
    suppliers: int = 15
    orders: int = 40
    customer_invoices: int = 40
    supplier_invoices: int = 20
    projects: int = 5
    economic_orders: int = 10
    economic_invoices: int = 10

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"SeedSize.{f.name} must be a non-negative integer, got {value!r}")
        if self.products > MAX_PRODUCTS:
            raise ValueError(f"SeedSize.products must be at most {MAX_PRODUCTS}, got {self.products}")
        needs_products = self.lots or self.orders or self.customer_invoices or self.supplier_invoices
        if needs_products and self.products == 0:
            raise ValueError("SeedSize: lots, orders and invoices need at least one product")
        needs_customers = (
            self.orders or self.customer_invoices or self.economic_orders or self.economic_invoices
        )
        if needs_customers and self.customers == 0:
            raise ValueError("SeedSize: orders and customer invoices need at least one customer")
        if self.supplier_invoices and self.suppliers == 0:
            raise ValueError("SeedSize: supplier invoices need at least one supplier")

    def with_(self, **changes: int) -> SeedSize:
        """A copy with some counts changed (the CLI overrides a preset with its own flags)."""
        return replace(self, **changes)


PRESETS: dict[str, SeedSize] = {
    "tiny": SeedSize(
        products=12,
        lots=2,
        customers=6,
        suppliers=3,
        orders=4,
        customer_invoices=4,
        supplier_invoices=3,
        projects=2,
        economic_orders=2,
        economic_invoices=2,
    ),
    "small": SeedSize(),
    "medium": SeedSize(
        products=5_000,
        lots=100,
        customers=1_000,
        suppliers=80,
        orders=500,
        customer_invoices=500,
        supplier_invoices=200,
        projects=20,
        economic_orders=100,
        economic_invoices=100,
    ),
    "large": SeedSize(
        products=100_000,
        lots=1_000,
        customers=20_000,
        suppliers=400,
        orders=5_000,
        customer_invoices=5_000,
        supplier_invoices=2_000,
        projects=100,
        economic_orders=1_000,
        economic_invoices=1_000,
    ),
}


def resolve_size(size: SeedSize | str | None) -> SeedSize:
    """Accept a SeedSize, a preset name or None (the "small" preset)."""
    if size is None:
        return PRESETS["small"]
    if isinstance(size, SeedSize):
        return size
    try:
        return PRESETS[size]
    except KeyError:
        raise ValueError(f"unknown seed size {size!r}; presets: {', '.join(PRESETS)}") from None
