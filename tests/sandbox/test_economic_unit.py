"""Pure parts of the e-conomic sandbox: id encoding, the filter grammar, sorting, schema-driven validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.economic.builtin_schemas import WRITE_SCHEMAS
from sandbox.economic.filters import FilterError, compile_filter
from sandbox.economic.ids import decode_key, encode_key
from sandbox.economic.sorting import SortError, parse_sort, sort_records
from sandbox.economic.validation import validate

FIELDS = {
    "name": "string",
    "customerNumber": "integer",
    "balance": "number",
    "barred": "boolean",
    "ean": "string",
    "lastUpdated": "string",
    "customerGroup.customerGroupNumber": "integer",
}
RECORDS = [
    {"customerNumber": 1, "name": "Joe", "balance": 10.5, "lastUpdated": "2026-01-02T03:04:05Z"},
    {
        "customerNumber": 2,
        "name": "ZZ Probe (test) Ltd",
        "barred": True,
        "customerGroup": {"customerGroupNumber": 2},
        "lastUpdated": "2026-02-01T00:00:00Z",
    },
    {"customerNumber": 3, "name": "a$b)c*d", "ean": "5790000000000", "balance": -4},
]


def matching(text: str) -> list[int]:
    predicate = compile_filter(text, FIELDS)
    return [record["customerNumber"] for record in RECORDS if predicate(record)]


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("My Awesome Product_Discount5%", "My_9_Awesome_9_Product_8_Discount5_3_"),
        ("a<b>c*d:e&f/g\\h?i.j#k+l", "a_0_b_1_c_2_d_4_e_5_f_6_g_7_h_10_i_11_j_12_k_13_l"),
        ("ZZ-TEST-1", "ZZ-TEST-1"),
        ("æble", "%C3%A6ble"),
    ],
)
def test_ids_are_encoded_as_e_conomic_does_and_decode_back(key: str, encoded: str) -> None:
    assert encode_key(key) == encoded
    assert decode_key(encoded) == key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name$eq:joe", [1]),  # case-insensitive
        ("name$ne:joe", [2, 3]),
        ("customerNumber$gt:1", [2, 3]),
        ("customerNumber$gte:2$and:customerNumber$lte:2", [2]),
        ("balance$lt:0", [3]),
        ("name$like:robe", [2]),  # no star: contains
        ("name$like:zz*", [2]),
        ("name$like:*ltd", [2]),
        ("name$like:a$$b$)c$*d", [3]),  # escaped $, ) and a literal star
        ("name$eq:a$$b$)c*d", [3]),
        ("customerNumber$in:[1,3]", [1, 3]),
        ("customerNumber$nin:[1,3]", [2]),
        ("ean$eq:$null:", [1, 2]),
        ("ean$ne:$null:", [3]),
        ("barred$eq:true", [2]),
        ("barred$eq:false", [1, 3]),  # an omitted boolean is false
        ("customerGroup.customerGroupNumber$eq:2", [2]),
        ("name$eq:joe$or:customerNumber$eq:3", [1, 3]),
        ("customerNumber$gt:1$and:(name$like:probe$or:balance$lt:0)", [2, 3]),
        ("customerNumber$eq:1$or:customerNumber$eq:2$and:barred$eq:false", [1]),  # $and binds tighter
        ("lastUpdated$gte:2026-01-15", [2]),
        ("lastUpdated$gte:2026-01-02T03:04:05Z", [1, 2]),
        ("name$eq:ZZ Probe $(test$) Ltd", [2]),
    ],
)
def test_filter_grammar(text: str, expected: list[int]) -> None:
    assert matching(text) == expected


def test_filter_on_a_property_that_cannot_be_filtered_lists_the_allowed_fields() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter("bogusProp$eq:1", FIELDS)
    assert str(caught.value) == "Filtering is not allowed on property 'bogusProp'."
    assert caught.value.allowed == sorted(FIELDS)


@pytest.mark.parametrize(
    "text",
    [
        "customerNumber$in:1,2",  # brackets are required
        "customerNumber$in:[" + ",".join(str(n) for n in range(201)) + "]",  # at most 200 values
        "name$xx:1",
        "(name$eq:joe",
        "lastUpdated$gte:2026-01-01T00:00:00+00:00",  # offsets are refused
        "customerNumber$eq:abc",
        "customerNumber$like:1",
        "name$lt:$null:",
    ],
)
def test_bad_filters_are_refused(text: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(text, FIELDS)


def test_in_with_a_list_of_the_wrong_type_matches_nothing() -> None:
    assert matching("customerNumber$in:[a,b]") == []


def test_sort_orders_by_several_keys_and_refuses_unsortable_ones() -> None:
    sortable = {"name": "string", "customerNumber": "integer", "code": "string"}
    rows = [
        {"name": "b", "customerNumber": 2},
        {"name": "B", "customerNumber": 1},
        {"name": "a", "customerNumber": 3},
    ]
    ordered = sort_records(rows, parse_sort("name,-customerNumber", sortable))
    assert [row["customerNumber"] for row in ordered] == [3, 2, 1]
    numbers = [{"code": 1000}, {"code": 30}, {"code": 200}]
    assert [row["code"] for row in sort_records(numbers, parse_sort("~code", sortable))] == [1000, 200, 30]
    assert [row["code"] for row in sort_records(numbers, parse_sort("-code", sortable))] == [1000, 200, 30]
    assert [row["code"] for row in sort_records(numbers, parse_sort("code", sortable))] == [30, 200, 1000]
    with pytest.raises(SortError, match="Could not parse query string sort parameter"):
        parse_sort("barred", sortable)


def test_validation_reports_each_problem_in_the_annotated_shape() -> None:
    schema = WRITE_SCHEMAS["invoices.drafts.post"]
    body = {
        "date": "2026-01-01",
        "currency": "DKKX",
        "customer": {"customerNumber": 0},
        "layout": {"layoutNumber": 19},
        "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": None, "vatZone": {"vatZoneNumber": 1}},
        "lines": [{"quantity": 1.0}, {"unitNetPrice": 10.123, "lineNumber": 0}],
        "unknownProperty": "ignored",
    }
    errors = validate(body, schema)
    assert errors is not None
    assert errors["currency"]["errors"][0]["errorCode"] == "E04200"
    assert (
        errors["customer"]["customerNumber"]["errors"][0]["message"]
        == "Integer 0 is less than minimum value of 1."
    )
    assert errors["recipient"]["name"]["errors"][0]["message"].endswith("but got Null.")
    assert errors["lines"] == [
        {
            "arrayIndex": 1,
            "unitNetPrice": errors["lines"][0]["unitNetPrice"],
            "lineNumber": errors["lines"][0]["lineNumber"],
        }
    ]
    assert errors["lines"][0]["unitNetPrice"]["errors"][0]["errorCode"] == "E04740"
    assert "unknownProperty" not in errors
    assert set(errors) == {"currency", "customer", "recipient", "lines"}


def test_validation_of_enums_types_and_missing_nested_fields() -> None:
    terms = validate({"name": "x", "paymentTermsType": "Net"}, WRITE_SCHEMAS["payment-terms.post"])
    assert terms is not None and terms["paymentTermsType"]["errors"][0]["errorCode"] == "E04600"
    product = validate({"productNumber": 5, "name": "x", "productGroup": {}}, WRITE_SCHEMAS["products.post"])
    assert product is not None and product["productNumber"]["errors"][0]["errorCode"] == "E04300"
    invoice = validate({"recipient": {"name": "x"}}, WRITE_SCHEMAS["invoices.drafts.post"])
    assert invoice is not None and invoice["recipient"]["vatZone"]["errors"][0]["errorCode"] == "E04042"
    assert validate({"name": "pcs"}, WRITE_SCHEMAS["units.post"]) is None


def test_sandbox_validates_writes_without_the_schema_folder(tmp_path: Path) -> None:
    """With RBSYNC_SHARED_DIR pointing at an empty folder the built-in constraints take over."""
    script = (
        "from sandbox.economic import schemas\n"
        "from sandbox.economic.testing import serve, client, CUSTOMER\n"
        "assert not schemas.schemas_available()\n"
        "with serve() as (_, base), client(base) as http:\n"
        "    bad = http.post('customers', json={**CUSTOMER, 'name': 'x' * 256})\n"
        "    assert bad.status_code == 400\n"
        "    assert bad.json()['errors']['name']['errors'][0]['errorCode'] == 'E04200'\n"
        "    assert http.post('customers', json=CUSTOMER).status_code == 201\n"
        "    assert http.get('customers?filter=bogus$eq:1').json()['allowedFilteringFields']\n"
        "print('ok')\n"
    )
    env = {**os.environ, "RBSYNC_SHARED_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
