"""``state_file`` / ``--state``: the Rackbeat sandbox's data survives a restart."""

from __future__ import annotations

import json

import httpx
import pytest

from sandbox.common.persistence import StateFile


def test_data_and_webhooks_survive_a_restart(tmp_path, rackbeat_server_factory):
    state = tmp_path / "rackbeat.json"
    first = rackbeat_server_factory(state_file=str(state), state_debounce_seconds=0.05)
    with httpx.Client(base_url=first.api_url, headers=first.headers) as api:
        api.post("product-groups", json={"number": 3, "name": "Tools"})
        api.post("products", json={"number": "S/1", "name": "Saved", "group": 3, "sales_price": 9})
        token = api.post("webhooks", json={"event": "product.updated", "url": "http://127.0.0.1:9/x"}).json()[
            "webhook"
        ]["token"]
    first.stop()  # flushes the pending save
    assert json.loads(state.read_text())["state"]["collections"]["products"][0]["number"] == "S/1"

    second = rackbeat_server_factory(state_file=str(state))
    with httpx.Client(base_url=second.api_url, headers=second.headers) as api:
        product = api.get("products/S%2F1")
        assert product.status_code == 200
        assert product.json()["product"]["group"]["name"] == "Tools"
        created = api.post("product-groups", json={"name": "Next"}).json()["product_group"]
        assert created["number"] == 4  # numbering continues after the restored records
    assert second.sandbox.webhooks.hooks[1]["token"] == token


def test_saves_are_debounced_and_atomic(tmp_path, rackbeat_server_factory):
    state = tmp_path / "state.json"
    running = rackbeat_server_factory(state_file=str(state), state_debounce_seconds=30)
    with httpx.Client(base_url=running.api_url, headers=running.headers) as api:
        for n in range(20):
            api.post("customer-groups", json={"name": f"G{n}"})
    assert not state.exists()  # still inside the quiet period
    running.stop()
    assert running.sandbox.state_file.saves == 1  # twenty changes, one write (at stop)
    assert len(json.loads(state.read_text())["state"]["collections"]["customer-groups"]) == 20
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary files left behind


def test_a_reset_is_persisted_too(tmp_path, rackbeat_server_factory):
    state = tmp_path / "state.json"
    running = rackbeat_server_factory(state_file=str(state), state_debounce_seconds=0.05)
    running.sandbox.load({"units": [{"number": 1, "name": "pcs"}]})
    running.sandbox.reset()
    running.stop()
    assert json.loads(state.read_text())["state"]["collections"]["units"] == []


def test_a_state_file_of_another_format_is_refused(tmp_path):
    state = tmp_path / "old.json"
    state.write_text(json.dumps({"format": 99, "state": {}}))
    with pytest.raises(ValueError, match="unsupported state format"):
        StateFile(state, snapshot=dict).load()
    assert StateFile(tmp_path / "missing.json", snapshot=dict).load() is None
