"""The cross-cutting rules of master data, each checked on what the e-conomic sandbox actually received:
no stock quantity and nothing the mappers do not map ever reaches e-conomic (products and lots), numbers
e-conomic cannot take are replaced, bound and logged, and with e-conomic as master for products,
product webhooks write nothing. Everything runs through webhooks and the in-process Celery worker."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from clients.rackbeat import RackbeatClient
from sandbox.common.server import ServerThread
from tasks.entities import REGISTRY, product
from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tasks.sync.bindings import BindingStore
from tasks.transfer import enqueue_export
from tasks.webhooks import WebhookTokenStore, handled_events, register_webhooks
from tests.e2e.test_products_e2e import Flow, e2e, receiver  # noqa: F401  (fixtures)
from tests.fixtures.service import wait_for
from web.app import create_app

pytestmark = pytest.mark.usefixtures("celery_worker")

STOCK_FIELDS = {  # each value is one no mapped field has, so finding it in a body means a quantity leaked
    "stock_quantity": 12345.5,
    "min_stock": 5151,
    "min_sales": 3131,
    "min_order": 2121,
}
UNMAPPED_FIELDS = {
    "goods_code": "UNMAPPED-GOODS-CODE",
    "country_code": "SE",
    "supplier_product_number": "UNMAPPED-SUPPLIER-NO",
    "picture_url": "https://unmapped.example/picture.png",
    "cost_addition_percentage": 17.25,
    "physical": {
        "weight": 987.5,
        "weight_unit": "kg",
        "height": 0,
        "width": 0,
        "depth": 0,
        "size_unit": "cm",
    },
}
PRODUCT_BODY_FIELDS = {
    "productNumber",
    "name",
    "description",
    "salesPrice",
    "costPrice",
    "recommendedPrice",
    "barCode",
    "barred",
    "productGroup",
    "unit",
}


def product_bodies(flow: Flow, number: str) -> list[dict[str, Any]]:
    bodies = [entry["body"] for entry in flow.writes_to(f"/products/{number}")]
    assert bodies, f"e-conomic received no body for {number}"
    return bodies


def assert_nothing_unmapped(body: dict[str, Any]) -> None:
    assert set(body) <= PRODUCT_BODY_FIELDS, set(body) - PRODUCT_BODY_FIELDS
    assert "inventory" not in body
    text = repr(body)
    for value in (*STOCK_FIELDS.values(), *UNMAPPED_FIELDS.values()):
        if isinstance(value, dict):
            value = value["weight"]
        assert str(value) not in text, f"{value!r} reached e-conomic: {body}"


@pytest.mark.usefixtures("receiver")
def test_no_stock_quantity_and_nothing_unmapped_reaches_e_conomic(e2e: Flow) -> None:  # noqa: F811
    group = e2e.group("Rules")
    part = e2e.number("STOCKED")
    e2e.product(part, group, recommended_cost_price=40.0, **STOCK_FIELDS, **UNMAPPED_FIELDS)
    kit = e2e.number("STOCKKIT")
    e2e.rackbeat.sandbox.create(
        "lots",
        {
            "number": kit,
            "name": "Stocked kit",
            "group_id": group["number"],
            "sales_price": 50.0,
            "lines": [{"product_id": part, "quantity": 2}],
            "min_produced": 6161,
            **STOCK_FIELDS,
            **UNMAPPED_FIELDS,
        },
    )
    assert e2e.wait_outcome("product", part) == ["created"]
    assert e2e.wait_outcome("lot", kit) == ["created"]

    for number in (part, kit):
        for body in product_bodies(e2e, number):
            assert_nothing_unmapped(body)
    # the mapped values did arrive, so the bodies checked are the real ones
    assert e2e.economic_products(part)[0]["costPrice"] == 40.0  # Rackbeat: the expected cost until bought
    assert e2e.economic_products(kit)[0]["costPrice"] == 80.0

    # a stock movement alone writes nothing, for a product and for a lot
    writes = len(e2e.economic.sandbox.request_log.entries())
    e2e.rackbeat.sandbox.update("products", part, {"stock_quantity": 1.0})
    e2e.rackbeat.sandbox.update("lots", kit, {"stock_quantity": 2.0})
    assert e2e.wait_outcome("product", part, count=2)[-1] == "unchanged"
    assert e2e.wait_outcome("lot", kit, count=2)[-1] == "unchanged"
    later = e2e.economic.sandbox.request_log.entries()[writes:]
    assert [entry for entry in later if entry["method"] in ("POST", "PUT", "DELETE")] == []


@pytest.fixture
def export_log() -> Iterator[list[logging.LogRecord]]:
    """What the engine logs while a test runs (the in-process worker's threads log here too)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("tasks.sync")
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.mark.parametrize("kind", ["product", "lot"])
def test_a_number_e_conomic_refuses_is_replaced_bound_and_logged(
    e2e: Flow,  # noqa: F811  (the fixture imported above)
    export_log: list[logging.LogRecord],
    kind: str,
) -> None:
    group = e2e.group()
    # Rackbeat's API takes item numbers longer than e-conomic's 25 characters (its UI stops at 25; the
    # sandbox's API too, so the record is loaded, which fires no webhook: the transfer is sent as the
    # receiver would send it)
    number = f"LONG-{kind.upper()}-NUMBER-FROM-RACKBEAT-{e2e.suffix}"
    e2e.rackbeat.sandbox.load(
        {
            f"{kind}s": [
                {"number": number, "name": f"Long {kind}", "group_id": group["number"], "sales_price": 10.0}
            ]
        }
    )
    assert enqueue_export(kind, number)
    expected = product.economic_product_number(number)
    assert expected != number and REGISTRY[kind].export_rules.economic_key({"number": number}) == expected

    assert e2e.wait_outcome(kind, number) == ["created"]
    binding = BindingStore(e2e.redis, e2e.settings.connection_id).get(kind, number)
    assert binding is not None and binding.economic_key == expected
    assert len(e2e.economic_products(expected)) == 1
    [logged] = [r.getMessage() for r in export_log if "cannot take the Rackbeat key" in r.getMessage()]
    assert repr(number) in logged and repr(expected) in logged and logged.startswith(kind)


@pytest.fixture
def economic_master_receiver(e2e: Flow) -> Iterator[Settings]:  # noqa: F811
    """The receiver of a deployment where e-conomic maintains products, registered for every event.

    It counts under a connection id of its own (inside the session's namespace, so the clean-up finds
    it): the session-wide webhook counters other tests read stay untouched."""
    settings = e2e.settings.model_copy(
        update={
            "products_master": "economic",
            "connection_id": f"{e2e.settings.connection_id}-economic-master",
        }
    )
    server = ServerThread(create_app(settings, register_webhooks=False)).start()
    tokens = WebhookTokenStore(
        e2e.redis, lambda *parts: namespaced_key(*parts, connection_id=settings.connection_id)
    )
    with RackbeatClient(settings.rackbeat_base_url, settings.rackbeat_token) as rackbeat:
        register_webhooks(rackbeat, tokens, server.url, handled_events(REGISTRY.values()))
    yield settings
    server.stop()


def ignored_count(client: redis.Redis, settings: Settings, event: str) -> int:
    name = namespaced_key("stats", "ignored-events", connection_id=settings.connection_id)
    return int(client.hget(name, event) or 0)


def test_with_e_conomic_as_master_product_webhooks_write_nothing(
    e2e: Flow,  # noqa: F811  (the fixture imported above)
    economic_master_receiver: Settings,
) -> None:
    group = e2e.group()
    e2e.wait_outcome("product_group", str(group["number"]))  # groups are not covered by products_master
    number = e2e.number("ECOMASTER")
    created_before = ignored_count(e2e.redis, economic_master_receiver, "product.created")
    updated_before = ignored_count(e2e.redis, economic_master_receiver, "product.updated")
    logged_before = len(e2e.economic.sandbox.request_log.entries())

    e2e.product(number, group)
    e2e.rackbeat.sandbox.update("products", number, {"name": "Renamed in Rackbeat"})

    master = economic_master_receiver
    wait_for(
        lambda: (
            ignored_count(e2e.redis, master, "product.created") == created_before + 1
            and ignored_count(e2e.redis, master, "product.updated") == updated_before + 1
        ),
        message="both product webhooks to be ignored",
    )
    assert e2e.events("product", number) == []
    assert e2e.economic_products(number) == []
    assert e2e.economic.sandbox.request_log.entries()[logged_before:] == []  # not even a read


def test_with_e_conomic_as_master_for_products_lot_webhooks_write_nothing(
    e2e: Flow,  # noqa: F811  (the fixture imported above)
    economic_master_receiver: Settings,
) -> None:
    """Lots are products in e-conomic, so the products master setting covers them too (their spec says so)."""
    group = e2e.group()
    e2e.wait_outcome("product_group", str(group["number"]))
    number = e2e.number("ECOLOT")
    created_before = ignored_count(e2e.redis, economic_master_receiver, "lot.created")
    logged_before = len(e2e.economic.sandbox.request_log.entries())

    e2e.rackbeat.sandbox.create("lots", {"number": number, "name": "Kit", "group_id": group["number"]})

    master = economic_master_receiver
    wait_for(
        lambda: ignored_count(e2e.redis, master, "lot.created") == created_before + 1,
        message="the lot webhook to be ignored",
    )
    assert e2e.events("lot", number) == []
    assert e2e.economic_products(number) == []
    assert e2e.economic.sandbox.request_log.entries()[logged_before:] == []
