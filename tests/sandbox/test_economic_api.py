"""The e-conomic sandbox's legacy REST behaviour over real HTTP: auth, collections, writes, idempotency, rate
limit, webhooks, the request log and the admin routes."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.common.server import ServerThread
from sandbox.economic import EconomicSandbox
from sandbox.economic.testing import CUSTOMER, PRODUCT, SUPPLIER, auth_headers, client, logged_requests, serve

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def sandbox(server: tuple[EconomicSandbox, str]) -> EconomicSandbox:
    server[0].reset()
    return server[0]


@pytest.fixture
def http(server: tuple[EconomicSandbox, str], sandbox: EconomicSandbox) -> Iterator[httpx.Client]:
    with client(server[1]) as session:
        yield session


# ------------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-AppSecretToken": "test-app-secret"},
        {"X-AgreementGrantToken": "test-grant"},
        auth_headers(grant="wrong"),
        auth_headers(app_secret="wrong"),
    ],
    ids=["none", "secret-only", "grant-only", "wrong-grant", "wrong-secret"],
)
def test_both_tokens_are_required(server: tuple[EconomicSandbox, str], headers: dict[str, str]) -> None:
    answer = httpx.get(server[1] + "customers", headers=headers)
    assert answer.status_code == 401
    body = answer.json()
    assert body["httpStatusCode"] == 401 and body["logId"] and body["message"]
    assert "test-app-secret" not in answer.text and "test-grant" not in answer.text
    assert "X-RateLimiting" in answer.headers


def test_openapi_auth_failure_is_problem_json(server: tuple[EconomicSandbox, str]) -> None:
    answer = httpx.get(server[1] + "suppliersapi/v2.0.0/Groups")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 401


def test_demo_tokens_read_but_cannot_write(server: tuple[EconomicSandbox, str]) -> None:
    demo = {"X-AppSecretToken": "demo", "X-AgreementGrantToken": "demo"}
    assert httpx.get(server[1] + "vat-zones", headers=demo).status_code == 200
    refused = httpx.post(server[1] + "customers", headers=demo, json=CUSTOMER)
    assert refused.status_code == 403 and refused.json()["httpStatusCode"] == 403


# ------------------------------------------------------------------------------------------------ collections


def test_fresh_agreement_has_the_basics(http: httpx.Client) -> None:
    zones = {z["vatZoneNumber"]: z["name"] for z in http.get("vat-zones").json()["collection"]}
    assert zones == {1: "Domestic", 2: "EU", 3: "Abroad", 4: "Domestic exempt"}
    codes = {c["code"] for c in http.get("currencies").json()["collection"]}
    assert codes == {"DKK", "EUR", "NOK", "SEK", "USD", "GBP"}
    journals = http.get("journals").json()["collection"]
    assert any("entryTypeRestrictedTo" not in j["settings"] for j in journals)
    assert any(j["settings"].get("entryTypeRestrictedTo") == "supplierInvoice" for j in journals)
    for path in (
        "layouts",
        "accounts",
        "units",
        "payment-terms",
        "product-groups",
        "customer-groups",
        "accounting-years",
        "employees",
        "supplier-groups",
    ):
        assert http.get(path).json()["pagination"]["results"] >= 1, path


def test_paging_envelope_and_links(http: httpx.Client, sandbox: EconomicSandbox, server: Any) -> None:
    sandbox.load({"customers": [{**CUSTOMER, "customerNumber": n, "name": f"C{n:02}"} for n in range(1, 6)]})
    first = http.get("customers", params={"pagesize": 2}).json()
    page = first["pagination"]
    assert page["results"] == 5 and page["resultsWithoutFilter"] == 5 and page["maxPageSizeAllowed"] == 1000
    assert page["skipPages"] == 0 and page["pageSize"] == 2
    assert page["lastPage"].endswith("skippages=2&pagesize=2")
    assert page["firstPage"].startswith(server[1])
    seen = [c["customerNumber"] for c in first["collection"]]
    following = page["nextPage"]
    while following:
        body = http.get(following).json()
        seen += [c["customerNumber"] for c in body["collection"]]
        following = body["pagination"].get("nextPage")
    assert seen == [1, 2, 3, 4, 5]
    beyond = http.get("customers", params={"pagesize": 2, "skippages": 7}).json()
    assert beyond["collection"] == [] and beyond["pagination"]["results"] == 5
    filtered = http.get("customers", params={"filter": "name$like:C0*$and:customerNumber$gt:3"}).json()
    assert [c["customerNumber"] for c in filtered["collection"]] == [4, 5]
    assert filtered["pagination"]["results"] == 2 and filtered["pagination"]["resultsWithoutFilter"] == 5
    assert "filter=name%24like%3AC0%2A%24and%3AcustomerNumber%24gt%3A3" in filtered["self"]
    ordered = http.get("customers", params={"sort": "-name"}).json()["collection"]
    assert [c["customerNumber"] for c in ordered] == [5, 4, 3, 2, 1]


@pytest.mark.parametrize("size", ["0", "1001", "x", "-1"])
def test_pagesize_outside_1_to_1000_is_refused(http: httpx.Client, size: str) -> None:
    answer = http.get("customers", params={"pagesize": size})
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "E04810"


def test_filter_and_sort_errors(http: httpx.Client) -> None:
    bad = http.get("customers", params={"filter": "bogusProp$eq:1"})
    assert bad.status_code == 400
    body = bad.json()
    assert body["message"] == "Could not parse query string filter."
    assert body["errors"] == ["Filtering is not allowed on property 'bogusProp'."]
    assert "pNumber" in body["allowedFilteringFields"] and "lastUpdated" in body["allowedFilteringFields"]
    groups = http.get("customer-groups", params={"filter": "account.accountNumber$eq:5800"}).json()
    assert sorted(groups["allowedFilteringFields"]) == ["customerGroupNumber", "name"]
    unsortable = http.get("invoices/drafts", params={"sort": "lastUpdated"})
    assert unsortable.status_code == 400
    assert unsortable.json()["message"] == "Could not parse query string sort parameter"
    assert http.get("customers", params={"sort": "lastUpdated"}).status_code == 200
    assert http.get("suppliers", params={"sort": "supplierNumber"}).status_code == 200


# ------------------------------------------------------------------------------------------------ writes


def test_post_get_put_delete_cycle(http: httpx.Client, server: Any) -> None:
    created = http.post("customers", json={**CUSTOMER, "email": "a@b.dk", "balance": 999.99})
    assert created.status_code == 201
    customer = created.json()
    assert customer["customerNumber"] == 1
    assert customer["balance"] == 0.0  # read-only: the 999.99 sent is ignored
    assert created.headers["Location"] == customer["self"] == server[1] + "customers/1"
    assert customer["customerGroup"] == {"customerGroupNumber": 1, "self": server[1] + "customer-groups/1"}
    assert TIMESTAMP.match(customer["lastUpdated"])
    assert http.get("customers/1").json() == customer
    replaced = http.put("customers/1", json={**CUSTOMER, "name": "Renamed"})
    assert replaced.status_code == 200
    assert (
        replaced.json()["name"] == "Renamed" and "email" not in replaced.json()
    )  # omitted fields are cleared
    upsert = http.put("customers/77", json=CUSTOMER)
    assert upsert.status_code == 201 and upsert.json()["customerNumber"] == 77
    assert http.delete("customers/1").status_code == 204
    second = http.delete("customers/1")
    assert second.status_code == 404 and second.json()["errorCode"] == "E06000"
    # numbers are max+1, so a freed top number is reused
    assert http.delete("customers/77").status_code == 204
    assert http.post("customers", json=CUSTOMER).json()["customerNumber"] == 1


def test_a_supplied_number_is_honoured_and_a_duplicate_refused(http: httpx.Client) -> None:
    assert http.post("customers", json={**CUSTOMER, "customerNumber": 500}).json()["customerNumber"] == 500
    duplicate = http.post("customers", json={**CUSTOMER, "customerNumber": 500})
    assert duplicate.status_code == 400 and "customerNumber" in duplicate.json()["errors"]


def test_product_numbers_with_special_characters_are_encoded(http: httpx.Client, server: Any) -> None:
    number = "Bell 5%_A/B.c"
    created = http.post("products", json={**PRODUCT, "productNumber": number}).json()
    assert created["self"] == server[1] + "products/Bell_9_5_3__8_A_6_B_11_c"
    assert http.get(created["self"]).json()["productNumber"] == number
    assert (
        http.put(created["self"], json={**PRODUCT, "productNumber": number, "name": "New"}).status_code == 200
    )
    assert http.delete(created["self"]).status_code == 204


def test_only_json_bodies_are_accepted(http: httpx.Client) -> None:
    answer = http.post(
        "customers", content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 415
    broken = http.post("customers", content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_nulls_zero_ids_and_unknown_references_are_refused(http: httpx.Client) -> None:
    nulls = http.post("customers", json={**CUSTOMER, "email": None})
    assert nulls.status_code == 400 and "email" in nulls.json()["errors"]
    zero = http.post("customers", json={**CUSTOMER, "customerGroup": {"customerGroupNumber": 0}})
    assert zero.status_code == 400
    assert zero.json()["errors"]["customerGroup"]["customerGroupNumber"]["errors"][0]["message"].startswith(
        "Integer 0 is less than minimum value of 1"
    )
    for body, field in (
        ({**CUSTOMER, "customerGroup": {"customerGroupNumber": 99}}, "customerGroup"),
        ({**CUSTOMER, "paymentTerms": {"paymentTermsNumber": 99}}, "paymentTerms"),
        ({**CUSTOMER, "currency": "ZUL"}, "currency"),
    ):
        answer = http.post("customers", json=body)
        assert answer.status_code == 400
        assert answer.json()["errors"][field]["errors"][0]["errorCode"] == "E06000", answer.text
    no_id = http.post("products", json={**PRODUCT, "productGroup": {"name": "x"}})
    assert no_id.json()["errors"]["productGroup"]["errors"][0]["errorCode"] == "E04500"
    missing_group = http.post("products", json={**PRODUCT, "productGroup": {"productGroupNumber": 42}})
    assert missing_group.status_code == 400
    missing_product_number = http.post(
        "products", json={k: v for k, v in PRODUCT.items() if k != "productNumber"}
    )
    assert missing_product_number.status_code == 400


def test_references_by_self_link_are_accepted(http: httpx.Client, server: Any) -> None:
    body = {**CUSTOMER, "customerGroup": {"self": server[1] + "customer-groups/1"}}
    answer = http.post("customers", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["customerGroup"]["customerGroupNumber"] == 1


def test_error_bodies_have_e_conomics_shape(http: httpx.Client) -> None:
    body = http.post("customers", json={"name": "x" * 300}).json()
    assert set(body) >= {"message", "developerHint", "logId", "httpStatusCode", "errors"}
    assert body["httpStatusCode"] == 400
    assert body["errors"]["name"]["errors"][0]["errorCode"] == "E04200"
    assert body["errors"]["currency"]["errors"][0]["errorCode"] == "E04042"


def test_payment_terms_type_cannot_change_and_verbs_are_checked(http: httpx.Client) -> None:
    created = http.post(
        "payment-terms", json={"name": "Net 30", "paymentTermsType": "net", "daysOfCredit": 30}
    )
    assert created.status_code == 201
    number = created.json()["paymentTermsNumber"]
    changed = http.put(
        f"payment-terms/{number}", json={"name": "Net 30", "paymentTermsType": "prepaid", "daysOfCredit": 30}
    )
    assert (
        changed.status_code == 400
        and changed.json()["errors"]["paymentTermsType"]["errors"][0]["errorCode"] == "E06151"
    )
    assert http.put("customers", json=CUSTOMER).status_code == 405
    assert http.post("layouts", json={"name": "x"}).status_code == 405
    assert http.get("no-such-thing").status_code == 404


def test_suppliers_units_and_groups_are_writable(http: httpx.Client) -> None:
    supplier = http.post("suppliers", json=SUPPLIER)
    assert supplier.status_code == 201 and supplier.json()["layout"]["layoutNumber"] == 19
    assert "lastUpdated" not in supplier.json()
    unit = http.post("units", json={"name": "pallet"}).json()
    assert unit["unitNumber"] == 4 and unit["products"].endswith("units/4/products")
    group = http.post(
        "customer-groups",
        json={"customerGroupNumber": 2, "name": "Export", "account": {"accountNumber": 5800}},
    )
    assert group.status_code == 201
    assert (
        http.post("customers", json={**CUSTOMER, "customerGroup": {"customerGroupNumber": 2}}).status_code
        == 201
    )
    members = http.get("customer-groups/2/customers").json()["collection"]
    assert [m["customerGroup"]["customerGroupNumber"] for m in members] == [2]


# ------------------------------------------------------------------------------------------------ idempotency


def test_idempotency_key_replays_the_first_answer(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "create-customer-1"}
    first = http.post("customers", json=CUSTOMER, headers=headers)
    again = http.post("customers", json=CUSTOMER, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["X-ResultFromCache"] == "true" and "X-ResultFromCache" not in first.headers
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert http.get("customers").json()["pagination"]["results"] == 1
    deleted = http.delete("customers/1", headers={"Idempotency-Key": "del-1"})
    repeated = http.delete("customers/1", headers={"Idempotency-Key": "del-1"})
    assert deleted.status_code == repeated.status_code == 204
    assert repeated.headers["X-ResultFromCache"] == "true"


def test_idempotency_key_is_not_allowed_on_get(http: httpx.Client) -> None:
    answer = http.get("customers", headers={"Idempotency-Key": "k"})
    assert answer.status_code == 400


# ------------------------------------------------------------------------------------------------ rate limit


def test_every_answer_carries_the_rate_headers(http: httpx.Client) -> None:
    answer = http.get("customers")
    assert answer.headers["X-CallCost"] == "1"
    assert re.fullmatch(r"token-limit-10000-per-60-seconds: \d+/10000", answer.headers["X-RateLimiting"])


def test_each_call_uses_one_token_failures_included() -> None:
    # A window this long refills nothing between the calls, so the count is exact.
    with serve(bucket_size=100, bucket_window_seconds=10**7) as (_, base), client(base) as http:
        answers = [
            http.get("customers"),
            http.post("customers", json={"bad": True}),
            http.get("nothing-here"),
        ]
    assert [a.status_code for a in answers] == [200, 400, 404]
    assert [a.headers["X-RateLimiting"] for a in answers] == [
        "token-limit-100-per-10000000-seconds: 1/100",
        "token-limit-100-per-10000000-seconds: 2/100",
        "token-limit-100-per-10000000-seconds: 3/100",
    ]


def test_an_empty_bucket_answers_429_with_retry_after() -> None:
    with serve(bucket_size=3, bucket_window_seconds=3600) as (_, base), client(base) as http:
        answers = [http.get("vat-zones") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimiting"] == "token-limit-3-per-3600-seconds: 3/3"
    assert limited.json()["httpStatusCode"] == 429


# ------------------------------------------------------------------------------------------------ webhooks


class Receiver:
    """A loopback HTTP server that records what the sandbox's webhooks post."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.arrived = threading.Condition()

        async def hook(request: Request) -> Response:
            body = (await request.body()).decode()
            with self.arrived:
                self.calls.append(
                    {
                        "path": request.url.path,
                        "body": body,
                        "content_type": request.headers.get("content-type"),
                    }
                )
                self.arrived.notify_all()
            return Response(status_code=204)

        self.server = ServerThread(Starlette(routes=[Route("/{name}", hook, methods=["POST"])]))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)


