"""What the start-up sync's imports read from the e-conomic sandbox, for the kinds added with issue 13:
layouts (legacy `/layouts`, read-only: {layoutNumber, name, deleted, self}, economic-api.md 12.8), suppliers
(legacy `/suppliers`, 12.3), supplier groups (read where the export writes them, suppliersapi `Groups`,
12.4), employees (projectsapi `Employees`, which answers without the Project module, 12.9) and payment
terms (legacy, 12.7). The sandbox keeps one table per kind behind both surfaces, so a record reads the same
through either."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.seed import generate

GROUPS = "suppliersapi/v2.0.0/Groups"
EMPLOYEES = "projectsapi/v1.1.0/Employees"
DATA = generate(seed=13, size="small")


@pytest.fixture
def economic(economic_sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=economic_sandbox.api_url, headers=economic_sandbox.headers, timeout=30
    ) as http:
        yield http
    economic_sandbox.reset()  # no later test inherits a loaded company


def test_a_fresh_agreement_has_layouts_in_their_published_shape(economic: httpx.Client) -> None:
    layout = economic.get("layouts/19")
    assert layout.status_code == 200
    assert set(layout.json()) == {"layoutNumber", "name", "deleted", "self"}
    assert layout.json()["deleted"] is False
    assert economic.post("layouts", json={"name": "x"}).status_code == 405
    assert economic.get("layouts/999").status_code == 404


def test_a_fresh_agreements_group_employee_and_terms_read_through_both_surfaces(
    economic: httpx.Client,
) -> None:
    group = economic.get(f"{GROUPS}/1")
    assert group.status_code == 200
    assert economic.get("supplier-groups/1").json()["name"] == group.json()["name"]
    employee = economic.get(f"{EMPLOYEES}/1")
    assert employee.status_code == 200
    legacy = economic.get("employees/1").json()
    assert (employee.json()["name"], employee.json()["email"]) == (legacy["name"], legacy["email"])
    assert economic.get(f"{EMPLOYEES}/999").status_code == 404
    assert economic.get("payment-terms/1").status_code == 200


def test_a_supplier_made_in_economic_names_its_group_and_terms(economic: httpx.Client) -> None:
    body = {
        "supplierNumber": 70001,
        "name": "Aarhus Pladecenter ApS",
        "currency": "DKK",
        "supplierGroup": {"supplierGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "vatZone": {"vatZoneNumber": 1},
        "email": "ordre@example.com",
    }
    assert economic.put("suppliers/70001", json=body).status_code in (200, 201)
    supplier = economic.get("suppliers/70001").json()
    assert supplier["supplierGroup"]["supplierGroupNumber"] == 1
    assert supplier["paymentTerms"]["paymentTermsNumber"] == 1
    assert economic.get(f"{GROUPS}/{supplier['supplierGroup']['supplierGroupNumber']}").status_code == 200


def test_the_wholesalers_master_data_reads_as_the_imports_need_it(
    economic_sandbox, economic: httpx.Client
) -> None:
    """`python -m sandbox economic --seed N` loads this: every reference a customer or supplier makes
    reads at the route its kind is imported from."""
    body = DATA.economic()
    loaded = httpx.post(f"{economic_sandbox.url}/_sandbox/load", json=body, timeout=60)
    assert loaded.status_code == 200, loaded.text[:300]
    for kind in ("layouts", "employees", "supplier-groups", "payment-terms", "suppliers", "customers"):
        assert body[kind], kind
    groups = {g["number"]: g for g in economic.get(GROUPS).json()["items"]}
    assert set(groups) == {g["supplierGroupNumber"] for g in body["supplier-groups"]}
    employees = {e["number"]: e for e in economic.get(EMPLOYEES).json()["items"]}
    assert set(employees) == {e["employeeNumber"] for e in body["employees"]}
    layouts = {lay["layoutNumber"] for lay in economic.get("layouts").json()["collection"]}
    terms = {t["paymentTermsNumber"] for t in economic.get("payment-terms").json()["collection"]}
    for supplier in body["suppliers"]:
        assert supplier["supplierGroup"]["supplierGroupNumber"] in groups
        assert supplier["paymentTerms"]["paymentTermsNumber"] in terms
    for customer in body["customers"]:
        assert customer["layout"]["layoutNumber"] in layouts
        assert customer["paymentTerms"]["paymentTermsNumber"] in terms
        if customer.get("salesPerson"):
            assert customer["salesPerson"]["employeeNumber"] in employees
    for number, employee in employees.items():
        legacy = next(e for e in body["employees"] if e["employeeNumber"] == number)
        assert (employee["name"], employee.get("email"), employee.get("phone")) == (
            legacy["name"],
            legacy.get("email"),
            legacy.get("phone"),
        )
