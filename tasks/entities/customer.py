"""Customers, Rackbeat -> e-conomic (legacy REST `/customers`).

Rules that live here (each has a test in tests/tasks/test_entities_customer.py):
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
from dataclasses import dataclass
from typing import Any

from tasks.entities._customer_limits import CUSTOMER_NUMBER_MAX, CUSTOMER_RULES
from tasks.entities._fields import reference_key, text
from tasks.entities._numbers import fitting_number, rackbeat_number_or_assigned
from tasks.entities._vat_zone import UnknownCountry, vat_zone
from tasks.entities.base import EntitySpec, LegacyResource, Record, RecordRef, Refs
from tasks.sync.errors import MappingError

KIND = "customer"
RESOURCE = "customers"
GROUP_KIND = "customer_group"
TERMS_KIND = "payment_term"
EMPLOYEE_KIND = "employee"

_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class CustomerDefaults:
    """What the settings decide for every customer (read once per mapping)."""

    home_country: str = "DK"
    default_group: int = 1
    default_layout: int | None = None


def defaults_from_settings() -> CustomerDefaults:
    from tasks.settings import get_settings

    settings = get_settings()
    return CustomerDefaults(
        home_country=settings.company_home_country,
        default_group=settings.customer_default_group,
        default_layout=settings.customer_default_layout,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def economic_key(record: Record) -> int | None:
    """Rackbeat's number when e-conomic can take it; None lets e-conomic assign one (logged)."""
    return rackbeat_number_or_assigned(KIND, record, CUSTOMER_NUMBER_MAX)


def depends_on(record: Record) -> list[RecordRef]:
    """Group first, then payment terms, then the sales person: the order they are exported in."""
    deps: list[RecordRef] = []
    for kind, id_field, embedded_field in (
        (GROUP_KIND, "customer_group_id", "customer_group"),
        (TERMS_KIND, "payment_terms_id", "payment_terms"),
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
        return {(TERMS_KIND, str(view["number"])): view}
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
            resource=RESOURCE,
        )
    return refs[ref]


def customer_payload(record: Record, refs: Refs, defaults: CustomerDefaults) -> dict[str, Any]:
    """The customers document for a Rackbeat customer; see the module docstring for each rule."""
    payload: dict[str, Any] = {}
    number = fitting_number(record.get("number"), CUSTOMER_NUMBER_MAX)
    if number is not None:
        payload["customerNumber"] = number
    payload["name"] = text(record.get("company_name")) or ""
    currency = text(record.get("currency"))
    if currency is not None:
        payload["currency"] = currency.upper()

    group = reference_key(record, "customer_group_id", "customer_group")
    group_number = (
        defaults.default_group if group is None else _required_ref(refs, (GROUP_KIND, group), "customerGroup")
    )
    payload["customerGroup"] = {"customerGroupNumber": int(group_number)}
    terms = reference_key(record, "payment_terms_id", "payment_terms")
    if terms is None:
        raise MappingError("paymentTerms", "the Rackbeat customer has no payment terms", resource=RESOURCE)
    terms_number = _required_ref(refs, (TERMS_KIND, terms), "paymentTerms")
    payload["paymentTerms"] = {"paymentTermsNumber": int(terms_number)}

    try:
        zone = vat_zone(text(record.get("address_country")), defaults.home_country, record.get("vat_zone"))
    except UnknownCountry as error:
        raise MappingError("vatZone", str(error), resource=RESOURCE) from None
    payload["vatZone"] = {"vatZoneNumber": int(zone)}

    layout = _int_or_none(record.get("layout_id"))
    if layout is None:
        layout = defaults.default_layout
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


def to_economic(record: Record, refs: Refs) -> dict[str, Any]:
    return customer_payload(record, refs, defaults_from_settings())


SPEC = EntitySpec(
    kind=KIND,
    rackbeat_resource="customers",
    rackbeat_singular="customer",
    rackbeat_key_field="number",
    economic_writer=LegacyResource(path=RESOURCE),
    economic_key_field="customerNumber",
    to_economic=to_economic,
    economic_key=economic_key,
    depends_on=depends_on,
    embedded=embedded,
    events=frozenset({"customer.created", "customer.updated"}),
    delete_events=frozenset({"customer.deleted"}),
    barrable=True,
    master_setting="customers_master",
    constraints=CUSTOMER_RULES,
)
