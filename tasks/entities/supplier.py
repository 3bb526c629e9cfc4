"""Suppliers, Rackbeat -> e-conomic (legacy REST `/suppliers`).

Suppliers are always created in Rackbeat, so there is no master setting: every Rackbeat change goes out.
Rules that live here:
- Group, payment terms, VAT zone and currency are required by e-conomic. The group and the payment terms
  are dependencies (exported first, in the same transfer); a supplier without a group in Rackbeat goes to
  the `default_supplier_group` setting's group. A reference that could not be made is a permanent error
  naming the field, never a guess.
- The VAT zone follows the supplier's country seen from `company_home_country` (`tasks.entities._vat_zone`,
  shared with customers).
- e-conomic's supplier number is chosen by us: Rackbeat's number whenever e-conomic can hold it
  (1-999,999,999), so the write is a PUT at that number and a lost binding cannot make a duplicate.
  Outside that range e-conomic assigns the number and the binding records the pair.
- Deleted or blocked (`is_barred`) in Rackbeat: barred in e-conomic, which keeps accounting history.
- Only the fields below are sent; absent values are left out (e-conomic refuses null, and a PUT is a full
  replace, so leaving a field out clears it there as it is clear in Rackbeat).

Import, e-conomic -> Rackbeat, in the start-up sync only (`to_rackbeat`; each rule has a test in
tests/entities/test_supplier_import.py). The start-up sync places suppliers in their groups and transfers
the groups too; afterwards a supplier made in e-conomic is NOT transferred (rackbeat-api.md §4.2, §4.3), so
there is no poll, and a supplier Rackbeat already has is bound as it is, never updated by an import.
- Number: e-conomic's supplier number is Rackbeat's (created at it, found at it before a create), the
  number the export writes back at.
- Group and payment terms are dependencies, imported first in this order, so a supplier arrives in its
  supplier group with its terms. Rackbeat requires payment terms: a supplier whose terms cannot be
  resolved is refused naming `payment_terms_id`. The group is optional in Rackbeat (null when unresolved).
- VAT zone: e-conomic's zone number becomes Rackbeat's zone name, by the customer import's table; another
  zone is refused naming `vat_zone`, never guessed.
- Address: e-conomic's one address field, first line to `address_street`, the rest to `address_street2`
  (the export joins them back with a line break).
- E-mail: only the primary address, the first of those e-conomic's `email` holds (seed README).
- Never copied (`IMPORT_NEVER_COPIED`): contact persons (`attention`, `supplierContact`, `contacts`) and
  what Rackbeat's supplier has no field for (layout, sales person, cost account, bank account, remittance
  advice, invoice text). e-conomic's supplier has no delivery addresses and no currency prices
  (suppliers.supplierNumber.get schema), so there are none to leave out; the test checks that every name
  listed is a field of that schema.
"""

from __future__ import annotations

from typing import Any

from tasks.entities._fields import reference_key, text
from tasks.entities._lookups import by_number
from tasks.entities._numbers import fitting_number, rackbeat_number_or_assigned
from tasks.entities._party_import import economic_ref, party_fields, rackbeat_ref, referenced
from tasks.entities._vat_zone import UnknownCountry, vat_zone
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
    ImportRules,
    LegacyResource,
    MappingContext,
    MappingDefaults,
    RackbeatSide,
    Record,
    RecordRef,
    Refs,
)
from tasks.errors import MappingError

KIND = "supplier"
GROUP_KIND = "supplier_group"
PAYMENT_TERM_KIND = "payment_term"
ECONOMIC_RESOURCE = "suppliers"
NUMBER_MAX = 999_999_999

WRITABLE_FIELDS = (
    FieldRule("supplierNumber", "integer", minimum=1, maximum=NUMBER_MAX),
    FieldRule("name", "string", required=True, min_length=1, max_length=255),
    FieldRule("currency", "string", required=True, min_length=3, max_length=3),
    FieldRule("paymentTerms", "object", required=True),
    FieldRule("paymentTerms.paymentTermsNumber", "integer", required=True, minimum=1),
    FieldRule("supplierGroup", "object", required=True),
    FieldRule("supplierGroup.supplierGroupNumber", "integer", required=True, minimum=1),
    FieldRule("vatZone", "object", required=True),
    FieldRule("vatZone.vatZoneNumber", "integer", required=True, minimum=1),
    FieldRule("address", "string", max_length=255),
    FieldRule("zip", "string", max_length=10),
    FieldRule("city", "string", max_length=50),
    FieldRule("country", "string", max_length=50),
    FieldRule("email", "string", max_length=100),
    FieldRule("phone", "string", max_length=20),
    FieldRule("corporateIdentificationNumber", "string", max_length=40),
    FieldRule("bankAccount", "string", max_length=50),
    FieldRule("defaultInvoiceText", "string", max_length=100),
    FieldRule("barred", "boolean"),
    FieldRule("layout", "object"),
    FieldRule("layout.layoutNumber", "integer", required=True, minimum=1),
    FieldRule("costAccount", "object"),
    FieldRule("costAccount.accountNumber", "integer", required=True, minimum=1),
    FieldRule("salesPerson", "object"),
    FieldRule("salesPerson.employeeNumber", "integer", required=True, minimum=1),
)
"""Writable properties of e-conomic's `suppliers.supplierNumber.put` schema (draft-03); the ones we do not
map are listed so that barring sends back what a bookkeeper set in e-conomic."""


