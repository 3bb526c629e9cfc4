"""Customers, customer groups and payment terms, Rackbeat -> e-conomic, end to end: both sandboxes, the real
Redis, the in-process Celery worker and the webhook receiver on loopback. Every change is made in the
Rackbeat sandbox, which delivers its webhooks to the receiver; writes are read from the e-conomic
sandbox's own request log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.common.server import ServerThread
from tasks.deadletter import DeadLetterStore
from tests.e2e.customers_support import (
    CustomerRecords,
    all_writes,
    customer_writes,
    economic_record,
    receiver_with,
)
from tests.e2e.test_products_e2e import Flow, e2e, receiver  # noqa: F401  (fixtures)
from tests.fixtures.service import apply_settings, wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

DEBTORS = 5800  # "Debtors" in the e-conomic sandbox's chart of accounts (5600 is its bank there)


@pytest.fixture
def flow(e2e: Flow, receiver: ServerThread) -> Iterator[Flow]:  # noqa: F811
    """A scenario with the receiver listening and customer groups booked on the sandbox's debtor account."""
    apply_settings(e2e.settings.model_copy(update={"customer_group_account": DEBTORS}))
    yield e2e
    apply_settings(e2e.settings)


@pytest.fixture
def records(flow: Flow) -> CustomerRecords:
    return CustomerRecords(flow.rackbeat)


def test_a_customer_with_new_group_and_terms_arrives_with_both_in_one_transfer_in_order(
    flow: Flow, records: CustomerRecords
) -> None:
    group = records.group(31, "Byggemarkeder", quietly=True)
    terms = records.terms("Netto 14 dage", 14, quietly=True)
    customer = records.customer(
        terms,
        group,
        company_name="Nordvik Byg ApS",
        layout_id=None,
        contact_email="info@nordvik-byg.dk faktura@nordvik-byg.dk",
    )
    key = str(customer["number"])

    assert flow.wait_outcome("customer", key) == ["created"]

    [terms_post] = [entry for entry in all_writes(flow.economic) if entry["path"] == "/payment-terms"]
    assert customer_writes(flow.economic) == [
        ("PUT", "/customer-groups/31"),
        ("POST", "/payment-terms"),
        ("PUT", f"/customers/{key}"),
    ]
    [transfer] = flow.events("customer", key)
    dependencies = flow.events("customer_group", "31") + flow.events("payment_term", str(terms["number"]))
    assert [(e["outcome"], e["task_id"], e["via"]) for e in dependencies] == [
        ("created", transfer["task_id"], f"customer:{key}")
    ] * 2

    stored = economic_record(flow.economic, "customers", "customerNumber", customer["number"])
    assert stored is not None
    terms_number = economic_record(flow.economic, "payment-terms", "name", "Netto 14 dage")
    assert terms_number is not None
    assert stored["customerGroup"]["customerGroupNumber"] == 31
    assert stored["paymentTerms"]["paymentTermsNumber"] == terms_number["paymentTermsNumber"]
    assert terms_post["body"]["daysOfCredit"] == 14
    assert stored["vatZone"]["vatZoneNumber"] == 1
    assert stored["email"] == "info@nordvik-byg.dk"  # only the primary address, never the invoice one
    group_in_economic = economic_record(flow.economic, "customer-groups", "customerGroupNumber", 31)
    assert group_in_economic["account"]["accountNumber"] == DEBTORS


