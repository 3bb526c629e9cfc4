"""Which way each kind moves under the settings (tasks.sync.direction), the one place that decides it."""

from __future__ import annotations

from tasks.entities import REGISTRY
from tasks.settings import Settings
from tasks.sync.direction import Directions, owner


def test_by_default_rackbeat_owns_every_kind_and_everything_is_exported(service_settings: Settings) -> None:
    directions = Directions.of(service_settings)
    # every kind Rackbeat can send; an import-only kind (projects: made in e-conomic only) is e-conomic's
    exportable = {kind for kind, spec in REGISTRY.items() if spec.exports is not None}
    assert directions.exported == frozenset(exportable)
    assert directions.imported == frozenset(set(REGISTRY) - exportable)
    assert {spec.kind for spec in directions.exported_specs()} == exportable


def test_e_conomic_as_customer_master_stops_customer_exports_only(service_settings: Settings) -> None:
    settings = service_settings.model_copy(update={"customers_master": "economic"})
    directions = Directions.of(settings)
    assert not directions.exports("customer")
    assert owner(REGISTRY["customer"], settings) == "economic"
    # groups and terms have no master setting: Rackbeat keeps them; products are not customers
    assert {"customer_group", "payment_term", "product", "lot", "supplier"} <= directions.exported


def test_lots_follow_the_products_setting_since_they_are_products_in_e_conomic(
    service_settings: Settings,
) -> None:
    settings = service_settings.model_copy(update={"products_master": "economic"})
    directions = Directions.of(settings)
    assert not directions.exports("product") and not directions.exports("lot")
    assert directions.exports("product_group") and directions.exports("customer")


def test_a_kind_without_a_master_setting_belongs_to_the_side_it_comes_from(
    service_settings: Settings,
) -> None:
    assert REGISTRY["supplier"].master is None
    assert owner(REGISTRY["supplier"], service_settings) == "rackbeat"
