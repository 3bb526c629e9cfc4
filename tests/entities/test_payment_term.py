"""Payment term mapper, Rackbeat -> e-conomic: the type vocabulary, days, and the refusals before a call."""

from __future__ import annotations

import pytest

from tasks.entities import REGISTRY, get_spec, spec_for_event
from tasks.entities.base import MappingContext
from tasks.entities.payment_term import ECONOMIC_TYPES, economic_type, to_economic
from tasks.errors import MappingError
from tasks.sync.validation import validate_payload

SEED_TERMS = [  # sandbox/seed/reference.py: what Rackbeat holds in the generated company
    ({"number": 1, "name": "Netto 8 dage", "type": "net", "maturity_days": 8}, "net"),
    ({"number": 4, "name": "Løbende måned", "type": "invoiceMonth", "maturity_days": 30}, "invoiceMonth"),
    ({"number": 5, "name": "Kontant", "type": "paidInCash", "maturity_days": 0}, "paidInCash"),
    ({"number": 6, "name": "Forudbetaling", "type": "prepaid", "maturity_days": 0}, "prepaid"),
]


@pytest.mark.parametrize(("record", "expected_type"), SEED_TERMS)
def test_seed_terms_map_type_and_days(record: dict, expected_type: str) -> None:
    mapped = to_economic(record, MappingContext())
    assert mapped["paymentTermsType"] == expected_type
    assert mapped["daysOfCredit"] == record["maturity_days"]
    assert mapped["name"] == record["name"]
    validate_payload(get_spec("payment_term").economic, mapped)


@pytest.mark.parametrize(
    ("rackbeat", "economic"),
    [
        ("invoice_month", "invoiceMonth"),
        ("current_month", "invoiceMonth"),
        ("paid_in_cash", "paidInCash"),
        ("cash", "paidInCash"),
        ("NET", "net"),
        ("due_date", "dueDate"),
        ("credit_card", "creditcard"),
        ("invoice-week-starting-monday", "invoiceWeekStartingMonday"),
    ],
)
def test_rackbeat_spellings_map_to_e_conomic_names(rackbeat: str, economic: str) -> None:
    assert economic_type(rackbeat) == economic


def test_every_e_conomic_type_maps_to_itself() -> None:
    assert [economic_type(name) for name in ECONOMIC_TYPES] == list(ECONOMIC_TYPES)


@pytest.mark.parametrize("unknown", ["weekly", "", None])
def test_an_unknown_type_is_refused_naming_the_field(unknown: str | None) -> None:
    with pytest.raises(MappingError) as caught:
        to_economic({"number": 9, "name": "Odd", "type": unknown, "maturity_days": 7}, MappingContext())
    assert caught.value.field == "paymentTermsType"


def test_description_only_when_there_is_one() -> None:
    base = {"number": 2, "name": "Netto 14", "type": "net", "maturity_days": 14}
    assert "description" not in to_economic({**base, "description": ""}, MappingContext())
    assert (
        to_economic({**base, "description": " Senest 14 dage "}, MappingContext())["description"]
        == "Senest 14 dage"
    )


def test_the_embedded_view_of_a_term_without_description_maps_like_the_full_record() -> None:
    """Customers embed {number, name, type, maturity_days}: equal payloads let the engine skip a fetch."""
    full = {
        "number": 2,
        "name": "Netto 14",
        "type": "net",
        "maturity_days": 14,
        "description": "",
        "type_translated": "Net",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    view = {key: full[key] for key in ("number", "name", "type", "maturity_days")}
    assert to_economic(view, MappingContext()) == to_economic(full, MappingContext())


def test_limits_are_checked_before_the_call() -> None:
    with pytest.raises(MappingError) as caught:
        validate_payload(
            get_spec("payment_term").economic,
            to_economic({"number": 2, "name": "n" * 51, "type": "net", "maturity_days": 1}, MappingContext()),
        )
    assert caught.value.field == "name"
    with pytest.raises(MappingError) as caught:
        validate_payload(
            get_spec("payment_term").economic,
            to_economic({"number": 2, "name": "", "type": "net", "maturity_days": 1}, MappingContext()),
        )
    assert caught.value.field == "name"


def test_registered_under_rackbeats_event_spelling_and_not_barrable() -> None:
    spec, action = spec_for_event("payment_terms.updated")  # type: ignore[misc]
    assert (spec.kind, action) == ("payment_term", "upsert")
    assert spec_for_event("payment_terms.deleted")[1] == "delete"  # type: ignore[index]
    assert REGISTRY["payment_term"].economic.barrable is False
    assert (
        REGISTRY["payment_term"].export_rules.economic_key({"number": 2}) is None
    )  # e-conomic assigns the number
