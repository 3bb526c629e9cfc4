"""The export synchronizer, called directly against both sandboxes and the real Redis (no Celery here:
the task, its retries and its worker are exercised in tests/e2e/test_products_e2e.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import redis

from clients.errors import TransientError, ValidationFailed
from tasks.entities import REGISTRY, product_group
from tasks.entities.base import EconomicSide, EntitySpec, ExportRules, LegacyResource, RackbeatSide
from tasks.errors import DependencyCycle, MappingError, RecordBusy
from tasks.settings import Settings, get_settings
from tasks.sync.bindings import BindingStore
from tasks.sync.connections import process_clients
from tasks.sync.direction import Directions
from tasks.sync.exporter import export_record
from tasks.sync.locks import RecordLock
from tasks.sync.ports import SyncStore
from tasks.sync.results import TransferResult
from tasks.transfer import build_store

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def forget_records(client: redis.Redis, namespace: str) -> None:
    """Drop bindings, locks and pending markers of earlier tests: the sandboxes are reset per test, so
    stale bindings would point at records that no longer exist."""
    patterns = (
        "binding:*",
        "binding-rev:*",
        "binding-owner:*",
        "lock:*",
        "pending:*",
        "watchers:*",
        "watching:*",
        "posting:*",
    )
    for pattern in patterns:
        stale = list(client.scan_iter(match=f"rbsync:{namespace}:{pattern}", count=1000))
        if stale:
            client.delete(*stale)


@pytest.fixture
def export_settings(
    sandbox_settings: Settings, redis_client: redis.Redis, session_namespace: str
) -> Settings:
    """This process (and the in-process worker) talking to the sandboxes, on a store with no records."""
    forget_records(redis_client, session_namespace)
    return sandbox_settings


def economic_writes(economic: Any) -> list[dict[str, Any]]:
    return [entry for entry in economic.sandbox.request_log.entries() if entry["method"] in WRITES]


def export(kind: str, key: str) -> TransferResult:
    return export_record(kind, key, clients=process_clients(), store=build_store())


def make_group(rackbeat: Any, name: str = "Hardware") -> dict[str, Any]:
    return rackbeat.sandbox.create("product-groups", {"name": name})


def make_product(rackbeat: Any, number: str, group: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"number": number, "name": f"Product {number}", "group_id": group["number"], "sales_price": 10.0}
    body.update(fields)
    return rackbeat.sandbox.create("products", body)


def economic_product(economic: Any, number: str) -> dict[str, Any] | None:
    return next((p for p in economic.sandbox.dump("products") if p["productNumber"] == number), None)


@pytest.fixture
def sandboxes(rackbeat_sandbox: Any, economic_sandbox: Any, export_settings: Settings) -> tuple[Any, Any]:
    return rackbeat_sandbox, economic_sandbox


def test_a_new_product_arrives_with_its_group(sandboxes: tuple[Any, Any], bindings: BindingStore) -> None:
    rackbeat, economic = sandboxes
    make_group(rackbeat, "General")  # number 1, which e-conomic's fresh agreement already has
    group = make_group(rackbeat, "Fasteners")
    make_product(rackbeat, "BOLT-1", group, sales_price=2.456, stock_quantity=40, description="M8 bolt")

    result = export("product", "BOLT-1")

    assert result.outcome == "created"
    assert result.economic_key == "BOLT-1"
    [group_result] = result.dependencies
    assert (group_result.kind, group_result.key) == ("product_group", str(group["number"]))
    assert group_result.outcome == "created"
    stored = economic_product(economic, "BOLT-1")
    assert stored is not None
    assert stored["salesPrice"] == 2.46
    assert stored["description"] == "M8 bolt"
    assert stored["productGroup"]["productGroupNumber"] == group["number"]
    assert "inventory" not in stored or "inStock" not in stored["inventory"]
    groups = {g["productGroupNumber"]: g for g in economic.sandbox.dump("product-groups")}
    assert groups[group["number"]]["name"] == "Fasteners"
    binding = bindings.get("product", "BOLT-1")
    assert binding is not None
    assert (binding.economic_key, binding.economic_resource) == ("BOLT-1", "products")
    # the group went through the Products OpenAPI service, the product through legacy REST with PUT
    paths = [(w["method"], w["path"]) for w in economic_writes(economic)]
    assert paths == [("POST", "/productsapi/v2.0.0/productgroups"), ("PUT", "/products/BOLT-1")]
    assert result.api_calls == 2 + 3  # Rackbeat: product, group; e-conomic: group GET+POST, product PUT


def test_nothing_changed_means_no_write(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    make_product(rackbeat, "NUT-1", group)
    export("product", "NUT-1")
    writes_before = len(economic_writes(economic))

    rackbeat.sandbox.update("products", "NUT-1", {"stock_quantity": 99, "min_stock": 3})
    again = export("product", "NUT-1")

    assert again.outcome == "unchanged"
    assert [d.outcome for d in again.dependencies] == ["unchanged"]
    assert len(economic_writes(economic)) == writes_before
    # the group Rackbeat embeds in the product still maps to what was written: not fetched again
    assert again.api_calls == 1


def test_a_stale_group_is_brought_up_to_date_by_its_product(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat, "Nuts")
    make_product(rackbeat, "NUT-3", group)
    export("product", "NUT-3")

    rackbeat.sandbox.update("product-groups", group["number"], {"name": "Nuts and washers"})
    rackbeat.sandbox.update("products", "NUT-3", {"sales_price": 11.0})
    result = export("product", "NUT-3")

    assert result.outcome == "replaced"
    assert [(d.kind, d.outcome) for d in result.dependencies] == [("product_group", "replaced")]
    groups = {g["productGroupNumber"]: g for g in economic.sandbox.dump("product-groups")}
    assert groups[group["number"]]["name"] == "Nuts and washers"


def test_a_mapped_change_replaces_the_product(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    make_product(rackbeat, "NUT-2", group, description="old")
    export("product", "NUT-2")

    rackbeat.sandbox.update("products", "NUT-2", {"name": "Hex nut M8", "description": ""})
    result = export("product", "NUT-2")

    assert result.outcome == "replaced"
    stored = economic_product(economic, "NUT-2")
    assert stored is not None and stored["name"] == "Hex nut M8"
    assert "description" not in stored  # cleared in Rackbeat, so cleared by the full replace
    assert economic_writes(economic)[-1]["method"] == "PUT"


def test_a_change_made_back_and_forth_is_written_every_time(sandboxes: tuple[Any, Any]) -> None:
    """A -> B -> A -> B within e-conomic's replay hour: the last write must not be answered from its cache."""
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    make_product(rackbeat, "FLIP-1", group, sales_price=10)
    export("product", "FLIP-1")

    for price in (11, 10, 11):
        rackbeat.sandbox.update("products", "FLIP-1", {"sales_price": price})
        assert export("product", "FLIP-1").outcome == "replaced"
        assert not process_clients().economic.last_response_from_cache
        stored = economic_product(economic, "FLIP-1")
        assert stored is not None and stored["salesPrice"] == price


