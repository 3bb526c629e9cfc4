"""The start-up sync's four added kinds (issue 13: layouts, employees, supplier groups, suppliers) and the
customer that now brings its layout and employee along, imported end to end: the session's in-process
Celery worker, both sandboxes on loopback, the real Redis. Records are made in e-conomic over its HTTP API,
as a user of e-conomic would make them.

Two tasks bring a document across:
- `rbsync.import_record`, the service's import task, which honours the settings' directions: e-conomic owns
  layouts (they only come from there) and, here, customers (`RBSYNC_CUSTOMERS_MASTER=economic`); the kinds
  Rackbeat owns after the start-up sync (suppliers, supplier groups, employees: they have export rules)
  it brings across only as another record's dependency, so on their own it reports them `ignored`.
- `STARTUP_IMPORT` (a test-only task, the `startup_task` fixture): the same `Importer`, with every kind
  that has import rules allowed to move on its own, as the start-up sync moves them (tasks/startup). A
  Rackbeat record that already exists of a kind Rackbeat owns is still bound as it is and never written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis

from sandbox.rackbeat.resources import RESOURCES
from tasks.celery import app
from tasks.deadletter import DeadLetterStore
from tasks.entities.base import EntitySpec, MappingDefaults
from tasks.settings import Settings, get_settings
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions
from tasks.sync.importer import Importer
from tasks.transfer import build_store
from tests.e2e.test_products_e2e import wait_until_quiet
from tests.engine.importer_support import (
    clear_log,
    economic_call,
    economic_customer,
    economic_writes,
    rackbeat_record,
    rackbeat_writes,
)
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import apply_settings, settings_for_sandboxes, wait_for

IMPORT = "rbsync.import_record"
STARTUP_IMPORT = "rbsync.test.startup_kinds_import"
GROUPS = "suppliersapi/v2.0.0/Groups"
EMPLOYEES = "projectsapi/v1.1.0/Employees"


class EveryKindImporter(Importer):
    """The importer as the start-up sync runs it: every kind with import rules moves on its own."""

    def moves(self, spec: EntitySpec) -> bool:
        return spec.imports is not None


def startup_kinds_import(kind: str, key: str) -> dict[str, Any]:
    """The body of `STARTUP_IMPORT` (registered by the `startup_task` fixture)."""
    settings = get_settings()
    store = build_store()
    importer = EveryKindImporter(
        process_clients(), store, MappingDefaults.from_settings(settings), Directions.of(settings)
    )
    result = importer.transfer(kind, key)
    return {"outcome": result.outcome, "rackbeat_key": store.bindings.rackbeat_key_for(kind, str(key))}


def run(task: str, kind: str, key: Any) -> dict[str, Any]:
    """Send the task to the worker and wait for its answer."""
    answer: dict[str, Any] = app.send_task(task, args=(kind, str(key))).get(timeout=30)
    return answer


class Company:
    """One test's handles: both sandboxes (reset), the Redis store, and a number of its own."""

    def __init__(self, settings: Settings, rackbeat: Any, economic: Any, client: redis.Redis) -> None:
        self.settings, self.rackbeat, self.economic, self.redis = settings, rackbeat, economic, client
        self.number = 7000 + uuid.uuid4().int % 900

    def rackbeat_has(self, resource: str, key: Any) -> dict[str, Any]:
        record = rackbeat_record(self.rackbeat, resource, key)
        assert record is not None, f"Rackbeat has no {resource} {key}"
        return record

    def count(self, resource: str, key: Any) -> int:
        return sum(1 for r in self.rackbeat.sandbox.dump(resource) if str(r["number"]) == str(key))

    def bound(self, kind: str, economic_key: Any) -> str | None:
        from tasks.sync.bindings import BindingStore

        return BindingStore(self.redis, self.settings.connection_id).rackbeat_key_for(kind, str(economic_key))

    def supplier_group(self, number: int, name: str) -> None:
        economic_call(self.economic, "POST", GROUPS, {"number": number, "name": name, "accountNumber": 6800})

    def employee(self, number: int, name: str, **fields: Any) -> None:
        body = {"number": number, "groupNumber": 1, "name": name, "isBarred": False, **fields}
        economic_call(self.economic, "POST", EMPLOYEES, body)

    def supplier(self, number: int, group: int, **fields: Any) -> None:
        body = {
            "supplierNumber": number,
            "name": f"Supplier {number}",
            "currency": "DKK",
            "supplierGroup": {"supplierGroupNumber": group},
            "paymentTerms": {"paymentTermsNumber": 1},
            "vatZone": {"vatZoneNumber": 1},
            **fields,
        }
        economic_call(self.economic, "PUT", f"suppliers/{number}", body)


