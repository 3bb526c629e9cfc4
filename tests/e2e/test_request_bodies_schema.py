"""Every POST and PUT body the service sent to the e-conomic sandbox during the whole run validates
against e-conomic's published schema.

The sandbox fixtures (tests/fixtures/sandboxes.py) harvest the service's writes from every e-conomic
sandbox before each reset; this module is moved to the end of the run by that plugin's
`pytest_collection_modifyitems`, so its check sees the bodies of every test before it. Bodies harvested
later (at session end) are checked by the plugin's `pytest_sessionfinish`, which fails the run.
The first two tests prove the harvest and the check can fail, on a server of their own whose log is
emptied before it stops (so their deliberate bodies never reach the session's collection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clients.economic import EconomicClient
from clients.errors import ValidationFailed
from sandbox.economic.testing import logged_requests
from tests.fixtures.sandboxes import (
    SERVICE_WRITES,
    RunningSandbox,
    is_service_write,
    schema_problems,
    unchecked_writes,
)

TOO_LONG_NUMBER = "N" * 30  # e-conomic's productNumber allows 25 characters


def _client(server: RunningSandbox) -> EconomicClient:
    tokens = server.tokens
    return EconomicClient(
        server.api_url, server.api_url, tokens["app_secret_token"], tokens["agreement_grant_token"]
    )


@pytest.fixture
def private_economic(economic_server_factory: Callable[..., RunningSandbox]) -> Any:
    server = economic_server_factory()
    yield server
    server.sandbox.request_log.clear()  # deliberate bodies: not the service's


def test_a_refused_body_is_reported_with_its_path_and_test(private_economic: RunningSandbox) -> None:
    body = {"productNumber": TOO_LONG_NUMBER, "name": "Too long", "productGroup": {"productGroupNumber": 1}}
    with _client(private_economic) as economic, pytest.raises(ValidationFailed):
        economic.create("products", body, idempotency_key="deliberately-refused")

    logged = logged_requests(private_economic.sandbox, 1)
    entries = [{**entry, "test": "tests/e2e/x.py::t"} for entry in logged]
    assert [is_service_write(entry, entry["test"]) for entry in entries] == [True]
    [problem] = schema_problems(entries)
    assert problem.startswith("tests/e2e/x.py::t: POST /products")
    assert "productNumber" in problem


def test_only_the_service_clients_writes_count(private_economic: RunningSandbox) -> None:
    body = {"productNumber": "OK-1", "name": "Fine", "productGroup": {"productGroupNumber": 1}}
    with _client(private_economic) as economic:
        economic.create("products", body, idempotency_key="service-write")
    httpx.post(
        f"{private_economic.api_url}products",
        json={"productNumber": TOO_LONG_NUMBER},
        headers=private_economic.headers,
        timeout=10,
    )

    service, raw = logged_requests(private_economic.sandbox, 2)
    assert service["idempotency_key"] == "service-write" and service["user_agent"]
    assert is_service_write(service, "tests/e2e/test_lots_e2e.py::t")
    assert not is_service_write(raw, "tests/e2e/test_lots_e2e.py::t")  # no Idempotency-Key: not the client
    # tests of the sandbox send refused bodies on purpose
    assert not is_service_write(service, "tests/sandbox/test_economic_api.py::t")
    assert not is_service_write(service, "tests/clients/test_against_sandboxes.py::t")


def test_every_body_the_service_sent_during_the_run_matches_the_published_schema(
    economic_sandbox: RunningSandbox, request: pytest.FixtureRequest
) -> None:
    # requesting the fixture harvested what the previous test left in the shared server's log
    writes = unchecked_writes()
    if not SERVICE_WRITES:
        this_module = request.node.nodeid.split("::")[0]
        flows = [
            item.nodeid
            for item in request.session.items
            if item.nodeid.startswith("tests/e2e/") and not item.nodeid.startswith(this_module)
        ]
        # End-to-end flows write to e-conomic; none harvested means the harvest itself is broken.
        assert not flows, f"{len(flows)} end-to-end tests ran but no service write to e-conomic was harvested"
        pytest.skip("no end-to-end flow ran in this session, so the service sent nothing to check")
    problems = schema_problems(writes)
    assert not problems, "e-conomic's schemas refuse bodies the service sent:\n" + "\n".join(problems)
    print(f"\nchecked {len(writes)} e-conomic write bodies ({len(SERVICE_WRITES)} harvested this session)")