def test_customer_updated_unchanged_blocked_and_deleted(flow: Flow, records: CustomerRecords) -> None:
    terms = records.terms(quietly=True)
    customer = records.customer(
        terms, address_country="Tyskland", currency="EUR", quietly=True, company_vat="DE123456789"
    )
    key = str(customer["number"])
    path = f"/customers/{key}"

    flow.rackbeat.sandbox.update("customers", customer["number"], {"company_name": "Nordvik Bau GmbH"})
    assert flow.wait_outcome("customer", key) == ["created"]  # first seen through its update webhook
    stored = economic_record(flow.economic, "customers", "customerNumber", customer["number"])
    assert (stored["name"], stored["currency"], stored["vatZone"]["vatZoneNumber"]) == (
        "Nordvik Bau GmbH",
        "EUR",
        2,
    )
    assert stored["customerGroup"]["customerGroupNumber"] == 1  # no group in Rackbeat: the default

    flow.rackbeat.sandbox.update("customers", customer["number"], {"their_reference": "Jens", "locale": "de"})
    assert flow.wait_outcome("customer", key, count=2)[-1] == "unchanged"
    assert customer_writes(flow.economic).count(("PUT", path)) == 1

    flow.rackbeat.sandbox.update("customers", customer["number"], {"is_barred": True})
    assert flow.wait_outcome("customer", key, count=3)[-1] == "replaced"
    assert economic_record(flow.economic, "customers", "customerNumber", customer["number"])["barred"] is True

    # unblocked and renamed at once (a plain unblock would make the delete below repeat the block's
    # transition, whose idempotency key e-conomic already answered: see the report on the engine)
    flow.rackbeat.sandbox.update(
        "customers", customer["number"], {"is_barred": False, "company_name": "Nordvik Bau AG"}
    )
    assert flow.wait_outcome("customer", key, count=4)[-1] == "replaced"
    flow.rackbeat.sandbox.delete("customers", customer["number"])
    assert flow.wait_outcome("customer", key, count=5)[-1] == "barred"
    barred = economic_record(flow.economic, "customers", "customerNumber", customer["number"])
    assert barred["barred"] is True
    assert (barred["name"], barred["currency"], barred["email"]) == (
        "Nordvik Bau AG",
        "EUR",
        "info@nordvik-byg.dk",
    )
    assert customer_writes(flow.economic).count(("PUT", path)) == 4


def test_customer_group_created_updated_unchanged_and_deleted(flow: Flow, records: CustomerRecords) -> None:
    records.group(41, "Danske kunder")
    assert flow.wait_outcome("customer_group", "41") == ["created"]

    flow.rackbeat.sandbox.update("customer-groups", 41, {"name": "Danske erhvervskunder"})
    assert flow.wait_outcome("customer_group", "41", count=2)[-1] == "replaced"
    stored = economic_record(flow.economic, "customer-groups", "customerGroupNumber", 41)
    assert (stored["name"], stored["account"]["accountNumber"]) == ("Danske erhvervskunder", DEBTORS)

    flow.rackbeat.sandbox.update("customer-groups", 41, {"is_draft": True})
    assert flow.wait_outcome("customer_group", "41", count=3)[-1] == "unchanged"

    flow.rackbeat.sandbox.delete("customer-groups", 41)
    assert flow.wait_outcome("customer_group", "41", count=4)[-1] == "ignored"
    assert economic_record(flow.economic, "customer-groups", "customerGroupNumber", 41) is not None
    assert customer_writes(flow.economic) == [("PUT", "/customer-groups/41")] * 2


