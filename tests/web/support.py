"""Helpers for the web service tests: the receiver as a real `python -m web` process, and broker reads.

The receiver runs as it does in production, a separate process, on a broker key prefix of its own
(``<session_namespace>:web<n>:``) that no test worker consumes, so the length of its ``transfers`` queue is
exactly what it enqueued. It shares the session's connection id, so tokens, pending markers and counters
land in the session namespace that tests/conftest.py cleans up.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from tasks.redis import key as namespaced_key
from tasks.settings import Settings
from tasks.webhooks import WebhookTokenStore
from tests.fixtures.service import PROJECT_ROOT, settings_env, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebProcess:
    settings: Settings
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def receiver_url(self) -> str:
        return f"{self.url}/webhooks/rackbeat"

    def start(self, register_webhooks: bool = False, log_level: str = "info") -> WebProcess:
        env = {**os.environ, **settings_env(self.settings), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "web", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--log-level", log_level]
        command.append("--register-webhooks" if register_webhooks else "--no-register-webhooks")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._answers, timeout=30, interval=0.05, message=f"python -m web on port {self.port}")
        return self

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"python -m web exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def token_store(client: redis.Redis, settings: Settings) -> WebhookTokenStore:
    return WebhookTokenStore(
        client, lambda *parts: namespaced_key(*parts, connection_id=settings.connection_id)
    )


def registered_token(client: redis.Redis, settings: Settings, event: str, token: str) -> SecretStr:
    secret = SecretStr(token)
    token_store(client, settings).put(event, secret)
    return secret


def queue_length(client: redis.Redis, settings: Settings, queue: str = "transfers") -> int:
    """Messages waiting on a queue under the settings' broker prefix (every kombu priority sub-queue)."""
    prefix = settings.broker_key_prefix
    names = [name for name in client.scan_iter(match=f"{prefix}{queue}*") if _is_queue(name, prefix, queue)]
    return sum(client.llen(name) for name in names)


def _is_queue(name: Any, prefix: str, queue: str) -> bool:
    text = name.decode() if isinstance(name, bytes) else name
    rest = text[len(prefix) + len(queue) :]
    # kombu names priority sub-queues "<queue>\x06\x16<priority>"
    return rest == "" or rest.startswith("\x06\x16")


def queued_transfers(
    client: redis.Redis, settings: Settings, queue: str = "transfers"
) -> list[tuple[Any, ...]]:
    """The (kind, key) arguments of every message waiting on the queue, read from the broker's lists."""
    prefix = settings.broker_key_prefix
    found: list[tuple[Any, ...]] = []
    for name in client.scan_iter(match=f"{prefix}{queue}*"):
        if not _is_queue(name, prefix, queue):
            continue
        for raw in client.lrange(name, 0, -1):
            found.append(tuple(message_args(raw)))
    return found


def message_args(raw: str | bytes) -> list[Any]:
    """The positional arguments of one kombu/Celery (protocol 2, JSON) message as stored in Redis."""
    envelope = json.loads(raw)
    body = envelope["body"]
    if envelope.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args, _kwargs, _embed = json.loads(body)
    return list(args)


PRODUCT_EVENT = "product.updated"


def post(
    web: WebProcess,
    body: object | bytes,
    token: str | None,
    event: str | None = PRODUCT_EVENT,
    timeout: float = 20,
) -> httpx.Response:
    """One delivery as Rackbeat sends it: ``body`` as JSON (or raw bytes), token and event if given."""
    headers = {"Content-Type": "application/json", "User-Agent": "Rackbeat Webhook"}
    if token is not None:
        headers["Rackbeat-Webhook-Token"] = token
    if event is not None:
        headers["Rackbeat-Webhook-Event"] = event
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(web.receiver_url, content=content, headers=headers, timeout=timeout)