def test_a_legacy_replace_keeps_the_fields_a_bookkeeper_owns(sandboxes: tuple[Any, Any]) -> None:
    """Customer groups declare `keep_on_update=("account",)`: a PUT is a full replace, so the writer
    reads the group first and sends the account e-conomic has now, not the default one."""
    rackbeat, economic = sandboxes
    rackbeat.sandbox.create("customer-groups", {"number": 41, "name": "Retail"})
    assert export("customer_group", "41").outcome == "created"
    economic_client = process_clients().economic
    current = economic_client.get_item("customer-groups", 41)
    default_account = current["account"]["accountNumber"]
    other_account = next(
        a["accountNumber"]
        for a in economic.sandbox.dump("accounts")
        if a["accountNumber"] != default_account and a.get("accountType") in ("status", "profitAndLoss")
    )
    moved = {"name": "Retail", "account": {"accountNumber": other_account}}
    economic_client.replace("customer-groups", 41, moved, idempotency_key="bookkeeper-moves-the-group")

    rackbeat.sandbox.update("customer-groups", 41, {"name": "Retail DK"})
    assert export("customer_group", "41").outcome == "replaced"

    stored = economic_client.get_item("customer-groups", 41)
    assert stored["name"] == "Retail DK"
    assert stored["account"]["accountNumber"] == other_account


