"""The container probes: heartbeat-file age and an HTTP endpoint, run as the CLI the compose file calls."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tasks.cli.healthcheck import main, touch_heartbeat


def test_a_fresh_heartbeat_is_healthy_and_a_stale_or_missing_one_is_not(tmp_path: Path) -> None:
    heartbeat = tmp_path / "worker.heartbeat"
    assert main(["file", "--path", str(heartbeat)]) == 1
    touch_heartbeat(heartbeat)
    assert main(["file", "--path", str(heartbeat), "--max-age", "60"]) == 0
    an_hour_ago = time.time() - 3600
    os.utime(heartbeat, (an_hour_ago, an_hour_ago))
    assert main(["file", "--path", str(heartbeat), "--max-age", "60"]) == 1


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_probe_follows_the_status_code(health_server: str) -> None:
    assert main(["http", f"{health_server}/healthz"]) == 0
    assert main(["http", f"{health_server}/broken"]) == 1


def test_http_probe_fails_when_nothing_listens() -> None:
    from tasks.harness.localredis import free_port

    assert main(["http", f"http://127.0.0.1:{free_port()}/healthz", "--timeout", "1"]) == 1
