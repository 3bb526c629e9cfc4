"""`SeedData`: one generated company, rendered on demand as Rackbeat's or e-conomic's records.

Nothing is generated until a view is asked for, and each view streams resource by resource, so the CLI can
load 100,000 products in batches without ever holding them twice. Only the small pools that documents draw
from (popular products, lots, customers, suppliers) are kept once built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from itertools import chain, islice

from sandbox.seed import economic_shape as eco
from sandbox.seed import rackbeat_shape as rb
from sandbox.seed import reference as ref
from sandbox.seed.catalog import iter_lots, iter_products, popular_products
from sandbox.seed.documents import (
    DocumentContext,
    iter_customer_invoices,
    iter_economic_invoices,
    iter_economic_orders,
    iter_orders,
    iter_projects,
    iter_supplier_invoices,
)
from sandbox.seed.model import Party, Product, Project
from sandbox.seed.parties import iter_customers, iter_suppliers
from sandbox.seed.size import SeedSize

Record = dict
RecordStream = tuple[str, Iterable[Record]]
# Documents address the first customers and suppliers: the regulars of a wholesaler's book.
POPULAR_PARTIES = 1_000


def _sellable(parties: Iterable[Party]) -> list[Party]:
    everyone = list(parties)
    return [p for p in everyone if not p.barred] or everyone


class SeedData:
    """A deterministic company for one (seed, size)."""

    def __init__(self, seed: int, size: SeedSize) -> None:
        self.seed = seed
        self.size = size

    def __repr__(self) -> str:
        return f"SeedData(seed={self.seed}, size={self.size})"

    # -- pools documents draw from (small, built once) -------------------------------------------------------
    @cached_property
    def popular_products(self) -> list[Product]:
        return popular_products(self.seed, self.size.products, self.size.suppliers)

    @cached_property
    def lots(self) -> list[Product]:
        return (
            list(iter_lots(self.seed, self.size.lots, self.popular_products)) if self.popular_products else []
        )

    @cached_property
    def popular_customers(self) -> list[Party]:
        return _sellable(iter_customers(self.seed, min(self.size.customers, POPULAR_PARTIES)))

    @cached_property
    def popular_suppliers(self) -> list[Party]:
        return _sellable(iter_suppliers(self.seed, min(self.size.suppliers, POPULAR_PARTIES)))

    @cached_property
    def documents(self) -> DocumentContext:
        return DocumentContext(
            seed=self.seed,
            customers=self.popular_customers,
            suppliers=self.popular_suppliers,
            items=[*self.popular_products, *self.lots],
            project_count=self.size.projects,
        )

    def _projects(self) -> Iterator[Project]:
        return iter_projects(self.seed, self.size.projects, self.popular_customers)

    # -- streams ---------------------------------------------------------------------------------------------
    def iter_rackbeat(self) -> Iterator[RecordStream]:
        """(resource, records) in an order where every reference points backwards (load order)."""
        size, seed = self.size, self.seed
        components = {item.number: item for item in chain(self.popular_products, self.lots)}
        yield "product-groups", map(rb.product_group, ref.PRODUCT_GROUPS)
        yield "units", map(rb.unit, ref.UNITS)
        yield "locations", map(rb.location, ref.LOCATIONS)
        yield "payment-terms", map(rb.payment_term, ref.PAYMENT_TERMS)
        yield "layouts", map(rb.layout, ref.LAYOUTS)
        yield "employees", map(rb.employee, ref.EMPLOYEES)
        yield "customer-groups", map(rb.customer_group, ref.CUSTOMER_GROUPS)
        yield "supplier-groups", map(rb.supplier_group, ref.SUPPLIER_GROUPS)
        yield "customers", map(rb.customer, iter_customers(seed, size.customers))
        yield "suppliers", map(rb.supplier, iter_suppliers(seed, size.suppliers))
        yield "products", map(rb.product, iter_products(seed, size.products, size.suppliers))
        yield "lots", (rb.lot(lot, components) for lot in self.lots)
        yield "projects", map(rb.project, self._projects())
        docs = self.documents
        yield "orders", map(rb.order, iter_orders(docs, size.orders))
        invoices = iter_customer_invoices(docs, size.customer_invoices, size.orders)
        yield "customer-invoices", map(rb.customer_invoice, invoices)
        yield (
            "supplier-invoices",
            map(rb.supplier_invoice, iter_supplier_invoices(docs, size.supplier_invoices)),
        )

    def iter_economic(self) -> Iterator[RecordStream]:
        """(resource, records) as the e-conomic sandbox's tables, in load order."""
        size, seed = self.size, self.seed
        yield "currencies", map(eco.currency, ref.CURRENCIES)
        yield "vat-zones", map(eco.vat_zone, ref.VAT_ZONES)
        yield "accounts", map(eco.account, ref.ACCOUNTS)
        yield "vat-accounts", map(eco.vat_account, ref.VAT_ACCOUNTS)
        yield "accounting-years", map(eco.accounting_year, ref.ACCOUNTING_YEARS)
        yield "journals", map(eco.journal, ref.JOURNALS)
        yield "layouts", map(eco.layout, ref.LAYOUTS)
        yield "units", map(eco.unit, ref.UNITS)
        yield "payment-terms", map(eco.payment_term, ref.PAYMENT_TERMS)
        yield "employees", map(eco.employee, ref.EMPLOYEES)
        yield "customer-groups", map(eco.customer_group, ref.CUSTOMER_GROUPS)
        yield "supplier-groups", map(eco.supplier_group, ref.SUPPLIER_GROUPS)
        yield "product-groups", map(eco.product_group, ref.PRODUCT_GROUPS)
        yield "project-groups", map(eco.project_group, ref.PROJECT_GROUPS)
        yield "customers", map(eco.customer, iter_customers(seed, size.customers))
        yield "suppliers", map(eco.supplier, iter_suppliers(seed, size.suppliers))
        yield "products", map(eco.product, iter_products(seed, size.products, size.suppliers))
        # e-conomic has no bill of materials: Rackbeat's lots are plain products there.
        yield "products", map(eco.product, self.lots)
        yield "projects", map(eco.project, self._projects())
        # Small (at most a few thousand): built once, then split by state like e-conomic's endpoints.
        orders = list(iter_economic_orders(self.documents, size.economic_orders))
        invoices = list(iter_economic_invoices(self.documents, size.economic_invoices))
        yield "orders/drafts", (eco.order(d, sent=False) for d in orders if not d.booked)
        yield "orders/sent", (eco.order(d, sent=True) for d in orders if d.booked)
        yield "invoices/drafts", (eco.draft_invoice(d) for d in invoices if not d.booked)
        yield "invoices/booked", (eco.booked_invoice(d) for d in invoices if d.booked)

    # -- materialised views ----------------------------------------------------------------------------------
    def rackbeat(self) -> dict[str, list[Record]]:
        """Resource -> records in Rackbeat's shape (what POST /_sandbox/load takes)."""
        return _collect(self.iter_rackbeat())

    def economic(self) -> dict[str, list[Record]]:
        """Resource -> records in e-conomic's legacy REST shape (what POST /_sandbox/load takes)."""
        return _collect(self.iter_economic())

    def batches(self, api: str, batch_size: int = 5_000) -> Iterator[dict[str, list[Record]]]:
        """Load bodies of at most `batch_size` records each, in load order: for big data sets over HTTP."""
        streams = {"rackbeat": self.iter_rackbeat, "economic": self.iter_economic}[api]()
        for resource, records in streams:
            iterator = iter(records)
            while chunk := list(islice(iterator, batch_size)):
                yield {resource: chunk}

    def counts(self, api: str) -> dict[str, int]:
        """Records per resource without building the big ones (documents are counted by generating them)."""
        size = self.size
        fixed: dict[str, Callable[[], int]] = {
            "customers": lambda: size.customers,
            "suppliers": lambda: size.suppliers,
            "products": lambda: size.products + (size.lots if api == "economic" else 0),
            "lots": lambda: len(self.lots),
        }
        streams = self.iter_rackbeat() if api == "rackbeat" else self.iter_economic()
        counted: dict[str, int] = {}
        for resource, records in streams:
            if resource in counted:
                continue
            counted[resource] = fixed[resource]() if resource in fixed else sum(1 for _ in records)
        return counted


def _collect(streams: Iterable[RecordStream]) -> dict[str, list[Record]]:
    collected: dict[str, list[Record]] = {}
    for resource, records in streams:
        collected.setdefault(resource, []).extend(records)
    return collected
