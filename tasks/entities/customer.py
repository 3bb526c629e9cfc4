"""Customers, both ways: Rackbeat -> e-conomic (legacy REST `/customers`) when Rackbeat owns them, and
e-conomic -> Rackbeat when `RBSYNC_CUSTOMERS_MASTER=economic` (then hourly, and as an order's customer).

Rules of the export (each has a test in tests/entities/test_customer.py):
- Number: e-conomic takes caller-chosen customer numbers 1..999 999 999, so Rackbeat's number is used
  and every write is a PUT at it (an upsert: a lost binding cannot create a duplicate). A Rackbeat
  number outside that range gets a number from e-conomic (POST); the binding keeps the pair and the
  choice is logged.
- Group and payment terms are dependencies: the engine exports them first, in this order, in the
  same transfer. A customer without a group in Rackbeat goes to the setting `customer_default_group`
  (e-conomic requires one). A dependency that could not be resolved is a permanent error naming the
  field, never a silent default.
- Sales person: Rackbeat's employee, when set: a dependency (kind `employee`), exported first; the
  mapper leaves it out when it has no e-conomic key (e-conomic does not require a sales person).
- VAT zone: from the customer's country and Rackbeat's VAT setting, by the rule shared with suppliers
  (`tasks.entities._vat_zone`): Rackbeat's "domestic exempt" stays exempt; otherwise the home country
  (setting `company_home_country`, default DK) is domestic, another EU member state is EU, anything
  else abroad; an unreadable country falls back to Rackbeat's zone.
- Layout: e-conomic layouts are read-only, and Rackbeat's layouts are the ones it imported from
  e-conomic (kind `layout`, created at e-conomic's number), so a Rackbeat layout number is the e-conomic
  layout number. A customer without a layout gets the setting `customer_default_layout` when set, else
  none. A number e-conomic does not know (a layout deleted there since) is refused by e-conomic and
  dead-lettered with the field named.
- E-mail: ONLY the primary address (Rackbeat's `contact_email`, its first address if several were
  typed into it). Invoice, order or quote e-mails never go: e-conomic's `email` takes several
  addresses separated by spaces, so a leaked extra address would be accepted silently.
- Barred: a customer blocked in Rackbeat (`is_barred`) is barred in e-conomic; one deleted in Rackbeat
  is barred by the engine (customers are `barrable`), never deleted.
- Never sent: anything not named in `customer_payload` (references, locale, discount, attention text).

Rules of the import (`to_rackbeat`; each has a test in tests/entities/test_customer_import.py):
- Number: e-conomic's customer number is Rackbeat's (created at it, found at it before a create).
- Group, payment terms, layout and sales person are dependencies, imported first in this order (created
  in Rackbeat when it lacks them), so a customer arrives in its group, with its terms, its layout and its
  employee. Rackbeat requires payment terms, so a customer whose terms cannot be resolved is refused
  naming `payment_terms_id`; the others are optional in Rackbeat and sent as null when e-conomic has none.
- Layout: the Rackbeat key of the imported layout, which is e-conomic's layout number (tasks/entities/
  layout.py): the number the export sends back as `layoutNumber`, so both directions name one layout.
  A layout Rackbeat refuses to take stops the customer too (dead-lettered in Rackbeat's words), rather
  than the customer arriving without it.
- VAT zone: e-conomic's zone number becomes Rackbeat's zone name (1 domestic, 2 EU, 3 abroad, 4 domestic
  exempt); another zone is refused naming `vat_zone`, never guessed.
- Address: e-conomic's one address field, its first line to `address_street`, the rest to `address_street2`.
- E-mail: ONLY the primary address, the first of the addresses e-conomic's `email` holds (it takes several,
  separated by spaces): invoice, order or quote e-mails never reach Rackbeat (seed README).
- Never copied (`IMPORT_NEVER_COPIED`): contact persons (`attention`, `customerContact`, `contacts`),
  delivery addresses (`deliveryLocations`, `defaultDeliveryLocation`), the price group (special prices and
  discount groups), and what Rackbeat has no field for. Such fields are not even sent empty, so Rackbeat
  keeps whatever it has there; a copied field e-conomic has cleared is sent as null, which clears it in
  Rackbeat.
- A customer deleted in e-conomic is barred in Rackbeat (`is_barred`), never deleted.
"""

from __future__ import annotations

import re
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

KIND = "customer"
ECONOMIC_RESOURCE = "customers"
GROUP_KIND = "customer_group"
PAYMENT_TERM_KIND = "payment_term"
EMPLOYEE_KIND = "employee"
LAYOUT_KIND = "layout"
NUMBER_MAX = 999_999_999

