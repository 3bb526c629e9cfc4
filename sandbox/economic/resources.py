"""The legacy REST resources the sandbox serves, declared once: path, key, schemas, references, links.

The filter and sort fields come from each collection's published GET schema, adjusted where the live API is
known to differ (§9.3): customers also filter on ``pNumber``; customer groups only on ``name`` and
``customerGroupNumber``; employees not on ``email``/``phone``; products not on ``inventory.*`` and not
sorted on ``barred``; suppliers sort on ``supplierNumber``; the collections whose schema flags nothing sort
on their key.

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.economic.ids import decode_key, encode_key
from sandbox.economic.references import Ref
from sandbox.economic.schemas import collection_fields
from sandbox.economic.store import link

Links = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Resource:
    path: str  # URL path below the root and the store table name
    key: str
    key_type: type = int
    schema_base: str = ""  # published schema name stem, e.g. "customers" or "invoices.drafts"
    item_segment: str = ""  # the schema files' name for the key segment, e.g. "customerNumber"
    put_segment: str = ""  # some PUT schemas spell it differently (customers.customerNo.put)
    writable: bool = False
    deletable: bool = False
    assign_key: bool = False
    refs: tuple[Ref, ...] = ()
    last_updated: bool = False
    links: Links | None = None
    webhook: str | None = None
    add_filter: dict[str, str] = field(default_factory=dict)
    drop_filter: tuple[str, ...] = ()
    keep_filter_only: tuple[str, ...] = ()
    add_sort: dict[str, str] = field(default_factory=dict)
    drop_sort: tuple[str, ...] = ()
    create_description: str = ""
    # Other tables whose records share this resource's number series (an order keeps its number from
    # draft to sent to archived): a number assigned here is past all of theirs, and one taken there is taken.
    number_series: tuple[str, ...] = ()

    @property
    def collection_schema(self) -> str:
        return f"{self.schema_base}.get"

    @property
    def item_schema(self) -> str:
        return f"{self.schema_base}.{self.item_segment}.get"

    @property
    def post_schema(self) -> str:
        return f"{self.schema_base}.post"

    @property
    def put_schema(self) -> str:
        return f"{self.schema_base}.{self.put_segment or self.item_segment}.put"

    def series_tables(self) -> tuple[str, ...]:
        """This resource's table and those it shares its numbers with."""
        return (self.path, *self.number_series)

    def self_link(self, key: Any) -> str:
        return link(f"{self.path}/{encode_key(key)}")

    def parse_key(self, segment: str) -> Any:
        if self.key_type is int:
            return int(segment)  # ValueError -> 404 in the caller
        return decode_key(segment)

    def fields(self) -> tuple[dict[str, str], dict[str, str]]:
        """(filterable, sortable) after the live-behaviour adjustments in the module docstring."""
        filterable, sortable = collection_fields(self.collection_schema)
        filterable = {**filterable, **self.add_filter}
        sortable = {**sortable, **self.add_sort}
        for name in self.drop_filter:
            filterable = {k: v for k, v in filterable.items() if k != name and not k.startswith(name + ".")}
        for name in self.drop_sort:
            sortable.pop(name, None)
        if self.keep_filter_only:
            filterable = {k: v for k, v in filterable.items() if k in self.keep_filter_only}
            sortable = {k: v for k, v in sortable.items() if k in self.keep_filter_only}
        return filterable, sortable


def _customer_links(key: Any) -> dict[str, Any]:
    base = f"customers/{key}"
    return {
        "contacts": link(f"{base}/contacts"),
        "deliveryLocations": link(f"{base}/delivery-locations"),
        "invoices": {
            "drafts": link(f"{base}/invoices/drafts"),
            "booked": link(f"{base}/invoices/booked"),
            "self": link(f"{base}/invoices"),
        },
        "totals": {
            "drafts": link(f"{base}/totals/drafts"),
            "booked": link(f"{base}/totals/booked"),
            "self": link(f"{base}/totals"),
        },
        "templates": {
            "invoice": link(f"{base}/templates/invoice"),
            "invoiceLine": link(f"{base}/templates/invoiceline"),
            "self": link(f"{base}/templates"),
        },
    }


def _product_links(key: Any) -> dict[str, Any]:
    base = f"products/{encode_key(key)}"
    return {
        "invoices": {
            "drafts": link(f"{base}/invoices/drafts"),
            "booked": link(f"{base}/invoices/booked"),
            "self": link(f"{base}/invoices"),
        },
        "pricing": {"currencySpecificSalesPrices": link(f"{base}/pricing/currency-specific-sales-prices")},
    }