def economic_key(record: Record) -> int | None:
    return rackbeat_number_or_assigned(KIND, record, NUMBER_MAX)


def depends_on(record: Record) -> list[RecordRef]:
    deps: list[RecordRef] = []
    group = reference_key(record, "supplier_group_id")
    if group is not None:
        deps.append((GROUP_KIND, group))
    terms = reference_key(record, "payment_terms_id")
    if terms is not None:
        deps.append((PAYMENT_TERM_KIND, terms))
    return deps


def embedded(record: Record) -> dict[RecordRef, Record]:
    """The payment terms as Rackbeat embeds them in the supplier (number, name, type, maturity_days)."""
    terms = record.get("payment_terms")
    if isinstance(terms, dict) and terms.get("number") is not None:
        return {(PAYMENT_TERM_KIND, str(terms["number"])): terms}
    return {}


def _address(record: Record) -> str | None:
    lines = [text(record.get(name)) for name in ("address_street", "address_street2")]
    return "\n".join(line for line in lines if line) or None


def _required_ref(refs: Refs, ref: RecordRef, field: str) -> int:
    if ref not in refs:
        raise MappingError(
            field,
            f"{ref[0]} {ref[1]} is not in e-conomic and could not be transferred",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    return int(refs[ref])


def supplier_payload(record: Record, refs: Refs, defaults: MappingDefaults) -> dict[str, Any]:
    """The legacy REST supplier document for a Rackbeat supplier."""
    payload: dict[str, Any] = {}
    number = fitting_number(record.get("number"), NUMBER_MAX)
    if number is not None:
        payload["supplierNumber"] = number
    payload["name"] = text(record.get("company_name")) or ""
    currency = text(record.get("currency"))
    if currency is not None:
        payload["currency"] = currency.upper()

    terms = reference_key(record, "payment_terms_id")
    if terms is None:
        raise MappingError(
            "paymentTerms",
            "the supplier has no payment terms in Rackbeat",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    payload["paymentTerms"] = {
        "paymentTermsNumber": _required_ref(refs, (PAYMENT_TERM_KIND, terms), "paymentTerms")
    }
    group = reference_key(record, "supplier_group_id")
    if group is None:
        payload["supplierGroup"] = {"supplierGroupNumber": defaults.default_supplier_group}
    else:
        payload["supplierGroup"] = {
            "supplierGroupNumber": _required_ref(refs, (GROUP_KIND, group), "supplierGroup")
        }
    try:
        zone = vat_zone(record.get("address_country"), defaults.home_country, record.get("vat_zone"))
    except UnknownCountry as error:
        raise MappingError("vatZone", str(error), api="economic", resource=ECONOMIC_RESOURCE) from None
    payload["vatZone"] = {"vatZoneNumber": int(zone)}

    optional = {
        "address": _address(record),
        "zip": text(record.get("address_zipcode")),
        "city": text(record.get("address_city")),
        "country": text(record.get("address_country")),
        "email": text(record.get("contact_email")),
        "phone": text(record.get("contact_phone")),
        "corporateIdentificationNumber": text(record.get("company_vat")),
    }
    payload.update({name: value for name, value in optional.items() if value is not None})
    payload["barred"] = bool(record.get("is_barred", False))
    return payload


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    return supplier_payload(record, context.refs, context.defaults)


# --- e-conomic -> Rackbeat ------------------------------------------------------------------------------

IMPORT_NEVER_COPIED = (
    "email (every address but the first)",
    "attention",
    "supplierContact",
    "contacts",
    "layout",
    "salesPerson",
    "costAccount",
    "bankAccount",
    "remittanceAdvice",
    "defaultInvoiceText",
)
"""e-conomic supplier fields the import leaves out on purpose (module docstring)."""


def economic_supplier_number(document: Record) -> int:
    return int(document["supplierNumber"])


def import_dependencies(document: Record) -> list[RecordRef]:
    """The supplier group first, then the payment terms."""
    return referenced(
        document,
        (
            (GROUP_KIND, "supplierGroup", "supplierGroupNumber"),
            (PAYMENT_TERM_KIND, "paymentTerms", "paymentTermsNumber"),
        ),
    )


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat supplier for an e-conomic supplier; see the module docstring for each rule."""
    refs = context.refs
    return {
        **party_fields(document, refs, ECONOMIC_RESOURCE),
        "supplier_group_id": rackbeat_ref(
            refs, GROUP_KIND, economic_ref(document, "supplierGroup", "supplierGroupNumber")
        ),
        "contact_phone": text(document.get("phone")),
    }


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("suppliers", "supplier"),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="supplierNumber",
        barred_field="barred",
        writable_fields=WRITABLE_FIELDS,
    ),
    exports=ExportRules(
        to_economic=to_economic,
        economic_key=economic_key,
        depends_on=depends_on,
        embedded=embedded,
    ),
    imports=ImportRules(
        to_rackbeat=to_rackbeat,
        rackbeat_key=economic_supplier_number,
        economic_key=economic_supplier_number,
        dependencies=import_dependencies,
        find_existing=by_number("suppliers", "supplier", economic_supplier_number),
        match_on=(("number",),),
        never_copied=IMPORT_NEVER_COPIED,
    ),
)
