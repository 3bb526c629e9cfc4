"""Import rules of the kinds Rackbeat owns and an import may need to create there first (groups, units,
payment terms): pure mappers, and how each is found in Rackbeat before it is created."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from clients.errors import NotFoundError
from tasks.entities import customer_group, payment_term, product_group, unit
from tasks.entities.base import MappingContext
from tasks.settings import Settings
from tasks.sync.direction import owner


class FakeRackbeat:
    """Just enough of a RackbeatClient for a finder: records by resource."""

    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        self.records = records
        self.calls: list[tuple[str, Any]] = []

    def get(self, resource: str, key: str | int, singular: str) -> dict[str, Any]:
        self.calls.append(("get", key))
        for record in self.records.get(resource, []):
            if str(record["number"]) == str(key):
                return record
        raise NotFoundError("not found", api="rackbeat", method="GET", url=resource, status=404)

    def iter(
        self, resource: str, plural: str, params: Mapping[str, Any] | None = None, limit: int = 1000
    ) -> Iterator[dict[str, Any]]:
        self.calls.append(("list", resource))
        yield from self.records.get(resource, [])


def test_groups_keep_their_number_and_name() -> None:
    assert customer_group.to_rackbeat({"customerGroupNumber": 3, "name": " Retail "}, MappingContext()) == {
        "name": "Retail"
    }
    assert customer_group.SPEC.import_rules.rackbeat_key({"customerGroupNumber": 3}) == 3
    body = product_group.to_rackbeat(
        {"productGroupNumber": 4, "name": "Tools", "inventoryEnabled": True}, MappingContext()
    )
    assert body == {"name": "Tools", "has_inventory": True}
    assert product_group.SPEC.import_rules.economic_key({"productGroupNumber": 4}) == 4  # type: ignore[misc]


def test_a_group_is_found_at_its_number() -> None:
    rackbeat = FakeRackbeat({"customer-groups": [{"number": 3, "name": "Other name"}]})
    find = customer_group.SPEC.import_rules.find_existing
    assert find is not None
    assert find(rackbeat, {"customerGroupNumber": 3}) == {"number": 3, "name": "Other name"}
    assert find(rackbeat, {"customerGroupNumber": 5}) is None


def test_a_unit_is_found_by_its_name_and_a_payment_term_by_name_type_and_days() -> None:
    rackbeat = FakeRackbeat(
        {
            "units": [{"number": 7, "name": "PCS."}],
            "payment-terms": [
                {"number": 2, "name": "Net 8 days", "type": "net", "maturity_days": 14},
                {"number": 3, "name": "net 8 days", "type": "Net", "maturity_days": 8},
            ],
        }
    )
    find_unit = unit.SPEC.import_rules.find_existing
    find_term = payment_term.SPEC.import_rules.find_existing
    assert find_unit is not None and find_term is not None
    assert find_unit(rackbeat, {"unitNumber": 1, "name": "pcs."})["number"] == 7  # type: ignore[index]
    assert find_unit(rackbeat, {"unitNumber": 2, "name": "hours"}) is None
    term = {"paymentTermsNumber": 1, "name": "Net 8 days", "paymentTermsType": "net", "daysOfCredit": 8}
    assert find_term(rackbeat, term)["number"] == 3  # type: ignore[index]


def test_a_payment_term_maps_to_the_type_the_export_reads_back() -> None:
    term = {
        "paymentTermsNumber": 1,
        "name": "Current month + 30",
        "paymentTermsType": "invoiceMonth",
        "daysOfCredit": 30,
        "contraAccountForPrepaidAmount": {"accountNumber": 5600},
        "percentageForPrepaidAmount": 10.0,
    }
    body = payment_term.to_rackbeat(term, MappingContext())
    assert body == {"name": "Current month + 30", "type": "invoiceMonth", "maturity_days": 30}
    assert payment_term.economic_type(body["type"]) == "invoiceMonth"


def test_rackbeat_owns_the_dependency_kinds_so_they_are_never_polled() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rackbeat_token="t",
        economic_app_secret_token="t",
        economic_agreement_grant_token="t",
        customers_master="economic",
        products_master="economic",
    )
    for spec in (customer_group.SPEC, product_group.SPEC, unit.SPEC, payment_term.SPEC):
        assert owner(spec, settings) == "rackbeat"
        assert spec.import_rules.poll is None
