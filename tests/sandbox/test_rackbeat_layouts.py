"""Layouts in the Rackbeat sandbox: written by the start-up sync's import (POST and PUT, an inference the
sandbox documents in sandbox/rackbeat/resources.py; the reference documents only GET, rackbeat-api.md 2.2),
and referenced by customers (`layout_id`, 2.3)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.rackbeat.resources import RESOURCES


@pytest.fixture
def api(rackbeat_sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat_sandbox.api_url, headers=rackbeat_sandbox.headers) as client:
        yield client


def test_a_layout_is_created_at_the_number_it_is_given_and_read_back(api: httpx.Client) -> None:
    created = api.post("layouts", json={"number": 19, "name": "Standard faktura", "suppress_webhooks": True})
    assert created.status_code == 201, created.text
    assert {k: created.json()["layout"][k] for k in ("number", "name")} == {
        "number": 19,
        "name": "Standard faktura",
    }
    assert "suppress_webhooks" not in created.json()["layout"]
    listed = api.get("layouts")
    assert listed.status_code == 206
    assert [(r["number"], r["name"]) for r in listed.json()["layouts"]] == [(19, "Standard faktura")]


def test_a_layout_is_renamed_in_place_with_put(api: httpx.Client) -> None:
    api.post("layouts", json={"number": 20, "name": "Old"})
    renamed = api.put("layouts/20", json={"name": "Faktura med logo"})
    assert renamed.status_code == 200, renamed.text
    assert api.get("layouts/20").json()["layout"]["name"] == "Faktura med logo"
    assert api.put("layouts/21", json={"name": "Nobody"}).status_code == 404


def test_a_taken_number_or_a_missing_name_is_refused_in_laravels_shape(api: httpx.Client) -> None:
    api.post("layouts", json={"number": 19, "name": "Standard"})
    taken = api.post("layouts", json={"number": 19, "name": "Again"})
    assert taken.status_code == 422 and "number" in taken.json()["errors"], taken.text
    nameless = api.post("layouts", json={"number": 22})
    assert nameless.status_code == 422 and "name" in nameless.json()["errors"], nameless.text


def test_a_customer_names_a_layout_that_exists_and_only_such_a_one(api: httpx.Client) -> None:
    api.post("layouts", json={"number": 19, "name": "Standard"})
    api.post("payment-terms", json={"number": 1, "name": "Net 8", "type": "net", "maturity_days": 8})
    body = {"number": 10, "company_name": "Acme ApS", "payment_terms_id": 1, "layout_id": 19}
    made = api.post("customers", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["customer"]["layout_id"] == 19
    unknown = api.post("customers", json={**body, "number": 11, "layout_id": 99})
    assert unknown.status_code == 422 and "layout_id" in unknown.json()["errors"], unknown.text


def test_layouts_fire_no_webhook_events() -> None:
    """Rackbeat's event catalogue names none for layouts (rackbeat-api.md 3.3)."""
    assert RESOURCES["layouts"].event is None
    assert RESOURCES["layouts"].record_writes == ("PUT",)
