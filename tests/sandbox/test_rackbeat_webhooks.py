"""Rackbeat webhooks: registration, delivery with Rackbeat's headers, retries with backoff, suppression."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.common.server import ServerThread

FAST_RETRIES = {"webhook_backoff_seconds": 0.02, "webhook_backoff_max_seconds": 0.1}


@dataclass
class Receiver:
    """A tiny webhook receiver: records every POST; fails the first ``fail_first`` with 500."""

    fail_first: int = 0
    release: threading.Event | None = None  # when set, requests wait for it before answering
    received: list[dict] = field(default_factory=list)
    server: ServerThread | None = None

    async def endpoint(self, request: Request) -> Response:
        if self.release is not None:
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        self.received.append({"headers": dict(request.headers), "body": await request.json()})
        if len(self.received) <= self.fail_first:
            return Response(status_code=500)
        return Response(status_code=204)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    hook.server = ServerThread(Starlette(routes=[Route("/hook", hook.endpoint, methods=["POST"])])).start()
    yield hook
    if hook.release is not None:
        hook.release.set()
    hook.server.stop()


@pytest.fixture
def rackbeat(rackbeat_server_factory):
    return rackbeat_server_factory(account_id="4242", webhook_max_attempts=4, **FAST_RETRIES)


@pytest.fixture
def api(rackbeat) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat.api_url, headers=rackbeat.headers) as client:
        client.post("product-groups", json={"number": 1, "name": "Tools"})
        yield client


def register(api: httpx.Client, event: str, url: str) -> dict:
    response = api.post("webhooks", json={"event": event, "url": url, "is_active": True})
    assert response.status_code in (200, 201), response.text
    return response.json()["webhook"]


def test_registration_is_an_upsert_and_the_token_is_shown_once(api, rackbeat, receiver):
    created = api.post("webhooks", json={"event": "product.created", "url": receiver.url})
    assert created.status_code == 201
    hook = created.json()["webhook"]
    assert len(hook["token"]) == 32 and hook["is_active"] is True
    again = api.post("webhooks", json={"event": "product.created", "url": receiver.url, "is_active": False})
    assert again.status_code == 200
    assert again.json()["webhook"]["id"] == hook["id"] and "token" not in again.json()["webhook"]
    listed = api.get("webhooks").json()["webhooks"]
    assert [(h["id"], h["is_active"]) for h in listed] == [(hook["id"], False)]
    assert "token" not in listed[0]
    assert api.get(f"webhooks/{hook['id']}").json()["webhook"]["event"] == "product.created"
    assert hook["token"] not in httpx.get(rackbeat.url + "/_sandbox/dump/webhooks").text
    assert api.delete(f"webhooks/{hook['id']}").status_code == 200
    assert api.get("webhooks").json()["webhooks"] == []
    invalid = api.post("webhooks", json={"event": "", "url": "ftp://x"})
    assert set(invalid.json()["errors"]) == {"event", "url"}


def test_create_update_delete_each_fire_their_event_with_rackbeat_headers(api, rackbeat, receiver):
    tokens = {
        event: register(api, event, receiver.url)["token"]
        for event in ("product.created", "product.updated", "product.deleted")
    }
    api.post("products", json={"number": "W/1", "name": "Widget", "group": 1, "sales_price": 1})
    api.put("products/W%2F1", json={"name": "Widget 2"})
    api.delete("products/W%2F1")
    assert rackbeat.sandbox.wait_for_webhooks(10)
    events = sorted(r["headers"]["rackbeat-webhook-event"] for r in receiver.received)
    assert events == ["product.created", "product.deleted", "product.updated"]
    for request in receiver.received:
        event = request["headers"]["rackbeat-webhook-event"]
        assert request["headers"]["rackbeat-webhook-token"] == tokens[event]
        assert request["headers"]["rackbeat-account-id"] == "4242"
        assert request["headers"]["user-agent"] == "Rackbeat Webhook"
        assert request["body"] == {"event": event, "key_name": "number", "key": "W/1"}


def test_only_registered_events_are_delivered_and_booking_fires_booked(api, rackbeat, receiver):
    register(api, "customer_invoice.booked", receiver.url)
    rackbeat.sandbox.load(
        {
            "payment-terms": [{"number": 1, "name": "Net", "maturity_days": 8, "type": "net"}],
            "customers": [{"number": 5, "company_name": "C", "payment_terms_id": 1}],
        }
    )
    api.post("products", json={"number": "P", "name": "P", "group": 1, "sales_price": 1})
    draft = api.post(
        "customer-invoices/drafts", json={"customer_id": 5, "lines": [{"item_id": "P", "quantity": 1}]}
    )
    number = draft.json()["customer_invoice"]["number"]
    api.post(f"customer-invoices/{number}/book")
    assert rackbeat.sandbox.wait_for_webhooks(10)
    assert [r["body"] for r in receiver.received] == [
        {"event": "customer_invoice.booked", "key_name": "number", "key": str(number)}
    ]


def test_payment_terms_events_reach_both_spellings(api, rackbeat, receiver):
    register(api, "payment_terms.created", receiver.url)
    register(api, "payment_term.created", receiver.url)
    api.post("payment-terms", json={"name": "Net 8", "maturity_days": 8, "type": "net"})
    assert rackbeat.sandbox.wait_for_webhooks(10)
    assert sorted(r["body"]["event"] for r in receiver.received) == [
        "payment_term.created",
        "payment_terms.created",
    ]


def test_a_failing_receiver_is_retried_until_it_answers_2xx(api, rackbeat, receiver):
    receiver.fail_first = 2
    hook = register(api, "customer_group.created", receiver.url)
    api.post("customer-groups", json={"name": "VIP"})
    assert rackbeat.sandbox.wait_for_webhooks(10)
    assert len(receiver.received) == 3
    assert all(r["body"]["key"] == "1" for r in receiver.received)
    stats = httpx.get(rackbeat.url + "/_sandbox/stats").json()["webhooks"]
    assert (stats["attempts"], stats["delivered"], stats["failed_attempts"], stats.get("given_up", 0)) == (
        3,
        1,
        2,
        0,
    )
    log = httpx.get(rackbeat.url + "/_sandbox/webhook-deliveries").json()["deliveries"]
    assert [(e["attempt"], e["status"], e["will_retry"]) for e in log] == [
        (1, 500, True),
        (2, 500, True),
        (3, 204, False),
    ]
    assert hook["token"] not in str(log)
    assert api.get(f"webhooks/{hook['id']}").json()["webhook"]["failures_since_last_success"] == 0


def test_delivery_gives_up_after_the_last_attempt(api, rackbeat, receiver):
    receiver.fail_first = 100
    hook = register(api, "supplier_group.created", receiver.url)
    api.post("supplier-groups", json={"name": "Steel"})
    assert rackbeat.sandbox.wait_for_webhooks(10)
    assert len(receiver.received) == 4  # webhook_max_attempts
    assert rackbeat.sandbox.dispatcher.stats()["given_up"] == 1
    assert api.get(f"webhooks/{hook['id']}").json()["webhook"]["failures_since_last_success"] == 4


def test_an_unreachable_receiver_counts_as_a_failed_attempt(api, rackbeat):
    closed = ServerThread(Starlette()).start()
    url = closed.url + "/gone"
    closed.stop()
    register(api, "product_group.created", url)
    api.post("product-groups", json={"name": "Nowhere"})
    assert rackbeat.sandbox.wait_for_webhooks(10)
    log = rackbeat.sandbox.dispatcher.log_entries()
    assert len(log) == 4 and all(e["status"] is None and e["error"] for e in log)


def test_suppress_webhooks_in_query_or_body(api, rackbeat, receiver):
    register(api, "employee.created", receiver.url)
    api.post("employees", json={"name": "Quiet"}, params={"suppress_webhooks": "true"})
    api.post("employees", json={"name": "Also quiet", "suppress_webhooks": True})
    api.post("employees", json={"name": "Loud"})
    assert rackbeat.sandbox.wait_for_webhooks(10)
    assert [r["body"]["key"] for r in receiver.received] == ["3"]
    assert rackbeat.sandbox.stats()["webhooks_suppressed"] == 2
    assert rackbeat.sandbox.get("employees", 2)["name"] == "Also quiet"


def test_delivery_never_blocks_the_api_answer(api, rackbeat, receiver):
    receiver.release = threading.Event()
    register(api, "unit.created", receiver.url)
    response = api.post("units", json={"name": "Box"})
    assert response.status_code == 201
    assert receiver.received == []  # the receiver is still holding the delivery
    assert rackbeat.sandbox.dispatcher.pending == 1
    receiver.release.set()
    assert rackbeat.sandbox.wait_for_webhooks(10)
    assert len(receiver.received) == 1


def test_reset_drops_webhooks_and_queued_retries(api, rackbeat, receiver):
    receiver.fail_first = 100
    register(api, "location.created", receiver.url)
    api.post("locations", json={"name": "Shelf"})
    rackbeat.reset()
    assert rackbeat.sandbox.wait_for_webhooks(10)
    assert rackbeat.sandbox.counts()["webhooks"] == 0
