"""Payment terms, Rackbeat -> e-conomic (legacy REST `/payment-terms`).

Rules that live here:
- Type: Rackbeat's `type` values are not documented; the ones seen (sandbox, seed data, other
  integrations) are e-conomic's own names (`net`, `invoiceMonth`, `paidInCash`, `prepaid`) or their
  snake_case spellings. `TYPE_VOCABULARY` maps every known spelling (compared without case, `_`, `-`
  or spaces) to e-conomic's `paymentTermsType` enum; an unknown type is a permanent error naming
  `paymentTermsType`, never a guess, because the type decides every due date.
- Days: Rackbeat's `maturity_days` is e-conomic's `daysOfCredit`.
- Numbers: e-conomic assigns `paymentTermsNumber` itself, so a new term is POSTed and the binding keeps
  the pair (Rackbeat number -> e-conomic number); later writes are PUTs at the bound number.
- e-conomic refuses to change `paymentTermsType` or `daysOfCredit` of an existing term (error E06151).
  The service does not work around it: the write is refused, the transfer is dead-lettered as a
  permanent error whose field errors name the field, and an operator decides (create a new term in
  Rackbeat and move the customers to it, or restore the old values and retry). Quietly creating a
  second term would leave every customer and open invoice on the old one.
- Payment terms cannot be barred: a term deleted in Rackbeat is left alone in e-conomic (logged,
  reported `ignored`).

Import (as a customer's dependency, tests/entities/test_dependency_imports.py): Rackbeat owns payment terms,
so an e-conomic term is imported only when Rackbeat has no term with the same name, type and days; Rackbeat
numbers a new one itself (the binding keeps the pair). Its type is e-conomic's own name, which the export
reads back as the same type; the contra accounts, percentages and credit card company stay in e-conomic.
"""

from __future__ import annotations

from typing import Any

from tasks.entities import customer
from tasks.entities._lookups import by_fields
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    ImportRules,
    LegacyResource,
    MappingContext,
    RackbeatSide,
    Record,
)
from tasks.errors import MappingError

KIND = "payment_term"
ECONOMIC_RESOURCE = "payment-terms"

WRITABLE_FIELDS = (
    FieldRule("name", "string", required=True, min_length=1, max_length=50),
    FieldRule("paymentTermsType", "string", required=True),
    FieldRule("daysOfCredit", "integer", minimum=0),
    FieldRule("description", "string", max_length=1000),
    FieldRule("contraAccountForPrepaidAmount", "object"),
    FieldRule("contraAccountForPrepaidAmount.accountNumber", "integer", required=True, minimum=1),
    FieldRule("contraAccountForRemainderAmount", "object"),
    FieldRule("contraAccountForRemainderAmount.accountNumber", "integer", required=True, minimum=1),
    FieldRule("percentageForPrepaidAmount", "number", max_decimals=2),
    FieldRule("percentageForRemainderAmount", "number", max_decimals=2),
    FieldRule("creditCardCompany", "object"),
    FieldRule(
        "creditCardCompany.customerNumber", "integer", required=True, minimum=1, maximum=customer.NUMBER_MAX
    ),
)
"""Writable properties of e-conomic's legacy `payment-terms.paymentTermsNumber.put` /
`payment-terms.post` schemas (draft-03, ../shared/reference/economic-schemas/); the same table tells
which fields of a document read back from e-conomic may be sent in a replace. Referenced numbers carry a
minimum of 1: e-conomic refuses ids of 0."""

ECONOMIC_TYPES = (
    "net",
    "invoiceMonth",
    "paidInCash",
    "prepaid",
    "dueDate",
    "factoring",
    "invoiceWeekStartingSunday",
    "invoiceWeekStartingMonday",
    "creditcard",
)
"""e-conomic's `paymentTermsType` enum (payment-terms.post schema)."""

TYPE_VOCABULARY: dict[str, str] = {
    **{name.lower(): name for name in ECONOMIC_TYPES},
    "netto": "net",
    "currentmonth": "invoiceMonth",
    "runningmonth": "invoiceMonth",
    "cash": "paidInCash",
    "kontant": "paidInCash",
    "prepayment": "prepaid",
    "creditcardpayment": "creditcard",
}
"""Rackbeat type (folded: lower case, no `_`, `-` or spaces) -> e-conomic `paymentTermsType`."""


def _folded(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch not in "_- ")


def economic_type(rackbeat_type: Any) -> str:
    """e-conomic's paymentTermsType for a Rackbeat payment term type; MappingError when unknown."""
    found = TYPE_VOCABULARY.get(_folded(str(rackbeat_type or "")))
    if found is None:
        raise MappingError(
            "paymentTermsType",
            f"Rackbeat payment term type {rackbeat_type!r} has no e-conomic counterpart "
            f"(known: {', '.join(ECONOMIC_TYPES)})",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    return found


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    """The payment-terms document for a Rackbeat payment term."""
    payload: dict[str, Any] = {
        "name": str(record.get("name") or "").strip(),
        "paymentTermsType": economic_type(record.get("type")),
        "daysOfCredit": int(record.get("maturity_days") or 0),
    }
    description = str(record.get("description") or "").strip()
    if description:
        payload["description"] = description
    return payload


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat payment term for an e-conomic one (Rackbeat numbers it)."""
    body: dict[str, Any] = {
        "name": str(document.get("name") or "").strip(),
        "type": str(document.get("paymentTermsType") or ""),
        "maturity_days": int(document.get("daysOfCredit") or 0),
    }
    description = str(document.get("description") or "").strip()
    if description:
        body["description"] = description
    return body


def import_identity(document: Record) -> dict[str, Any]:
    """What makes a Rackbeat payment term the same as an e-conomic one: name, type and days."""
    body = to_rackbeat(document, MappingContext())
    return {name: body[name] for name in ("name", "type", "maturity_days")}


SPEC = EntitySpec(
    kind=KIND,
    # Rackbeat fires `payment_terms.*` (its documented spelling); hooks registered under the singular
    # would receive the same change a second time.
    rackbeat=RackbeatSide.with_events("payment-terms", "payment_term", event_prefix="payment_terms"),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="paymentTermsNumber",
        writable_fields=WRITABLE_FIELDS,
    ),
    exports=ExportRules(
        to_economic=to_economic,
        adopt_by=("name", "paymentTermsType", "daysOfCredit"),
    ),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        find_existing=by_fields("payment-terms", "payment_terms", import_identity),
        match_on=(("name", "type", "maturity_days"), ("name",)),
        never_copied=(
            "contraAccountForPrepaidAmount",
            "contraAccountForRemainderAmount",
            "percentageForPrepaidAmount",
            "percentageForRemainderAmount",
            "creditCardCompany",
        ),
    ),
)
