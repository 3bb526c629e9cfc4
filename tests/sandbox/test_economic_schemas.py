"""Every answer the e-conomic sandbox serves matches e-conomic's published schemas (draft-03), and every POST
schema's required fields are enforced."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft3Validator

from sandbox.economic import schemas
from sandbox.economic.bodies import check_request_log, corrected_schema, schema_name_for
from sandbox.economic.testing import (
    CUSTOMER,
    PRODUCT,
    SUPPLIER,
    client,
    draft_invoice,
    logged_requests,
    serve,
)

pytestmark = pytest.mark.skipif(
    not schemas.schemas_available(),
    reason=f"e-conomic's schema folder is absent ({schemas.schema_dir()}); set RBSYNC_SHARED_DIR",
)

# (collection path, collection schema, item schema or None)
COLLECTIONS: list[tuple[str, str, str | None]] = [
    ("customers", "customers.get", "customers.customerNumber.get"),
    ("customer-groups", "customer-groups.get", "customer-groups.customerGroupNumber.get"),
    ("customer-groups/1/customers", "customer-groups.customerGroupNumber.customers.get", None),
    ("suppliers", "suppliers.get", "suppliers.supplierNumber.get"),
    ("products", "products.get", "products.productNumber.get"),
    ("product-groups", "product-groups.get", "product-groups.productGroupNumber.get"),
    ("product-groups/1/products", "product-groups.productGroupNumber.products.get", None),
    ("payment-terms", "payment-terms.get", "payment-terms.paymentTermsNumber.get"),
    ("units", "units.get", "units.unitNumber.get"),
    ("layouts", "layouts.get", "layouts.layoutNumber.get"),
    ("employees", "employees.get", "employees.employeeNumber.get"),
    ("vat-zones", "vat-zones.get", "vat-zones.vatZoneNumber.get"),
    ("vat-accounts", "vat-accounts.get", "vat-accounts.id.get"),
    ("accounts", "accounts.get", "accounts.accountNumber.get"),
    ("currencies", "currencies.get", "currencies.code.get"),
    ("journals", "journals.get", "journals.journalNumber.get"),
    (
        "journals/2/entries",
        "journals.journalNumber.entries.get",
        "journals.journalNumber.entries.entryNumber.get",
    ),
    (
        "journals/2/vouchers",
        "journals.journalNumber.vouchers.get",
        "journals.journalNumber.vouchers.accountingYear-voucherNumber.get",
    ),
    ("accounting-years", "accounting-years.get", "accounting-years.accountingYear.get"),
    ("accounting-years/{year}/entries", "accounting-years.accountingYear.entries.get", None),
    ("invoices/drafts", "invoices.drafts.get", "invoices.drafts.draftInvoiceNumber.get"),
    ("invoices/booked", "invoices.booked.get", "invoices.booked.bookedInvoiceNumber.get"),
    ("orders/drafts", "orders.drafts.get", "orders.drafts.orderNumber.get"),
    ("orders/sent", "orders.sent.get", "orders.sent.orderNumber.get"),
    ("orders/archived", "orders.archived.get", "orders.archived.orderNumber.get"),
]
# Resources the sandbox serves that have a POST schema, with a valid body for each.
POST_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "customers.post": ("customers", CUSTOMER),
    "customer-groups.post": (
        "customer-groups",
        {"customerGroupNumber": 7, "name": "Export", "account": {"accountNumber": 5800}},
    ),
    "suppliers.post": ("suppliers", SUPPLIER),
    "products.post": ("products", {**PRODUCT, "productNumber": "SCHEMA-1"}),
    "payment-terms.post": (
        "payment-terms",
        {"name": "Net 30", "paymentTermsType": "net", "daysOfCredit": 30},
    ),
    "units.post": ("units", {"name": "box"}),
    "invoices.drafts.post": ("invoices/drafts", draft_invoice(1, "P-1")),
    "orders.drafts.post": ("orders/drafts", draft_invoice(1, "P-1")),
    "journals.journalNumber.vouchers.post": (
        "journals/1/vouchers",
        {
            "accountingYear": {"year": "2026"},
            "entries": {
                "financeVouchers": [
                    {
                        "account": {"accountNumber": 1320},
                        "contraAccount": {"accountNumber": 5850},
                        "amount": 10.0,
                        "date": "2026-01-31",
                    }
                ]
            },
        },
    ),
    "invoices.booked.post": ("invoices/booked", {"draftInvoice": {"draftInvoiceNumber": 1}}),
}
SERVED_POST_PREFIXES = {
    "customers",
    "customer-groups",
    "suppliers",
    "products",
    "payment-terms",
    "units",
    "invoices.drafts",
    "orders.drafts",
    "journals.journalNumber.vouchers",
    "invoices.booked",
}


@pytest.fixture(scope="module")
def populated() -> Iterator[httpx.Client]:
    """A sandbox holding at least one record of every kind, made through the API where the API can write."""
    with serve() as (sandbox, base), client(base) as http:
        year = http.get("accounting-years").json()["collection"][0]["year"]
        for body in (CUSTOMER, {**CUSTOMER, "name": "Second customer", "email": "a@b.dk", "barred": True}):
            assert http.post("customers", json=body).status_code == 201
        assert http.post("suppliers", json=SUPPLIER).status_code == 201
        assert http.post("products", json={**PRODUCT, "unit": {"unitNumber": 1}}).status_code == 201
        assert http.post("products", json={**PRODUCT, "productNumber": "A B/C_1.5%"}).status_code == 201
        for _ in range(3):
            assert http.post("invoices/drafts", json=draft_invoice(1, "P-1")).status_code == 201
        assert (
            http.post("invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}}).status_code == 201
        )
        for _ in range(3):
            assert http.post("orders/drafts", json=draft_invoice(1, "P-1")).status_code == 201
        sent = http.get("orders/drafts/2").json()
        assert http.post("orders/sent", json=sent).status_code == 201
        archived = copy.deepcopy(sent)
        archived["orderNumber"] = 9
        sandbox.load({"orders.archived": [archived]})
        voucher = {
            "accountingYear": {"year": year},
            "entries": {
                "supplierInvoices": [
                    {
                        "supplier": {"supplierNumber": 1},
                        "amount": 1250.0,
                        "date": f"{year}-05-03",
                        "contraAccount": {"accountNumber": 3600},
                        "contraVatAccount": {"vatCode": "I25"},
                        "supplierInvoiceNumber": "F-1",
                        "text": "Bells",
                        "currency": {"code": "EUR"},
                    }
                ]
            },
        }
        assert http.post("journals/2/vouchers", json=voucher).status_code == 201
        assert http.post("journals/2/vouchers", json=voucher).status_code == 201
        booked = http.post("journalsapi/v15.0.0/journals/2/bookdraftentries", json={"entryNumbers": [2]})
        assert booked.status_code == 204, booked.text
        yield http


TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _validator(name: str) -> Draft3Validator:
    """The published schema minus its one documented defect (§16), the broken ``lastUpdated`` pattern
    (``corrected_schema``). The timestamp format is asserted separately (``_timestamps``), so nothing goes
    unchecked."""
    schema = corrected_schema(name)
    assert schema is not None, f"schema {name} missing from {schemas.schema_dir()}"
    return Draft3Validator(schema)


def _timestamps(document: Any) -> list[str]:
    """Every ``lastUpdated`` value anywhere in the document."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "lastUpdated":
                found.append(value)
            else:
                found.extend(_timestamps(value))
    elif isinstance(document, list):
        for value in document:
            found.extend(_timestamps(value))
    return found