WRITABLE_FIELDS = (
    FieldRule("customerNumber", "integer", minimum=1, maximum=NUMBER_MAX),
    FieldRule("name", "string", required=True, min_length=1, max_length=255),
    FieldRule("currency", "string", required=True, min_length=3, max_length=3),
    FieldRule("customerGroup", "object", required=True),
    FieldRule("customerGroup.customerGroupNumber", "integer", required=True, minimum=1),
    FieldRule("paymentTerms", "object", required=True),
    FieldRule("paymentTerms.paymentTermsNumber", "integer", required=True, minimum=1),
    FieldRule("vatZone", "object", required=True),
    FieldRule("vatZone.vatZoneNumber", "integer", required=True, minimum=1),
    FieldRule("layout", "object"),
    FieldRule("layout.layoutNumber", "integer", required=True, minimum=1),
    FieldRule("salesPerson", "object"),
    FieldRule("salesPerson.employeeNumber", "integer", required=True, minimum=1),
    FieldRule("attention", "object"),
    FieldRule("attention.customerContactNumber", "integer", required=True, minimum=1),
    FieldRule("customerContact", "object"),
    FieldRule("customerContact.customerContactNumber", "integer", required=True, minimum=1),
    FieldRule("defaultDeliveryLocation", "object"),
    FieldRule("defaultDeliveryLocation.deliveryLocationNumber", "integer", required=True, minimum=1),
    FieldRule("address", "string", max_length=510),
    FieldRule("zip", "string", max_length=30),
    FieldRule("city", "string", max_length=50),
    FieldRule("country", "string", max_length=50),
    FieldRule("email", "string", max_length=255),
    FieldRule("telephoneAndFaxNumber", "string", max_length=255),
    FieldRule("mobilePhone", "string", max_length=50),
    FieldRule("website", "string", max_length=255),
    FieldRule("corporateIdentificationNumber", "string", max_length=40),
    FieldRule("pNumber", "string", min_length=10, max_length=10),
    FieldRule("ean", "string", max_length=13),
    FieldRule("vatNumber", "string", max_length=20),
    FieldRule("publicEntryNumber", "string", max_length=50),
    FieldRule("creditLimit", "number"),
    FieldRule("barred", "boolean"),
)
"""Writable properties of e-conomic's legacy `customers.customerNo.put` / `customers.post` schemas (draft-03,
../shared/reference/economic-schemas/); the same table tells which fields of a document read back from
e-conomic may be sent in a replace. Referenced numbers carry a minimum of 1: e-conomic refuses ids of 0."""

_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def economic_key(record: Record) -> int | None:
    """Rackbeat's number when e-conomic can take it; None lets e-conomic assign one (logged)."""
    return rackbeat_number_or_assigned(KIND, record, NUMBER_MAX)


def depends_on(record: Record) -> list[RecordRef]:
    """Group first, then payment terms, then the sales person: the order they are exported in."""
    deps: list[RecordRef] = []
    for kind, id_field, embedded_field in (
        (GROUP_KIND, "customer_group_id", "customer_group"),
        (PAYMENT_TERM_KIND, "payment_terms_id", "payment_terms"),
        (EMPLOYEE_KIND, "employee_id", "employee"),
    ):
        number = reference_key(record, id_field, embedded_field)
        if number is not None:
            deps.append((kind, number))
    return deps


def embedded(record: Record) -> dict[RecordRef, Record]:
    """Rackbeat embeds the payment terms (number, name, type, days): when they map to what was last
    written, the engine spares fetching them."""
    view = record.get("payment_terms")
    if isinstance(view, dict) and view.get("number") is not None:
        return {(PAYMENT_TERM_KIND, str(view["number"])): view}
    return {}


def primary_email(record: Record) -> str | None:
    """The customer's primary e-mail address: the first one in `contact_email`, nothing else."""
    text = str(record.get("contact_email") or "")
    addresses = [part for part in _ADDRESS_SEPARATORS.split(text) if part]
    return addresses[0] if addresses else None


def _address(record: Record) -> str | None:
    lines = [text(record.get(name)) for name in ("address_street", "address_street2")]
    joined = "\n".join(line for line in lines if line)
    return joined or None