def test_webhooks_fire_after_matching_writes() -> None:
    receiver = Receiver()
    with receiver.server:
        hooks = {
            "customer": receiver.server.url + "/customer",
            "product": receiver.server.url + "/product",
            "invoice": {"url": receiver.server.url + "/invoice", "postData": "no=[INVOICENO]"},
        }
        with serve(webhook_urls=hooks) as (sandbox, base), client(base) as http:
            assert http.post("customers", json=CUSTOMER).status_code == 201
            assert http.put("customers/1", json=CUSTOMER).status_code == 200
            assert http.post("products", json={**PRODUCT, "productNumber": "A B"}).status_code == 201
            assert http.post("suppliers", json=SUPPLIER).status_code == 201  # no subscription: no call
            draft = {
                "date": "2026-03-02",
                "currency": "DKK",
                "customer": {"customerNumber": 1},
                "layout": {"layoutNumber": 19},
                "paymentTerms": {"paymentTermsNumber": 1},
                "recipient": {"name": "x", "vatZone": {"vatZoneNumber": 1}},
            }
            assert http.post("invoices/drafts", json=draft).status_code == 201
            assert (
                http.post("invoices/booked", json={"draftInvoice": {"draftInvoiceNumber": 1}}).status_code
                == 201
            )
            assert http.delete("products/A_9_B").status_code == 204
            calls = receiver.wait_for(5)
            assert sandbox.webhooks.wait_idle()
            status = http.get("_sandbox/webhooks").json()
    assert [(c["path"], c["body"]) for c in calls] == [
        ("/customer", "old=&new=1"),
        ("/customer", "old=1&new=1"),
        ("/product", "old=&new=A%20B"),
        ("/invoice", "no=1"),
        ("/product", "old=A%20B&new="),
    ]
    assert calls[0]["content_type"] == "application/x-www-form-urlencoded"
    assert len(status["deliveries"]) == 5 and all(d["status"] == 204 for d in status["deliveries"])
    assert status["subscriptions"]["invoice"]["postData"] == "no=[INVOICENO]"


