"""Customers, Rackbeat -> e-conomic (legacy REST `/customers`).

Rules that live here (each has a test in tests/entities/test_customer.py):
- Number: e-conomic takes caller-chosen customer numbers 1..999 999 999, so Rackbeat's number is used
  and every write is a PUT at it (an upsert: a lost binding cannot create a duplicate). A Rackbeat
  number outside that range gets a number from e-conomic (POST); the binding keeps the pair and the
  choice is logged.
- Group and payment terms are dependencies: the engine exports them first, in this order, in the
  same transfer. A customer without a group in Rackbeat goes to the setting `customer_default_group`
  (e-conomic requires one). A dependency that could not be resolved is a permanent error naming the
  field, never a silent default.
- Sales person: Rackbeat's employee, when set and bound in e-conomic (kind `employee`; until that
  kind is registered, only an existing binding is used and an unbound employee is left out).
- VAT zone: from the customer's country and Rackbeat's VAT setting, by the rule shared with suppliers
  (`tasks.entities._vat_zone`): Rackbeat's "domestic exempt" stays exempt; otherwise the home country
  (setting `company_home_country`, default DK) is domestic, another EU member state is EU, anything
  else abroad; an unreadable country falls back to Rackbeat's zone.
- Layout: e-conomic layouts are read-only, and Rackbeat's layouts are the ones it imported from
  e-conomic, so a Rackbeat layout number is the e-conomic layout number. A customer without a layout
  gets the setting `customer_default_layout` when set, else none. A number e-conomic does not know
  (a layout deleted there since) is refused by e-conomic and dead-lettered with the field named.
- E-mail: ONLY the primary address (Rackbeat's `contact_email`, its first address if several were
  typed into it). Invoice, order or quote e-mails never go: e-conomic's `email` takes several
  addresses separated by spaces, so a leaked extra address would be accepted silently.
- Barred: a customer blocked in Rackbeat (`is_barred`) is barred in e-conomic; one deleted in Rackbeat
  is barred by the engine (customers are `barrable`), never deleted.
- Never sent: anything not named in `customer_payload` (references, locale, discount, attention text).
"""

from __future__ import annotations

import re
from typing import Any

from tasks.entities._fields import reference_key, text
from tasks.entities._numbers import fitting_number, rackbeat_number_or_assigned
from tasks.entities._vat_zone import UnknownCountry, vat_zone
from tasks.entities.base import (
    EconomicSide,
    EntitySpec,
    ExportRules,
    FieldRule,
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
    master="customers",
)
