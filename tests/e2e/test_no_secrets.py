"""No token ever leaves where it belongs: a realistic flow, everything it leaves behind scanned.

The flow: both sandboxes (with tokens unique to this test), the receiver as `python -m web` registering its
webhooks with Rackbeat at start-up, and a real prefork worker. Rackbeat's own deliveries drive transfers
that succeed, one that dead-letters at once (a group e-conomic would refuse) and one that dead-letters
after its retries run out (e-conomic failing with 5xx); the receiver also gets a wrong token and a
malformed body.

e-conomic's webhooks are registered through its webhooks API (our token in a custom header), and a customer
created there is delivered by the sandbox and imported; the receiver also gets a wrong e-conomic token.

Scanned for every token value (Rackbeat's, both e-conomic ones, the fixed webhook token, the e-conomic
webhook token and each token Rackbeat returned at registration):
- every log line: this process's root logger (DEBUG), the worker's output, the receiver's output (DEBUG);
- every command the broker/store saw during the flow (Redis MONITOR), with kombu message bodies decoded,
  so task arguments, retries, results and events are read as the broker got them;
- every key left under the flow's namespace and broker prefix (messages, results with their args, the
  events stream, DLQ records), again with message bodies decoded;
- the dead-letter records as the DLQ store returns them;
- the Celery events a monitor such as Flower builds its task pages from (argsrepr/kwargsrepr, exceptions,
  tracebacks);
- on a Redis with a password (a second test): the worker configuration `celery inspect conf`, `celery
  report`, Flower's `/api/workers` and its worker page (Config tab) show, and the worker's, beat's and
  Flower's output. Celery masks the password of broker_url and result_backend only; RedBeat's URL gets
  its credentials as redis-py options instead (tasks/celery.py).
The only place a webhook token may be is the `webhook-tokens` hash (that is where it is kept), so
commands and keys on that hash are the one exclusion.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from celery import Celery
from pydantic import SecretStr

from clients.economic import EconomicClient
from tasks.deadletter import DeadLetterStore
from tasks.economic_webhooks import RECEIVER_PREFIX as ECONOMIC_RECEIVER_PREFIX
from tasks.economic_webhooks import TOKEN_HEADER as ECONOMIC_TOKEN_HEADER
from tasks.economic_webhooks import register_economic_webhooks
from tasks.entities import REGISTRY
from tasks.harness.localredis import LocalRedis
from tasks.settings import Settings
from tasks.webhooks import handled_events
from tests.fixtures.sandboxes import RunningSandbox
from tests.fixtures.service import PROJECT_ROOT, settings_env, wait_for
from tests.web.support import WebProcess, free_port, token_store

pytestmark = pytest.mark.slow

BODY_RE = re.compile(r'"body":\s*"([A-Za-z0-9+/=]{8,})"')


def unique_token(label: str) -> str:
    return f"{label}-{secrets.token_hex(16)}"


# --- capture ----------------------------------------------------------------------------------------


class ListHandler(logging.Handler):
    """Keeps every formatted record, exception text included."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def root_log() -> Iterator[ListHandler]:
    handler = ListHandler()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