CUSTOMERS = Resource(
    "customers",
    "customerNumber",
    schema_base="customers",
    item_segment="customerNumber",
    put_segment="customerNo",
    writable=True,
    deletable=True,
    assign_key=True,
    last_updated=True,
    webhook="customer",
    refs=(
        Ref("customerGroup", "customer-groups", "customerGroupNumber", label="Customer group"),
        Ref("paymentTerms", "payment-terms", "paymentTermsNumber", label="Payment terms"),
        Ref("vatZone", "vat-zones", "vatZoneNumber", label="VAT zone"),
        Ref("layout", "layouts", "layoutNumber", label="Layout"),
        Ref("salesPerson", "employees", "employeeNumber", label="Sales person"),
    ),
    links=_customer_links,
    add_filter={"pNumber": "string"},
    create_description="Create a new customer",
)
CUSTOMER_GROUPS = Resource(
    "customer-groups",
    "customerGroupNumber",
    schema_base="customer-groups",
    item_segment="customerGroupNumber",
    put_segment="customergroupnumber",
    writable=True,
    deletable=True,
    refs=(
        Ref("account", "accounts", "accountNumber", label="Account"),
        Ref("layout", "layouts", "layoutNumber", label="Layout"),
    ),
    links=lambda key: {"customers": link(f"customer-groups/{key}/customers")},
    keep_filter_only=("name", "customerGroupNumber"),
)
SUPPLIERS = Resource(
    "suppliers",
    "supplierNumber",
    schema_base="suppliers",
    item_segment="supplierNumber",
    writable=True,
    deletable=True,
    assign_key=True,
    refs=(
        Ref("supplierGroup", "supplier-groups", "supplierGroupNumber", label="Supplier group"),
        Ref("paymentTerms", "payment-terms", "paymentTermsNumber", label="Payment terms"),
        Ref("vatZone", "vat-zones", "vatZoneNumber", label="VAT zone"),
        Ref("layout", "layouts", "layoutNumber", label="Layout"),
        Ref("costAccount", "accounts", "accountNumber", label="Cost account"),
        Ref("salesPerson", "employees", "employeeNumber", label="Sales person"),
    ),
    links=lambda key: {"contacts": link(f"suppliers/{key}/contacts")},
    add_sort={"supplierNumber": "integer", "name": "string"},
)
SUPPLIER_GROUPS = Resource(
    "supplier-groups",
    "supplierGroupNumber",
    add_filter={"supplierGroupNumber": "integer", "name": "string"},
    add_sort={"supplierGroupNumber": "integer", "name": "string"},
)
PRODUCTS = Resource(
    "products",
    "productNumber",
    key_type=str,
    schema_base="products",
    item_segment="productNumber",
    writable=True,
    deletable=True,
    last_updated=True,
    webhook="product",
    refs=(
        Ref("productGroup", "product-groups", "productGroupNumber", label="Product group"),
        Ref("unit", "units", "unitNumber", label="Unit"),
    ),
    links=_product_links,
    drop_filter=("inventory", "departmentalDistribution.departmentalDistributionNumber"),
    drop_sort=("barred",),
    create_description="Create a new product",
)
PRODUCT_GROUPS = Resource(
    "product-groups",
    "productGroupNumber",
    schema_base="product-groups",
    item_segment="productGroupNumber",
    add_sort={"productGroupNumber": "integer"},
)
PAYMENT_TERMS = Resource(
    "payment-terms",
    "paymentTermsNumber",
    schema_base="payment-terms",
    item_segment="paymentTermsNumber",
    writable=True,
    deletable=True,
    assign_key=True,
    refs=(
        Ref("contraAccountForPrepaidAmount", "accounts", "accountNumber", label="Account"),
        Ref("contraAccountForRemainderAmount", "accounts", "accountNumber", label="Account"),
        Ref("creditCardCompany", "customers", "customerNumber", label="Customer"),
    ),
    add_sort={"name": "string"},
)
UNITS = Resource(
    "units",
    "unitNumber",
    schema_base="units",
    item_segment="unitNumber",
    writable=True,
    deletable=True,
    assign_key=True,
    links=lambda key: {"products": link(f"units/{key}/products")},
    add_sort={"unitNumber": "integer", "name": "string"},
)
LAYOUTS = Resource(
    "layouts",
    "layoutNumber",
    schema_base="layouts",
    item_segment="layoutNumber",
    add_sort={"layoutNumber": "integer"},
)
EMPLOYEES = Resource(
    "employees",
    "employeeNumber",
    schema_base="employees",
    item_segment="employeeNumber",
    drop_filter=("email", "phone"),
)
VAT_ZONES = Resource(
    "vat-zones",
    "vatZoneNumber",
    schema_base="vat-zones",
    item_segment="vatZoneNumber",
    add_sort={"vatZoneNumber": "integer"},
)
VAT_ACCOUNTS = Resource(
    "vat-accounts",
    "vatCode",
    key_type=str,
    schema_base="vat-accounts",
    item_segment="id",
    add_sort={"vatCode": "string"},
)
ACCOUNTS = Resource("accounts", "accountNumber", schema_base="accounts", item_segment="accountNumber")
CURRENCIES = Resource(
    "currencies",
    "code",
    key_type=str,
    schema_base="currencies",
    item_segment="code",
    add_sort={"code": "string"},
)
JOURNALS = Resource("journals", "journalNumber", schema_base="journals", item_segment="journalNumber")
ACCOUNTING_YEARS = Resource(
    "accounting-years", "year", key_type=str, schema_base="accounting-years", item_segment="accountingYear"
)
PROJECTS = Resource(
    "projects",
    "projectNumber",
    add_filter={"projectNumber": "integer", "name": "string"},
    add_sort={"projectNumber": "integer"},
)

SIMPLE_RESOURCES: tuple[Resource, ...] = (
    CUSTOMERS,
    CUSTOMER_GROUPS,
    SUPPLIERS,
    SUPPLIER_GROUPS,
    PRODUCTS,
    PRODUCT_GROUPS,
    PAYMENT_TERMS,
    UNITS,
    LAYOUTS,
    EMPLOYEES,
    VAT_ZONES,
    VAT_ACCOUNTS,
    ACCOUNTS,
    CURRENCIES,
    JOURNALS,
    ACCOUNTING_YEARS,
)
