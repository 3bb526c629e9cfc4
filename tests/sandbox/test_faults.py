"""Fault injection over real HTTP: latency, 5xx share, 429 burst, dropped connections, commit-then-fail.

Most tests drive the Rackbeat sandbox; the idempotency ones use a minimal sandbox built on sandbox.common
with the Idempotency-Key replay switched on (the e-conomic behaviour), since Rackbeat has none.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.common import BaseSandbox, FaultConfig, FaultInjector, ServerThread

PRODUCT = {"number": "F-1", "name": "Faulty", "group": 1, "sales_price": 10}


@pytest.fixture
def rb(rackbeat_sandbox):
    rackbeat_sandbox.sandbox.load({"product-groups": [{"number": 1, "name": "Tools"}]})
    return rackbeat_sandbox


@pytest.fixture
def api(rb) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rb.api_url, headers=rb.headers) as client:
        yield client


@pytest.fixture
def admin(rb) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=rb.url + "/_sandbox/") as client:
        yield client


def set_faults(admin: httpx.Client, **changes) -> dict:
    response = admin.put("faults", json=changes)
    assert response.status_code == 200, response.text
    return response.json()


def test_faults_can_be_read_changed_partially_and_are_validated(admin):
    assert admin.get("faults").json() == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "rate_limit_burst": 0,
        "drop_rate": 0.0,
        "commit_then_fail": 0,
        "drop_after_commit": False,
        "seed": None,
        "retry_after_seconds": 1,
    }
    assert set_faults(admin, error_rate=0.25)["error_rate"] == 0.25
    assert admin.get("faults").json()["latency_ms"] == 0
    assert admin.put("faults", json={"error_rate": 2}).status_code == 422
    assert admin.put("faults", json={"nonsense": 1}).status_code == 422
    assert admin.put("faults", json={"drop_after_commit": "yes"}).status_code == 422
    assert admin.get("faults").json()["error_rate"] == 0.25


def test_latency_is_added_to_every_answer(api, admin, rb):
    set_faults(admin, latency_ms=300)
    started = time.monotonic()
    assert api.get("products").status_code == 206
    assert time.monotonic() - started >= 0.3
    assert rb.sandbox.faults.counters["latency_injected"] == 1


def test_error_rate_answers_a_share_with_500_502_503(api, admin, rb):
    set_faults(admin, error_rate=1.0, seed=3)
    statuses = {api.get("products").status_code for _ in range(30)}
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    set_faults(admin, error_rate=0.5, seed=7)
    mixed = [api.get("products").status_code for _ in range(40)]
    assert 206 in mixed and any(s >= 500 for s in mixed)
    assert rb.sandbox.stats()["faults"]["errors_5xx"] == 30 + sum(s >= 500 for s in mixed)


def test_the_same_seed_gives_the_same_faults(api, admin):
    runs = []
    for _ in range(2):
        set_faults(admin, error_rate=0.5, seed=11)
        runs.append([api.get("products").status_code for _ in range(20)])
    assert runs[0] == runs[1]


def test_admin_routes_are_never_faulted(admin):
    set_faults(admin, error_rate=1.0, drop_rate=1.0)
    assert admin.get("counts").status_code == 200
    assert set_faults(admin, error_rate=0, drop_rate=0)["drop_rate"] == 0


def test_a_rate_limit_burst_answers_429_with_retry_after(api, admin, rb):
    set_faults(admin, rate_limit_burst=2, retry_after_seconds=7)
    answers = [api.get("products") for _ in range(2)] + [api.post("units", json={"name": "pcs"})]
    assert [a.status_code for a in answers] == [429, 429, 201]
    assert admin.get("requests").json()["requests"][0]["body"] is None  # a read has no body logged
    assert answers[0].headers["Retry-After"] == "7"
    assert answers[0].json() == {"message": "Too Many Attempts."}
    assert rb.sandbox.faults.config.rate_limit_burst == 0


def test_a_dropped_connection_gets_no_answer_at_all(api, admin, rb):
    set_faults(admin, drop_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get("products")
    set_faults(admin, drop_rate=0.0)
    assert api.get("products").status_code == 206  # the client recovers on a new connection
    log = admin.get("requests").json()["requests"]
    assert [entry["status"] for entry in log] == [None, 206]
    assert rb.sandbox.stats()["faults"]["dropped"] == 1
    assert rb.sandbox.stats()["responses_by_status"]["dropped"] == 1


def test_writes_refused_before_the_app_reads_them_still_log_their_body(api, admin):
    set_faults(admin, rate_limit_burst=1)
    assert api.post("units", json={"name": "refused"}).status_code == 429
    assert httpx.post(api.base_url.join("units"), json={"name": "anonymous"}).status_code == 401
    log = admin.get("requests").json()["requests"]
    assert [(entry["status"], entry["body"]) for entry in log] == [
        (429, {"name": "refused"}),
        (401, {"name": "anonymous"}),
    ]


def test_commit_then_fail_commits_the_write_and_answers_500(api, admin, rb):
    set_faults(admin, commit_then_fail=1)
    failed = api.post("products", json=PRODUCT)
    assert failed.status_code == 500
    assert api.get("products/F-1").status_code == 200  # it was written all the same
    retried = api.post("products", json=PRODUCT)
    assert retried.status_code == 422  # the naive retry now collides with the committed record
    assert rb.sandbox.faults.counters["commit_then_fail"] == 1


def test_commit_then_fail_can_drop_the_connection_instead(api, admin, rb):
    set_faults(admin, commit_then_fail=1, drop_after_commit=True)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("products", json=PRODUCT)
    assert rb.sandbox.get("products", "F-1") is not None
    log = admin.get("requests").json()["requests"]
    assert log[0]["method"] == "POST" and log[0]["status"] is None and log[0]["body"]["number"] == "F-1"
    assert admin.delete("requests").json() == {"requests": []}


def test_commit_then_fail_spares_reads_and_rejected_writes(api, admin, rb):
    set_faults(admin, commit_then_fail=1)
    assert api.get("products").status_code == 206
    assert api.post("products", json={"number": "bad"}).status_code == 422
    assert rb.sandbox.faults.config.commit_then_fail == 1
    assert api.post("products", json=PRODUCT).status_code == 500
    assert rb.sandbox.faults.config.commit_then_fail == 0


def test_reset_switches_faults_off(api, admin, rb):
    set_faults(admin, error_rate=1.0, latency_ms=5)
    rb.reset()
    assert admin.get("faults").json()["error_rate"] == 0.0
    assert api.get("products").status_code == 206


def test_fault_injector_decisions_without_http():
    injector = FaultInjector(FaultConfig(rate_limit_burst=1, commit_then_fail=1))
    assert injector.decide("GET").status == 429
    assert injector.decide("GET").commit_then_fail is False
    assert injector.decide("POST").commit_then_fail is True
    assert injector.claim_commit_then_fail() is False  # 500, not a drop
    assert injector.claim_commit_then_fail() is None  # budget spent
    with pytest.raises(ValueError):
        injector.set(latency_ms=-1)


class Counter(BaseSandbox):
    """The smallest sandbox: POST /things creates a numbered thing; replays Idempotency-Key like e-conomic."""

    def __init__(self) -> None:
        super().__init__()
        self.things: dict[int, dict] = {}

        async def create(request: Request) -> JSONResponse:
            thing = {"number": len(self.things) + 1, **(await request.json())}
            self.things[thing["number"]] = thing
            return JSONResponse(thing, status_code=201)

        self._finish_init([Route("/things", create, methods=["POST"])])

    def _clear_data(self) -> None:
        self.things.clear()

    def counts(self) -> dict[str, int]:
        return {"things": len(self.things)}


@pytest.fixture(scope="module")
def counter() -> Iterator[tuple[Counter, str]]:
    sandbox = Counter()
    with ServerThread(sandbox.app) as server:
        yield sandbox, server.url


def test_a_retry_with_the_same_idempotency_key_replays_the_committed_answer(counter):
    sandbox, url = counter
    sandbox.reset()
    sandbox.faults.set(commit_then_fail=1, drop_after_commit=True)
    headers = {"Authorization": "a", "Idempotency-Key": "create-1"}
    with httpx.Client(base_url=url) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/things", json={"name": "x"}, headers=headers)
        replay = client.post("/things", json={"name": "x"}, headers=headers)
        assert replay.status_code == 201 and replay.headers["X-ResultFromCache"] == "true"
        assert replay.json() == {"number": 1, "name": "x"}
        other_caller = client.post("/things", json={"name": "x"}, headers=headers | {"Authorization": "b"})
        assert other_caller.json()["number"] == 2 and "X-ResultFromCache" not in other_caller.headers
        fresh = client.post("/things", json={"name": "y"}, headers={"Authorization": "a"})
        assert fresh.json()["number"] == 3
    assert sandbox.counts() == {"things": 3}
    assert sandbox.stats()["idempotent_replays"] == 1


def test_server_errors_are_not_cached_for_replay(counter):
    sandbox, url = counter
    sandbox.reset()
    sandbox.faults.set(error_rate=1.0)
    headers = {"Idempotency-Key": "create-2"}
    with httpx.Client(base_url=url) as client:
        assert client.post("/things", json={}, headers=headers).status_code >= 500
        sandbox.faults.set(error_rate=0.0)
        second = client.post("/things", json={}, headers=headers)
    assert second.status_code == 201 and "X-ResultFromCache" not in second.headers
