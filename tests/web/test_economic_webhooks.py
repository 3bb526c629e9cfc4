"""POST /webhooks/economic/{kind}: parsing and authentication as pure functions, then the route over real
HTTP (in this process) with a recording enqueue and the real Redis counters, then mounted in the app."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from sandbox.common.server import ServerThread
from tasks.economic_webhooks import RECEIVER_PREFIX, TOKEN_HEADER
from tasks.settings import Settings
from tasks.sync.pending import PendingMarkers
from tests.web.support import WebProcess, queue_length, queued_transfers
from web.economic_webhooks import (
    MAX_BODY_BYTES,
    EconomicWebhookMetrics,
    EconomicWebhookReceiver,
    MalformedDelivery,
    Numbers,
    authentic,
    keys_to_import,
    normalise_number,
    parse_numbers,
)

FORM = "application/x-www-form-urlencoded"
TOKEN = "economic-" + uuid.uuid4().hex


# ------------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("presented", "expected", "result"),
    [
        (TOKEN, TOKEN, True),
        (TOKEN[:-1], TOKEN, False),
        (TOKEN + "x", TOKEN, False),
        (TOKEN.upper(), TOKEN, False),
        ("", TOKEN, False),
        (None, TOKEN, False),
        (TOKEN, None, False),
        (None, None, False),
        ("", None, False),
    ],
)
def test_authentic(presented: str | None, expected: str | None, result: bool) -> None:
    assert authentic(presented, SecretStr(expected) if expected else None) is result


@pytest.mark.parametrize(
    ("content_type", "body", "numbers"),
    [
        (FORM, b"old=&new=12", Numbers(None, "12")),  # created (the sandbox sends an empty old)
        (FORM, b"old=12&new=12", Numbers("12", "12")),
        (FORM, b"old=12&new=", Numbers("12", None)),  # deleted
        (FORM, b"new=7", Numbers(None, "7")),
        (FORM + "; charset=utf-8", b"old=A%20B&new=A%2BB", Numbers("A B", "A+B")),
        (None, b"old=1&new=2&extra=ignored", Numbers("1", "2")),
        ("text/plain", b"old=1&new=2", Numbers("1", "2")),  # a hand-made webhook's content type
        ("application/json", b'{"old": 3, "new": "4"}', Numbers("3", "4")),
        ("application/json; charset=utf-8", b'{"old": "", "new": "P-1"}', Numbers(None, "P-1")),
        ("application/json", b'{"new": 5, "old": null}', Numbers(None, "5")),
    ],
)
def test_numbers_from_form_and_json_bodies(content_type: str | None, body: bytes, numbers: Numbers) -> None:
    assert parse_numbers(content_type, body) == numbers


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        (FORM, b"", "empty"),
        (FORM, b"   ", "empty"),
        (FORM, b"hello", "form-encoded"),
        (FORM, b"old=1&old=2&new=3", "twice"),
        (FORM, b"\xff\xfe", "UTF-8"),
        (FORM, b"&".join(b"f%d=1" % n for n in range(30)), "form-encoded"),
        ("application/json", b"{", "JSON"),
        ("application/json", b"[1, 2]", "object"),
        ("application/json", b'{"new": [1]}', "string or an integer"),
        ("application/json", b'{"new": true}', "string or an integer"),
        ("application/json", b"[" * 8000, "JSON"),  # nesting past the recursion limit
        (FORM, b"x" * (MAX_BODY_BYTES + 1), "longer"),
    ],
)
def test_malformed_bodies_say_why(content_type: str, body: bytes, reason: str) -> None:
    with pytest.raises(MalformedDelivery, match=reason):
        parse_numbers(content_type, body)


@pytest.mark.parametrize(
    ("kind", "numbers", "keys"),
    [
        ("customer", Numbers(None, "12"), ["12"]),  # created
        ("customer", Numbers("12", "12"), ["12"]),  # changed
        ("customer", Numbers("12", "13"), ["13", "12"]),  # renumbered: both records
        ("customer", Numbers("12", None), ["12"]),  # deleted: the import finds what became of it
        ("customer", Numbers("0012", "12"), ["12"]),  # canonical integers coalesce
        ("order", Numbers(None, "999999999"), ["999999999"]),
        ("project", Numbers(None, "0"), ["0"]),  # a project's number may be 0 (S4)
        ("product", Numbers("A B", "A B"), ["A B"]),
        ("product", Numbers(None, "007"), ["007"]),  # product numbers are text: kept as written
        ("product", Numbers(None, "P" * 25), ["P" * 25]),
    ],
)
def test_keys_to_import(kind: str, numbers: Numbers, keys: list[str]) -> None:
    assert keys_to_import(kind, numbers) == keys


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("customer", "0"),
        ("customer", "1000000000"),
        ("customer", "12a"),
        ("customer", "-1"),
        ("customer", "١٢"),  # Arabic-Indic digits are not ASCII digits
        ("order", "0"),
        ("project", "9" * 30),
        ("product", "P" * 26),
        ("product", "A\nB"),
        ("product", "   "),
    ],
)
def test_numbers_the_kind_cannot_have_are_refused(kind: str, value: str) -> None:
    with pytest.raises(MalformedDelivery):
        normalise_number(kind, value)


def test_a_delivery_without_any_number_is_refused() -> None:
    with pytest.raises(MalformedDelivery, match="no number"):
        keys_to_import("customer", Numbers(None, None))


# ------------------------------------------------------------------------------------------- the route


@pytest.fixture
def key(session_namespace: str) -> Callable[..., str]:
    test_id = uuid.uuid4().hex[:8]
    return lambda *parts: ":".join(("rbsync", session_namespace, f"econ-web-{test_id}", *map(str, parts)))


class Recorder:
    """A stand-in for tasks.imports.enqueue_import: records calls, coalesces like a pending marker."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.pending: set[tuple[str, str]] = set()
        self.broken = False

    def __call__(self, kind: str, key: str) -> bool:
        if self.broken:
            raise ConnectionError("Redis is down")
        self.calls.append((kind, key))
        if (kind, key) in self.pending:
            return False
        self.pending.add((kind, key))
        return True


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def metrics(redis_client: redis.Redis, key: Callable[..., str]) -> EconomicWebhookMetrics:
    return EconomicWebhookMetrics(redis_client, key)


