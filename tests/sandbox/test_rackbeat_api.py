"""The Rackbeat sandbox over real HTTP: auth, envelopes, paging, filters, validation, documents."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.common.ratelimit import FixedWindows, TokenBuckets

GROUP = {"number": 1, "name": "Tools"}
TERMS = {"number": 1, "name": "Net 14", "maturity_days": 14, "type": "net"}


@pytest.fixture
def api(rackbeat_sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat_sandbox.api_url, headers=rackbeat_sandbox.headers) as client:
        yield client


@pytest.fixture
def basics(rackbeat_sandbox):
    """A product group, payment terms and a customer, loaded directly."""
    rackbeat_sandbox.sandbox.load(
        {
            "product-groups": [GROUP],
            "payment-terms": [TERMS],
            "locations": [{"number": 1, "name": "Main", "is_default": True}, {"number": 2, "name": "Van"}],
            "customers": [
                {"number": 10, "company_name": "Acme ApS", "payment_terms_id": 1, "vat_zone": "domestic"}
            ],
            "suppliers": [
                {"number": 70, "company_name": "Parts AB", "payment_terms_id": 1, "vat_zone": "eu"}
            ],
        }
    )
    return rackbeat_sandbox


def new_product(api: httpx.Client, number: str, **extra) -> dict:
    body = {"number": number, "name": f"Product {number}", "group": 1, "sales_price": 100} | extra
    response = api.post("products", json=body)
    assert response.status_code == 201, response.text
    return response.json()["product"]


def test_requests_without_a_valid_bearer_token_are_401(rackbeat_sandbox):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic sandbox-token"}):
        response = httpx.get(rackbeat_sandbox.api_url + "products", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthenticated."}


def test_lists_answer_206_with_the_paging_envelope(api):
    response = api.get("products")
    assert response.status_code == 206
    assert response.json() == {"products": [], "total": 0, "pages": 1, "limit": 20, "page": 1}


def test_paging_clamps_the_limit_and_answers_empty_past_the_end(api, rackbeat_sandbox):
    rackbeat_sandbox.sandbox.load({"customer-groups": [{"number": n, "name": f"G{n}"} for n in range(1, 26)]})
    page3 = api.get("customer-groups", params={"limit": 10, "page": 3}).json()
    assert [g["number"] for g in page3["customer_groups"]] == [21, 22, 23, 24, 25]
    assert (page3["total"], page3["pages"], page3["limit"], page3["page"]) == (25, 3, 10, 3)
    assert api.get("customer-groups", params={"limit": 5000}).json()["limit"] == 1000
    assert api.get("customer-groups", params={"limit": 0}).json()["limit"] == 1
    beyond = api.get("customer-groups", params={"limit": 10, "page": 9})
    assert beyond.status_code == 206
    assert beyond.json()["customer_groups"] == [] and beyond.json()["total"] == 25


def test_order_by_and_direction(api, rackbeat_sandbox):
    rackbeat_sandbox.sandbox.load(
        {"customer-groups": [{"number": n, "name": name} for n, name in [(1, "b"), (2, "c"), (3, "a")]]}
    )
    by_name = api.get("customer-groups", params={"order_by": "name"}).json()["customer_groups"]
    assert [g["name"] for g in by_name] == ["a", "b", "c"]
    desc = api.get("customer-groups", params={"order_by": "number", "order_direction": "DESC"}).json()
    assert [g["number"] for g in desc["customer_groups"]] == [3, 2, 1]


def test_filters_simple_filter_is_barred_updated_at_and_fields(api, basics):
    basics.sandbox.load(
        {
            "products": [
                {"number": "A-1", "name": "Old", "group_id": 1, "updated_at": "2025-01-01T10:00:00+00:00"},
                {
                    "number": "A-2",
                    "name": "New",
                    "group_id": 1,
                    "updated_at": "2025-06-01T10:00:00+00:00",
                    "is_barred": True,
                },
                {
                    "number": "A-3",
                    "name": "Newer",
                    "group_id": 1,
                    "updated_at": "2025-07-01T10:00:00+00:00",
                    "barcode": "5701",
                },
            ]
        }
    )

    def numbers(**params) -> list[str]:
        return [p["number"] for p in api.get("products", params=params).json()["products"]]

    assert numbers(**{"simple_filter[barcode]": "5701"}) == ["A-3"]
    assert numbers(is_barred="true") == ["A-2"]
    assert numbers(is_barred="false") == ["A-1", "A-3"]
    assert numbers(updated_at_from="2025-05-01 00:00:00") == ["A-2", "A-3"]
    assert numbers(updated_at_from="2025-05-01", updated_at_to="2025-06-01") == ["A-2"]
    assert numbers(search="newer") == ["A-3"]
    sparse = api.get("products", params={"fields": "number,name", "limit": 1}).json()["products"]
    assert sparse == [{"number": "A-1", "name": "Old"}]
    assert api.get("products", params={"updated_at_from": "yesterday"}).status_code == 422


def test_create_answers_201_with_the_singular_envelope_and_timestamps(api, basics):
    product = new_product(api, "P-1", recommended_cost_price=40)
    assert product["number"] == "P-1" and product["type"] == "product"
    assert product["group"]["name"] == "Tools" and product["group_id"] == 1
    assert product["cost_price"] == 40 and product["sales_profit"] == 60
    assert product["created_at"] and product["updated_at"]
    assert product["self"].endswith("/api/products/P-1")
    fetched = api.get("products/P-1")
    assert fetched.status_code == 200 and fetched.json()["product"]["name"] == "Product P-1"


@pytest.mark.parametrize(
    "path",
    ["products/ABC%2F123%2BDEF", "products/ABC%252F123%252BDEF", "products/ABC%2F123%2BDEF?fields=number"],
)
def test_item_numbers_with_a_slash_are_reachable_single_and_double_encoded(api, basics, path):
    created = new_product(api, "ABC/123+DEF")
    assert created["urlfriendly_number"] == "ABC%2F123%2BDEF"
    response = api.get(path)
    assert response.status_code == 200
    assert response.json()["product"]["number"] == "ABC/123+DEF"


def test_an_item_is_reachable_by_its_urlfriendly_number_and_updates_through_it(api, basics):
    friendly = new_product(api, "X 1/2")["urlfriendly_number"]
    response = api.put(f"products/{friendly}", json={"name": "Half"})
    assert response.status_code == 200
    assert basics.sandbox.get("products", "X 1/2")["name"] == "Half"


def test_validation_errors_are_422_with_errors_per_field(api, basics):
    new_product(api, "DUP")
    response = api.post("products", json={"number": "DUP", "name": 5, "group": 99})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["number"] == ["The number has already been taken."]
    assert errors["name"] == ["The name must be a string."]
    assert errors["group"] == ["The selected group is invalid."]
    assert errors["sales_price"] == ["The sales price field is required."]
    too_long = api.post("products", json={"number": "N" * 26, "name": "x", "group": 1, "sales_price": 1})
    assert "number" in too_long.json()["errors"]
    bad_type = api.post("customers", json={"company_name": "X", "payment_terms_id": "soon"})
    assert bad_type.json()["errors"] == {"payment_terms_id": ["The payment terms id must be an integer."]}
    assert api.post("products", content=b"{not json").status_code == 422
    not_finite = api.post("products", json={"number": "NaN-1", "name": "x", "group": 1, "sales_price": "nan"})
    assert not_finite.json()["errors"] == {"sales_price": ["The sales price must be a number."]}
    assert basics.sandbox.counts()["products"] == 1


def test_update_delete_and_404(api, basics):
    new_product(api, "P-9")
    updated = api.put("products/P-9", json={"sales_price": "250.5", "is_barred": True})
    assert updated.status_code == 200
    assert (
        updated.json()["product"]["sales_price"] == 250.5 and updated.json()["product"]["is_barred"] is True
    )
    assert api.put("products/P-9", json={"group": 42}).status_code == 422
    assert api.delete("products/P-9").status_code == 200
    assert api.get("products/P-9").status_code == 404
    assert api.delete("products/P-9").status_code == 404
    assert api.get("customers/not-a-number").status_code == 404
    assert api.get("no-such-resource").status_code == 404


def test_renaming_a_product_moves_its_key(api, basics):
    new_product(api, "OLD-1")
    response = api.put("products/OLD-1", json={"number": "NEW-1"})
    assert response.status_code == 200
    assert api.get("products/OLD-1").status_code == 404
    assert api.get("products/NEW-1").status_code == 200


def test_numbered_resources_get_the_next_free_number(api, basics):
    first = api.post("customers", json={"company_name": "Beta", "payment_terms_id": 1}).json()["customer"]
    assert first["number"] == 11  # loaded customer 10 exists
    assert first["payment_terms"] == {"number": 1, "name": "Net 14", "type": "net", "maturity_days": 14}
    group = api.post("supplier-groups", json={"name": "Metal"})
    assert group.status_code == 201 and group.json()["supplier_group"]["number"] == 1
    assert api.post("customers", json={"company_name": "No terms"}).json()["errors"] == {
        "payment_terms_id": ["The payment terms id field is required."]
    }


def test_each_listed_resource_answers_with_its_envelope(api, basics):
    envelopes = {
        "products": "products",
        "lots": "lots",
        "product-groups": "product_groups",
        "customers": "customers",
        "customer-groups": "customer_groups",
        "suppliers": "suppliers",
        "supplier-groups": "supplier_groups",
        "payment-terms": "payment_terms",
        "employees": "employees",
        "layouts": "layouts",
        "locations": "locations",
        "orders": "orders",
        "customer-invoices": "customer_invoices",
        "supplier-invoices": "supplier_invoices",
        "projects": "projects",
        "units": "units",
        "webhooks": "webhooks",
        "items": "items",
    }
    for path, plural in envelopes.items():
        response = api.get(path)
        assert response.status_code == 206, path
        assert plural in response.json(), path


def test_layouts_cannot_be_deleted_or_patched(api, basics):
    # POST and PUT are taken (the start-up sync's import, tests/sandbox/test_rackbeat_layouts.py)
    basics.sandbox.load({"layouts": [{"number": 19, "name": "Standard"}]})
    assert api.get("layouts/19").json()["layout"]["name"] == "Standard"
    assert api.delete("layouts/19").status_code == 405
    assert api.patch("layouts/19", json={"name": "Mine"}).status_code == 405


def test_lots_carry_their_components(api, basics):
    new_product(api, "C-1", recommended_cost_price=10)
    new_product(api, "C/2", recommended_cost_price=5)
    body = {
        "number": "KIT-1",
        "name": "Kit",
        "group": 1,
        "sales_price": 99,
        "lines": [{"product_id": "C-1", "quantity": 2}, {"product_id": "C/2", "quantity": 1}],
    }
    response = api.post("lots", json=body)
    assert response.status_code == 201
    lot = response.json()["lot"]
    assert lot["type"] == "lot"
    assert [(line["product_id"], line["quantity"], line["line_price"]) for line in lot["lines"]] == [
        ("C-1", 2.0, 20.0),
        ("C/2", 1.0, 5.0),
    ]
    assert api.get("lots/KIT-1/lines").json()["lines"] == lot["lines"]
    assert api.get("items/KIT-1").json()["item"]["type"] == "lot"
    bad = api.post("lots", json=body | {"number": "KIT-2", "lines": [{"product_id": "NOPE", "quantity": 1}]})
    assert bad.json()["errors"] == {"lines.0.product_id": ["The selected lines.0.product_id is invalid."]}


def test_invoice_draft_then_book_then_locked(api, basics):
    new_product(api, "P-1")
    draft = api.post(
        "customer-invoices/drafts", json={"customer_id": 10, "lines": [{"item_id": "P-1", "quantity": 3}]}
    )
    assert draft.status_code == 201
    invoice = draft.json()["customer_invoice"]
    assert invoice["is_booked"] is False
    assert (invoice["total_subtotal"], invoice["total_vat"], invoice["total_total"]) == (300.0, 75.0, 375.0)
    assert invoice["payment_terms_id"] == 1 and invoice["due_date"]
    number = invoice["number"]
    assert api.put(f"customer-invoices/{number}", json={"heading": "Draft edit"}).status_code == 200
    booked = api.post(f"customer-invoices/{number}/book", json={"mail": {"send": False}})
    assert booked.status_code == 200
    assert booked.json()["customer_invoice"]["is_booked"] is True
    assert booked.json()["customer_invoice"]["booked_at"]
    assert api.post(f"customer-invoices/{number}/book").status_code == 422
    assert api.put(f"customer-invoices/{number}", json={"heading": "x"}).status_code == 422
    assert api.delete(f"customer-invoices/{number}").status_code == 422
    assert api.get("customer-invoices", params={"is_booked": "true"}).json()["total"] == 1


def test_plain_post_creates_a_booked_document_and_lines_are_validated(api, basics):
    new_product(api, "P-1")
    created = api.post(
        "customer-invoices", json={"customer_id": 10, "lines": [{"item_id": "P-1", "quantity": 1}]}
    )
    assert created.json()["customer_invoice"]["is_booked"] is True
    missing = api.post("orders", json={"customer_id": 99, "lines": [{"item_id": "NOPE"}]})
    assert missing.status_code == 422
    assert missing.json()["errors"] == {
        "customer_id": ["The selected customer id is invalid."],
        "lines.0.item_id": ["The selected lines.0.item_id is invalid."],
        "lines.0.quantity": ["The lines.0.quantity field is required."],
    }


def test_a_booked_order_keeps_its_lines_locked(api, basics):
    new_product(api, "P-1")
    order = api.post("orders", json={"customer_id": 10, "lines": [{"item_id": "P-1", "quantity": 1}]}).json()
    number = order["order"]["number"]
    assert order["order"]["is_booked"] is True
    assert api.put(f"orders/{number}", json={"heading": "Rush"}).status_code == 200
    locked = api.put(f"orders/{number}", json={"lines": [{"item_id": "P-1", "quantity": 5}]})
    assert locked.status_code == 422 and "lines" in locked.json()["errors"]


def test_an_order_converts_into_a_linked_invoice(api, basics):
    new_product(api, "P-1")
    order = api.post("orders", json={"customer_id": 10, "lines": [{"item_id": "P-1", "quantity": 2}]}).json()
    number = order["order"]["number"]
    converted = api.post(f"orders/{number}/convert-to-invoice", params={"book": "false"})
    assert converted.status_code == 200
    invoice = api.get(f"customer-invoices/{converted.json()['invoice_id']}").json()["customer_invoice"]
    assert (invoice["order_id"], invoice["is_booked"], invoice["total_total"]) == (number, False, 250.0)
    assert api.get(f"orders/{number}").json()["order"]["is_invoiced"] is True
    assert api.post(f"orders/{number}/convert-to-invoice").status_code == 422


def test_booking_a_supplier_invoice_received_puts_goods_in_stock_and_values_them(api, basics):
    new_product(api, "P-1", recommended_cost_price=10, default_location_id=2)
    new_product(api, "P-2", recommended_cost_price=4)
    invoice = api.post(
        "supplier-invoices/drafts",
        json={
            "supplier_id": 70,
            "lines": [
                {"item_id": "P-1", "quantity": 10, "line_price": 12},
                {"item_id": "P-2", "quantity": 5},
            ],
        },
    ).json()["supplier_invoice"]
    assert invoice["vat_zone"] == "eu" and invoice["total_vat"] == 0
    api.post(f"supplier-invoices/{invoice['number']}/book", json={"mark_received": True})
    assert basics.sandbox.get("products", "P-1")["stock_quantity"] == 10
    assert basics.sandbox.get("products", "P-1")["cost_price"] == 12
    van = api.get("reports/valuation", params={"location": 2, "date_to": "2030-01-01"}).json()
    assert van["lineables"] == [
        {
            "number": "P-1",
            "name": "Product P-1",
            "type": "product",
            "quantity": 10.0,
            "cost_price": 12.0,
            "value": 120.0,
        }
    ]
    assert van["total_value"] == 120.0
    main = api.get("reports/valuation", params={"location": 1}).json()
    assert main["total_value"] == 20.0  # P-2 has no location: it sits at the default one
    total = api.get("reports/valuation/total").json()
    assert total["total_value"] == 140.0
    assert {loc["number"]: loc["value"] for loc in total["locations"]} == {1: 20.0, 2: 120.0}
    assert api.get("reports/valuation", params={"location": 77}).status_code == 422


def test_projects_upsert(api, basics):
    created = api.post("projects/upsert", json={"number": 5, "name": "Harbour"})
    assert created.status_code == 201
    updated = api.post("projects/upsert", json={"number": 5, "name": "Harbour II", "description": "phase 2"})
    assert updated.status_code == 200
    assert api.get("projects/5").json()["project"]["name"] == "Harbour II"
    assert api.get("projects").json()["total"] == 1


def test_self_describes_the_account(api):
    body = api.get("self").json()
    assert "user_account" in body and "user" in body


def test_rate_limit_answers_429_with_retry_after(rackbeat_server_factory):
    running = rackbeat_server_factory(requests_per_minute=3)
    with httpx.Client(base_url=running.api_url, headers=running.headers) as client:
        answers = [client.get("products") for _ in range(4)]
    assert [a.status_code for a in answers] == [206, 206, 206, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[2].headers["X-RateLimit-Remaining"] == "0"
    assert answers[3].json() == {"message": "Too Many Attempts."}
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert running.sandbox.stats()["rate_limited_429"] == 1


def test_rate_limits_are_per_token(rackbeat_server_factory):
    running = rackbeat_server_factory(requests_per_minute=1, extra_tokens=["second-token"])
    first = httpx.get(running.api_url + "products", headers=running.headers)
    second = httpx.get(running.api_url + "products", headers={"Authorization": "Bearer second-token"})
    assert (first.status_code, second.status_code) == (206, 206)


def test_token_bucket_refills_continuously():
    now = [0.0]
    buckets = TokenBuckets(capacity=2, window_seconds=10, clock=lambda: now[0])
    assert [buckets.acquire("t").allowed for _ in range(3)] == [True, True, False]
    refused = buckets.acquire("t")
    assert refused.retry_after == pytest.approx(5.0) and refused.retry_after_header == "5"
    now[0] = 5.0
    assert buckets.acquire("t").allowed
    assert buckets.acquire("other").allowed  # another credential has its own bucket


def test_fixed_windows_count_exactly_and_reopen_when_the_window_ends():
    now = [100.0]
    windows = FixedWindows(capacity=2, window_seconds=60, clock=lambda: now[0])
    assert [windows.acquire("t").used for _ in range(2)] == [1, 2]
    now[0] = 130.0
    refused = windows.acquire("t")
    assert not refused.allowed and refused.retry_after == pytest.approx(30.0)
    now[0] = 160.0
    assert windows.acquire("t").used == 1


def test_the_fixed_window_style_is_selectable(rackbeat_server_factory):
    running = rackbeat_server_factory(requests_per_minute=2, rate_limit_style="fixed-window")
    with httpx.Client(base_url=running.api_url, headers=running.headers) as client:
        statuses = [client.get("units").status_code for _ in range(3)]
    assert statuses == [206, 206, 429]
    with pytest.raises(ValueError):
        running.sandbox.__class__(rate_limit_style="leaky")


def test_admin_load_counts_dump_and_reset(rackbeat_sandbox, api):
    admin = httpx.Client(base_url=rackbeat_sandbox.url + "/_sandbox/")
    loaded = admin.post(
        "load",
        json={
            "product-groups": [GROUP],
            "products": [
                {"number": "L-1", "name": "Loaded", "group": {"number": 1, "name": "Tools"}, "sales_price": 5}
            ],
        },
    )
    assert loaded.status_code == 200 and loaded.json()["loaded"] == {"product-groups": 1, "products": 1}
    assert api.get("products/L-1").json()["product"]["group_id"] == 1
    assert admin.get("counts").json()["products"] == 1
    assert [p["number"] for p in admin.get("dump/products").json()["products"]] == ["L-1"]
    assert admin.get("dump/nope").status_code == 404
    assert admin.post("load", json={"products": [{"name": "no number"}]}).status_code == 422
    assert admin.post("load", json={"gadgets": []}).status_code == 404
    requests_seen = admin.get("requests").json()["requests"]
    assert requests_seen[-1]["path"] == "/api/products/L-1" and requests_seen[-1]["status"] == 200
    assert admin.post("reset").status_code == 200
    assert admin.get("counts").json()["products"] == 0
    assert admin.get("requests").json()["requests"] == []
