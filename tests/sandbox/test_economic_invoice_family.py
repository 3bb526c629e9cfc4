"""The invoice family beyond drafts and booked in the e-conomic sandbox (issue 10): the ``/invoices`` index,
paid/unpaid/overdue/not-due, sent, the totals and the customer's invoices, each answer checked against
e-conomic's published schema; plus the two test knobs (the clock, a booked invoice's remainder)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.economic import EconomicSandbox, schemas
from sandbox.economic.bodies import answer_problems
from sandbox.economic.testing import CUSTOMER, PRODUCT, client, draft_invoice, serve

TODAY = "2026-03-10"
YEAR = {"year": "2026", "fromDate": "2026-01-01", "toDate": "2026-12-31"}

needs_schemas = pytest.mark.skipif(
    not schemas.schemas_available(),
    reason=f"e-conomic's schema folder is absent ({schemas.schema_dir()}); set RBSYNC_SHARED_DIR",
)


def _draft(customer: int, day: str, **extra: Any) -> dict[str, Any]:
    """2 x 100 DKK at 25 % VAT: net 200, gross 250; net 8 days, so due 8 days after ``day``."""
    return draft_invoice(customer, "P-1", date=day, **extra)


@pytest.fixture(scope="module")
def family() -> Iterator[tuple[EconomicSandbox, str]]:
    """Booked invoices 1-4 (today is 2026-03-10):

    | n | date       | due        | sent by | currency | remainder   | so                        |
    | 1 | 2026-02-20 | 2026-02-28 | EAN     | DKK      | 250 (all)   | unpaid, overdue           |
    | 2 | 2026-02-25 | 2026-03-05 | Email   | DKK      | 0           | paid                      |
    | 3 | 2026-03-02 | 2026-03-10 | none    | DKK      | 100 of 250  | unpaid, not due (today)   |
    | 4 | 2026-03-05 | 2026-03-13 | -       | EUR      | 0           | paid, not due             |

    Drafts left: customer 1 on 2026-03-03 (sales person 1), customer 1 on 2026-05-02, customer 2 on
    2025-12-30 (outside the accounting year 2026)."""
    with serve() as (sandbox, base), client(base) as http:
        sandbox.load({"accounting-years": [YEAR]})
        assert http.post("customers", json=CUSTOMER).status_code == 201
        assert http.post("customers", json={**CUSTOMER, "name": "Second"}).status_code == 201
        assert http.post("products", json=PRODUCT).status_code == 201
        assert http.put(f"{base}_sandbox/clock", json={"today": TODAY}).status_code == 200
        bookings = [
            ("2026-02-20", {}, "EAN"),
            ("2026-02-25", {}, "Email"),
            ("2026-03-02", {}, "none"),
            ("2026-03-05", {"currency": "EUR"}, None),
        ]
        for number, (day, extra, send_by) in enumerate(bookings, start=1):
            created = http.post("invoices/drafts", json=_draft(1, day, **extra))
            assert created.status_code == 201, created.text
            body: dict[str, Any] = {
                "draftInvoice": {"draftInvoiceNumber": created.json()["draftInvoiceNumber"]}
            }
            if send_by:
                body["sendBy"] = send_by
            booked = http.post("invoices/booked", json=body)
            assert booked.status_code == 201 and booked.json()["bookedInvoiceNumber"] == number, booked.text
        for number, remainder in ((2, 0), (3, 100), (4, 0)):
            answer = http.put(
                f"{base}_sandbox/invoices/booked/{number}/remainder", json={"remainder": remainder}
            )
            assert answer.status_code == 200, answer.text
        sales_person = {"references": {"salesPerson": {"employeeNumber": 1}}}
        for customer, day, extra in (
            (1, "2026-03-03", sales_person),
            (1, "2026-05-02", {}),
            (2, "2025-12-30", {}),
        ):
            assert http.post("invoices/drafts", json=_draft(customer, day, **extra)).status_code == 201
        yield sandbox, base


@pytest.fixture
def http(family: tuple[EconomicSandbox, str]) -> Iterator[httpx.Client]:
    with client(family[1]) as session:  # tests that move the clock or a remainder put it back
        yield session


def numbers(http: httpx.Client, path: str, **params: Any) -> list[int]:
    answer = http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return [item["bookedInvoiceNumber"] for item in answer.json()["collection"]]


# ------------------------------------------------------------------------------------------ every answer

ANSWERS: list[tuple[str, str]] = [
    ("invoices", "invoices.get"),
    ("invoices/paid", "invoices.paid.get"),
    ("invoices/unpaid", "invoices.unpaid.get"),
    ("invoices/overdue", "invoices.overdue.get"),
    ("invoices/not-due", "invoices.not-due.get"),
    ("invoices/sent", "invoices.sent.get"),
    ("invoices/sent/1", "invoices.sent.id.get"),
    ("invoices/sent/2", "invoices.sent.id.get"),
    ("invoices/booked/1/sent", "invoices.sent.get"),
    ("invoices/totals", "invoices.totals.get"),
    ("invoices/totals/booked", "invoices.totals.booked.get"),
    ("invoices/totals/booked/paid", "invoices.totals.booked.paid.get"),
    ("invoices/totals/booked/unpaid", "invoices.totals.booked.unpaid.get"),
    ("invoices/totals/booked/unpaid/overdue", "invoices.totals.booked.unpaid.overdue.get"),
    ("invoices/totals/booked/unpaid/not-overdue", "invoices.totals.booked.unpaid.not-overdue.get"),
    ("invoices/totals/drafts", "invoices.totals.drafts.get"),
    ("invoices/totals/drafts/customers", "invoices.totals.drafts.customers.get"),
    ("invoices/totals/drafts/customers/1", "invoices.totals.drafts.customers.customerNumber.get"),
    (
        "invoices/totals/drafts/customers/1/accounting-years/2026",
        "invoices.totals.drafts.customers.customerNumber.accounting-years.accountingYear.get",
    ),
    (
        "invoices/totals/drafts/customers/1/periods/3",
        "invoices.totals.drafts.customers.customerNumber.periods.accountingPeriod.get",
    ),
    ("invoices/totals/drafts/employees", "invoices.totals.drafts.employees.get"),
    ("invoices/totals/drafts/employees/1", "invoices.totals.drafts.employees.employeeNumber.get"),
    (
        "invoices/totals/drafts/employees/1/accounting-years/2026",
        "invoices.totals.drafts.employees.employeeNumber.accounting-years.accountingYear.get",
    ),
    (
        "invoices/totals/drafts/employees/1/periods/3",
        "invoices.totals.drafts.employees.employeeNumber.periods.accountingPeriod.get",
    ),
    ("customers/1/invoices", "customers.customerNumber.invoices.get"),
    ("customers/1/invoices/drafts", "customers.customerNumber.invoices.drafts.get"),
    ("customers/1/invoices/booked", "customers.customerNumber.invoices.booked.get"),
]


@needs_schemas
@pytest.mark.parametrize(("path", "schema_name"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_every_answer_matches_its_published_schema(http: httpx.Client, path: str, schema_name: str) -> None:
    answer = http.get(path)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    if "collection" in body:
        assert body["collection"], f"{path} is empty, so its items were not checked"
    assert answer_problems(schema_name, body) == []


@needs_schemas
def test_every_link_in_the_family_leads_to_an_answer(http: httpx.Client) -> None:
    """No link the new answers give ends in a 404 (links to unpublished sub-resources are left out). The
    draft documents' own PDF and template links (``pdf.download``, ``templates``) belong to the drafts, not
    to this family, and are not followed."""
    seen: set[str] = set()
    queue = [http.get(path).json() for path, _ in ANSWERS]
    while queue:
        node = queue.pop()
        values = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in values:
            if key in ("download", "templates"):
                continue
            if isinstance(value, dict | list):
                queue.append(value)
            elif isinstance(value, str) and value.startswith(str(http.base_url)) and value not in seen:
                seen.add(value)
                answer = http.get(value)
                assert answer.status_code == 200, (value, answer.text)
    assert len(seen) > 40


# ------------------------------------------------------------------------------------------ the views


def test_views_divide_booked_invoices_by_remainder_and_due_date(http: httpx.Client) -> None:
    assert numbers(http, "invoices/booked") == [1, 2, 3, 4]
    assert numbers(http, "invoices/paid") == [2, 4]
    assert numbers(http, "invoices/unpaid") == [1, 3]
    assert numbers(http, "invoices/overdue") == [1]  # 3 is due today: not overdue yet
    assert numbers(http, "invoices/not-due") == [3, 4]  # due today counts as not due
    listed = http.get("invoices/unpaid").json()["collection"]
    assert [item["remainder"] for item in listed] == [250.0, 100.0]
    assert all("lines" not in item for item in listed)


def test_the_views_follow_the_sandbox_clock(family: tuple[EconomicSandbox, str], http: httpx.Client) -> None:
    base = family[1]
    try:
        assert http.put(f"{base}_sandbox/clock", json={"today": "2026-03-11"}).json() == {
            "today": "2026-03-11",
            "fixed": True,
        }
        assert numbers(http, "invoices/overdue") == [1, 3]
        assert numbers(http, "invoices/not-due") == [4]
        assert http.put(f"{base}_sandbox/clock", json={"today": "2026-02-01"}).status_code == 200
        assert numbers(http, "invoices/overdue") == []
        assert numbers(http, "invoices/not-due") == [1, 2, 3, 4]
        assert http.put(f"{base}_sandbox/clock", json={"today": "March"}).status_code == 422
    finally:
        http.put(f"{base}_sandbox/clock", json={"today": TODAY})


def test_views_page_filter_and_sort_like_every_collection(http: httpx.Client) -> None:
    first = http.get("invoices/not-due", params={"pagesize": 1}).json()
    pagination = first["pagination"]
    assert [item["bookedInvoiceNumber"] for item in first["collection"]] == [3]
    assert pagination["results"] == 2 and pagination["resultsWithoutFilter"] == 2
    assert pagination["nextPage"].endswith("/invoices/not-due?skippages=1&pagesize=1")
    assert first["self"].endswith("/invoices/not-due?skippages=0&pagesize=1")
    last = http.get(pagination["nextPage"]).json()
    assert [item["bookedInvoiceNumber"] for item in last["collection"]] == [4] and "nextPage" not in last[
        "pagination"
    ]
    filtered = http.get("invoices/paid", params={"filter": "currency$eq:eur"}).json()
    assert [item["bookedInvoiceNumber"] for item in filtered["collection"]] == [4]
    assert filtered["pagination"]["results"] == 1 and filtered["pagination"]["resultsWithoutFilter"] == 2
    assert numbers(http, "invoices/paid", sort="-bookedInvoiceNumber") == [4, 2]
    assert numbers(http, "invoices/unpaid", filter="date$gte:2026-03-01") == [3]
    refused = http.get("invoices/paid", params={"filter": "exchangeRate$gt:1"})  # flagged on booked only
    assert refused.status_code == 400
    assert "bookedInvoiceNumber" in refused.json()["allowedFilteringFields"]
    assert http.get("invoices/overdue", params={"sort": "remainder"}).status_code == 400
    too_big = http.get("invoices/unpaid", params={"pagesize": 1001})
    assert too_big.status_code == 400 and too_big.json()["errorCode"] == "E04810"


def test_the_family_is_read_only_authenticated_and_metered(family: tuple[EconomicSandbox, str]) -> None:
    base = family[1]
    with client(base) as http:
        for path in ("invoices", "invoices/paid", "invoices/sent", "invoices/totals", "customers/1/invoices"):
            refused = http.post(path, json={})
            assert refused.status_code == 405, (path, refused.text)
            assert refused.json()["httpStatusCode"] == 405
        answer = http.get("invoices/overdue")
        assert answer.headers["X-RateLimiting"].startswith("token-limit-")
        for path in ("invoices/paid/1", "invoices/totals/nothing", "invoices/totals/booked/unpaid/late"):
            missing = http.get(path)
            assert missing.status_code == 404 and missing.json()["errorCode"] == "E06000", path
    with httpx.Client(base_url=base) as anonymous:
        assert anonymous.get("invoices/unpaid").status_code == 401
        assert anonymous.get("invoices/totals").status_code == 401


# ------------------------------------------------------------------------------------------ sent


def test_invoices_booked_with_a_send_by_are_sent(http: httpx.Client) -> None:
    sent = http.get("invoices/sent").json()
    assert [(item["id"], item["invoice"]["bookedInvoiceNumber"]) for item in sent["collection"]] == [
        (1, 1),
        (2, 2),
    ]
    ean, email = sent["collection"]
    assert ean["sendBy"] == "ean" and "sendBy" not in email  # the schema's channels are mobilePay and ean
    assert ean["creationDate"] == TODAY and ean["recipient"] == {"name": "Nordic Bikes ApS"}
    assert http.get(ean["invoice"]["self"]).json()["bookedInvoiceNumber"] == 1
    assert http.get("invoices/sent/2").json() == email
    assert http.get("invoices/sent/9").status_code == 404
    assert http.get("invoices/sent", params={"filter": "id$eq:1"}).status_code == 400  # nothing is flagged


# ------------------------------------------------------------------------------------------ totals


def test_booked_totals_sum_net_amounts_in_base_currency(http: httpx.Client) -> None:
    # 1-3: net 200 DKK each; 4: net 200 EUR = 1492 DKK. Remainders 250, 0, 100, 0 (all DKK).
    booked = http.get("invoices/totals/booked").json()
    assert booked["netAmountInBaseCurrency"] == 2092.0 and booked["invoiceCount"] == 4
    assert (booked["minDate"], booked["maxDate"]) == ("2026-02-20", "2026-03-05")
    paid = http.get("invoices/totals/booked/paid").json()
    assert (paid["netAmountInBaseCurrency"], paid["invoiceCount"]) == (1692.0, 2)
    unpaid = http.get("invoices/totals/booked/unpaid").json()
    assert (unpaid["netAmountInBaseCurrency"], unpaid["invoiceCount"]) == (400.0, 2)
    assert unpaid["grossRemainderInBaseCurrency"] == 350.0
    overdue = http.get("invoices/totals/booked/unpaid/overdue").json()
    assert (overdue["invoiceCount"], overdue["grossRemainderInBaseCurrency"]) == (1, 250.0)
    not_overdue = http.get("invoices/totals/booked/unpaid/not-overdue").json()
    assert (not_overdue["invoiceCount"], not_overdue["grossRemainderInBaseCurrency"]) == (1, 100.0)
    summary = http.get("invoices/totals").json()
    assert summary["booked"]["invoiceCount"] == 4 and summary["booked"]["paid"]["invoiceCount"] == 2
    assert summary["booked"]["unpaid"]["overdue"]["grossRemainderInBaseCurrency"] == 250.0
    assert summary["booked"]["unpaid"]["notOverdue"]["invoiceCount"] == 1
    assert summary["drafts"] == {
        "netAmountInBaseCurrency": 600.0,
        "invoiceCount": 3,
        "description": "All draft invoices.",
        "self": summary["drafts"]["self"],
    }


def test_draft_totals_by_customer_employee_year_and_period(http: httpx.Client) -> None:
    drafts = http.get("invoices/totals/drafts").json()
    assert (drafts["invoiceCount"], drafts["minDate"], drafts["maxDate"]) == (3, "2025-12-30", "2026-05-02")
    by_customer = http.get("invoices/totals/drafts/customers").json()["customers"]
    assert [(c["customer"]["customerNumber"], c["invoiceCount"]) for c in by_customer] == [(1, 2), (2, 1)]
    one = http.get("invoices/totals/drafts/customers/1").json()
    assert (one["netAmountInBaseCurrency"], one["customer"]["customerNumber"]) == (400.0, 1)
    second_in_2026 = http.get("invoices/totals/drafts/customers/2/accounting-years/2026").json()
    assert second_in_2026["invoiceCount"] == 0 and second_in_2026["accountingYear"]["year"] == "2026"
    march = http.get("invoices/totals/drafts/customers/1/periods/3").json()  # today's year, 3rd month
    assert (march["invoiceCount"], march["period"]) == (1, {"periodNumber": 3})
    assert http.get("invoices/totals/drafts/customers/1/periods/5").json()["invoiceCount"] == 1
    employees = http.get("invoices/totals/drafts/employees").json()["employees"]
    assert [(e["employee"]["employeeNumber"], e["invoiceCount"]) for e in employees] == [(1, 1)]
    assert http.get("invoices/totals/drafts/employees/1/accounting-years/2026").json()["invoiceCount"] == 1
    for missing in (
        "invoices/totals/drafts/customers/99",
        "invoices/totals/drafts/employees/99",
        "invoices/totals/drafts/customers/1/accounting-years/1999",  # an unknown year, as /accounting-years
        "invoices/totals/drafts/customers/1/periods/13",
        "invoices/totals/drafts/customers/1/periods/x",
    ):
        answer = http.get(missing)
        assert answer.status_code == 404 and answer.json()["errorCode"] == "E06000", missing


# ------------------------------------------------------------------------------------------ customers


def test_a_customers_invoices(http: httpx.Client) -> None:
    index = http.get("customers/1/invoices").json()
    assert index["booked"].endswith("/customers/1/invoices/booked")
    assert numbers(http, "customers/1/invoices/booked") == [1, 2, 3, 4]
    assert numbers(http, "customers/2/invoices/booked") == []
    drafts = http.get("customers/2/invoices/drafts").json()
    assert [d["date"] for d in drafts["collection"]] == ["2025-12-30"]
    assert drafts["self"].endswith("/customers/2/invoices/drafts?skippages=0&pagesize=20")
    assert numbers(http, "customers/1/invoices/booked", filter="bookedInvoiceNumber$gt:2") == [3, 4]
    # The customer's booked list flags recipient.vatZone.vatZoneNumber neither filterable nor sortable.
    assert (
        http.get(
            "customers/1/invoices/booked", params={"sort": "recipient.vatZone.vatZoneNumber"}
        ).status_code
        == 400
    )
    assert http.get("customers/99/invoices").status_code == 404
    assert http.get("customers/1/invoices/archived").status_code == 404


# ------------------------------------------------------------------------------------------ knobs


def test_the_remainder_knob(family: tuple[EconomicSandbox, str], http: httpx.Client) -> None:
    base = family[1]
    knob = f"{base}_sandbox/invoices/booked"
    try:
        answer = http.put(f"{knob}/4/remainder", json={"remainder": 50})  # EUR at 746
        assert answer.json() == {
            "bookedInvoiceNumber": 4,
            "remainder": 50.0,
            "remainderInBaseCurrency": 373.0,
        }
        assert http.get("invoices/booked/4").json()["remainderInBaseCurrency"] == 373.0
        assert numbers(http, "invoices/unpaid") == [1, 3, 4]
        given = http.put(f"{knob}/4/remainder", json={"remainder": 50, "remainderInBaseCurrency": 370.5})
        assert given.json()["remainderInBaseCurrency"] == 370.5
        assert http.put(f"{knob}/9/remainder", json={"remainder": 0}).status_code == 404
        for bad in ({}, {"remainder": "0"}, {"remainder": 1.234}, {"remainder": True}, []):
            assert http.put(f"{knob}/4/remainder", json=bad).status_code == 422, bad
    finally:
        assert http.put(f"{knob}/4/remainder", json={"remainder": 0}).status_code == 200
    assert numbers(http, "invoices/unpaid") == [1, 3]


def test_a_loaded_booked_invoice_without_a_remainder_is_unpaid(family: tuple[EconomicSandbox, str]) -> None:
    sandbox = family[0]
    booked = sandbox.dump("invoices.booked")[0]
    loaded = {k: v for k, v in booked.items() if k not in ("remainder", "remainderInBaseCurrency")}
    with serve() as (other, other_base), client(other_base) as http:
        other.load({"customers": sandbox.dump("customers"), "invoices.booked": [loaded]})
        assert http.get("invoices/booked/1").json()["remainder"] == 250.0
        assert numbers(http, "invoices/unpaid") == [1]


def test_a_reset_lets_the_clock_follow_the_machine_date() -> None:
    with serve() as (sandbox, base), client(base) as http:
        assert http.put(f"{base}_sandbox/clock", json={"today": "2030-01-01"}).json()["fixed"] is True
        assert http.get("customers/1/templates/invoice").status_code == 404  # no customer: nothing to date
        sandbox.reset()
        assert http.get(f"{base}_sandbox/clock").json()["fixed"] is False
        assert http.put(f"{base}_sandbox/clock", json={"today": None}).json()["fixed"] is False
