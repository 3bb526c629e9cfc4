"""Supplier invoices, Rackbeat -> e-conomic journal vouchers (`/journals/{n}/vouchers`), posted once.

Facts it rests on (rackbeat-api.md 4.5, economic-api.md 12.13): Rackbeat sends a booked supplier invoice as
a draft in a journal chosen in the settings, one transaction per account booked to; the account is chosen
per product group within each VAT zone (domestic / EU / abroad) and the VAT code is the account's own; the
cost is expensed at once, VAT included. In e-conomic a supplier-invoice entry names the supplier (the credit
side), the expense account as its `contraAccount`, `amount` and `date` (required), `dueDate`,
`supplierInvoiceNumber` (<= 30) and `text` (<= 250); the sign convention is not documented, and the sandbox
(like e-conomic's own examples) takes a positive amount as an expense.

Rules that live here:
- Posted only when booked in Rackbeat (`supplier_invoice.booked`).
- One entry per expense account: each line's amount with its VAT (`total` x (1 + vat_percentage/100)) is
  summed per account, rounded to the øre; the entries add up to Rackbeat's `total_total` exactly (a VAT
  rounding difference of at most an øre per line goes to the largest account), or the invoice is refused
  before any call.
- The account: the setting `RBSYNC_SUPPLIER_INVOICE_ACCOUNTS`, by the line item's product group, else its
  `*` row, in the supplier's VAT zone (the rule shared with customers and suppliers, `_vat_zone`). A missing
  account or journal is refused before any call, naming the setting. The zone comes from the invoice's own
  country and VAT zone (Rackbeat copies the supplier's), the supplier's record only where it lacks them; a
  line's product is read for its group only when the setting has a row for some group in that zone.
- A PDF the user attached in Rackbeat goes along as the voucher's attachment (the first one; e-conomic keeps
  one file per voucher) when it is at most 5 MB; a larger one does not stop the voucher and gets a dead
  letter of its own with its size (rackbeat-api.md 4.5). The poster attaches before it books, since a
  booked voucher's attachment cannot change.
- Identity: every entry's `text` = "Rackbeat supplier invoice <number>" (filterable on journal entries and on
  the accounting year's entries, so it survives booking); `supplierInvoiceNumber` carries the supplier's own
  invoice number where Rackbeat has it, else Rackbeat's.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tasks.entities._documents import gross_total, is_booked, line_item, party_field
from tasks.entities._fields import reference_key, text
from tasks.entities._vat_zone import UnknownCountry, VatZone, vat_zone
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    LegacyResource,
    MappingContext,
    PostingRules,
    RackbeatSide,
    Record,
    RecordRef,
)
from tasks.errors import MappingError

KIND = "supplier_invoice"
ECONOMIC_RESOURCE = "journals"
SUPPLIER_KIND = "supplier"
REFERENCE_PREFIX = "Rackbeat supplier invoice "
ACCOUNTS_SETTING = "RBSYNC_SUPPLIER_INVOICE_ACCOUNTS"
JOURNAL_SETTING = "RBSYNC_SUPPLIER_INVOICE_JOURNAL"
ZONE_NAMES = {
    VatZone.DOMESTIC: "domestic",
    VatZone.DOMESTIC_EXEMPT: "domestic",
    VatZone.EU: "eu",
    VatZone.ABROAD: "abroad",
}
CENT = Decimal("0.01")

WRITABLE_FIELDS = (
    FieldRule("accountingYear", "object", required=True),
    FieldRule("accountingYear.year", "string", required=True),
    FieldRule("journal", "object", required=True),
    FieldRule("journal.journalNumber", "integer", required=True, minimum=1),
    FieldRule("entries", "object", required=True),
)
"""The parts of e-conomic's `journals.journalNumber.vouchers.post` schema every voucher needs."""


def reference(record: Record) -> str:
    return f"{REFERENCE_PREFIX}{record['number']}"


def depends_on(record: Record) -> list[RecordRef]:
    """The supplier: e-conomic's entry names it, so it is exported first."""
    supplier = reference_key(record, "supplier_id", "supplier")
    return [] if supplier is None else [(SUPPLIER_KIND, supplier)]


def read_at_posting(record: Record) -> list[RecordRef]:
    """The records the mapping may read, once, when posting: the supplier (its country and VAT zone, where
    the invoice lacks its own) and every line's item (its product group, where the setting chooses accounts
    by group)."""
    refs = list(depends_on(record))
    items = (line_item(line) for line in record.get("lines") or [])
    refs.extend(dict.fromkeys(item for item in items if item is not None))
    return refs


def _refused(field: str, problem: str) -> MappingError:
    return MappingError(field, problem, api="economic", resource=ECONOMIC_RESOURCE)


def _supplier(record: Record, context: MappingContext, name: str) -> Any:
    """A field of the invoice's supplier: from the supplier the invoice embeds where it carries the field,
    else from the supplier's record (read at posting only then)."""
    supplier = reference_key(record, "supplier_id", "supplier")
    ref = None if supplier is None else (SUPPLIER_KIND, supplier)
    return party_field(record, context, ref, "supplier", name)


def _zone(record: Record, context: MappingContext) -> str:
    """The supplier's VAT zone: the invoice's own country and zone first (Rackbeat copies them from the
    supplier), the supplier's only where the invoice lacks them."""
    country = text(record.get("address_country")) or text(_supplier(record, context, "address_country"))
    try:
        zone = vat_zone(
            country,
            context.defaults.home_country,
            record.get("vat_zone") or _supplier(record, context, "vat_zone"),
        )
    except UnknownCountry as error:
        raise _refused("entries.supplierInvoices.contraAccount", str(error)) from None
    return ZONE_NAMES[zone]