def receiver_app(recorder: Recorder, metrics: EconomicWebhookMetrics, token: str | None) -> Starlette:
    receiver = EconomicWebhookReceiver(
        token=SecretStr(token) if token else None,
        metrics=metrics,
        imports=lambda kind: kind in {"customer", "product", "order"},
        enqueue=recorder,
    )
    return Starlette(routes=[Route(RECEIVER_PREFIX + "/{kind}", receiver.endpoint, methods=["POST"])])


@pytest.fixture
def http(recorder: Recorder, metrics: EconomicWebhookMetrics) -> Iterator[httpx.Client]:
    server = ServerThread(receiver_app(recorder, metrics, TOKEN))
    with server, httpx.Client(base_url=server.url + RECEIVER_PREFIX, timeout=10) as client:
        yield client


def deliver(
    http: httpx.Client, kind: str, body: bytes | str, token: str | None = TOKEN, content_type: str = FORM
) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers[TOKEN_HEADER] = token
    return http.post(f"/{kind}", content=body, headers=headers)


@pytest.mark.parametrize("presented", [None, "", "wrong", TOKEN[:-1], TOKEN.upper()])
def test_without_the_token_a_delivery_is_401_and_nothing_is_queued(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics, presented: str | None
) -> None:
    answer = deliver(http, "customer", "old=&new=12", token=presented)
    assert answer.status_code == 401
    assert answer.json() == {"status": "refused", "error": f"missing or wrong {TOKEN_HEADER}"}
    assert TOKEN not in answer.text
    assert recorder.calls == []
    reason = "missing-token" if not presented else "bad-token"
    assert metrics.snapshot() == {"received": 1, f"refused|{reason}": 1}


def test_the_token_is_checked_before_the_kind_and_the_size(http: httpx.Client, recorder: Recorder) -> None:
    assert deliver(http, "invoice", "old=&new=1", token="wrong").status_code == 401
    assert deliver(http, "customer", "x" * (MAX_BODY_BYTES + 1), token="wrong").status_code == 401
    assert recorder.calls == []


@pytest.mark.parametrize("kind", ["invoice", "supplier", "Customer", "customers"])
def test_an_unknown_kind_is_404_and_nothing_is_queued(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics, kind: str
) -> None:
    answer = deliver(http, kind, "old=&new=1")
    assert answer.status_code == 404
    assert "known: customer, order, product, project" in answer.json()["error"]
    assert recorder.calls == []
    assert metrics.snapshot() == {"received": 1, "refused|unknown-kind": 1}