def test_payment_terms_created_updated_unchanged_refused_and_deleted(
    flow: Flow, records: CustomerRecords
) -> None:
    terms = records.terms("Løbende måned + 30 dage", 30, "invoiceMonth")
    key = str(terms["number"])
    assert flow.wait_outcome("payment_term", key) == ["created"]
    [(method, path)] = customer_writes(flow.economic)
    assert (method, path) == ("POST", "/payment-terms")

    flow.rackbeat.sandbox.update(
        "payment-terms", terms["number"], {"name": "LM + 30", "description": "Til kæder"}
    )
    assert flow.wait_outcome("payment_term", key, count=2)[-1] == "replaced"
    stored = economic_record(flow.economic, "payment-terms", "name", "LM + 30")
    assert (stored["paymentTermsType"], stored["daysOfCredit"], stored["description"]) == (
        "invoiceMonth",
        30,
        "Til kæder",
    )
    number = stored["paymentTermsNumber"]

    flow.rackbeat.sandbox.update("payment-terms", terms["number"], {"description": " Til kæder "})
    assert flow.wait_outcome("payment_term", key, count=3)[-1] == "unchanged"
    assert len(customer_writes(flow.economic)) == 2

    # e-conomic refuses a new number of days (E06151): a permanent error naming the field
    flow.rackbeat.sandbox.update("payment-terms", terms["number"], {"maturity_days": 45})
    assert flow.wait_outcome("payment_term", key, count=4)[-1] == "dead-lettered"
    [entry] = DeadLetterStore(flow.redis, flow.settings.connection_id).entries_for_record("payment_term", key)
    assert entry["classification"] == "permanent"
    assert "daysOfCredit" in entry["field_errors"]
    assert economic_record(flow.economic, "payment-terms", "paymentTermsNumber", number)["daysOfCredit"] == 30

    writes = len(customer_writes(flow.economic))
    flow.rackbeat.sandbox.delete("payment-terms", terms["number"])
    assert flow.wait_outcome("payment_term", key, count=5)[-1] == "ignored"
    assert economic_record(flow.economic, "payment-terms", "paymentTermsNumber", number) is not None
    assert len(customer_writes(flow.economic)) == writes


def test_200_webhooks_for_100_customers_sharing_3_new_groups_create_each_group_once(
    flow: Flow, records: CustomerRecords
) -> None:
    groups = [records.group(number, f"Gruppe {number}", quietly=True) for number in (51, 52, 53)]
    terms = records.terms(quietly=True)
    delivered_before = flow.rackbeat.sandbox.dispatcher.stats().get("delivered", 0)
    customers = [records.customer(terms, groups[i % 3], company_name=f"Kunde {i}") for i in range(100)]
    for i, customer in enumerate(customers):
        flow.rackbeat.sandbox.update("customers", customer["number"], {"company_name": f"Kunde {i} A/S"})

    def all_arrived() -> bool:
        names = {row["customerNumber"]: row["name"] for row in flow.economic.sandbox.dump("customers")}
        return all(names.get(c["number"]) == f"Kunde {i} A/S" for i, c in enumerate(customers))

    wait_for(all_arrived, timeout=120, interval=0.5, message="100 customers with their latest name")
    assert flow.rackbeat.sandbox.wait_for_webhooks(timeout=30)
    assert flow.rackbeat.sandbox.dispatcher.stats().get("delivered", 0) - delivered_before == 200

    writes = customer_writes(flow.economic)
    assert [writes.count(("PUT", f"/customer-groups/{n}")) for n in (51, 52, 53)] == [1, 1, 1]
    assert writes.count(("POST", "/payment-terms")) == 1
    stored = flow.economic.sandbox.dump("customers")
    assert len(stored) == 100
    assert {row["customerGroup"]["customerGroupNumber"] for row in stored} == {51, 52, 53}


def test_with_e_conomic_as_master_rackbeat_customer_events_write_nothing(
    e2e: Flow,  # noqa: F811
) -> None:
    # a namespace of its own for the receiver's tokens and counters (inside the session's, so it is
    # cleaned up): other tests read the session's webhook counters as exact figures
    master = e2e.settings.model_copy(
        update={
            "customers_master": "economic",
            "connection_id": f"{e2e.settings.connection_id}-master",
        }
    )
    records = CustomerRecords(e2e.rackbeat)
    terms = records.terms(quietly=True)
    counters = f"rbsync:{master.connection_id}:stats:webhooks"
    with receiver_with(master, e2e.redis, e2e.rackbeat):
        customer = records.customer(terms, company_name="Ignored A/S")
        e2e.rackbeat.sandbox.update("customers", customer["number"], {"company_name": "Still ignored A/S"})
        assert e2e.rackbeat.sandbox.wait_for_webhooks(timeout=20)

    assert int(e2e.redis.hget(counters, "ignored|economic-master") or 0) == 2
    assert all_writes(e2e.economic) == []
    assert e2e.events("customer", str(customer["number"])) == []
