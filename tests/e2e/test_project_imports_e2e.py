"""Projects, e-conomic -> Rackbeat, end to end: the projects poll (`rbsync.poll_economic_projects`) sent to
the in-process Celery worker exactly as beat sends it, the imports it queues, both sandboxes over loopback.

rackbeat-api.md §4.3: projects created in e-conomic reach Rackbeat every hour, only with Project Management
switched on (`RBSYNC_PROJECT_MANAGEMENT_ENABLED`); a Rackbeat project is number, name and description,
written with `POST projects/upsert`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tasks.settings import Settings
from tests.e2e.test_products_e2e import wait_until_quiet
from tests.engine.importer_support import economic_call, rackbeat_record, rackbeat_writes
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import apply_settings, wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

POLL = "rbsync.poll_economic_projects"
PROJECTS = "projectsapi/v1.1.0/Projects"


def run(name: str) -> dict[str, Any]:
    """Send the beat task to the worker, as beat does, and wait for its report."""
    from tasks.celery import app

    return app.send_task(name).get(timeout=60)


def project_reads(economic: Any) -> list[dict[str, Any]]:
    return [
        entry
        for entry in economic.sandbox.request_log.entries()
        if entry["method"] == "GET" and entry["path"].startswith("/projectsapi/")
    ]


@pytest.fixture
def sandboxes(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[tuple[Any, Any]]:
    forget_records(redis_client, session_namespace)
    for name in redis_client.scan_iter(match=f"rbsync:{session_namespace}:economic-poll:*"):
        redis_client.delete(name)
    yield rackbeat_sandbox, economic_sandbox
    wait_until_quiet(sandbox_settings, redis_client)


def use(settings: Settings, **overrides: Any) -> Settings:
    changed = settings.model_copy(update=overrides)
    apply_settings(changed)  # this process and the in-process worker; sandbox_settings restores
    return changed


def test_a_project_created_in_e_conomic_arrives_after_one_projects_poll_and_its_changes_follow(
    sandboxes: tuple[Any, Any], sandbox_settings: Settings
) -> None:
    rackbeat, economic = sandboxes
    use(sandbox_settings, project_management_enabled=True)
    created = economic_call(
        economic,
        "POST",
        PROJECTS,
        {"name": "Harbour fit-out", "projectGroupNumber": 2, "customerNumber": _a_customer(economic)},
    )
    number = created["number"]

    report = run(POLL)
    assert report["queued"] == 1
    wait_for(lambda: rackbeat_record(rackbeat, "projects", number), message="the project in Rackbeat")
    project = rackbeat_record(rackbeat, "projects", number)
    assert project is not None and (project["name"], project["description"]) == ("Harbour fit-out", "")
    [write] = [w for w in rackbeat_writes(rackbeat) if w["path"].endswith("/projects/upsert")]
    assert write["body"]["number"] == number and write["body"]["suppress_webhooks"] is True

    current = economic_call(economic, "GET", f"{PROJECTS}/{number}")
    changed = {
        name: value
        for name, value in current.items()
        if name not in ("isClosed", "lastUpdated", "costPrice", "salesPrice", "invoicedTotal")
    }
    changed.update(name="Harbour fit-out, phase 2", description="The quay and the slipway")
    economic_call(economic, "PUT", PROJECTS, changed)

    assert run(POLL)["queued"] == 1
    wait_for(
        lambda: (
            (rackbeat_record(rackbeat, "projects", number) or {}).get("name") == "Harbour fit-out, phase 2"
        ),
        message="the change in Rackbeat",
    )
    assert rackbeat_record(rackbeat, "projects", number)["description"] == "The quay and the slipway"
    assert len(rackbeat.sandbox.dump("projects")) == 1, "one project, updated in place"


def test_with_project_management_off_nothing_is_polled_or_scheduled(
    sandboxes: tuple[Any, Any], sandbox_settings: Settings
) -> None:
    from tasks.celery import beat_schedule

    rackbeat, economic = sandboxes
    settings = use(sandbox_settings, project_management_enabled=False)
    economic_call(economic, "POST", PROJECTS, {"name": "Never copied", "projectGroupNumber": 1})
    reads_before = len(project_reads(economic))

    report = run(POLL)

    assert report["queued"] == 0 and report["skipped"] == "project management is off"
    assert len(project_reads(economic)) == reads_before, "not one call to the Projects API"
    assert rackbeat.sandbox.dump("projects") == []
    assert "poll-economic-projects" not in beat_schedule(settings)
    assert "poll-economic-projects" in beat_schedule(
        settings.model_copy(update={"project_management_enabled": True})
    )


def _a_customer(economic: Any) -> int:
    """A customer for a project in the agreement's external group 2 (S4: customerNumber required there)."""
    body = {
        "name": "Quay Owners ApS",
        "currency": "DKK",
        "customerGroup": {"customerGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "vatZone": {"vatZoneNumber": 1},
    }
    return int(economic_call(economic, "POST", "customers", body)["customerNumber"])