class BrokerMonitor:
    """Every command the Redis server executes while running (MONITOR), as text.

    The reading connection blocks without a timeout (redis-py drops a connection that times out); `stop`
    wakes it with a PING of its own, which MONITOR reports like any other command.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._client = redis.Redis.from_url(url)
        self.commands: list[str] = []
        self.failure: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-monitor", daemon=True)
        self._started = threading.Event()

    def start(self) -> BrokerMonitor:
        self._thread.start()
        assert self._started.wait(10), "MONITOR did not start"
        return self

    def _run(self) -> None:
        try:
            with self._client.monitor() as monitor:
                self._started.set()
                while not self._stop.is_set():
                    self.commands.append(monitor.next_command()["command"])
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            self._started.set()

    def stop(self) -> list[str]:
        if self._stop.is_set():
            return self.commands
        self._stop.set()
        waker = redis.Redis.from_url(self._url)
        while self._thread.is_alive():
            waker.ping()
            self._thread.join(0.2)
        waker.close()
        self._client.close()
        assert self.failure is None, f"MONITOR stopped early: {self.failure}"
        return self.commands


class EventCapture:
    """The Celery event stream a monitor (Flower) consumes, on the worker's broker prefix."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.events: list[dict[str, Any]] = []
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._run, name="celery-events", daemon=True)

    def _run(self) -> None:
        with self.app.connection_for_read() as connection:
            self._receiver = self.app.events.Receiver(connection, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def start(self) -> EventCapture:
        self._thread.start()
        probe = f"capture-probe-{uuid.uuid4().hex[:6]}"

        def probed() -> bool:
            with self.app.events.default_dispatcher() as dispatcher:
                dispatcher.send("worker-probe", probe=probe)
            time.sleep(0.2)
            return any(event.get("probe") == probe for event in self.events)

        wait_for(probed, timeout=20, interval=0.1, message="the Celery event receiver to subscribe")
        return self

    def stop(self) -> list[dict[str, Any]]:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(10)
        return self.events


def decoded_bodies(text: str) -> list[str]:
    """kombu keeps message bodies base64-encoded; decode every one found in ``text``."""
    found = []
    for match in BODY_RE.finditer(text):
        try:
            found.append(base64.b64decode(match.group(1), validate=True).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            continue
    return found


def stored_values(client: redis.Redis, patterns: list[str], skip: str) -> list[str]:
    """Every value under the patterns (all Redis types), as text, plus decoded message bodies."""
    texts: list[str] = []
    for pattern in patterns:
        for name in client.scan_iter(match=pattern, count=1000):
            if name == skip:
                continue
            kind = client.type(name)
            if kind == "string":
                value: Any = client.get(name)
            elif kind == "hash":
                value = client.hgetall(name)
            elif kind == "list":
                value = client.lrange(name, 0, -1)
            elif kind == "set":
                value = sorted(client.smembers(name))
            elif kind == "zset":
                value = client.zrange(name, 0, -1, withscores=True)
            elif kind == "stream":
                value = client.xrange(name)
            else:
                value = None
            text = f"{name} {json.dumps(value, default=str)}"
            texts.append(text)
            texts.extend(decoded_bodies(text.replace('\\"', '"')))
    return texts


def leaks(secrets_by_name: dict[str, str], texts: list[str], where: str) -> list[str]:
    found = []
    for text in texts:
        for name, value in secrets_by_name.items():
            if value in text:
                at = text.index(value)
                context = text[max(0, at - 120) : at].replace(value, "<token>")
                found.append(f"{where}: {name} after ...{context!r}")
    return found


# --- the flow ---------------------------------------------------------------------------------------


@pytest.fixture
def flow_tokens() -> dict[str, str]:
    return {
        "rackbeat_token": unique_token("rb"),
        "economic_app_secret_token": unique_token("eas"),
        "economic_agreement_grant_token": unique_token("eag"),
        "webhook_token (fixed setting)": unique_token("wh"),
        "economic_webhook_token": unique_token("ewh"),
    }


@pytest.fixture
def broker_monitor(redis_url: str) -> Iterator[BrokerMonitor]:
    """MONITOR for the test's duration; stopped at teardown even when the test fails half-way."""
    monitor = BrokerMonitor(redis_url).start()
    yield monitor
    monitor.stop()


@pytest.fixture
def event_captures() -> Iterator[Callable[[Celery], EventCapture]]:
    started: list[EventCapture] = []

    def make(app: Celery) -> EventCapture:
        capture = EventCapture(app)
        started.append(capture)
        return capture.start()

    yield make
    for capture in started:
        capture.stop()


@pytest.fixture
def web_processes(tmp_path: Path) -> Iterator[Callable[..., WebProcess]]:
    started: list[WebProcess] = []

    def make(settings: Settings) -> WebProcess:
        handle = WebProcess(
            settings=settings, port=int(settings.public_url.rsplit(":", 1)[1]), log_path=tmp_path / "web.log"
        )
        started.append(handle)
        return handle.start(register_webhooks=True, log_level="debug")

    yield make
    for handle in started:
        handle.stop()


def test_no_token_appears_in_logs_tasks_events_or_dead_letters(
    flow_tokens: dict[str, str],
    root_log: ListHandler,
    rackbeat_server_factory: Callable[..., RunningSandbox],
    economic_server_factory: Callable[..., RunningSandbox],
    worker_process: Callable[..., Any],
    web_processes: Callable[..., WebProcess],
    broker_monitor: BrokerMonitor,
    event_captures: Callable[[Celery], EventCapture],
    redis_url: str,
    session_namespace: str,
) -> None:
    rackbeat = rackbeat_server_factory(token=flow_tokens["rackbeat_token"], webhook_backoff_seconds=0.2)
    economic = economic_server_factory(
        app_secret_token=flow_tokens["economic_app_secret_token"],
        agreement_grant_token=flow_tokens["economic_agreement_grant_token"],
    )
    connection_id = f"{session_namespace}-nosecrets"
    prefix = f"{session_namespace}:nosecrets:"
    port = free_port()
    overrides: dict[str, Any] = {
        "connection_id": connection_id,
        "public_url": f"http://127.0.0.1:{port}",
        "rackbeat_base_url": rackbeat.api_url,
        "rackbeat_token": SecretStr(flow_tokens["rackbeat_token"]),
        "economic_base_url": economic.api_url,
        "economic_openapi_base_url": economic.api_url,
        "economic_app_secret_token": SecretStr(flow_tokens["economic_app_secret_token"]),
        "economic_agreement_grant_token": SecretStr(flow_tokens["economic_agreement_grant_token"]),
        "webhook_token": SecretStr(flow_tokens["webhook_token (fixed setting)"]),
        "economic_webhook_token": SecretStr(flow_tokens["economic_webhook_token"]),
        "customers_master": "economic",  # so e-conomic's customer webhook queues an import (step 5)
    }
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    worker = worker_process(broker_prefix=prefix, **overrides)
    events = event_captures(worker.app)
    web = web_processes(worker.settings.model_copy(update={"broker_key_prefix": prefix}))

    # start-up registration stores one token per handled event
    tokens = token_store(store, web.settings)
    wanted = set(handled_events(REGISTRY.values()))
    wait_for(lambda: tokens.events() >= wanted, timeout=30, message="start-up webhook registration")

    api = httpx.Client(base_url=rackbeat.api_url, headers=rackbeat.headers, timeout=10)
    dlq = DeadLetterStore(store, connection_id)
    with api:
        # 1. a product and its group, created and updated: transfers that succeed
        group = api.post("product-groups", json={"name": "Fasteners"}).json()["product_group"]
        product = {"number": "BOLT/8", "name": "M8 bolt", "group_id": group["number"], "sales_price": 2.5}
        assert api.post("products", json=product).status_code in (200, 201)
        assert api.put("products/BOLT%252F8", json={"name": "M8 bolt, zinc"}).status_code == 200
        wait_for(
            lambda: any(p["productNumber"] == "BOLT/8" for p in economic.sandbox.dump("products")),
            timeout=60,
            message="the product to reach e-conomic",
        )

        # 2. a group e-conomic would refuse (name over its 50 characters): dead-lettered at once
        api.post("product-groups", json={"name": "G" * 60})
        wait_for(lambda: list(dlq.list(kind="product_group")), timeout=60, message="a permanent dead letter")

        # 3. e-conomic failing with 5xx: retried, then dead-lettered when the retries run out
        economic.sandbox.faults.set(error_rate=1.0)
        assert api.put("products/BOLT%252F8", json={"name": "M8 bolt, steel"}).status_code == 200
        wait_for(lambda: list(dlq.list(kind="product")), timeout=90, message="a dead letter after retries")
        economic.sandbox.faults.reset()

    # 4. deliveries the receiver refuses: a wrong token, and a malformed body with a right one
    registered = {
        f"webhook token for {event}": secret.get_secret_value()
        for event in wanted
        if (secret := tokens.get(event)) is not None
    }
    assert len(registered) == len(wanted)
    refused = httpx.post(
        web.receiver_url,
        json={"key": "1"},
        timeout=10,
        headers={"Rackbeat-Webhook-Token": "wrong", "Rackbeat-Webhook-Event": "product.updated"},
    )
    malformed = httpx.post(
        web.receiver_url,
        content=b"{oops",
        timeout=10,
        headers={
            "Rackbeat-Webhook-Token": registered["webhook token for product.updated"],
            "Rackbeat-Webhook-Event": "product.updated",
        },
    )
    assert (refused.status_code, malformed.status_code) == (401, 400)
    assert rackbeat.sandbox.wait_for_webhooks(15)

    # 5. e-conomic's webhooks: registered through its webhooks API (the token in a custom header), a
    #    customer created there is delivered by the sandbox, queued and imported; a wrong token is refused
    economic_token = SecretStr(flow_tokens["economic_webhook_token"])
    with EconomicClient(
        economic.api_url,
        economic.api_url,
        SecretStr(flow_tokens["economic_app_secret_token"]),
        SecretStr(flow_tokens["economic_agreement_grant_token"]),
    ) as economic_api:
        register_economic_webhooks(economic_api, web.url, economic_token, ["customer"])
    customer = {
        "name": "Hooked ApS",
        "currency": "DKK",
        "customerGroup": {"customerGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "vatZone": {"vatZoneNumber": 1},
    }
    number = httpx.post(economic.api_url + "customers", json=customer, headers=economic.headers).json()[
        "customerNumber"
    ]
    wait_for(
        lambda: any(c["number"] == number for c in rackbeat.sandbox.dump("customers")),
        timeout=60,
        message="e-conomic's customer to reach Rackbeat by webhook",
    )
    wrong = httpx.post(
        web.url + ECONOMIC_RECEIVER_PREFIX + "/customer",
        content=f"old=&new={number}",
        timeout=10,
        headers={ECONOMIC_TOKEN_HEADER: "wrong", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert wrong.status_code == 401
    time.sleep(1.0)  # let the last task events and log lines be written

    captured_events = events.stop()
    commands = broker_monitor.stop()
    web.stop()
    worker.stop()

    all_secrets = {**flow_tokens, **registered}
    tokens_hash = f"rbsync:{connection_id}:webhook-tokens"
    broker_texts = [c for c in commands if tokens_hash not in c]
    broker_texts += [body for c in broker_texts for body in decoded_bodies(c)]
    dead_letters = [json.dumps(entry) for entry in dlq.list()]
    task_events = [json.dumps(event, default=str) for event in captured_events]

    # the flow really happened, so the scan below has something to look at
    assert {e["type"] for e in captured_events} >= {
        "task-sent",
        "task-received",
        "task-succeeded",
        "task-failed",
    }
    # Celery puts argsrepr/kwargsrepr into the events' args/kwargs: exactly what Flower shows
    assert any(e["type"] == "task-received" and "product" in str(e.get("args")) for e in captured_events)
    assert {entry["kind"] for entry in dlq.list()} >= {"product", "product_group"}
    assert any("rbsync.export_record" in text for text in broker_texts)
    # task arguments are read decoded, as the worker gets them (a token in them would be found)
    assert any('"BOLT/8"' in body for c in commands for body in decoded_bodies(c))
    assert "received" in worker.log() and "POST /webhooks/rackbeat" in web.log()
    assert "POST /webhooks/economic/customer" in web.log()
    assert any("rbsync.import_record" in text for text in broker_texts)

    found = (
        leaks(all_secrets, root_log.lines, "test-process log")
        + leaks(all_secrets, worker.log().splitlines(), "worker output")
        + leaks(all_secrets, web.log().splitlines(), "receiver output")
        + leaks(all_secrets, broker_texts, "broker/store command")
        + leaks(
            all_secrets,
            stored_values(store, [f"rbsync:{connection_id}:*", f"{prefix}*"], tokens_hash),
            "stored key",
        )
        + leaks(all_secrets, dead_letters, "dead-letter record")
        + leaks(all_secrets, task_events, "Celery task event")
    )
    assert not found, "\n".join(found[:20])


# --- the configuration Celery and Flower show, on a Redis with a password -----------------------------


@pytest.fixture
def password_redis() -> Iterator[LocalRedis]:
    """A private Redis that requires a password unique to this test (its URL carries it)."""
    with LocalRedis(password=unique_token("redis-password")) as server:
        yield server


@pytest.fixture
def celery_commands(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    """Factory: a `python -m celery -A tasks ...` subprocess with the given settings; stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, settings: Settings, *arguments: str) -> tuple[subprocess.Popen[bytes], Path]:
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", *arguments],
                cwd=PROJECT_ROOT,
                env={**os.environ, **settings_env(settings)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process, log_path

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def run_celery(settings: Settings, *arguments: str) -> str:
    """Output of a short `celery -A tasks ...` command (a CLI an operator would use)."""
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout + done.stderr


def test_no_redis_password_in_the_configuration_celery_and_flower_show(
    password_redis: LocalRedis,
    flow_tokens: dict[str, str],
    worker_process: Callable[..., Any],
    celery_commands: Callable[..., tuple[subprocess.Popen[bytes], Path]],
    session_namespace: str,
) -> None:
    """`celery inspect conf`, `celery report`, Flower's /api/workers and its worker page (Config tab) show
    the worker's configuration through Celery's filter; every Redis URL in it carries the password. None
    may show it (nor a token), and beat must still reach the password-protected Redis."""
    password = password_redis.password
    assert password and password in password_redis.url
    worker = worker_process(
        redis_url=password_redis.url,
        broker_url=password_redis.url,
        connection_id=f"{session_namespace}-pw",
        poll_interval_seconds=0,
        deletion_sweep_interval_seconds=0,
        rackbeat_token=SecretStr(flow_tokens["rackbeat_token"]),
        economic_app_secret_token=SecretStr(flow_tokens["economic_app_secret_token"]),
        economic_agreement_grant_token=SecretStr(flow_tokens["economic_agreement_grant_token"]),
        webhook_token=SecretStr(flow_tokens["webhook_token (fixed setting)"]),
    )
    settings: Settings = worker.settings
    port = free_port()
    auth = ("operator", unique_token("flower"))
    flower, flower_log = celery_commands(
        "flower",
        settings,
        "flower",
        "--address=127.0.0.1",
        f"--port={port}",
        f"--basic_auth={auth[0]}:{auth[1]}",
    )
    beat, beat_log = celery_commands(
        "beat", settings, "beat", "--scheduler=redbeat.RedBeatScheduler", "--loglevel=INFO"
    )
    flower_url = f"http://127.0.0.1:{port}"

    def flower_answers() -> bool:
        assert flower.poll() is None, flower_log.read_text()
        try:
            return httpx.get(f"{flower_url}/healthcheck", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(flower_answers, timeout=60, interval=0.2, message="Flower to answer")

    # beat reaches the password-protected Redis (its lock is there) and so does the Compose probe of it
    def beat_probe() -> bool:
        assert beat.poll() is None, beat_log.read_text()
        probe = subprocess.run(
            [sys.executable, "-m", "tasks.cli.healthcheck", "beat"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **settings_env(settings)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return probe.returncode == 0

    wait_for(beat_probe, timeout=60, interval=0.5, message="beat to hold its RedBeat lock")

    def flower_knows_the_worker() -> dict[str, Any] | None:
        answer = httpx.get(f"{flower_url}/api/workers", params={"refresh": 1}, auth=auth, timeout=30)
        assert answer.status_code == 200, answer.text
        workers = answer.json()
        return workers if workers.get(worker.hostname, {}).get("conf") else None

    api_workers = wait_for(flower_knows_the_worker, timeout=60, interval=1, message="Flower's worker conf")
    worker_page = httpx.get(f"{flower_url}/worker/{worker.hostname}", auth=auth, timeout=30)
    assert worker_page.status_code == 200
    inspected = run_celery(settings, "inspect", "conf", "--json", f"--destination={worker.hostname}")
    report = run_celery(settings, "report")

    # the views really hold the configuration, Redis URLs included (masked)
    conf = api_workers[worker.hostname]["conf"]
    assert conf["broker_url"].startswith("redis://:********@") and "redbeat_redis_url" in conf
    assert "redbeat_redis_url" in worker_page.text and "redbeat_redis_url" in inspected
    assert "broker_url" in report

    flower.terminate()
    beat.terminate()
    flower.wait(timeout=15)
    beat.wait(timeout=15)
    worker.stop()

    all_secrets = {"Redis password": password, **flow_tokens, "Flower password": auth[1]}
    found = (
        leaks(all_secrets, [json.dumps(api_workers)], "Flower /api/workers")
        + leaks(all_secrets, [worker_page.text], "Flower worker page")
        + leaks(all_secrets, [inspected], "celery inspect conf")
        + leaks(all_secrets, [report], "celery report")
        + leaks(all_secrets, worker.log().splitlines(), "worker output")
        + leaks(all_secrets, flower_log.read_text(errors="replace").splitlines(), "Flower output")
        + leaks(all_secrets, beat_log.read_text(errors="replace").splitlines(), "beat output")
    )
    assert not found, "\n".join(found[:20])