def _required_ref(refs: Refs, ref: RecordRef, field: str) -> Any:
    if ref not in refs:
        raise MappingError(
            field,
            f"Rackbeat {ref[0].replace('_', ' ')} {ref[1]} could not be resolved in e-conomic",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    return refs[ref]


def customer_payload(record: Record, refs: Refs, defaults: MappingDefaults) -> dict[str, Any]:
    """The customers document for a Rackbeat customer; see the module docstring for each rule."""
    payload: dict[str, Any] = {}
    number = fitting_number(record.get("number"), NUMBER_MAX)
    if number is not None:
        payload["customerNumber"] = number
    payload["name"] = text(record.get("company_name")) or ""
    currency = text(record.get("currency"))
    if currency is not None:
        payload["currency"] = currency.upper()

    group = reference_key(record, "customer_group_id", "customer_group")
    group_number = (
        defaults.customer_default_group
        if group is None
        else _required_ref(refs, (GROUP_KIND, group), "customerGroup")
    )
    payload["customerGroup"] = {"customerGroupNumber": int(group_number)}
    terms = reference_key(record, "payment_terms_id", "payment_terms")
    if terms is None:
        raise MappingError(
            "paymentTerms",
            "the Rackbeat customer has no payment terms",
            api="economic",
            resource=ECONOMIC_RESOURCE,
        )
    terms_number = _required_ref(refs, (PAYMENT_TERM_KIND, terms), "paymentTerms")
    payload["paymentTerms"] = {"paymentTermsNumber": int(terms_number)}

    try:
        zone = vat_zone(text(record.get("address_country")), defaults.home_country, record.get("vat_zone"))
    except UnknownCountry as error:
        raise MappingError("vatZone", str(error), api="economic", resource=ECONOMIC_RESOURCE) from None
    payload["vatZone"] = {"vatZoneNumber": int(zone)}

    layout = _int_or_none(record.get("layout_id"))
    if layout is None:
        layout = defaults.customer_default_layout
    if layout is not None:
        payload["layout"] = {"layoutNumber": layout}
    employee = reference_key(record, "employee_id", "employee")
    if employee is not None and (EMPLOYEE_KIND, employee) in refs:
        payload["salesPerson"] = {"employeeNumber": int(refs[(EMPLOYEE_KIND, employee)])}

    optional = {
        "address": _address(record),
        "zip": text(record.get("address_zipcode")),
        "city": text(record.get("address_city")),
        "country": text(record.get("address_country")),
        "email": primary_email(record),
        "telephoneAndFaxNumber": text(record.get("contact_phone")),
        "corporateIdentificationNumber": text(record.get("company_vat")),
        "ean": text(record.get("ean")),
    }
    payload.update({name: value for name, value in optional.items() if value is not None})
    if record.get("max_credit") is not None:
        payload["creditLimit"] = round(float(record["max_credit"]), 2)
    payload["barred"] = bool(record.get("is_barred") or record.get("is_deleted"))
    return payload


def to_economic(record: Record, context: MappingContext) -> dict[str, Any]:
    return customer_payload(record, context.refs, context.defaults)


# --- e-conomic -> Rackbeat ------------------------------------------------------------------------------

IMPORT_NEVER_COPIED = (
    "email (every address but the first)",
    "attention",
    "customerContact",
    "contacts",
    "deliveryLocations",
    "defaultDeliveryLocation",
    "priceGroup",
    "pNumber",
    "publicEntryNumber",
    "vatNumber",
    "website",
    "balance",
    "dueAmount",
)
"""e-conomic customer fields the import leaves out on purpose (module docstring)."""


def import_dependencies(document: Record) -> list[RecordRef]:
    """Group first, then payment terms, then the layout, then the sales person."""
    return referenced(
        document,
        (
            (GROUP_KIND, "customerGroup", "customerGroupNumber"),
            (PAYMENT_TERM_KIND, "paymentTerms", "paymentTermsNumber"),
            (LAYOUT_KIND, "layout", "layoutNumber"),
            (EMPLOYEE_KIND, "salesPerson", "employeeNumber"),
        ),
    )


def to_rackbeat(document: Record, context: MappingContext) -> dict[str, Any]:
    """The Rackbeat customer for an e-conomic customer; see the module docstring for each rule."""
    refs = context.refs
    credit = document.get("creditLimit")
    return {
        **party_fields(document, refs, ECONOMIC_RESOURCE),
        "customer_group_id": rackbeat_ref(
            refs, GROUP_KIND, economic_ref(document, "customerGroup", "customerGroupNumber")
        ),
        "layout_id": rackbeat_ref(refs, LAYOUT_KIND, economic_ref(document, "layout", "layoutNumber")),
        "employee_id": rackbeat_ref(
            refs, EMPLOYEE_KIND, economic_ref(document, "salesPerson", "employeeNumber")
        ),
        "contact_phone": text(document.get("telephoneAndFaxNumber")) or text(document.get("mobilePhone")),
        "ean": text(document.get("ean")),
        "max_credit": None if credit is None else round(float(credit), 2),
    }


def economic_customer_number(document: Record) -> int:
    return int(document["customerNumber"])


SPEC = EntitySpec(
    kind=KIND,
    rackbeat=RackbeatSide.with_events("customers", "customer"),
    economic=EconomicSide(
        target=LegacyResource(path=ECONOMIC_RESOURCE),
        key_field="customerNumber",
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
        rackbeat_key=economic_customer_number,
        economic_key=economic_customer_number,
        dependencies=import_dependencies,
        find_existing=by_number("customers", "customer", economic_customer_number),
        match_on=(("number",),),
        never_copied=IMPORT_NEVER_COPIED,
        poll="master",
        when_gone={"is_barred": True},
    ),
    master="customers",
)
