"""The company as neutral facts, independent of either API. The shape modules render these facts as
Rackbeat and as e-conomic records, so both views describe the same company by construction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    name: str
    iso_number: str
    rate: float  # price in DKK of 100 units (e-conomic's exchangeRate convention)


@dataclass(frozen=True, slots=True)
class VatZone:
    number: int
    key: str  # Rackbeat's vat_zone value: domestic | eu | abroad | domestic_exempt
    name: str
    rate: float  # output VAT in percent
    for_customers: bool
    for_suppliers: bool


@dataclass(frozen=True, slots=True)
class PaymentTerm:
    number: int
    name: str
    type: str  # e-conomic's paymentTermsType
    days: int
    description: str


@dataclass(frozen=True, slots=True)
class Layout:
    number: int
    name: str


@dataclass(frozen=True, slots=True)
class Unit:
    number: int
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Account:
    number: int
    name: str
    type: str  # profitAndLoss | status
    debit_credit: str  # debit | credit
    vat_code: str | None = None


@dataclass(frozen=True, slots=True)
class VatAccount:
    code: str
    name: str
    rate: float
    account: int
    type_number: int  # 1 sales VAT, 2 purchase VAT


@dataclass(frozen=True, slots=True)
class Group:
    """A customer or supplier group, with its control account."""

    number: int
    name: str
    account: int


@dataclass(frozen=True, slots=True)
class ProductGroup:
    number: int
    key: str
    name: str
    inventory_enabled: bool
    sales_account: int


@dataclass(frozen=True, slots=True)
class Location:
    number: int
    name: str
    barcode: str
    parent: int | None
    is_default: bool


@dataclass(frozen=True, slots=True)
class Employee:
    number: int
    name: str
    initials: str
    email: str
    phone: str
    job_title: str
    location: int


@dataclass(frozen=True, slots=True)
class Journal:
    number: int
    name: str
    restricted_to: str | None  # e-conomic entryTypeRestrictedTo, None when any voucher type is allowed


@dataclass(frozen=True, slots=True)
class AccountingYear:
    year: str
    from_date: date
    to_date: date
    closed: bool


@dataclass(frozen=True, slots=True)
class ProjectGroup:
    number: int
    name: str
    type: int  # 1 internal, 2 external invoiceable, 3 external non-invoiceable


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    zip: str
    city: str
    country: str
    country_code: str


@dataclass(frozen=True, slots=True)
class Party:
    """A customer or a supplier."""

    number: int
    name: str
    region: str  # dk | no | eu | abroad
    address: Address
    email: str
    extra_emails: tuple[str, ...]  # fixed invoice / order e-mails e-conomic keeps beside the primary one
    phone: str
    corporate_id: str  # CVR, Norwegian org. number or VAT id; "" when unknown
    vat_id: str  # company_vat as printed on documents
    currency: str
    payment_term: int
    group: int
    vat_zone: int
    layout: int
    employee: int
    locale: str
    website: str
    ean: str
    credit_limit: float
    barred: bool
    bank_account: str
    updated_at: datetime


class Product(NamedTuple):
    """A stock item or a BOM (lot: components set).

    A NamedTuple rather than a frozen dataclass: it is built 100,000 times for the largest catalogue, and a
    frozen dataclass pays an object.__setattr__ per field."""

    number: str
    name: str
    description: str
    group: int
    unit: int
    cost_price: float
    sales_price: float
    recommended_price: float
    barcode: str
    barred: bool
    stock_quantity: float
    min_stock: float
    location: int
    supplier: int | None
    weight_kg: float
    updated_at: datetime
    components: tuple[tuple[str, float], ...] = ()  # (item number, quantity) for lots

    @property
    def is_lot(self) -> bool:
        return bool(self.components)


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    product: str
    is_lot: bool
    description: str
    quantity: float
    unit: int
    unit_price: float  # in the document's currency
    unit_cost: float  # in the document's currency
    discount: float  # percent
    vat_rate: float  # percent

    @property
    def net_amount(self) -> float:
        return self.quantity * self.unit_price * (1 - self.discount / 100)


@dataclass(frozen=True, slots=True)
class SalesDocument:
    """A sales order or a customer invoice."""

    number: int
    customer: Party
    date: dt.date  # dt.date: inside the class body the field's name shadows the type
    due_date: dt.date
    currency: str
    exchange_rate: float
    payment_term: int
    layout: int
    employee: int
    vat_zone: int
    heading: str
    lines: tuple[Line, ...]
    booked: bool
    booked_at: datetime | None
    order_number: int | None
    project: int | None
    updated_at: datetime
    paid: bool = False  # booked invoices only: settled by the customer before the base date


@dataclass(frozen=True, slots=True)
class SupplierInvoice:
    number: int
    supplier: Party
    supplier_invoice_number: str
    date: dt.date  # dt.date: inside the class body the field's name shadows the type
    due_date: dt.date
    currency: str
    exchange_rate: float
    lines: tuple[Line, ...]
    booked: bool
    booked_at: datetime | None
    updated_at: datetime
    paid: bool = False


@dataclass(frozen=True, slots=True)
class Project:
    number: int
    name: str
    description: str
    group: int
    customer: int | None
    employee: int
    closed: bool
    barred: bool
    delivery_date: date
    updated_at: datetime
