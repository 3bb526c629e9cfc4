"""What an e-conomic customer and supplier have alike on their way into Rackbeat (pure): references to
other records, the payment terms a party must have, its VAT zone in Rackbeat's words, its address in
Rackbeat's two lines, and only its primary e-mail (seed README, "What is NOT synchronised")."""

from __future__ import annotations

import re
from typing import Any

from tasks.entities._fields import text
from tasks.entities._vat_zone import RACKBEAT_ZONES
from tasks.entities.base import Record, RecordRef, Refs
from tasks.errors import MappingError

PAYMENT_TERM_KIND = "payment_term"

ZONE_NAMES: dict[int, str] = {int(zone): name for name, zone in RACKBEAT_ZONES.items()}
"""e-conomic's VAT zone number -> Rackbeat's `vat_zone`."""

_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


def economic_ref(document: Record, field: str, key_field: str) -> str | None:
    """The number an e-conomic reference (`{"customerGroupNumber": 2, "self": ...}`) holds, as text."""
    value = document.get(field)
    number = value.get(key_field) if isinstance(value, dict) else None
    return None if number is None else str(number)


def referenced(document: Record, references: tuple[tuple[str, str, str], ...]) -> list[RecordRef]:
    """(kind, e-conomic number) of each reference the document holds, in the order given. `references`
    are (kind, e-conomic field, its key field): ("customer_group", "customerGroup", "customerGroupNumber")."""
    found: list[RecordRef] = []
    for kind, field, key_field in references:
        number = economic_ref(document, field, key_field)
        if number is not None:
            found.append((kind, number))
    return found


def rackbeat_ref(refs: Refs, kind: str, number: str | None) -> int | None:
    """The Rackbeat key the import resolved for e-conomic's `kind` `number`; None when unresolved."""
    found = refs.get((kind, number)) if number is not None else None
    return int(found) if found is not None else None


def economic_primary_email(document: Record) -> str | None:
    """The first of the addresses in e-conomic's `email` (which takes several, separated by spaces)."""
    addresses = [part for part in _ADDRESS_SEPARATORS.split(str(document.get("email") or "")) if part]
    return addresses[0] if addresses else None


def party_fields(document: Record, refs: Refs, resource: str) -> dict[str, Any]:
    """The Rackbeat fields a customer and a supplier share. Payment terms that could not be resolved, and a
    VAT zone Rackbeat has no name for, are refused (naming the Rackbeat field) rather than left out: Rackbeat
    would otherwise take the record with terms or a zone of its own choosing."""
    terms = economic_ref(document, "paymentTerms", "paymentTermsNumber")
    terms_id = rackbeat_ref(refs, PAYMENT_TERM_KIND, terms)
    if terms_id is None:
        raise _refused(
            resource, "payment_terms_id", f"e-conomic payment terms {terms} could not be resolved in Rackbeat"
        )
    zone_text = economic_ref(document, "vatZone", "vatZoneNumber")
    zone = ZONE_NAMES.get(int(zone_text)) if zone_text is not None and zone_text.isdigit() else None
    if zone_text is not None and zone is None:
        raise _refused(resource, "vat_zone", f"e-conomic VAT zone {zone_text} has no Rackbeat counterpart")
    address = str(document.get("address") or "").replace("\r\n", "\n").split("\n", 1)
    return {
        "company_name": text(document.get("name")) or "",
        "currency": text(document.get("currency")),
        "payment_terms_id": terms_id,
        "vat_zone": zone,
        "address_street": text(address[0]),
        "address_street2": text(address[1]) if len(address) > 1 else None,
        "address_zipcode": text(document.get("zip")),
        "address_city": text(document.get("city")),
        "address_country": text(document.get("country")),
        "contact_email": economic_primary_email(document),
        "company_vat": text(document.get("corporateIdentificationNumber")),
        "is_barred": bool(document.get("barred", False)),
    }


def _refused(resource: str, field: str, problem: str) -> MappingError:
    return MappingError(field, problem, api="rackbeat", resource=resource)