def test_a_record_numbered_by_e_conomic_is_replaced_with_its_number_in_the_body(
    sandboxes: tuple[Any, Any], bindings: BindingStore
) -> None:
    """A Rackbeat supplier number e-conomic cannot hold is left to e-conomic; the update must then carry
    the assigned `supplierNumber` in the PUT body, which e-conomic requires there."""
    rackbeat, economic = sandboxes
    terms = rackbeat.sandbox.create(
        "payment-terms", {"name": "Netto 8 dage", "type": "net", "maturity_days": 8}
    )
    rackbeat.sandbox.create("supplier-groups", {"number": 7, "name": "Danske"})
    too_big = 4_000_000_000
    rackbeat.sandbox.create(
        "suppliers",
        {
            "number": too_big,
            "company_name": "Stort Nummer ApS",
            "payment_terms_id": terms["number"],
            "supplier_group_id": 7,
            "address_country": "Danmark",
            "currency": "DKK",
        },
    )
    assert export("supplier", str(too_big)).outcome == "created"
    assigned = bindings.get("supplier", str(too_big)).economic_key
    assert assigned != too_big

    rackbeat.sandbox.update("suppliers", too_big, {"company_name": "Stort Nummer A/S"})
    assert export("supplier", str(too_big)).outcome == "replaced"

    put = [
        w for w in economic_writes(economic) if w["method"] == "PUT" and w["path"] == f"/suppliers/{assigned}"
    ]
    assert put and put[-1]["body"]["supplierNumber"] == assigned
    assert process_clients().economic.get_item("suppliers", assigned)["name"] == "Stort Nummer A/S"


def test_a_group_rename_keeps_the_account_a_bookkeeper_chose(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat, "Tools")
    export("product_group", str(group["number"]))
    service, path = "productsapi/v2.0.0", f"productgroups/{group['number']}"
    economic_client = process_clients().economic
    created = economic_client.openapi_get(service, path)
    assert created["domesticAccountId"] == 1010
    # the bookkeeper moves the group to another sales account in e-conomic
    economic_client.openapi_put(
        service, "productgroups", {**created, "domesticAccountId": 1020}, idempotency_key="bookkeeper-edit"
    )
    moved = economic_client.openapi_get(service, path)

    rackbeat.sandbox.update("product-groups", group["number"], {"name": "Power tools"})
    result = export("product_group", str(group["number"]))

    assert result.outcome == "replaced"
    after = economic_client.openapi_get(service, path)
    assert (after["name"], after["domesticAccountId"]) == ("Power tools", 1020)
    last = economic_writes(economic)[-1]
    assert last["method"] == "PUT" and last["body"]["objectVersion"] == moved["objectVersion"]


def test_a_number_e_conomic_cannot_hold_is_replaced_and_bound(
    sandboxes: tuple[Any, Any], bindings: BindingStore, caplog: pytest.LogCaptureFixture
) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    number = "VERY-LONG-RACKBEAT-NUMBER-0001"  # 30 characters, e-conomic takes 25
    # Rackbeat's UI stops at 25 too, but older or imported items can be longer: loaded, not validated
    rackbeat.sandbox.load(
        {
            "products": [
                {"number": number, "name": "Legacy item", "group_id": group["number"], "sales_price": 1.0}
            ]
        }
    )

    with caplog.at_level("INFO", logger="tasks.sync"):
        result = export("product", number)

    assert result.outcome == "created"
    assert result.economic_key != number and len(result.economic_key) <= 25
    assert economic_product(economic, result.economic_key) is not None
    binding = bindings.get("product", number)
    assert binding is not None and binding.economic_key == result.economic_key
    assert bindings.rackbeat_key_for("product", result.economic_key) == number
    assert any(result.economic_key in message for message in caplog.messages)


