"""The operator console in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, which
``.ci/run`` installs): an operator logs in, sees a transfer e-conomic refused with e-conomic's own words,
fixes the record in Rackbeat, presses Retry and sees the entry resolved; a second entry is discarded with
a reason. Everything is real: the receiver app with its console on a loopback port, the in-process Celery
worker, Redis, both sandboxes, and the browser driven over the W3C WebDriver protocol (a small client
below, on httpx; no browser download, no Selenium).

The browser missing is a failure, never a skip. ``CONSOLE_SCREENSHOT=docs/console.png`` also writes the
README's screenshot (taken of the list with both dead letters, when this test runs alone).
"""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from sandbox.common.server import ServerThread
from tasks.deadletter import DeadLetterStore
from tasks.entities import product_group
from tasks.events import read_events, stream_key
from tasks.settings import Settings
from tasks.transfer import enqueue_export
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import PROJECT_ROOT, wait_for
from tests.web.support import free_port
from web.app import create_app

pytestmark = pytest.mark.usefixtures("celery_worker")

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element reference key
USERNAME = "operator"
PASSWORD = "a console password for the browser"


class WebDriverError(AssertionError):
    pass


class Browser:
    """Just enough of the W3C WebDriver protocol: navigate, find, type, click, read, screenshot."""

    def __init__(self, driver_url: str, session_id: str) -> None:
        self.driver_url = driver_url
        self.session_id = session_id
        self.http = httpx.Client(base_url=f"{driver_url}/session/{session_id}", timeout=60)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.request(method, path, json=body if method == "POST" else None)
        value = answer.json().get("value")
        if answer.status_code != 200:
            error = value if isinstance(value, dict) else {}
            raise WebDriverError(f"{method} {path}: {error.get('error')}: {error.get('message', '')[:300]}")
        return value

    def open(self, url: str) -> None:
        self.call("POST", "/url", {"url": url})

    def find(self, css: str) -> str:
        return str(self.call("POST", "/element", {"using": "css selector", "value": css})[ELEMENT])

    def present(self, css: str) -> bool:
        return bool(self.call("POST", "/elements", {"using": "css selector", "value": css}))

    def text(self, css: str) -> str:
        return str(self.call("GET", f"/element/{self.find(css)}/text"))

    def type(self, css: str, text: str) -> None:
        self.call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self.call("POST", f"/element/{self.find(css)}/click", {})

    def url(self) -> str:
        return str(self.call("GET", "/url"))

    def wait_text(self, css: str, expected: str, timeout: float = 20) -> str:
        def shown() -> str | None:
            if not self.present(css):
                return None
            found = self.text(css)
            return found if expected in found else None

        return str(wait_for(shown, timeout=timeout, interval=0.1, message=f"{expected!r} in {css}"))

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("GET", "/screenshot"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """chromedriver on a loopback port with one headless Chromium session."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"the console's browser test needs {' and '.join(missing)}: "
            "apt-get install -y chromium chromium-driver (.ci/run installs them)"
        )
    logs = tmp_path_factory.mktemp("chromedriver")
    port = free_port()
    with (logs / "chromedriver.log").open("wb") as log:
        driver = subprocess.Popen(
            [str(CHROMEDRIVER), f"--port={port}", "--allowed-ips=127.0.0.1"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if driver.poll() is not None:
            pytest.fail(
                f"chromedriver exited with {driver.returncode}: {(logs / 'chromedriver.log').read_text()}"
            )
        try:
            return bool(httpx.get(f"{url}/status", timeout=1).json()["value"]["ready"])
        except httpx.HTTPError:
            return False

    session_id = None
    try:
        wait_for(ready, timeout=20, interval=0.1, message="chromedriver")
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": str(CHROMIUM),
                "args": [
                    "--headless=new",
                    "--no-sandbox",  # CI runs as root
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1360,720",
                    f"--user-data-dir={logs / 'profile'}",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            },
        }
        answer = httpx.post(
            f"{url}/session", json={"capabilities": {"alwaysMatch": capabilities}}, timeout=60
        )
        assert answer.status_code == 200, f"no browser session: {answer.text[:500]}"
        session_id = answer.json()["value"]["sessionId"]
        yield Browser(url, session_id)
    finally:
        if session_id is not None:
            httpx.delete(f"{url}/session/{session_id}", timeout=30)
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait(timeout=10)


@pytest.fixture
def console(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
) -> Iterator[str]:
    """The receiver app with its console, on a loopback port, talking to the sandboxes' settings."""
    forget_records(redis_client, session_namespace)
    settings = sandbox_settings.model_copy(
        update={"console_username": SecretStr(USERNAME), "console_password": SecretStr(PASSWORD)}
    )
    server = ServerThread(create_app(settings, register_webhooks=False)).start()
    yield server.url
    server.stop()


def test_an_operator_logs_in_sees_a_refused_transfer_retries_it_after_the_fix_and_sees_it_resolved(
    browser: Browser,
    console: str,
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    dlq = DeadLetterStore(redis_client, sandbox_settings.connection_id)
    rackbeat = rackbeat_sandbox.sandbox
    suffix = uuid.uuid4().hex[:6].upper()

    def dead_letter_of(number: str) -> dict[str, Any]:
        return wait_for(
            lambda: next(iter(dlq.entries_for_record("product", number)), None),
            timeout=30,
            message=f"a dead letter for product {number}",
        )

    # A transfer e-conomic refuses: its agreement has lost account 1010, which new product groups get.
    general = rackbeat.create("product-groups", {"name": "General"})
    # only this test's events: the sandboxes number groups afresh for every test, so an earlier test's
    # event for a group with the same number must not count
    newest = redis_client.xrevrange(stream_key(sandbox_settings.connection_id), count=1)
    since = newest[0][0] if newest else "0"
    enqueue_export("product_group", str(general["number"]))
    wait_for(
        lambda: any(
            event["kind"] == "product_group"
            and event["key"] == str(general["number"])
            and event["outcome"] in ("created", "replaced", "unchanged")
            for _, event in read_events(
                redis_client, after=since, count=100_000, connection_id=sandbox_settings.connection_id
            )
        ),
        timeout=30,
        message="group General transferred",
    )
    economic_sandbox.sandbox.store.delete("accounts", product_group.DOMESTIC_SALES_ACCOUNT)
    special = rackbeat.create("product-groups", {"name": "Special"})
    refused = f"CONSOLE-{suffix}"
    rackbeat.create(
        "products", {"number": refused, "name": "Drill", "group_id": special["number"], "sales_price": 10}
    )
    # And one the engine refuses before any call (a group name longer than e-conomic allows).
    long_group = rackbeat.create(
        "product-groups", {"name": "Garden tools, machines and spare parts for them all"}
    )
    unfit = f"LONG-{suffix}"
    rackbeat.create(
        "products", {"number": unfit, "name": "Mower", "group_id": long_group["number"], "sales_price": 5}
    )
    enqueue_export("product", refused)
    enqueue_export("product", unfit)
    entry = dead_letter_of(refused)
    other = dead_letter_of(unfit)
    assert entry["field_errors"] == {"domesticAccountId": ["Account 1010 does not exist."]}

    # Log in.
    browser.open(f"{console}/console/")
    assert browser.url().endswith("/console/login")
    browser.type("#username", USERNAME)
    browser.type("#password", PASSWORD)
    browser.click("#login")
    browser.wait_text("#open-count", "open dead letters")

    # The failed transfer, with e-conomic's reason, its attempts and a link to its task in Flower.
    row = f'tr[id="entry-{entry["id"]}"]'
    browser.wait_text(row, "domesticAccountId: Account 1010 does not exist.")
    assert refused in browser.text(row) and "ValidationFailed" in browser.text(row)
    assert browser.present(f'{row} a.flower[href="http://127.0.0.1:5555/task/{entry["task_id"]}"]')
    assert "name: is" in browser.text(f'tr[id="entry-{other["id"]}"]')
    shot = browser.screenshot()
    assert shot.startswith(b"\x89PNG")
    (tmp_path / "console.png").write_bytes(shot)
    if os.environ.get("CONSOLE_SCREENSHOT"):
        (PROJECT_ROOT / os.environ["CONSOLE_SCREENSHOT"]).write_bytes(shot)

    # Fixed in Rackbeat (the product belongs in the group e-conomic has), then retried from the page.
    rackbeat.update("products", refused, {"group_id": general["number"]})
    browser.click(f"{row} button.retry")

    notice = browser.wait_text("#notice", "transferred", timeout=30)
    assert f"product {refused} transferred" in notice and "entry resolved" in notice
    browser.wait_text(f'section[id="entry-{entry["id"]}"] .entry-status', "resolved")
    assert dlq.get(entry["id"])["status"] == "resolved"
    [stored] = [p for p in economic_sandbox.sandbox.dump("products") if p["productNumber"] == refused]
    assert stored["productGroup"]["productGroupNumber"] == general["number"]

    # The other one is discarded with a reason, from its record's history page.
    browser.open(f"{console}/console/record?kind=product&key={unfit}")
    browser.type(f'section[id="entry-{other["id"]}"] input[name="reason"]', "group renamed in Rackbeat")
    browser.click(f'section[id="entry-{other["id"]}"] button.discard')
    browser.wait_text("#notice", f"entry {other['id']} discarded")
    assert dlq.get(other["id"])["discard_reason"] == "group renamed in Rackbeat"

    # The list no longer shows either as open.
    browser.open(f"{console}/console/?kind=product")
    assert not browser.present(row) and not browser.present(f'tr[id="entry-{other["id"]}"]')
