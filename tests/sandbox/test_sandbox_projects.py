"""Projects in both sandboxes, as the project import (tasks/entities/project.py) relies on them.

Rackbeat (rackbeat-api.md §2.2, §2.3 "Project"): `GET projects`, `POST projects/upsert` with `{number, name,
description}`; every write takes `suppress_webhooks` (§1.4, §3.2).
e-conomic (economic-api.md §12.9, §10, S4 openapi-Projects.json): projectsapi/v1.1.0 `Projects` with a
read-only `lastUpdated` (date-time) that a change moves and that `filter=lastUpdated$gte:` selects on; a
create answers 201 with `{number}` only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fixtures.sandboxes import RunningSandbox

PROJECTS = "projectsapi/v1.1.0/Projects"


@pytest.fixture
def rackbeat(rackbeat_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rackbeat_sandbox.api_url, headers=rackbeat_sandbox.headers) as client:
        yield client


@pytest.fixture
def economic(economic_sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=economic_sandbox.api_url, headers=economic_sandbox.headers) as client:
        yield client


def test_rackbeat_upsert_creates_at_the_given_number_then_updates_it_in_place(rackbeat: httpx.Client) -> None:
    created = rackbeat.post("projects/upsert", json={"number": 41, "name": "Harbour", "description": "Quay"})
    assert created.status_code == 201
    assert {k: created.json()["project"][k] for k in ("number", "name", "description")} == {
        "number": 41,
        "name": "Harbour",
        "description": "Quay",
    }
    updated = rackbeat.post("projects/upsert", json={"number": 41, "name": "Harbour II", "description": ""})
    assert updated.status_code == 200
    listed = rackbeat.get("projects").json()
    assert listed["total"] == 1 and listed["projects"][0]["name"] == "Harbour II"
    assert listed["projects"][0]["description"] == ""
    assert rackbeat.get("projects/41").json()["project"]["name"] == "Harbour II"


def test_rackbeat_refuses_a_project_without_a_name(rackbeat: httpx.Client) -> None:
    assert rackbeat.post("projects/upsert", json={"number": 42}).status_code == 422
    assert rackbeat.get("projects").json()["total"] == 0


def test_rackbeat_upsert_with_suppress_webhooks_fires_no_project_event(
    rackbeat: httpx.Client, rackbeat_sandbox: RunningSandbox
) -> None:
    before = rackbeat_sandbox.sandbox.stats().get("webhooks_suppressed", 0)
    rackbeat.post("projects/upsert", json={"number": 43, "name": "Quiet", "suppress_webhooks": True})
    assert rackbeat_sandbox.sandbox.stats()["webhooks_suppressed"] == before + 1


def test_e_conomic_projects_carry_last_updated_which_a_change_moves_and_the_filter_selects(
    economic: httpx.Client,
) -> None:
    created = economic.post(PROJECTS, json={"name": "Harbour", "projectGroupNumber": 1})
    assert created.status_code == 201 and set(created.json()) == {"number"}
    number = created.json()["number"]
    first = economic.get(f"{PROJECTS}/{number}").json()
    assert first["lastUpdated"].endswith("Z")

    time.sleep(1.05)  # lastUpdated has whole seconds
    body = {k: v for k, v in first.items() if k not in ("isClosed", "lastUpdated")}
    assert economic.put(PROJECTS, json={**body, "name": "Harbour II"}).status_code == 204
    second = economic.get(f"{PROJECTS}/{number}").json()
    assert second["lastUpdated"] > first["lastUpdated"]

    since = economic.get(PROJECTS, params={"filter": f"lastUpdated$gte:{second['lastUpdated']}"}).json()
    assert [item["number"] for item in since["items"]] == [number]
    later = economic.get(PROJECTS, params={"filter": "lastUpdated$gte:2999-01-01T00:00:00Z"}).json()
    assert later["items"] == [] and "cursor" not in later
