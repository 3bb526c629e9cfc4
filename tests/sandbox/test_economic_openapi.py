"""The OpenAPI services in the e-conomic sandbox share the legacy store and enforce objectVersion."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.economic import EconomicSandbox
from sandbox.economic.testing import CUSTOMER, client, serve

PRODUCTS = "productsapi/v2.0.0/productgroups"
SUPPLIER_GROUPS = "suppliersapi/v2.0.0/Groups"
PROJECTS = "projectsapi/v1.1.0/Projects"
EMPLOYEES = "projectsapi/v1.1.0/Employees"
DRAFT_ENTRIES = "journalsapi/v15.0.0/draft-entries"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def http(server: tuple[EconomicSandbox, str]) -> Iterator[httpx.Client]:
    server[0].reset()
    with client(server[1]) as session:
        yield session


def test_product_group_created_in_productsapi_is_visible_in_legacy(http: httpx.Client, server: tuple) -> None:
    created = http.post(PRODUCTS, json={"id": 5, "name": "Spare parts", "domesticAccountId": 1010})
    assert created.status_code == 201 and created.json() == {"id": 5}
    assert created.headers["Location"] == server[1] + f"{PRODUCTS}/5"
    legacy = http.get("product-groups/5").json()
    assert legacy["name"] == "Spare parts" and legacy["self"] == server[1] + "product-groups/5"
    product = {"productNumber": "X1", "name": "Chain", "productGroup": {"productGroupNumber": 5}}
    assert http.post("products", json=product).status_code == 201
    assert [p["productNumber"] for p in http.get("product-groups/5/products").json()["collection"]] == ["X1"]
    item = http.get(f"{PRODUCTS}/5").json()
    assert item["domesticAccountId"] == 1010 and item["objectVersion"]


def test_stale_object_version_is_a_409(http: httpx.Client) -> None:
    http.post(PRODUCTS, json={"id": 5, "name": "A", "domesticAccountId": 1010})
    version = http.get(f"{PRODUCTS}/5").json()["objectVersion"]
    updated = http.put(
        PRODUCTS, json={"id": 5, "name": "B", "domesticAccountId": 1010, "objectVersion": version}
    )
    assert updated.status_code == 204
    assert http.get("product-groups/5").json()["name"] == "B"
    stale = http.put(
        PRODUCTS, json={"id": 5, "name": "C", "domesticAccountId": 1010, "objectVersion": version}
    )
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["errorCode"] == "UpdateConflict"
    missing_version = http.put(PRODUCTS, json={"id": 5, "name": "C", "domesticAccountId": 1010})
    assert missing_version.status_code == 400
    assert (
        http.put(
            PRODUCTS, json={"id": 77, "name": "C", "domesticAccountId": 1010, "objectVersion": version}
        ).status_code
        == 404
    )


def test_openapi_validation_and_unknown_references(http: httpx.Client) -> None:
    answer = http.post(PRODUCTS, json={"id": 6, "name": "x" * 51})
    assert answer.status_code == 400
    properties = {error["property"] for error in answer.json()["errors"]}
    assert properties == {"name", "domesticAccountId"}
    unknown = http.post(PRODUCTS, json={"id": 6, "name": "x", "domesticAccountId": 4242})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["property"] == "domesticAccountId"
    assert http.post(PRODUCTS, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415


def test_supplier_groups_write_through_suppliersapi(http: httpx.Client) -> None:
    created = http.post(SUPPLIER_GROUPS, json={"number": 3, "name": "EU suppliers", "accountNumber": 6800})
    assert created.status_code == 201 and created.json() == {"number": 3}
    legacy = http.get("supplier-groups/3").json()
    assert legacy["name"] == "EU suppliers" and legacy["account"]["accountNumber"] == 6800
    assert http.get(f"{SUPPLIER_GROUPS}/count").json() == 2
    paged = http.get(f"{SUPPLIER_GROUPS}/paged", params={"pageSize": 1, "skipPages": 1}).json()
    assert [g["number"] for g in paged] == [3]
    assert http.get(f"{SUPPLIER_GROUPS}/paged", params={"pageSize": 101}).status_code == 400
    assert http.delete(f"{SUPPLIER_GROUPS}/3").status_code == 204
    assert http.get("supplier-groups/3").status_code == 404
    assert http.get(f"{SUPPLIER_GROUPS}/3").json()["errorCode"] == "ResourceNotFound"


def test_cursor_list_pages_by_1000(http: httpx.Client, server: tuple) -> None:
    server[0].load(
        {
            "employees": [
                {"employeeNumber": n, "name": f"E{n}", "employeeGroup": {"employeeGroupNumber": 1}}
                for n in range(2, 1203)
            ]
        }
    )
    first = http.get(EMPLOYEES).json()
    assert len(first["items"]) == 1000 and first["cursor"]
    second = http.get(EMPLOYEES, params={"cursor": first["cursor"]}).json()
    assert len(second["items"]) == 202 and "cursor" not in second
    filtered = http.get(EMPLOYEES, params={"filter": "name$eq:E7"}).json()["items"]
    assert [e["number"] for e in filtered] == [7]


def test_employees_and_projects(http: httpx.Client, server: tuple) -> None:
    employee = http.post(
        EMPLOYEES, json={"number": 5, "groupNumber": 1, "name": "Ann", "isBarred": False, "email": "ann@x.dk"}
    )
    assert employee.status_code == 201
    assert http.get("employees/5").json()["email"] == "ann@x.dk"
    bad_group = http.post(EMPLOYEES, json={"number": 6, "groupNumber": 9, "name": "Bo", "isBarred": False})
    assert bad_group.status_code == 400
    assert http.post("customers", json=CUSTOMER).status_code == 201
    external_without_customer = http.post(PROJECTS, json={"name": "Fit-out", "projectGroupNumber": 2})
    assert external_without_customer.status_code == 400
    project = http.post(PROJECTS, json={"name": "Fit-out", "projectGroupNumber": 2, "customerNumber": 1})
    assert project.status_code == 201
    number = project.json()["number"]
    legacy = http.get(f"projects/{number}").json()
    assert legacy["projectNumber"] == number and legacy["customer"]["customerNumber"] == 1
    assert legacy["self"] == server[1] + f"projects/{number}"
    assert http.get("projects").json()["pagination"]["results"] == 1
    draft = {
        "date": "2026-03-02",
        "currency": "DKK",
        "customer": {"customerNumber": 1},
        "layout": {"layoutNumber": 19},
        "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": "x", "vatZone": {"vatZoneNumber": 1}},
        "project": {"projectNumber": number},
    }
    assert http.post("invoices/drafts", json=draft).status_code == 201
    item = http.get(f"{PROJECTS}/{number}").json()
    assert item["lastUpdated"] and item["objectVersion"]
    renamed = http.put(
        PROJECTS,
        json={**{k: v for k, v in item.items() if k not in ("isClosed", "lastUpdated")}, "name": "Fit-out 2"},
    )
    assert renamed.status_code == 204
    assert http.get(f"projects/{number}").json()["name"] == "Fit-out 2"


def test_draft_entries_land_in_the_legacy_journal(http: httpx.Client) -> None:
    year = http.get("accounting-years").json()["collection"][0]["year"]
    created = http.post(
        DRAFT_ENTRIES,
        json={
            "entryTypeNumber": 5,
            "journalNumber": 1,
            "date": f"{year}-02-01",
            "amount": 99.5,
            "currency": "DKK",
            "accountNumber": 1320,
            "contraAccountNumber": 5850,
            "text": "Stock value",
        },
    )
    assert created.status_code == 201, created.text
    number = created.json()["entryNumber"]
    legacy = http.get(f"journals/1/entries/{number}").json()
    assert legacy["amount"] == 99.5 and legacy["entryType"] == "financeVoucher"
    assert legacy["account"]["accountNumber"] == 1320
    api = http.get(f"{DRAFT_ENTRIES}/{number}").json()
    assert api["contraAccountNumber"] == 5850 and api["entryTypeNumber"] == 5
    bad = http.post(
        DRAFT_ENTRIES,
        json={
            "entryTypeNumber": 7,
            "journalNumber": 1,
            "date": f"{year}-02-01",
            "amount": 1,
            "currency": "XXX",
        },
    )
    assert {e["property"] for e in bad.json()["errors"]} == {"entryTypeNumber", "currency"}
