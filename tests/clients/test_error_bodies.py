"""Each API's error body becomes the API's own message plus a flat map of field errors."""

from __future__ import annotations

import json

import pytest

from clients.errors import (
    BODY_LIMIT,
    AuthError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    TransientError,
    ValidationFailed,
    error_class_for_status,
    parse_economic_error,
    parse_rackbeat_error,
)

ECONOMIC_VALIDATION = {
    "message": "Validation error.",
    "developerHint": "Inspect validation errors and correct your request.",
    "logId": "a2a282a789f20523-CPH",
    "httpStatusCode": 400,
    "logTime": "2015-03-12T16:44:56",
    "errors": {
        "currency": {
            "errors": [{"errorCode": "E06000", "message": "currency does not exist.", "value": "ZUL"}]
        },
        "lines": [
            {
                "arrayIndex": 2,
                "unitNetPrice": {
                    "errors": [
                        {"errorCode": "E04740", "message": "scale cannot be greater then two decimal places"}
                    ]
                },
            }
        ],
        "customer": {
            "customerNumber": {"errors": [{"errorCode": "E06000", "message": "Customer not found."}]}
        },
    },
}


def test_economic_annotated_validation_errors_flatten_to_field_paths() -> None:
    message, fields, code = parse_economic_error(ECONOMIC_VALIDATION)
    assert message == "Validation error."
    assert fields == {
        "currency": ["currency does not exist."],
        "lines[2].unitNetPrice": ["scale cannot be greater then two decimal places"],
        "customer.customerNumber": ["Customer not found."],
    }
    assert code is None


def test_economic_filter_error_list_joins_the_message() -> None:
    body = {
        "message": "Could not parse query string filter.",
        "errors": ["Filtering is not allowed on property 'bogusProp'."],
        "allowedFilteringFields": ["name", "customerNumber"],
    }
    message, fields, _ = parse_economic_error(body)
    assert fields == {}
    assert message.startswith("Could not parse query string filter. Filtering is not allowed on property")
    assert "name, customerNumber" in message


def test_economic_not_found_keeps_error_code() -> None:
    message, fields, code = parse_economic_error(
        {"message": "Customer not found.", "errorCode": "E06000", "httpStatusCode": 404}
    )
    assert (message, fields, code) == ("Customer not found.", {}, "E06000")


def test_economic_bulk_document_errors_carry_their_index() -> None:
    body = {
        "message": "Validation error.",
        "errors": [
            {"arrayIndex": 1, "name": {"errors": [{"errorCode": "E04042", "message": "name is required"}]}}
        ],
    }
    _, fields, _ = parse_economic_error(body)
    assert fields == {"[1].name": ["name is required"]}


def test_economic_openapi_problem_details() -> None:
    body = {
        "type": "https://apis.e-conomic.com/errors/validation",
        "title": "Validation failed",
        "status": 400,
        "detail": "One or more properties are invalid.",
        "errorCode": "ValidationError",
        "errors": [{"property": "name", "message": "Name is required.", "errorCode": "Required"}],
    }
    message, fields, code = parse_economic_error(body)
    assert message == "One or more properties are invalid."
    assert fields == {"name": ["Name is required."]}
    assert code == "ValidationError"


def test_economic_developer_hint_is_used_when_there_is_no_message() -> None:
    message, _, _ = parse_economic_error({"developerHint": "Send both token headers."})
    assert message == "Send both token headers."


def test_rackbeat_laravel_validation_body() -> None:
    body = {
        "message": "The given data was invalid.",
        "errors": {
            "lines.0.item_id": ["Product needed"],
            "customer_id": ["The selected Customer is invalid."],
        },
    }
    message, fields = parse_rackbeat_error(body)
    assert message == "The given data was invalid."
    assert fields == {
        "lines.0.item_id": ["Product needed"],
        "customer_id": ["The selected Customer is invalid."],
    }


def test_rackbeat_errors_without_message_get_laravels_summary() -> None:
    message, fields = parse_rackbeat_error({"errors": {"number": ["The number has already been taken."]}})
    assert message == "The given data was invalid."
    assert fields == {"number": ["The number has already been taken."]}


def test_rackbeat_plain_message() -> None:
    assert parse_rackbeat_error({"message": "Unauthenticated."}) == ("Unauthenticated.", {})


@pytest.mark.parametrize("payload", [None, "oops", ["a", "b"], 42])
def test_parsers_tolerate_bodies_that_are_not_objects(payload: object) -> None:
    message, fields, _ = parse_economic_error(payload)
    assert fields == {}
    assert isinstance(message, str)
    assert parse_rackbeat_error(payload)[1] == {}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationFailed),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (405, PermanentError),
        (409, PermanentError),
        (415, PermanentError),
        (422, ValidationFailed),
        (429, RateLimitedError),
        (408, TransientError),
        (500, TransientError),
        (501, PermanentError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
        (599, TransientError),
    ],
)
def test_status_maps_to_taxonomy(status: int, cls: type) -> None:
    assert error_class_for_status(status) is cls


def test_taxonomy_tree() -> None:
    assert issubclass(RateLimitedError, TransientError)
    for cls in (AuthError, NotFoundError, ValidationFailed):
        assert issubclass(cls, PermanentError)
    assert not issubclass(TransientError, PermanentError)


def test_error_to_dict_is_json_safe_and_body_is_truncated() -> None:
    err = RateLimitedError(
        "Too Many Attempts.",
        api="rackbeat",
        method="get",
        url="http://127.0.0.1/api/products",
        status=429,
        body="x" * (BODY_LIMIT * 3),
        retry_after=2.5,
    )
    data = json.loads(json.dumps(err.to_dict()))
    assert data["error_class"] == "RateLimitedError"
    assert data["method"] == "GET"
    assert data["retry_after"] == 2.5
    assert data["request_sent"] is True
    assert len(data["body"]) == BODY_LIMIT
    assert "429" in str(err) and "Too Many Attempts." in str(err)


def test_str_names_the_field_errors() -> None:
    err = ValidationFailed(
        "Validation error.",
        api="economic",
        method="POST",
        url="http://h/products",
        status=400,
        field_errors={"salesPrice": ["must be a number"]},
    )
    assert "salesPrice: must be a number" in str(err)


def test_economic_diagnostics_are_kept_from_both_error_shapes() -> None:
    from clients.errors import economic_error_details

    legacy = {
        "message": "Validation error.",
        "errorCode": "E04300",
        "developerHint": "Inspect the errors.",
        "logId": "a2a282a789f20523-CPH",
        "httpStatusCode": 400,
        "logTime": "2015-03-12T16:44:56",
    }
    problem = {
        "title": "Bad request",
        "status": 400,
        "errorCode": "BadRequest",
        "traceId": "0f3c",
        "traceTimeUtc": "2026-11-30T07:00:00.000000Z",
        "instance": "",
    }

    assert economic_error_details(legacy) == {
        "developerHint": "Inspect the errors.",
        "logId": "a2a282a789f20523-CPH",
        "logTime": "2015-03-12T16:44:56",
    }
    assert economic_error_details(problem) == {
        "traceId": "0f3c",
        "traceTimeUtc": "2026-11-30T07:00:00.000000Z",
    }
    assert economic_error_details("not a body") == {}