def test_webhook_subscriptions_can_be_changed_at_runtime(http: httpx.Client) -> None:
    changed = http.put("_sandbox/webhooks", json={"order": "http://127.0.0.1:9/orders"})
    assert changed.status_code == 200
    assert changed.json()["subscriptions"]["order"]["postData"] == "old=[OLDNUMBER]&new=[NEWNUMBER]"
    assert http.put("_sandbox/webhooks", json={"bogus": "http://x"}).status_code == 422
    assert http.put("_sandbox/webhooks", json={}).json()["subscriptions"] == {}


# ------------------------------------------------------------------------------------------------ log & admin


def test_request_log_keeps_write_bodies_without_tokens(http: httpx.Client, sandbox: EconomicSandbox) -> None:
    http.post("customers", json=CUSTOMER)
    http.put("customers/1", json={**CUSTOMER, "name": "B"})
    http.get("customers")
    writes = [entry for entry in logged_requests(sandbox, 3) if entry["method"] in ("POST", "PUT")]
    assert [(w["method"], w["path"], w["body"]["name"]) for w in writes] == [
        ("POST", "/customers", CUSTOMER["name"]),
        ("PUT", "/customers/1", "B"),
    ]
    admin = http.get("_sandbox/requests").json()["requests"]
    assert len(admin) == 3
    assert "test-grant" not in repr(admin) and "test-app-secret" not in repr(admin)


