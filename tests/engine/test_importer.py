"""The import synchronizer, called directly against both sandboxes and the real Redis (no Celery here: the
task, its dead letters and its worker are exercised in tests/engine/test_importer_task.py and
tests/e2e/test_imports_*.py). e-conomic records are written over the e-conomic sandbox's HTTP API."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import redis

from clients.errors import TransientError
from tasks.entities import REGISTRY
from tasks.errors import MappingError
from tasks.settings import Settings
from tasks.sync.bindings import BindingStore
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions
from tasks.sync.exporter import export_record
from tasks.sync.importer import Importer, UpdateRefused, import_record
from tasks.sync.results import TransferResult
from tasks.transfer import build_store
from tests.engine.importer_support import (
    clear_log,
    economic_call,
    economic_customer,
    economic_product,
    economic_writes,
    rackbeat_record,
    rackbeat_writes,
)
from tests.engine.test_exporter import forget_records


@pytest.fixture
def sandboxes(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> tuple[Any, Any]:
    forget_records(redis_client, session_namespace)
    return rackbeat_sandbox, economic_sandbox


def run_import(kind: str, key: str, directions: Directions | None = None) -> TransferResult:
    return import_record(kind, key, clients=process_clients(), store=build_store(), directions=directions)


def test_a_new_customer_arrives_with_its_group_and_terms_first(
    sandboxes: tuple[Any, Any], bindings: BindingStore
) -> None:
    rackbeat, economic = sandboxes
    economic_customer(
        economic,
        501,
        email="buyer@example.com invoices@example.com",
        address="Main Street 1\nBuilding B",
        city="Aarhus",
        zip="8000",
        country="Denmark",
        creditLimit=1000.456,
    )

    result = run_import("customer", "501")

    assert result.outcome == "created"
    assert [(d.kind, d.key, d.outcome) for d in result.dependencies] == [
        ("customer_group", "1", "created"),
        ("payment_term", "1", "created"),
    ]
    customer = rackbeat_record(rackbeat, "customers", 501)
    assert customer is not None
    assert customer["company_name"] == "Customer 501"
    assert customer["contact_email"] == "buyer@example.com", "only the primary e-mail"
    assert (customer["address_street"], customer["address_street2"]) == ("Main Street 1", "Building B")
    assert customer["vat_zone"] == "domestic"
    assert customer["max_credit"] == 1000.46
    group = rackbeat_record(rackbeat, "customer-groups", 1)
    assert group is not None and customer["customer_group_id"] == 1
    [term] = rackbeat.sandbox.dump("payment-terms")
    assert (term["name"], term["type"], term["maturity_days"]) == ("Net 8 days", "net", 8)
    assert customer["payment_terms_id"] == term["number"]
    binding = bindings.get("customer", "501")
    assert binding is not None and binding.economic_key == 501 and binding.rackbeat_hash
    assert bindings.rackbeat_key_for("payment_term", "1") == str(term["number"])
    # every write asked Rackbeat not to fire its webhooks
    writes = rackbeat_writes(rackbeat)
    assert len(writes) == 3 and all(w["body"].get("suppress_webhooks") is True for w in writes)
    assert not economic_writes(economic), "an import never writes to e-conomic"


def test_a_change_is_copied_and_an_unchanged_document_writes_nothing(
    sandboxes: tuple[Any, Any],
) -> None:
    rackbeat, economic = sandboxes
    economic_product(economic, "IMP-1", salesPrice=12.5)
    assert run_import("product", "IMP-1").outcome == "created"

    economic_product(economic, "IMP-1", salesPrice=14.0, description="Now with a description")
    changed = run_import("product", "IMP-1")
    clear_log(rackbeat)
    again = run_import("product", "IMP-1")

    assert changed.outcome == "replaced"
    product = rackbeat_record(rackbeat, "products", "IMP-1")
    assert product is not None
    assert (product["sales_price"], product["description"]) == (14.0, "Now with a description")
    assert again.outcome == "unchanged"
    assert again.dependencies == [], "bound dependencies cost nothing"
    assert not rackbeat_writes(rackbeat)
    assert again.api_calls == 1, "one read of e-conomic's product"


def test_a_change_only_in_a_field_never_copied_writes_nothing(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    economic_customer(economic, 502, email="first@example.com")
    run_import("customer", "502")
    clear_log(rackbeat)

    economic_customer(economic, 502, email="first@example.com orders@example.com", website="example.com")
    result = run_import("customer", "502")

    assert result.outcome == "unchanged"
    assert not rackbeat_writes(rackbeat)


def test_a_product_rackbeat_already_has_is_adopted_not_created_again(
    sandboxes: tuple[Any, Any], bindings: BindingStore
) -> None:
    rackbeat, economic = sandboxes
    group = rackbeat.sandbox.create("product-groups", {"name": "Existing"})
    rackbeat.sandbox.create(
        "products", {"number": "IMP-2", "name": "Old name", "group_id": group["number"], "sales_price": 1}
    )
    economic_product(economic, "IMP-2", name="New name")

    result = run_import("product", "IMP-2")

    assert result.outcome == "replaced", "found at its number and updated, not created"
    assert [p["name"] for p in rackbeat.sandbox.dump("products")] == ["New name"]
    writes = [(w["method"], w["path"]) for w in rackbeat_writes(rackbeat)]
    assert ("POST", "/api/products") not in writes
    assert bindings.get("product", "IMP-2") is not None


def test_a_dependency_rackbeat_owns_and_has_is_bound_as_it_is(
    sandboxes: tuple[Any, Any], bindings: BindingStore
) -> None:
    rackbeat, economic = sandboxes
    rackbeat.sandbox.create("product-groups", {"number": 1, "name": "Rackbeat's own name"})
    unit = rackbeat.sandbox.create("units", {"name": "PCS."})
    economic_product(economic, "IMP-3")

    result = run_import("product", "IMP-3", Directions.of(Settings(**_settings(products_master="economic"))))

    assert [(d.kind, d.outcome) for d in result.dependencies] == [
        ("product_group", "unchanged"),
        ("unit", "unchanged"),
    ]
    assert rackbeat_record(rackbeat, "product-groups", 1)["name"] == "Rackbeat's own name"  # type: ignore[index]
    product = rackbeat_record(rackbeat, "products", "IMP-3")
    assert product is not None and product["unit_id"] == unit["number"] and product["group_id"] == 1
    assert bindings.rackbeat_key_for("unit", "1") == str(unit["number"])
    assert [w["path"] for w in rackbeat_writes(rackbeat)] == ["/api/products"]


def test_a_kind_rackbeat_owns_is_not_imported_on_its_own(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    economic_customer(economic, 503)
    directions = Directions.of(Settings(**_settings()))  # Rackbeat owns customers (the default)

    assert run_import("customer", "503", directions).outcome == "ignored"
    assert rackbeat.sandbox.dump("customers") == []


def test_may_update_refuses_and_leaves_the_rackbeat_record_alone(
    sandboxes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rackbeat, economic = sandboxes
    spec = REGISTRY["product"]
    guarded = replace(
        spec,
        imports=replace(
            spec.import_rules,
            may_update=lambda existing: "Rackbeat has barred it" if existing.get("is_barred") else None,
        ),
    )
    monkeypatch.setitem(REGISTRY, "product", guarded)
    economic_product(economic, "IMP-4")
    run_import("product", "IMP-4")
    rackbeat.sandbox.update("products", "IMP-4", {"is_barred": True})
    economic_product(economic, "IMP-4", name="Renamed in e-conomic")

    with pytest.raises(UpdateRefused) as refused:
        run_import("product", "IMP-4")

    assert refused.value.api == "rackbeat"
    assert "Rackbeat has barred it" in str(refused.value)
    assert refused.value.permanent
    assert rackbeat_record(rackbeat, "products", "IMP-4")["name"] == "Product IMP-4"  # type: ignore[index]


def test_a_create_whose_answer_was_lost_is_found_by_the_retry_not_made_twice(
    sandboxes: tuple[Any, Any],
) -> None:
    """Rackbeat has no Idempotency-Key: "commit, then fail the answer" on a create; the retry finds the
    record (a dependency by its number, the customer by its number) before writing anything again."""
    rackbeat, economic = sandboxes
    directions = Directions.of(Settings(**_settings(customers_master="economic")))
    economic_customer(economic, 505)
    economic_customer(economic, 506)

    rackbeat.sandbox.faults.set(commit_then_fail=1)  # the customer group's create, its answer lost
    with pytest.raises(TransientError):
        run_import("customer", "505", directions)
    assert run_import("customer", "505", directions).outcome == "created"
    rackbeat.sandbox.faults.set(commit_then_fail=1)  # now the customer's own create
    with pytest.raises(TransientError):
        run_import("customer", "506", directions)
    retried = run_import("customer", "506", directions)

    assert retried.outcome == "replaced", "found at its number, not created again"
    assert sorted(c["number"] for c in rackbeat.sandbox.dump("customers")) == [505, 506]
    assert len(rackbeat.sandbox.dump("customer-groups")) == 1
    assert len(rackbeat.sandbox.dump("payment-terms")) == 1
    assert run_import("customer", "506", directions).outcome == "unchanged"


def test_a_document_not_ready_is_left_alone(
    sandboxes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rackbeat, economic = sandboxes
    spec = REGISTRY["product"]
    monkeypatch.setitem(
        REGISTRY, "product", replace(spec, imports=replace(spec.import_rules, ready=lambda document: False))
    )
    economic_product(economic, "IMP-8")

    assert run_import("product", "IMP-8").outcome == "ignored"
    assert not rackbeat_writes(rackbeat)


def test_a_document_gone_from_economic_bars_its_rackbeat_record(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    economic_product(economic, "IMP-5")
    run_import("product", "IMP-5")
    economic_call(economic, "DELETE", "products/IMP-5")

    result = run_import("product", "IMP-5")

    assert result.outcome == "barred"
    assert rackbeat_record(rackbeat, "products", "IMP-5")["is_barred"] is True  # type: ignore[index]
    assert run_import("product", "IMP-5").outcome == "barred", "barring again is harmless"


def test_a_document_never_imported_and_gone_is_ignored(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, _ = sandboxes
    assert run_import("product", "NEVER-THERE").outcome == "ignored"
    assert not rackbeat_writes(rackbeat)


def test_a_required_dependency_that_cannot_be_resolved_names_the_rackbeat_field(
    sandboxes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    rackbeat, economic = sandboxes
    economic_product(economic, "IMP-6")
    group_spec = REGISTRY["product_group"]
    monkeypatch.setitem(REGISTRY, "product_group", replace(group_spec, imports=None))

    with pytest.raises(MappingError) as refused:
        run_import("product", "IMP-6")

    assert (refused.value.api, refused.value.field) == ("rackbeat", "group_id")
    assert rackbeat.sandbox.dump("products") == []


def test_no_echo_the_exporter_finds_an_imported_customer_unchanged(
    sandboxes: tuple[Any, Any], bindings: BindingStore
) -> None:
    """A customer an order import created in Rackbeat (Rackbeat owns customers): when a Rackbeat event,
    poll or resend exports it, nothing is written back to e-conomic, its group and terms included."""
    _, economic = sandboxes
    economic_customer(economic, 504, email="a@example.com b@example.com", ean="5790000000001")
    importer = Importer(process_clients(), build_store(), directions=Directions.of(Settings(**_settings())))
    importer.transfer("customer", "504", chain=(("order", "1"),))  # as an order's dependency
    clear_log(economic)

    exported = export_record("customer", "504", clients=process_clients(), store=build_store())

    assert exported.outcome == "unchanged"
    assert [d.outcome for d in exported.dependencies] == ["unchanged", "unchanged"]
    assert not economic_writes(economic), "nothing goes back to e-conomic"
    assert bindings.seen_versions("customer", ["504"])[0] is not None, "the Rackbeat poll sees it in step"


def test_no_echo_for_an_imported_product_and_its_group_and_unit(sandboxes: tuple[Any, Any]) -> None:
    _, economic = sandboxes
    economic_product(economic, "IMP-7", barCode="5701234567892", recommendedPrice=20)
    run_import("product", "IMP-7")
    clear_log(economic)

    exported = export_record("product", "IMP-7", clients=process_clients(), store=build_store())

    assert exported.outcome == "unchanged"
    assert not economic_writes(economic)


def _settings(**overrides: Any) -> dict[str, Any]:
    return {
        "rackbeat_token": "t",
        "economic_app_secret_token": "t",
        "economic_agreement_grant_token": "t",
        "_env_file": None,
        **overrides,
    }


class RecordingRackbeat:
    """Records where the importer sends a create (the path is the rule under test, not Rackbeat)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def create(self, resource: str, singular: str, body: dict[str, Any]) -> dict[str, Any]:
        self.posts.append((resource, body))
        return {"number": 1, **body}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({}, "orders"),
        ({"create_path": "orders/drafts"}, "orders/drafts"),
        ({"upsert_path": "x/upsert"}, "x/upsert"),
    ],
)
def test_a_new_record_is_posted_where_the_rules_say(changes: dict[str, Any], path: str) -> None:
    from tasks.entities.base import EconomicSide, EntitySpec, ImportRules, LegacyResource, RackbeatSide
    from tasks.sync.ports import ApiClients, SyncStore

    spec = EntitySpec(
        kind="draft_thing",
        rackbeat=RackbeatSide(resource="orders", singular="order"),
        economic=EconomicSide(target=LegacyResource("orders/sent"), key_field="orderNumber"),
        imports=replace(ImportRules(to_rackbeat=lambda document, context: {}), **changes),
    )
    rackbeat = RecordingRackbeat()
    store = SyncStore(connection_id="x", bindings=None, lock=None, watchers=None, enqueue=None)  # type: ignore[arg-type]
    importer = Importer(ApiClients(rackbeat, None), store)  # type: ignore[arg-type]

    importer._create(spec, {"heading": "H"})

    assert rackbeat.posts == [(path, {"heading": "H", "suppress_webhooks": True})]
