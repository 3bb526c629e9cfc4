"""How `rbsync demo` judges the event stream: it waits for the scripted outcome, stops at once on another
final outcome, and gives up after its timeout; events are real entries in the test Redis."""

from __future__ import annotations

import pytest

from tasks.cli.demo import EventWaiter, ScenarioFailed, Summary
from tasks.events import record_event


@pytest.fixture
def namespace(session_namespace: str, request: pytest.FixtureRequest) -> str:
    return f"{session_namespace}-waiter-{request.node.name[-20:]}"


def add(redis_client, namespace: str, key: str, outcome: str, **extra: object) -> None:
    record_event(
        redis_client, kind="product", key=key, outcome=outcome, task_id="t", connection_id=namespace, **extra
    )


def test_waits_past_retries_and_dependency_events_for_the_scripted_outcome(redis_client, namespace) -> None:
    summary = Summary()
    waiter = EventWaiter(redis_client, summary, connection_id=namespace, timeout=5)
    add(redis_client, namespace, "A", "retrying", retry_in=1)
    add(redis_client, namespace, "A", "unchanged", via="lot:L1")
    add(redis_client, namespace, "A", "created", economic_key="A", api_calls=2)
    found = waiter.wait_for({("product", "A"): {"created"}})
    assert found[("product", "A")]["economic_key"] == "A"
    assert [event["outcome"] for event in summary.transfers()] == ["created"]
    assert summary.retries() == 1
    assert summary.api_calls() == 2


def test_another_final_outcome_fails_at_once(redis_client, namespace) -> None:
    waiter = EventWaiter(redis_client, Summary(), connection_id=namespace, timeout=30)
    add(redis_client, namespace, "B", "dead-lettered", entry_id="e1")
    with pytest.raises(ScenarioFailed, match="product B was dead-lettered, expected created"):
        waiter.wait_for({("product", "B"): {"created"}})


def test_gives_up_naming_what_never_came(redis_client, namespace) -> None:
    waiter = EventWaiter(redis_client, Summary(), connection_id=namespace, timeout=0.3)
    add(redis_client, namespace, "C", "created")
    with pytest.raises(ScenarioFailed, match=r"product D \(replaced\)"):
        waiter.wait_for({("product", "C"): {"created"}, ("product", "D"): {"replaced"}})
