"""The engine's error family (tasks.errors): what the task policy reads from each, and that each survives
the trip from a worker child to its parent, the result backend and Flower as itself."""

from __future__ import annotations

import json
import pickle

import pytest
from celery.utils.serialization import get_pickleable_exception

from tasks.base import classify, failure_details, retry_reason
from tasks.errors import (
    DependencyCycle,
    MappingError,
    OutcomeUnknown,
    PostedDocumentChanged,
    RecordBusy,
    SyncError,
)

ERRORS: list[SyncError] = [
    MappingError("currency", "must be 3 characters long", api="economic", resource="customers"),
    DependencyCycle([("a", "1"), ("b", "2"), ("a", "1")], api="economic", resource="products"),
    RecordBusy("product", "P-1", held_for_seconds=42.0),
    OutcomeUnknown("the invoice POST got no answer", api="economic", resource="invoices/drafts"),
    PostedDocumentChanged("invoice 7 changed after booking", api="economic", resource="invoices/booked"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_each_error_pickles_as_its_own_class_with_its_fields(error: SyncError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.__dict__ == error.__dict__ and str(copy) == str(error)
    assert type(get_pickleable_exception(error)) is type(error)  # what Celery reports and stores


def test_a_mapping_error_names_the_target_api_resource_and_field() -> None:
    error = MappingError("paymentTerms", "is required", api="economic", resource="suppliers")
    assert (error.api, error.resource, error.field) == ("economic", "suppliers", "paymentTerms")
    assert error.field_errors == {"paymentTerms": ["is required"]}
    assert str(error) == "paymentTerms: is required (refused before calling e-conomic)"
    towards_rackbeat = MappingError("number", "is taken", api="rackbeat", resource="customers")
    assert str(towards_rackbeat).endswith("(refused before calling Rackbeat)")


def test_record_busy_says_how_long_at_most_and_that_it_spends_no_retry() -> None:
    busy = RecordBusy("product", "P-1", held_for_seconds=42.0)
    assert not busy.permanent and not busy.spends_retry
    assert "42 s more at most" in str(busy) and "without spending a retry" in str(busy)
    assert "at most" not in str(RecordBusy("product", "P-1"))


def test_the_policy_reads_permanence_from_the_error() -> None:
    assert [classify(e) for e in ERRORS] == [
        "permanent",
        "permanent",
        "transient-exhausted",
        "transient-exhausted",
        "permanent",
    ]
    assert retry_reason(ERRORS[3]) == "OutcomeUnknown"


def test_a_dead_letter_of_an_engine_error_has_the_shape_of_an_api_error() -> None:
    details = json.loads(json.dumps(failure_details(ERRORS[0])))
    assert details == {
        "error_class": "MappingError",
        "error": "currency: must be 3 characters long (refused before calling e-conomic)",
        "field_errors": {"currency": ["must be 3 characters long"]},
        "status_code": None,
        "api": "economic",
    }