def test_a_lost_binding_cannot_make_a_duplicate(sandboxes: tuple[Any, Any], bindings: BindingStore) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    make_product(rackbeat, "SCREW-1", group)
    export("product", "SCREW-1")
    bindings.delete("product", "SCREW-1")
    bindings.delete("product_group", str(group["number"]))

    again = export("product", "SCREW-1")

    assert again.outcome == "created"  # as far as we knew; e-conomic got an upsert at the same number
    assert [p["productNumber"] for p in economic.sandbox.dump("products")].count("SCREW-1") == 1
    group_numbers = [g["productGroupNumber"] for g in economic.sandbox.dump("product-groups")]
    assert group_numbers.count(group["number"]) == 1


def test_a_deleted_product_is_barred_not_deleted(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    make_product(rackbeat, "OLD-1", group, sales_price=5.0)
    export("product", "OLD-1")

    rackbeat.sandbox.delete("products", "OLD-1")
    result = export("product", "OLD-1")
    again = export("product", "OLD-1")

    assert result.outcome == "barred"
    assert again.outcome == "unchanged"
    stored = economic_product(economic, "OLD-1")
    assert stored is not None and stored["barred"] is True and stored["salesPrice"] == 5.0


def test_a_kind_the_settings_give_to_e_conomic_is_not_exported(
    sandboxes: tuple[Any, Any], export_settings: Settings
) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    make_product(rackbeat, "MINE-1", group)
    economic_master = Directions.of(export_settings.model_copy(update={"products_master": "economic"}))

    result = export_record(
        "product", "MINE-1", clients=process_clients(), store=build_store(), directions=economic_master
    )

    assert (result.outcome, result.api_calls) == ("ignored", 0)
    assert economic_writes(economic) == []
    assert export("product", "MINE-1").outcome == "created"  # with Rackbeat as the master it goes


def test_a_record_that_never_reached_e_conomic_is_ignored_when_deleted(sandboxes: tuple[Any, Any]) -> None:
    _, economic = sandboxes
    result = export("product", "NEVER-EXISTED")
    assert result.outcome == "ignored"
    assert economic_writes(economic) == []


def test_a_payload_breaking_e_conomic_limits_fails_before_any_call(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat, "G" * 60)  # Rackbeat allows it, e-conomic's groups take 50 characters
    make_product(rackbeat, "LONGNAME-1", group)

    with pytest.raises(MappingError) as caught:
        export("product", "LONGNAME-1")

    assert caught.value.field == "name"
    assert "50" in caught.value.field_errors["name"][0]
    assert economic.sandbox.request_log.entries() == []


def without_default_sales_account(economic: Any) -> None:
    """An agreement whose chart of accounts has no 1010, the account new product groups are given:
    nothing we can know before the call, so only e-conomic can refuse the group."""
    economic.sandbox.store.delete("accounts", product_group.DOMESTIC_SALES_ACCOUNT)


def test_e_conomic_s_own_refusal_comes_through(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    without_default_sales_account(economic)
    make_group(rackbeat, "General")  # number 1, which e-conomic already has
    group = make_group(rackbeat, "Special")
    make_product(rackbeat, "SPECIAL-1", group)

    with pytest.raises(ValidationFailed) as caught:
        export("product", "SPECIAL-1")

    assert caught.value.status == 400
    assert "domesticAccountId" in caught.value.field_errors
    assert economic_product(economic, "SPECIAL-1") is None


def test_an_unknown_outcome_is_replayed_not_repeated(sandboxes: tuple[Any, Any]) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    export("product_group", str(group["number"]))
    make_product(rackbeat, "REPLAY-1", group)
    # every attempt of the client's call-level retry (1 + http_call_retries) commits and loses its answer
    attempts = 1 + get_settings().http_call_retries
    economic.sandbox.faults.set(commit_then_fail=attempts)

    with pytest.raises(TransientError):
        export("product", "REPLAY-1")
    assert economic_product(economic, "REPLAY-1") is not None  # committed, but we never heard

    result = export("product", "REPLAY-1")

    assert result.outcome == "created"
    assert process_clients().economic.last_response_from_cache
    puts = [w for w in economic_writes(economic) if w["path"] == "/products/REPLAY-1"]
    assert len(puts) == attempts + 1
    assert [p["productNumber"] for p in economic.sandbox.dump("products")].count("REPLAY-1") == 1


def test_a_record_another_worker_holds_is_busy(
    sandboxes: tuple[Any, Any], service_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    rackbeat, _ = sandboxes
    group = make_group(rackbeat)
    make_product(rackbeat, "HELD-1", group)
    monkeypatch.setattr("tasks.transfer.LOCK_WAIT_SECONDS", 0.2)
    holder = RecordLock(service_redis, "product", "HELD-1", ttl_seconds=30)
    assert holder.acquire()
    try:
        with pytest.raises(RecordBusy):
            export("product", "HELD-1")
    finally:
        holder.release()
    assert export("product", "HELD-1").outcome == "created"


def test_a_dependency_cycle_is_refused(sandboxes: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)

    def ring(other: str) -> EntitySpec:
        kind = "ring_a" if other == "ring_b" else "ring_b"
        return EntitySpec(
            kind=kind,
            rackbeat=RackbeatSide(resource="product-groups", singular="product_group"),
            economic=EconomicSide(target=LegacyResource("products"), key_field="productNumber"),
            exports=ExportRules(
                to_economic=lambda record, context: {},
                depends_on=lambda record: [(other, str(record["number"]))],
            ),
        )

    monkeypatch.setitem(REGISTRY, "ring_a", ring("ring_b"))
    monkeypatch.setitem(REGISTRY, "ring_b", ring("ring_a"))

    with pytest.raises(DependencyCycle) as caught:
        export("ring_a", str(group["number"]))

    key = str(group["number"])
    assert caught.value.chain == [("ring_a", key), ("ring_b", key), ("ring_a", key)]
    assert economic_writes(economic) == []


class QueueRecorder:
    """The store's `enqueue` collaborator, recording what the engine queued instead of sending tasks."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, str]] = []

    def __call__(self, kind: str, key: str) -> bool:
        self.queued.append((kind, key))
        return True


@pytest.fixture
def queue() -> QueueRecorder:
    return QueueRecorder()


def export_to(queue: QueueRecorder, kind: str, key: str) -> TransferResult:
    store: SyncStore = replace(build_store(), enqueue=queue)
    return export_record(kind, key, clients=process_clients(), store=store)


def make_kit(rackbeat: Any, number: str, group: dict[str, Any], components: list[tuple[str, float]]) -> None:
    rackbeat.sandbox.create(
        "lots",
        {
            "number": number,
            "name": f"Kit {number}",
            "group_id": group["number"],
            "lines": [{"product_id": item, "quantity": quantity} for item, quantity in components],
        },
    )


def set_cost_price(rackbeat: Any, number: str, cost_price: float) -> None:
    """Rackbeat moves a cost price with purchases, its API does not take one: set it as a purchase would."""
    rackbeat.sandbox.load({"products": [{"number": number, "cost_price": cost_price}]})


@pytest.fixture
def kit(sandboxes: tuple[Any, Any], queue: QueueRecorder) -> str:
    """KIT-1 = 4 x BOLT-K (cost 2.50) + 4 x NUT-K (cost 0.75), all three in e-conomic."""
    rackbeat, economic = sandboxes
    group = make_group(rackbeat, "Kits")
    make_product(rackbeat, "BOLT-K", group, recommended_cost_price=2.5)
    make_product(rackbeat, "NUT-K", group, recommended_cost_price=0.75)
    make_kit(rackbeat, "KIT-1", group, [("BOLT-K", 4), ("NUT-K", 4)])
    assert export_to(queue, "product", "BOLT-K").outcome == "created"
    assert export_to(queue, "product", "NUT-K").outcome == "created"
    assert export_to(queue, "lot", "KIT-1").outcome == "created"
    assert economic_product(economic, "KIT-1")["costPrice"] == 13.0
    assert queue.queued == []
    return "KIT-1"


def test_a_component_s_new_cost_queues_its_lot_and_the_lot_then_writes_it(
    sandboxes: tuple[Any, Any], queue: QueueRecorder, kit: str
) -> None:
    rackbeat, economic = sandboxes
    set_cost_price(rackbeat, "BOLT-K", 3.0)

    component = export_to(queue, "product", "BOLT-K")

    assert component.outcome == "replaced"
    assert component.notified == [("lot", kit)] == queue.queued
    assert economic_product(economic, kit)["costPrice"] == 13.0  # queued, not yet exported

    lot = export_to(queue, "lot", kit)

    assert lot.outcome == "replaced"
    assert economic_product(economic, kit)["costPrice"] == 15.0  # 4 x 3.00 + 4 x 0.75
    assert lot.notified == [] and queue.queued == [("lot", kit)]  # a lot never queues its components
    assert [(e["method"], e["path"]) for e in economic_writes(economic)][-1] == ("PUT", f"/products/{kit}")
    # Rackbeat: the lot, the same-number product guard (404), the two components; e-conomic: the PUT
    assert lot.api_calls == 5


def test_a_component_export_that_writes_nothing_queues_nothing(
    sandboxes: tuple[Any, Any], queue: QueueRecorder, kit: str
) -> None:
    rackbeat, _ = sandboxes
    rackbeat.sandbox.update("products", "BOLT-K", {"stock_quantity": 12, "min_stock": 2})

    result = export_to(queue, "product", "BOLT-K")

    assert result.outcome == "unchanged"
    assert result.notified == [] and queue.queued == []


def test_a_lot_that_already_read_the_new_cost_is_not_queued_again(
    sandboxes: tuple[Any, Any], queue: QueueRecorder, kit: str
) -> None:
    rackbeat, economic = sandboxes
    set_cost_price(rackbeat, "NUT-K", 1.0)
    assert export_to(queue, "lot", kit).outcome == "replaced"  # the lot's own event came first
    assert economic_product(economic, kit)["costPrice"] == 14.0

    component = export_to(queue, "product", "NUT-K")

    assert component.outcome == "replaced"
    assert component.notified == [] and queue.queued == []


def test_a_lot_that_drops_a_component_stops_watching_it(
    sandboxes: tuple[Any, Any], queue: QueueRecorder, kit: str
) -> None:
    rackbeat, economic = sandboxes
    watchers = build_store().watchers
    assert watchers.watching(("lot", kit)) == {("product", "BOLT-K"), ("product", "NUT-K")}

    rackbeat.sandbox.update("lots", kit, {"lines": [{"product_id": "NUT-K", "quantity": 2}]})
    assert export_to(queue, "lot", kit).outcome == "replaced"
    assert economic_product(economic, kit)["costPrice"] == 1.5

    assert watchers.watching(("lot", kit)) == {("product", "NUT-K")}
    assert watchers.watchers_of(("product", "BOLT-K")) == {}
    set_cost_price(rackbeat, "BOLT-K", 9.0)
    assert export_to(queue, "product", "BOLT-K").outcome == "replaced"
    assert queue.queued == []

    rackbeat.sandbox.delete("lots", kit)
    assert export_to(queue, "lot", kit).outcome == "barred"
    assert watchers.watching(("lot", kit)) == set()
    assert watchers.watchers_of(("product", "NUT-K")) == {}


def test_a_deleted_component_queues_its_lot_which_then_counts_the_line_price(
    sandboxes: tuple[Any, Any], queue: QueueRecorder, kit: str
) -> None:
    rackbeat, economic = sandboxes
    set_cost_price(rackbeat, "BOLT-K", 3.0)
    assert export_to(queue, "lot", kit).outcome == "replaced"
    assert economic_product(economic, kit)["costPrice"] == 15.0

    rackbeat.sandbox.delete("products", "BOLT-K")
    component = export_to(queue, "product", "BOLT-K")

    assert component.outcome == "barred"
    assert queue.queued == [("lot", kit)]
    assert export_to(queue, "lot", kit).outcome == "replaced"
    assert economic_product(economic, kit)["costPrice"] == 13.0  # the line's own 2.50 again


def test_records_e_conomic_numbers_itself_are_adopted_not_created_twice(
    sandboxes: tuple[Any, Any], bindings: BindingStore
) -> None:
    """An agreement comes with its own units and payment terms; an unbound Rackbeat unit or term that is the
    same (by the spec's `adopt_by` fields) is bound to e-conomic's record instead of created again."""
    rackbeat, economic = sandboxes
    economic_client = process_clients().economic
    unit = economic_client.create("units", {"name": "palle"}, idempotency_key="agreement-has-a-pallet-unit")
    terms = economic_client.create(
        "payment-terms",
        {"name": "Netto 21 dage", "paymentTermsType": "net", "daysOfCredit": 21},
        idempotency_key="agreement-has-net-21",
    )
    rackbeat_unit = rackbeat.sandbox.create("units", {"name": "palle"})
    rackbeat_terms = rackbeat.sandbox.create(
        "payment-terms", {"name": "Netto 21 dage", "type": "net", "maturity_days": 21}
    )
    other_terms = rackbeat.sandbox.create(
        "payment-terms", {"name": "Netto 21 dage", "type": "net", "maturity_days": 30}
    )

    assert export("unit", str(rackbeat_unit["number"])).outcome == "replaced"
    assert export("payment_term", str(rackbeat_terms["number"])).outcome == "replaced"
    assert export("payment_term", str(other_terms["number"])).outcome == "created"  # differs in days

    assert bindings.get("unit", str(rackbeat_unit["number"])).economic_key == unit["unitNumber"]
    terms_binding = bindings.get("payment_term", str(rackbeat_terms["number"]))
    assert terms_binding.economic_key == terms["paymentTermsNumber"]
    assert [u["name"] for u in economic.sandbox.dump("units")].count("palle") == 1
    posts = [w["path"] for w in economic_writes(economic) if w["method"] == "POST"]
    assert posts.count("/payment-terms") == 2  # the agreement's own and the 30-day one; not ours again


def test_a_product_cannot_overwrite_the_lot_that_holds_its_number(sandboxes: tuple[Any, Any]) -> None:
    """Products and lots both become e-conomic products; whichever is bound to a number first keeps it,
    and the other is refused before any call, naming the owner."""
    rackbeat, economic = sandboxes
    group = make_group(rackbeat)
    rackbeat.sandbox.create("lots", {"number": "KIT-1", "name": "Assembly kit", "group_id": group["number"]})
    assert export("lot", "KIT-1").outcome == "created"
    make_product(rackbeat, "KIT-1", group, name="Loose part with the kit's number")
    writes_before = len(economic_writes(economic))

    with pytest.raises(MappingError) as refused:
        export("product", "KIT-1")

    assert refused.value.field == "productNumber"
    assert "lot 'KIT-1'" in str(refused.value)
    assert len(economic_writes(economic)) == writes_before
    stored = economic_product(economic, "KIT-1")
    assert stored is not None and stored["name"] == "Assembly kit"