def test_other_methods_and_paths_are_not_served(http: httpx.Client) -> None:
    assert http.get("/customer", headers={TOKEN_HEADER: TOKEN}).status_code == 405
    assert http.post("/customer/12", headers={TOKEN_HEADER: TOKEN}).status_code == 404


@pytest.mark.parametrize(
    "body",
    ["", "hello", "old=1&old=2&new=3", "old=&new=", "new=abc", "new=0", "new=1000000000", b"\xff"],
)
def test_a_bad_body_is_400_and_nothing_is_queued(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics, body: bytes | str
) -> None:
    answer = deliver(http, "customer", body)
    assert answer.status_code == 400
    assert answer.json()["status"] == "refused"
    assert recorder.calls == []
    assert metrics.snapshot() == {"received": 1, "refused|malformed": 1}


def test_a_body_over_the_limit_is_413_by_length_or_while_streaming(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics
) -> None:
    assert deliver(http, "customer", "new=1&pad=" + "x" * MAX_BODY_BYTES).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while reading
        yield b"new=1&pad="
        for _ in range(20):
            yield b"x" * 1024

    streamed = http.post("/customer", content=chunks(), headers={TOKEN_HEADER: TOKEN, "Content-Type": FORM})
    assert streamed.status_code == 413
    assert recorder.calls == []
    assert metrics.snapshot() == {"received": 2, "refused|body-too-large": 2}


def test_an_authentic_delivery_queues_one_import(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics
) -> None:
    answer = deliver(http, "customer", "old=&new=12")
    assert answer.status_code == 202
    assert answer.json() == {"status": "accepted", "kind": "customer", "keys": ["12"], "enqueued": [True]}
    assert recorder.calls == [("customer", "12")]
    assert metrics.snapshot() == {"received": 1, "accepted": 1, "enqueued": 1}


def test_json_bodies_and_product_numbers_are_read(http: httpx.Client, recorder: Recorder) -> None:
    answer = deliver(http, "product", '{"old": "", "new": "A&B"}', content_type="application/json")
    assert answer.status_code == 202
    assert deliver(http, "product", "old=&new=A%20B").status_code == 202
    assert recorder.calls == [("product", "A&B"), ("product", "A B")]


def test_a_burst_for_one_record_coalesces(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics
) -> None:
    answers = [deliver(http, "order", "old=5&new=5").json()["enqueued"] for _ in range(5)]
    assert answers == [[True], [False], [False], [False], [False]]
    assert metrics.snapshot() == {"received": 5, "accepted": 5, "enqueued": 1, "coalesced": 4}


def test_a_renumbered_record_queues_both_numbers(http: httpx.Client, recorder: Recorder) -> None:
    assert deliver(http, "customer", "old=12&new=13").json()["keys"] == ["13", "12"]
    assert recorder.calls == [("customer", "13"), ("customer", "12")]


def test_a_kind_these_settings_do_not_import_is_acknowledged_and_counted(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics
) -> None:
    answer = deliver(http, "project", "old=&new=4")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ignored"
    assert recorder.calls == []
    assert metrics.snapshot() == {"received": 1, "ignored|not-imported": 1}
    assert metrics.ignored_kinds() == {"project": 1}


def test_when_the_import_cannot_be_queued_the_answer_is_503(
    http: httpx.Client, recorder: Recorder, metrics: EconomicWebhookMetrics
) -> None:
    recorder.broken = True
    answer = deliver(http, "customer", "old=&new=12")
    assert answer.status_code == 503
    assert metrics.snapshot() == {"received": 1, "failed": 1}