def _group(item: RecordRef, context: MappingContext) -> str | None:
    found = context.related.get(item)
    if found is None:
        return None
    return reference_key(found, "group_id", "group")


def expense_account(group: str | None, zone: str, context: MappingContext) -> int:
    """The account for a product group in a VAT zone, from the setting (its `*` row for any group)."""
    matrix = context.defaults.supplier_invoice_accounts
    for row in ([group] if group else []) + ["*"]:
        account = (matrix.get(row) or {}).get(zone)
        if account:
            return int(account)
    raise _refused(
        "entries.supplierInvoices.contraAccount",
        f"no expense account for product group {group or '(none)'} in VAT zone {zone}: "
        f"set {ACCOUNTS_SETTING}",
    )


def _by_group(zone: str, context: MappingContext) -> bool:
    """Whether the setting chooses an account by product group in this zone (a row other than `*` names an
    account for it): only then is a line's product read for its group."""
    matrix = context.defaults.supplier_invoice_accounts
    return any(row != "*" and (zones or {}).get(zone) for row, zones in matrix.items())


def _amounts_by_account(record: Record, context: MappingContext) -> dict[int, Decimal]:
    zone = _zone(record, context)
    by_group = _by_group(zone, context)
    amounts: dict[int, Decimal] = {}
    for number, line in enumerate(record.get("lines") or [], start=1):
        item = line_item(line)
        if item is None:
            raise _refused(f"lines[{number}]", "a line without an item has no product group to book it by")
        account = expense_account(_group(item, context) if by_group else None, zone, context)
        net = Decimal(str(line.get("total") or 0))
        vat = Decimal(str(line.get("vat_percentage") or 0))
        amounts[account] = amounts.get(account, Decimal(0)) + net * (1 + vat / 100)
    if not amounts:
        raise _refused("entries.supplierInvoices", "the invoice has no lines")
    return {account: amount.quantize(CENT, rounding=ROUND_HALF_UP) for account, amount in amounts.items()}


def _balanced(amounts: dict[int, Decimal], total: Decimal, lines: int) -> dict[int, Decimal]:
    """The amounts made to add up to Rackbeat's total: Rackbeat rounds the VAT of the whole invoice once,
    the accounts each round theirs, so they may differ by an øre per line; that difference goes to the
    largest account. A larger one is refused: the lines do not make the total."""
    difference = total - sum(amounts.values())
    if abs(difference) > CENT * max(lines, 1):
        raise _refused(
            "entries.supplierInvoices.amount",
            f"the lines add up to {sum(amounts.values())} with VAT, Rackbeat's total is {total}",
        )
    largest = max(amounts, key=lambda account: (abs(amounts[account]), account))
    return {**amounts, largest: amounts[largest] + difference}


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    """The voucher for a booked Rackbeat supplier invoice (see the module docstring)."""
    journal = context.defaults.supplier_invoice_journal
    if not journal:
        raise _refused("journal", f"no journal is chosen for supplier invoices: set {JOURNAL_SETTING}")
    supplier = reference_key(record, "supplier_id", "supplier")
    if supplier is None or (SUPPLIER_KIND, supplier) not in context.refs:
        raise _refused(
            "entries.supplierInvoices.supplier", f"Rackbeat supplier {supplier} is not in e-conomic"
        )
    date = text(record.get("invoice_date")) or (text(record.get("booked_at")) or "")[:10]
    if not date:
        raise _refused("entries.supplierInvoices.date", "the invoice has no date")
    amounts = _balanced(
        _amounts_by_account(record, context), gross_total(record), len(record.get("lines") or [])
    )
    invoice_number = text(record.get("supplier_invoice_number")) or str(record["number"])
    common: dict[str, Any] = {
        "supplier": {"supplierNumber": int(context.refs[(SUPPLIER_KIND, supplier)])},
        "supplierInvoiceNumber": invoice_number[:30],
        "text": reference(record),
        "date": date,
        "currency": {"code": (text(record.get("currency")) or "DKK").upper()},
    }
    due = text(record.get("due_date"))
    if due is not None:
        common["dueDate"] = due
    entries = [
        {**common, "amount": float(amount), "contraAccount": {"accountNumber": account}}
        for account, amount in sorted(amounts.items())
    ]
    return {
        "accountingYear": {"year": date[:4]},
        "journal": {"journalNumber": int(journal)},
        "entries": {"supplierInvoices": entries},
    }


def fingerprint(record: Record) -> dict[str, Any]:
    """What makes the Rackbeat supplier invoice this invoice: a change here after posting is refused."""
    return {
        "number": record.get("number"),
        "supplier": reference_key(record, "supplier_id", "supplier"),
        "supplier_invoice_number": record.get("supplier_invoice_number"),
        "date": record.get("invoice_date"),
        "currency": record.get("currency"),
        "total": str(gross_total(record)),
        "lines": [
            [line.get("child_id", line.get("item_id")), line.get("total")]
            for line in record.get("lines") or []
        ],
    }


def number(record: Record) -> int | None:
    return None  # vouchers take e-conomic's next number in the journal


def never_electronic(record: Record, context: MappingContext) -> bool:
    return False


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide(
        resource="supplier-invoices",
        singular="supplier_invoice",
        events=frozenset({"supplier_invoice.booked"}),
    ),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="voucherNumber",
        writable_fields=WRITABLE_FIELDS,
    ),
    exports=ExportRules(to_economic=to_economic, depends_on=depends_on, related=read_at_posting),
    posting=PostingRules(
        ready=is_booked,
        channel="voucher",
        reference=reference,
        fingerprint=fingerprint,
        gross_total=gross_total,
        number=number,
        electronic=never_electronic,
        attachments=True,
    ),
)