def test_admin_load_counts_dump_and_reset(http: httpx.Client) -> None:
    loaded = http.post(
        "_sandbox/load",
        json={
            "customers": [{**CUSTOMER, "customerNumber": 9}],
            "products": [{**PRODUCT, "lastUpdated": "2020-01-01T00:00:00Z"}],
        },
    )
    assert loaded.status_code == 200
    assert loaded.json()["counts"]["customers"] == 1
    dumped = http.get("_sandbox/dump/customers").json()["customers"]
    assert dumped[0]["customerNumber"] == 9 and dumped[0]["self"].endswith("/customers/9")
    product = http.get("products/P-1").json()
    assert product["lastUpdated"] == "2020-01-01T00:00:00Z"
    since = http.get("products", params={"filter": "lastUpdated$gte:2021-01-01"}).json()
    assert since["collection"] == []
    assert http.post("_sandbox/load", json={"nonsense": []}).status_code == 404
    assert http.post("_sandbox/reset").status_code == 200
    assert http.get("_sandbox/counts").json().get("customers", 0) == 0


def test_state_file_survives_a_restart(tmp_path: Any) -> None:
    state = tmp_path / "economic.json"
    with serve(state_file=str(state)) as (_, base), client(base) as http:
        assert http.post("customers", json=CUSTOMER).status_code == 201
    assert state.exists()
    with serve(state_file=str(state)) as (_, base), client(base) as http:
        assert http.get("customers/1").json()["name"] == CUSTOMER["name"]
        assert http.get("vat-zones").json()["pagination"]["results"] == 4
