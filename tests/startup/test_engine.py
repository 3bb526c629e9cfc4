"""The start-up sync's engine run in this process over both sandboxes (the task and the CLI wrap it)."""

from __future__ import annotations

from typing import Any

from tasks.settings import get_settings
from tasks.startup.runner import RunOptions
from tasks.startup.wiring import build_runner
from tests.startup.support import dump, duplicates, rackbeat_writes


def run(**options: Any) -> Any:
    settings = get_settings()
    return build_runner(settings, RunOptions(concurrency=settings.startup_sync_concurrency, **options)).run()


def test_an_empty_rackbeat_gets_the_company_with_its_relations_and_a_rerun_writes_nothing(
    company: dict[str, Any],
) -> None:
    rackbeat = company["rackbeat"]
    report = run()
    assert report.state == "done", report.error
    by_kind = {kind["kind"]: kind for kind in report.status["kinds"]}
    print(by_kind)
    assert by_kind["customer"]["created"] == len(company["data"]["customers"])
    assert not duplicates(rackbeat, "customers", "number")
    assert not duplicates(rackbeat, "products", "number")
    rackbeat.sandbox.request_log.clear()
    again = run()
    assert again.state == "done"
    assert rackbeat_writes(rackbeat) == []
    assert dump(rackbeat, "products")
