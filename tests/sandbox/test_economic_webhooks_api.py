"""The e-conomic sandbox's webhooks API (webhooksapi/v1.0.0, economic-api.md §14 and S4
openapi-webhooks-api.json) over real HTTP, and the deliveries of the webhooks it registers."""

from __future__ import annotations

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
from sandbox.economic.testing import CUSTOMER, PRODUCT, client, serve

API = "webhooksapi/v1.0.0/"


def webhook(event_type: str = "CUSTOMER_UPDATED", **fields: Any) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "name": f"rbsync {event_type}",
        "url": "http://127.0.0.1:9/hook",
        "contentType": "application/x-www-form-urlencoded",
        "postData": "old=[OLDNUMBER]&new=[NEWNUMBER]",
        **fields,
    }


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def http(server: tuple[EconomicSandbox, str]) -> Iterator[httpx.Client]:
    server[0].reset()
    server[0].webhooks_api.superuser = True
    with client(server[1] + API) as session:
        yield session


class Hooks:
    """A loopback server recording every call: path, body, content type and headers."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.arrived = threading.Condition()

        async def hook(request: Request) -> Response:
            body = (await request.body()).decode()
            with self.arrived:
                self.calls.append({"path": request.url.path, "body": body, "headers": dict(request.headers)})
                self.arrived.notify_all()
            return Response(status_code=204)

        self.server = ServerThread(Starlette(routes=[Route("/{name}", hook, methods=["POST"])]))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)


def test_event_types_list_the_documented_names_with_their_merge_fields(http: httpx.Client) -> None:
    # §14: INVOICE_BOOKED and CUSTOMER_UPDATED are API names; GET /EventTypes returns
    # {name, description, mergeFields[{fieldName, description}]}; the UI types' merge fields.
    answer = http.get("EventTypes")
    assert answer.status_code == 200
    types = {item["name"]: item for item in answer.json()}
    assert {"CUSTOMER_UPDATED", "INVOICE_BOOKED"} <= set(types)
    assert {"PRODUCT_UPDATED", "ORDER_UPDATED", "PROJECT_UPDATED"} <= set(types)
    fields = [field["fieldName"] for field in types["CUSTOMER_UPDATED"]["mergeFields"]]
    assert fields == ["[OLDNUMBER]", "[NEWNUMBER]"]
    assert [field["fieldName"] for field in types["INVOICE_BOOKED"]["mergeFields"]] == ["[INVOICENO]"]
    assert all(item["description"] for item in types.values())


def test_a_webhook_is_created_read_listed_counted_and_deleted_by_its_event_type(http: httpx.Client) -> None:
    headers = [{"key": "X-Secret", "value": "s3cret"}]
    created = http.post("webhooks", json=webhook(customHeaders=headers), headers={"Idempotency-Key": "w1"})
    # S4: a create answers 201 with WebhookCreatedResult {eventType}
    assert created.status_code == 201
    assert created.json() == {"eventType": "CUSTOMER_UPDATED"}

    one = http.get("webhooks/CUSTOMER_UPDATED").json()
    assert one["url"] == "http://127.0.0.1:9/hook"
    assert one["customHeaders"] == headers
    assert one["isDisabled"] is False
    assert one["objectVersion"] and one["lastUpdated"]

    assert http.post("webhooks", json=webhook("PRODUCT_UPDATED")).status_code == 201
    listed = http.get("webhooks").json()
    assert [item["eventType"] for item in listed["items"]] == ["CUSTOMER_UPDATED", "PRODUCT_UPDATED"]
    assert "cursor" not in listed  # absent on the last page
    assert http.get("webhooks/count").json() == 2
    filtered = http.get("webhooks", params={"filter": "eventType$eq:PRODUCT_UPDATED"}).json()
    assert [item["eventType"] for item in filtered["items"]] == ["PRODUCT_UPDATED"]
    paged = http.get("webhooks/paged", params={"pageSize": 1, "skipPages": 1, "sort": "-eventType"}).json()
    assert [item["eventType"] for item in paged] == ["CUSTOMER_UPDATED"]

    assert http.delete("webhooks/PRODUCT_UPDATED", headers={"Idempotency-Key": "w2"}).status_code == 204
    assert http.delete("webhooks/PRODUCT_UPDATED", headers={"Idempotency-Key": "w3"}).status_code == 404
    assert http.get("webhooks/PRODUCT_UPDATED").status_code == 404


def test_only_one_webhook_per_event_type(http: httpx.Client) -> None:
    # §14 / S4: "only one webhook per event type per agreement is allowed"; POST lists 400, not 409
    assert http.post("webhooks", json=webhook()).status_code == 201
    second = http.post("webhooks", json=webhook(url="http://127.0.0.1:9/other"))
    assert second.status_code == 400
    assert second.headers["content-type"].startswith("application/problem+json")
    assert second.json()["errors"][0]["property"] == "eventType"
    assert http.get("webhooks/CUSTOMER_UPDATED").json()["url"] == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"eventType": None}, "eventType"),
        ({"name": None}, "name"),
        ({"url": None}, "url"),
        ({"contentType": None}, "contentType"),
        ({"name": "n" * 101}, "name"),
        ({"url": "http://x/" + "u" * 992}, "url"),
        ({"contentType": "c" * 51}, "contentType"),
        ({"postData": "p" * 4001}, "postData"),
        ({"customHeaders": [{"key": f"X-{n}", "value": "v"} for n in range(6)]}, "customHeaders"),
        ({"customHeaders": [{"key": "X-1"}]}, "customHeaders"),
        ({"eventType": "NO_SUCH_EVENT"}, "eventType"),
        ({"isDisabled": "yes"}, "isDisabled"),
    ],
    ids=[
        "no-eventType",
        "no-name",
        "no-url",
        "no-contentType",
        "name-101",
        "url-1001",
        "contentType-51",
        "postData-4001",
        "six-headers",
        "header-without-value",
        "unknown-event-type",
        "isDisabled-string",
    ],
)
def test_the_published_limits_are_enforced(http: httpx.Client, change: dict[str, Any], prop: str) -> None:
    # S4 Webhook: required eventType/name/url/contentType; name <= 100, url <= 1000, contentType <= 50,
    # postData <= 4000, customHeaders "a maximum of 5" {key, value} pairs; isDisabled boolean
    body = {name: value for name, value in {**webhook(), **change}.items() if value is not None}
    answer = http.post("webhooks", json=body)
    assert answer.status_code == 400
    assert [error["property"] for error in answer.json()["errors"]] == [prop]
    assert http.get("webhooks/count").json() == 0


def test_the_largest_allowed_values_are_accepted(http: httpx.Client) -> None:
    body = webhook(
        name="n" * 100,
        url="http://x/" + "u" * 991,
        contentType="c" * 50,
        postData="p" * 4000,
        customHeaders=[{"key": f"X-{n}", "value": "v"} for n in range(5)],
    )
    assert http.post("webhooks", json=body).status_code == 201


def test_put_replaces_by_event_type_with_the_current_object_version(http: httpx.Client) -> None:
    # S4: objectVersion is required for PUT; a stale one gets 409; PUT answers 204, 404 when missing
    http.post("webhooks", json=webhook())
    current = http.get("webhooks/CUSTOMER_UPDATED").json()
    assert http.put("webhooks", json=webhook(url="http://127.0.0.1:9/new")).status_code == 400  # no version
    changed = webhook(url="http://127.0.0.1:9/new", objectVersion=current["objectVersion"])
    assert http.put("webhooks", json=changed).status_code == 204
    assert http.put("webhooks", json=changed).status_code == 409  # the version moved on
    after = http.get("webhooks/CUSTOMER_UPDATED").json()
    assert after["url"] == "http://127.0.0.1:9/new" and after["objectVersion"] != current["objectVersion"]
    missing = webhook("PRODUCT_UPDATED", objectVersion=after["objectVersion"])
    assert http.put("webhooks", json=missing).status_code == 404


def test_the_api_needs_the_superuser_role(server: tuple[EconomicSandbox, str], http: httpx.Client) -> None:
    # §14: the webhooks API "needs the Superuser role"
    server[0].webhooks_api.superuser = False
    for answer in (http.get("EventTypes"), http.get("webhooks"), http.post("webhooks", json=webhook())):
        assert answer.status_code == 403
        assert answer.json()["errorCode"] == "AccessDenied"
    server[0].webhooks_api.superuser = True
    assert http.get("webhooks/count").json() == 0


def test_both_tokens_are_required(server: tuple[EconomicSandbox, str]) -> None:
    answer = httpx.get(server[1] + API + "webhooks")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_reset_forgets_registered_webhooks(server: tuple[EconomicSandbox, str], http: httpx.Client) -> None:
    http.post("webhooks", json=webhook())
    server[0].reset()
    assert http.get("webhooks/count").json() == 0


def test_registered_webhooks_are_called_with_their_template_content_type_and_custom_headers() -> None:
    # §14: one call per changed resource to `url`, body = postData with the merge fields filled in,
    # contentType "sent as the request's Content-Type", and the customHeaders
    hooks = Hooks()
    with hooks.server, serve() as (sandbox, base), client(base) as http:
        secret = [{"key": "X-Rbsync-Webhook-Token", "value": "t0ken"}]
        registrations = [
            webhook(url=hooks.server.url + "/customer", customHeaders=secret),
            webhook(
                "PRODUCT_UPDATED",
                url=hooks.server.url + "/product",
                contentType="application/json",
                postData='{"old": "[OLDNUMBER]", "new": "[NEWNUMBER]"}',
            ),
            webhook("ORDER_UPDATED", url=hooks.server.url + "/order", isDisabled=True),
        ]
        for body in registrations:
            assert http.post(API + "webhooks", json=body).status_code == 201
        assert http.post("customers", json=CUSTOMER).status_code == 201
        assert http.post("products", json={**PRODUCT, "productNumber": 'A&"B'}).status_code == 201
        calls = hooks.wait_for(2)
        assert sandbox.wait_for_webhooks()
    assert [(call["path"], call["body"]) for call in calls] == [
        ("/customer", "old=&new=1"),
        ("/product", '{"old": "", "new": "A&\\"B"}'),  # JSON-escaped into a JSON template
    ]
    assert calls[0]["headers"]["x-rbsync-webhook-token"] == "t0ken"
    assert calls[0]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert calls[1]["headers"]["content-type"] == "application/json"
    assert "x-rbsync-webhook-token" not in calls[1]["headers"]


def test_a_project_change_calls_the_project_webhook() -> None:
    # §14: "Project updated" fires with [OLDNUMBER]/[NEWNUMBER] on create, update and delete
    hooks = Hooks()
    with hooks.server, serve() as (sandbox, base), client(base) as http:
        http.post(API + "webhooks", json=webhook("PROJECT_UPDATED", url=hooks.server.url + "/project"))
        projects = "projectsapi/v1.1.0/"
        group = http.post(projects + "ProjectGroups", json={"number": 7, "name": "Internal", "type": 1})
        assert group.status_code == 201
        created = http.post(projects + "Projects", json={"name": "Harbour", "projectGroupNumber": 7})
        number = created.json()["number"]
        assert http.delete(f"{projects}Projects/{number}").status_code == 204
        calls = hooks.wait_for(2)
        assert sandbox.wait_for_webhooks()
    assert [call["body"] for call in calls] == [f"old=&new={number}", f"old={number}&new="]