def _problems(validator: Draft3Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


@pytest.mark.parametrize(
    ("path", "collection_schema", "item_schema"), COLLECTIONS, ids=[c[0] for c in COLLECTIONS]
)
def test_collection_and_items_match_the_published_get_schemas(
    populated: httpx.Client, path: str, collection_schema: str, item_schema: str | None
) -> None:
    year = populated.get("accounting-years").json()["collection"][0]["year"]
    answer = populated.get(path.format(year=year), params={"pagesize": 1000})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["collection"], f"{path} is empty, so its items were not checked"
    assert _problems(_validator(collection_schema), body) == []
    assert all(TIMESTAMP.match(value) for value in _timestamps(body)), _timestamps(body)
    if item_schema is None:
        return
    validator = _validator(item_schema)
    for item in body["collection"]:
        single = populated.get(item["self"])
        assert single.status_code == 200, (item["self"], single.text)
        assert _problems(validator, single.json()) == [], item["self"]


@pytest.mark.parametrize(
    ("path", "schema_name"),
    [
        ("self", "self.get"),
        ("customers/1/templates", "customers.customerNumber.templates.get"),
        ("customers/1/templates/invoice", "customers.customerNumber.templates.invoice.get"),
        (
            "customers/1/templates/invoiceline/P-1",
            "customers.customerNumber.templates.invoiceline.productNumber.get",
        ),
    ],
)
def test_single_documents_match_their_schemas(populated: httpx.Client, path: str, schema_name: str) -> None:
    answer = populated.get(path)
    assert answer.status_code == 200
    assert _problems(_validator(schema_name), answer.json()) == []


def _required_paths(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict) or sub.get("readOnly") or sub.get("readonly"):
            continue
        if sub.get("required") is True:
            yield (*prefix, name)
        if sub.get("type") == "object":
            yield from _required_paths(sub, (*prefix, name))


def _without(body: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    trimmed = copy.deepcopy(body)
    holder: Any = trimmed
    for part in path[:-1]:
        holder = holder.get(part) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or path[-1] not in holder:
        return None  # the parent is optional and absent from the valid body: nothing to remove
    del holder[path[-1]]
    return trimmed


def test_every_served_post_schema_is_covered() -> None:
    published_posts = {name[: -len(".post")] for name in schemas._FILES if name.endswith(".post")}
    served = {prefix.lower() for prefix in SERVED_POST_PREFIXES}
    assert served <= published_posts
    assert {name.lower() for name in POST_BODIES} == {f"{prefix}.post" for prefix in served}


@pytest.mark.parametrize("schema_name", sorted(POST_BODIES))
def test_post_without_a_required_field_is_refused(schema_name: str) -> None:
    path, valid = POST_BODIES[schema_name]
    schema = schemas.published(schema_name)
    assert schema is not None
    required = list(_required_paths(schema))
    with serve() as (_, base), client(base) as http:
        if schema_name == "invoices.booked.post":
            assert http.post("customers", json=CUSTOMER).status_code == 201
            assert http.post("products", json=PRODUCT).status_code == 201
            assert http.post("invoices/drafts", json=draft_invoice(1, "P-1")).status_code == 201
        elif path.startswith(("invoices", "orders")):
            assert http.post("customers", json=CUSTOMER).status_code == 201
            assert http.post("products", json=PRODUCT).status_code == 201
        checked = 0
        if not required:  # invoices.booked.post marks nothing required; the sandbox still needs draftInvoice
            required = [("draftInvoice",)]
        for field_path in required:
            body = _without(valid, field_path)
            if body is None:
                continue
            answer = http.post(path, json=body)
            assert answer.status_code == 400, (field_path, answer.text)
            errors: Any = answer.json()["errors"]
            for part in field_path:
                errors = errors[part]
            assert errors["errors"][0]["errorCode"] == "E04042"
            checked += 1
        assert checked, f"no required field of {schema_name} could be removed from the valid body"
        assert http.post(path, json=valid).status_code == 201, "the valid body itself must be accepted"


def test_logged_write_bodies_are_checked_against_the_published_schemas() -> None:
    with serve() as (sandbox, base), client(base) as http:
        assert http.post("customers", json=CUSTOMER).status_code == 201
        assert http.put("customers/1", json={**CUSTOMER, "name": "Renamed"}).status_code == 200
        assert http.post("products", json=PRODUCT).status_code == 201
        assert http.post("invoices/drafts", json=draft_invoice(1, "P-1")).status_code == 201
        assert (
            http.post(
                "invoices/drafts/1/lines", json={"lines": [{"product": {"productNumber": "P-1"}}]}
            ).status_code
            == 201
        )
        assert (
            http.post(
                "productsapi/v2.0.0/productgroups", json={"id": 4, "name": "G", "domesticAccountId": 1010}
            ).status_code
            == 201
        )
        assert check_request_log(logged_requests(sandbox, 6)) == []
        assert http.post("customers", json={**CUSTOMER, "email": None}).status_code == 400
        assert http.put("productsapi/v2.0.0/productgroups", json={"id": 4, "name": "G"}).status_code == 400
        problems = check_request_log(logged_requests(sandbox, 8))
    assert len(problems) == 3, problems
    assert problems[0].startswith("POST /customers [customers.post] email:")
    assert "'domesticAccountId' is required" in problems[1] and "objectVersion" in problems[2]


def test_schema_names_for_write_paths() -> None:
    assert schema_name_for("POST", "/customers") == "customers.post"
    assert schema_name_for("PUT", "/customers/5") == "customers.customerNo.put"
    assert schema_name_for("PUT", "/products/A_9_B") == "products.productNumber.put"
    assert schema_name_for("PUT", "/invoices/drafts/3") == "invoices.drafts.draftInvoiceNumber.put"
    assert (
        schema_name_for("POST", "/invoices/drafts/3/lines") == "invoices.drafts.draftInvoiceNumber.lines.post"
    )
    assert schema_name_for("POST", "/invoices/booked") == "invoices.booked.post"
    assert schema_name_for("PUT", "/invoices/booked/9") == "invoices.booked.bookWithNumber.put"
    assert schema_name_for("POST", "/journals/2/vouchers") == "journals.journalNumber.vouchers.post"
    assert schema_name_for("POST", "/orders/drafts") == "orders.drafts.post"
    assert schema_name_for("POST", "/vat-zones") == "vat-zones.post"  # no such schema: nothing to check
    assert schemas.published("vat-zones.post") is None