@pytest.fixture(scope="module")
def module_settings(
    service_settings: Settings, rackbeat_server: Any, economic_server: Any
) -> Iterator[Settings]:
    """The session settings pointed at the sandboxes, e-conomic owning customers: applied once for the
    module (the in-process worker reads them at once), the plain session settings put back after."""
    settings = settings_for_sandboxes(service_settings, rackbeat_server, economic_server).model_copy(
        update={"customers_master": "economic"}
    )
    apply_settings(settings)
    yield settings
    apply_settings(service_settings)


@pytest.fixture(scope="module")
def startup_task(celery_worker: Any, module_settings: Settings) -> str:
    """`STARTUP_IMPORT` on the service's app, and known to the session's running worker (its consumer
    learns the tasks it may run when it starts; this one comes later, once the settings can be read)."""
    if STARTUP_IMPORT not in app.tasks:
        app.task(name=STARTUP_IMPORT)(startup_kinds_import)
        celery_worker.consumer.update_strategies()
    return STARTUP_IMPORT


@pytest.fixture
def company(
    startup_task: str,
    module_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[Company]:
    forget_records(redis_client, session_namespace)
    yield Company(module_settings, rackbeat_sandbox, economic_sandbox, redis_client)
    wait_until_quiet(module_settings, redis_client)


def test_a_layout_is_imported_at_its_number_and_a_second_import_writes_nothing(company: Company) -> None:
    first = run(IMPORT, "layout", 20)

    assert first == {**first, "outcome": "created", "rackbeat_key": "20"}
    assert company.rackbeat_has("layouts", 20)["name"] == "Layout with logo"
    clear_log(company.rackbeat)
    assert run(IMPORT, "layout", 20)["outcome"] == "unchanged"
    assert rackbeat_writes(company.rackbeat) == []


def test_a_customer_arrives_in_its_group_with_its_terms_layout_and_employee(company: Company) -> None:
    number = company.number
    economic_customer(
        company.economic,
        number,
        layout={"layoutNumber": 19},
        salesPerson={"employeeNumber": 1},
        email="buyer@example.com invoices@example.com",
    )

    answer = run(IMPORT, "customer", number)

    assert answer["outcome"] == "created"
    customer = company.rackbeat_has("customers", number)
    terms = company.bound("payment_term", 1)
    assert terms is not None
    assert (
        customer["customer_group_id"],
        customer["payment_terms_id"],
        customer["layout_id"],
        customer["employee_id"],
    ) == (1, int(terms), 19, 1)
    assert customer["contact_email"] == "buyer@example.com", "only the primary e-mail"
    assert company.rackbeat_has("customer-groups", 1)["name"]
    assert company.rackbeat_has("layouts", 19)["name"] == "Standard layout"
    employee = company.rackbeat_has("employees", 1)
    assert (employee["name"], employee["contact_email"]) == ("Sandbox Administrator", "admin@sandbox.invalid")
    for kind, key, rackbeat_key in (("customer_group", 1, "1"), ("layout", 19, "19"), ("employee", 1, "1")):
        assert company.bound(kind, key) == rackbeat_key, kind

    clear_log(company.rackbeat)
    assert run(IMPORT, "customer", number)["outcome"] == "unchanged"
    assert rackbeat_writes(company.rackbeat) == [], "a second import writes nothing"
    assert not economic_writes(company.economic), "nothing went back to e-conomic"


def test_a_supplier_arrives_in_its_supplier_group_with_its_terms(company: Company) -> None:
    number = company.number
    company.supplier_group(2, "Udenlandske leverandører")
    company.supplier(number, group=2, email="ordre@example.com faktura@example.com", phone="+45 70 10 20 30")

    assert run(IMPORT, "supplier", number)["outcome"] == "ignored", "Rackbeat owns suppliers after the sync"
    answer = run(STARTUP_IMPORT, "supplier", number)

    assert answer == {"outcome": "created", "rackbeat_key": str(number)}
    supplier = company.rackbeat_has("suppliers", number)
    terms = company.bound("payment_term", 1)
    assert terms is not None
    assert (supplier["supplier_group_id"], supplier["payment_terms_id"]) == (2, int(terms))
    assert (supplier["company_name"], supplier["contact_email"], supplier["contact_phone"]) == (
        f"Supplier {number}",
        "ordre@example.com",
        "+45 70 10 20 30",
    )
    assert company.rackbeat_has("supplier-groups", 2)["name"] == "Udenlandske leverandører"

    clear_log(company.rackbeat)
    assert run(STARTUP_IMPORT, "supplier", number)["outcome"] == "unchanged"
    assert rackbeat_writes(company.rackbeat) == [], "a second import writes nothing"
    assert not economic_writes(company.economic), "nothing went back to e-conomic"


def test_an_employee_and_a_supplier_group_are_imported_on_their_own_at_their_numbers(
    company: Company,
) -> None:
    company.employee(7, "Mette Kjær", email="mk@example.com", phone="+45 75 50 12 01")
    company.supplier_group(3, "Fragt og diverse")

    assert run(STARTUP_IMPORT, "employee", 7) == {"outcome": "created", "rackbeat_key": "7"}
    assert run(STARTUP_IMPORT, "supplier_group", 3) == {"outcome": "created", "rackbeat_key": "3"}

    employee = company.rackbeat_has("employees", 7)
    assert (employee["name"], employee["contact_email"], employee["contact_phone"]) == (
        "Mette Kjær",
        "mk@example.com",
        "+45 75 50 12 01",
    )
    assert company.rackbeat_has("supplier-groups", 3)["name"] == "Fragt og diverse"
    clear_log(company.rackbeat)
    assert run(STARTUP_IMPORT, "employee", 7)["outcome"] == "unchanged"
    assert run(STARTUP_IMPORT, "supplier_group", 3)["outcome"] == "unchanged"
    assert rackbeat_writes(company.rackbeat) == []


def test_records_rackbeat_already_has_at_the_same_number_are_bound_not_duplicated(company: Company) -> None:
    number = company.number
    company.supplier_group(4, "Danske leverandører")
    company.employee(8, "Søren Bech")
    company.supplier(number, group=4)
    sandbox = company.rackbeat.sandbox
    sandbox.create("supplier-groups", {"number": 4, "name": "Our own name"}, suppress=True)
    sandbox.create("employees", {"number": 8, "name": "Søren B."}, suppress=True)
    sandbox.create(
        "payment-terms", {"number": 1, "name": "Net 8 days", "type": "net", "maturity_days": 8}, suppress=True
    )
    sandbox.create(
        "suppliers", {"number": number, "company_name": "Ours ApS", "payment_terms_id": 1}, suppress=True
    )
    sandbox.create("layouts", {"number": 20, "name": "Old name"}, suppress=True)
    clear_log(company.rackbeat)

    outcomes = {
        kind: run(STARTUP_IMPORT, kind, key)
        for kind, key in (("supplier_group", 4), ("employee", 8), ("supplier", number))
    }
    layout = run(IMPORT, "layout", 20)

    for kind, key in (("supplier_group", 4), ("employee", 8), ("supplier", number)):
        assert outcomes[kind] == {"outcome": "unchanged", "rackbeat_key": str(key)}, kind
    assert layout == {**layout, "outcome": "replaced", "rackbeat_key": "20"}, "e-conomic owns layouts"
    for resource, key in (("supplier-groups", 4), ("employees", 8), ("suppliers", number), ("layouts", 20)):
        assert company.count(resource, key) == 1, resource
    assert company.rackbeat_has("suppliers", number)["company_name"] == "Ours ApS", (
        "Rackbeat's, left as it is"
    )
    assert company.rackbeat_has("supplier-groups", 4)["name"] == "Our own name"
    assert company.rackbeat_has("layouts", 20)["name"] == "Layout with logo"
    writes = [(e["method"], e["path"]) for e in rackbeat_writes(company.rackbeat)]
    assert writes == [("PUT", "/api/layouts/20")], "only e-conomic's layout was written"


def test_a_layout_rackbeat_refuses_is_dead_lettered_in_its_words_and_so_is_the_customer_needing_it(
    company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rackbeat's public API documents only GET layouts: should it refuse the import's POST (405 here), the
    refusal reaches the dead-letter list in Rackbeat's words, and the customer waits for its layout."""
    monkeypatch.setitem(RESOURCES, "layouts", replace(RESOURCES["layouts"], writable=False))
    number = company.number
    economic_customer(company.economic, number, layout={"layoutNumber": 20})
    store = DeadLetterStore(company.redis, company.settings.connection_id)

    app.send_task(IMPORT, args=("layout", "20")).get(timeout=30, propagate=False)
    app.send_task(IMPORT, args=("customer", str(number))).get(timeout=30, propagate=False)

    for kind, key in (("layout", "20"), ("customer", str(number))):
        entries = wait_for(
            lambda kind=kind, key=key: store.entries_for_record(kind, key),
            message=f"the {kind}'s dead letter",
        )
        entry = entries[-1]
        assert (entry["api"], entry["status_code"], entry["task_name"]) == ("rackbeat", 405, IMPORT), entry
        assert "The POST method is not supported for this route" in entry["error"], entry["error"]
    assert rackbeat_record(company.rackbeat, "customers", number) is None
    assert rackbeat_record(company.rackbeat, "layouts", 20) is None
