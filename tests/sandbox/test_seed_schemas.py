"""Every generated e-conomic record validates against e-conomic's published GET schema for its resource.

The schemas live in the shared reference folder: `../shared` beside the repository, or RBSYNC_SHARED_DIR.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from jsonschema import Draft3Validator, Draft202012Validator

from sandbox.seed import generate

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = Path(os.environ.get("RBSYNC_SHARED_DIR") or REPO_ROOT.parent / "shared")
SCHEMA_DIR = SHARED_DIR / "reference" / "economic-schemas"

pytestmark = pytest.mark.skipif(
    not SCHEMA_DIR.is_dir(), reason=f"e-conomic schemas not found at {SCHEMA_DIR} (set RBSYNC_SHARED_DIR)"
)

# resource -> the schema of one record as GET /<resource>/<key> answers it
ITEM_SCHEMAS = {
    "currencies": "currencies.code.get",
    "vat-zones": "vat-zones.vatZoneNumber.get",
    "accounts": "accounts.accountNumber.get",
    "vat-accounts": "vat-accounts.id.get",
    "accounting-years": "accounting-years.accountingYear.get",
    "journals": "journals.journalNumber.get",
    "layouts": "layouts.layoutNumber.get",
    "units": "units.unitNumber.get",
    "payment-terms": "payment-terms.paymentTermsNumber.get",
    "employees": "employees.employeeNumber.get",
    "customer-groups": "customer-groups.customerGroupNumber.get",
    "product-groups": "product-groups.productGroupNumber.get",
    "customers": "customers.customerNumber.get",
    "suppliers": "suppliers.supplierNumber.get",
    "products": "products.productNumber.get",
    "invoices/drafts": "invoices.drafts.draftInvoiceNumber.get",
    "invoices/booked": "invoices.booked.bookedInvoiceNumber.get",
    "orders/drafts": "orders.drafts.orderNumber.get",
    "orders/sent": "orders.sent.orderNumber.get",
}
# Kept in the OpenAPI Projects service's shape: checked against its component schemas.
OPENAPI_SCHEMAS = {"projects": "Project", "project-groups": "ProjectGroup"}
# e-conomic publishes no schema for supplier groups (reference §12.4); the shape is the sandbox's.
UNPUBLISHED = {"supplier-groups"}

_TRAILING_COMMA = re.compile(r",\s*([}\]])")
# Known typo in some published patterns: `Td{2}:d{2}:d{2}Z` lost its backslashes (reference §16).
_BROKEN_TIME_PATTERN = "Td{2}:d{2}:d{2}Z"


def load_schema(name: str) -> dict:
    text = (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
    text = _TRAILING_COMMA.sub(r"\1", text).replace(_BROKEN_TIME_PATTERN, r"T\\d{2}:\\d{2}:\\d{2}Z")
    return json.loads(text)


def openapi_validator(component: str) -> Draft202012Validator:
    spec = json.loads((SCHEMA_DIR / "openapi" / "openapi-Projects.json").read_text(encoding="utf-8"))
    schema = {**spec["components"]["schemas"][component], "components": spec["components"]}
    return Draft202012Validator(schema)


@pytest.fixture(
    scope="module", params=[(42, "small"), (7, "tiny"), (2024, "small")], ids=lambda p: f"{p[1]}-{p[0]}"
)
def economic(request) -> dict[str, list[dict]]:
    seed, size = request.param
    return generate(seed, size).economic()


def _problems(validator, records: list[dict], limit: int = 5) -> list[str]:
    found = []
    for record in records:
        for error in validator.iter_errors(record):
            found.append(f"{list(error.absolute_path)}: {error.message[:160]}")
            if len(found) >= limit:
                return found
    return found


def test_every_resource_is_checked(economic):
    assert set(economic) == set(ITEM_SCHEMAS) | set(OPENAPI_SCHEMAS) | UNPUBLISHED


@pytest.mark.parametrize("resource", sorted(ITEM_SCHEMAS))
def test_records_validate_against_the_get_schema(economic, resource):
    records = economic[resource]
    assert records, f"no {resource} generated"
    assert _problems(Draft3Validator(load_schema(ITEM_SCHEMAS[resource])), records) == []


@pytest.mark.parametrize("resource", sorted(OPENAPI_SCHEMAS))
def test_project_records_validate_against_the_projects_service(economic, resource):
    records = economic[resource]
    assert records
    assert _problems(openapi_validator(OPENAPI_SCHEMAS[resource]), records) == []


def test_the_check_catches_a_broken_record(economic):
    """Guard against a validator that accepts anything: a customer without its required group fails."""
    broken = dict(economic["customers"][0])
    del broken["customerGroup"]
    broken["currency"] = "DANISH"
    assert len(_problems(Draft3Validator(load_schema(ITEM_SCHEMAS["customers"])), [broken])) == 2