def test_with_no_token_configured_every_delivery_is_401_and_the_log_names_the_setting(
    recorder: Recorder, metrics: EconomicWebhookMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    server = ServerThread(receiver_app(recorder, metrics, None))
    with server, httpx.Client() as client, caplog.at_level(logging.WARNING, logger="web.economic_webhooks"):
        for presented in (None, "", "anything"):
            headers = {"Content-Type": FORM} | ({TOKEN_HEADER: presented} if presented is not None else {})
            answer = client.post(server.url + RECEIVER_PREFIX + "/customer", content="new=1", headers=headers)
            assert answer.status_code == 401
    assert recorder.calls == []
    assert metrics.snapshot() == {"received": 3, "refused|not-configured": 3}
    assert "RBSYNC_ECONOMIC_WEBHOOK_TOKEN is unset" in caplog.text


def test_the_body_is_not_read_when_the_token_is_wrong(
    recorder: Recorder, metrics: EconomicWebhookMetrics
) -> None:
    receiver = EconomicWebhookReceiver(
        token=SecretStr(TOKEN), metrics=metrics, imports=lambda kind: True, enqueue=recorder
    )
    read: list[str] = []

    async def receive() -> dict[str, Any]:
        read.append("body")
        return {"type": "http.request", "body": b"new=1", "more_body": False}

    def request(token: str) -> Request:
        scope = {
            "type": "http",
            "method": "POST",
            "path": RECEIVER_PREFIX + "/customer",
            "headers": [(TOKEN_HEADER.lower().encode(), token.encode()), (b"content-type", FORM.encode())],
            "path_params": {"kind": "customer"},
            "query_string": b"",
        }
        return Request(scope, receive)

    assert asyncio.run(receiver.endpoint(request("wrong"))).status_code == 401
    assert read == []
    assert asyncio.run(receiver.endpoint(request(TOKEN))).status_code == 202
    assert read == ["body"]


def test_tokens_never_reach_the_log(http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        deliver(http, "customer", "new=1")
        deliver(http, "customer", "new=1", token=TOKEN + "-guess")
        deliver(http, "nope", "new=1")
        deliver(http, "customer", "garbage")
    assert TOKEN not in caplog.text


# ------------------------------------------------------------------------------------------- mounted


def test_the_app_mounts_the_route_and_publishes_its_counters(service_settings: Settings) -> None:
    from web.app import create_app

    settings = service_settings.model_copy(update={"economic_webhook_token": SecretStr(TOKEN)})
    app = create_app(settings, register_webhooks=False)
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        url = RECEIVER_PREFIX + "/customer"
        assert client.post(url, content="new=1").status_code == 401
        # customers are Rackbeat's under the default settings: acknowledged, not imported
        ignored = client.post(url, content="new=1", headers={TOKEN_HEADER: TOKEN, "Content-Type": FORM})
        assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
        page = client.get("/metrics").text
    assert 'rbsync_economic_webhooks_refused_total{reason="missing-token"}' in page
    assert 'rbsync_economic_webhooks_ignored_by_kind_total{kind="customer"}' in page
    assert TOKEN not in page


# ------------------------------------------------------------------------------------------- real process


def test_over_python_m_web_a_delivery_queues_one_import_a_burst_coalesces_and_refusals_queue_nothing(
    web_process_factory: Callable[..., WebProcess], service_redis: redis.Redis
) -> None:
    # The receiver as production runs it, with tasks.imports.enqueue_import on a broker prefix no worker
    # consumes: its transfers queue holds exactly what it queued.
    token = "economic-" + uuid.uuid4().hex
    web = web_process_factory(economic_webhook_token=SecretStr(token), customers_master="economic")
    number = str(7000 + uuid.uuid4().int % 2000)
    url = web.url + RECEIVER_PREFIX + "/customer"
    body = f"old={number}&new={number}"

    refusals = [
        httpx.post(url, content=body, headers={"Content-Type": FORM}),
        httpx.post(url, content=body, headers={"Content-Type": FORM, TOKEN_HEADER: token[:-1]}),
        httpx.post(url, content="old=&new=x", headers={"Content-Type": FORM, TOKEN_HEADER: token}),
        httpx.post(web.url + RECEIVER_PREFIX + "/invoice", content=body, headers={TOKEN_HEADER: token}),
    ]
    assert [answer.status_code for answer in refusals] == [401, 401, 400, 404]
    assert queue_length(service_redis, web.settings) == 0

    headers = {"Content-Type": FORM, TOKEN_HEADER: token}
    burst = [httpx.post(url, content=body, headers=headers).json()["enqueued"] for _ in range(5)]
    assert burst == [[True], [False], [False], [False], [False]]
    assert queued_transfers(service_redis, web.settings) == [("customer", number)]
    marker = PendingMarkers(service_redis, web.settings.connection_id).get("import:customer", number)
    assert marker is not None
    assert token not in web.log()
