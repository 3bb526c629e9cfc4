"""Rackbeat webhooks: the registry behind ``/api/webhooks`` and the background delivery of events.

Delivery never blocks an API answer: the API hands each (webhook, event) pair to :class:`WebhookDispatcher`,
whose thread pool POSTs it with the headers Rackbeat sends (``Rackbeat-Webhook-Token``,
``Rackbeat-Webhook-Event``, ``Rackbeat-Account-Id``, ``User-Agent: Rackbeat Webhook``) and the body
``{"event", "key_name", "key"}``. A non-2xx answer or a connection error is retried with exponential backoff
(``backoff_base_seconds * 2**(attempt-1)``, capped) up to ``max_attempts`` attempts in all, then given up.
Retries wait in a timer heap, not in a pool thread, so one slow receiver cannot starve the others.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.rackbeat.records import now_iso

USER_AGENT = "Rackbeat Webhook"


def new_webhook_token() -> str:
    """The 32-character secret Rackbeat returns once, when a webhook is created."""
    return secrets.token_hex(16)


class WebhookRegistry:
    """Registered webhooks by id; (event, url) is unique, so registering twice updates."""

    def __init__(self) -> None:
        self.hooks: dict[int, dict[str, Any]] = {}
        self._next_id = 1

    def upsert(self, event: str, url: str, is_active: bool) -> tuple[dict[str, Any], bool]:
        """Returns the stored webhook and whether it was created."""
        for hook in self.hooks.values():
            if hook["event"] == event and hook["url"] == url:
                hook["is_active"] = is_active
                hook["updated_at"] = now_iso()
                return hook, False
        now = now_iso()
        hook = {
            "id": self._next_id,
            "event": event,
            "url": url,
            "is_active": is_active,
            "plugin": None,
            "failures_since_last_success": 0,
            "token": new_webhook_token(),
            "created_at": now,
            "updated_at": now,
        }
        self.hooks[hook["id"]] = hook
        self._next_id += 1
        return hook, True

    def matching(self, event_names: tuple[str, ...]) -> list[tuple[dict[str, Any], str]]:
        """Active webhooks for any of the names, each with the name it registered under."""
        return [
            (hook, hook["event"])
            for hook in self.hooks.values()
            if hook["is_active"] and hook["event"] in event_names
        ]

    def record_result(self, webhook_id: int, delivered: bool) -> None:
        hook = self.hooks.get(webhook_id)
        if hook is not None:
            hook["failures_since_last_success"] = 0 if delivered else hook["failures_since_last_success"] + 1

    def delete(self, webhook_id: int) -> dict[str, Any] | None:
        return self.hooks.pop(webhook_id, None)

    def clear(self) -> None:
        self.hooks.clear()
        self._next_id = 1

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(hook) for hook in self.hooks.values()]

    def restore(self, hooks: list[dict[str, Any]]) -> None:
        self.clear()
        for hook in hooks:
            self.hooks[int(hook["id"])] = dict(hook)
        self._next_id = max(self.hooks, default=0) + 1


def public_view(hook: dict[str, Any], *, with_token: bool = False) -> dict[str, Any]:
    """A webhook as the API shows it: the token only in the answer that created it."""
    view = {k: v for k, v in hook.items() if k != "token"}
    if with_token:
        view["token"] = hook["token"]
    return view


@dataclass
class Delivery:
    webhook_id: int
    event: str
    url: str
    token: str
    body: dict[str, Any]
    generation: int
    attempt: int = 1

    def __repr__(self) -> str:  # never show the token
        return f"Delivery({self.webhook_id}, {self.event!r}, {self.url!r}, attempt={self.attempt})"


class WebhookDispatcher:
    """Background delivery with retries; see the module docstring."""

    def __init__(
        self,
        account_id: str,
        *,
        max_attempts: int = 5,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        workers: int = 4,
        on_result: Callable[[int, bool], None] | None = None,
        log_size: int = 10_000,
    ):
        self.account_id = account_id
        self.max_attempts = max_attempts
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.on_result = on_result
        self.counters: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers),
            headers={"User-Agent": USER_AGENT},
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rackbeat-webhook")
        self._lock = threading.Condition()
        self._pending = 0
        self._generation = 0
        self._timers: list[tuple[float, int, Delivery]] = []
        self._sequence = itertools.count()
        self._closed = False
        self._timer_thread = threading.Thread(
            target=self._run_timers, name="rackbeat-webhook-retries", daemon=True
        )
        self._timer_thread.start()

    # -- public --
    def send(self, hook: dict[str, Any], event: str, key_name: str, key: Any) -> None:
        body = {"event": event, "key_name": key_name, "key": str(key)}
        with self._lock:
            if self._closed:
                return
            delivery = Delivery(hook["id"], event, hook["url"], hook["token"], body, self._generation)
            self._pending += 1
            self.counters["queued"] += 1
        self._pool.submit(self._attempt, delivery)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery has succeeded or been given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    @property
    def pending(self) -> int:
        return self._pending

    def cancel_all(self) -> None:
        """Forget queued retries and the log (sandbox reset); attempts in flight end without a retry."""
        with self._lock:
            self._generation += 1
            self._pending -= len(self._timers)
            self._timers.clear()
            self.counters.clear()
            self.log.clear()
            self._lock.notify_all()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counters) | {"pending": self._pending}

    def log_entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.log)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # -- internals --
    def backoff(self, attempt: int) -> float:
        return min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))

    def _attempt(self, delivery: Delivery) -> None:
        with self._lock:
            if delivery.generation != self._generation:  # queued before a reset: drop it unsent
                self._pending -= 1
                self._lock.notify_all()
                return
        status: int | None = None
        error: str | None = None
        try:
            response = self._client.post(
                delivery.url,
                json=delivery.body,
                headers={
                    "Rackbeat-Webhook-Token": delivery.token,
                    "Rackbeat-Webhook-Event": delivery.event,
                    "Rackbeat-Account-Id": self.account_id,
                },
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        except Exception as exc:  # a delivery must never kill the pool thread
            error = type(exc).__name__
        delivered = status is not None and 200 <= status < 300
        self._finish(delivery, delivered, status, error)

    def _finish(self, delivery: Delivery, delivered: bool, status: int | None, error: str | None) -> None:
        retry = not delivered and delivery.attempt < self.max_attempts
        with self._lock:
            current = delivery.generation == self._generation
            if current:
                self.counters["attempts"] += 1
                self.counters["delivered" if delivered else "failed_attempts"] += 1
                if not delivered and not retry:
                    self.counters["given_up"] += 1
                self.log.append(
                    {
                        "webhook_id": delivery.webhook_id,
                        "event": delivery.event,
                        "url": delivery.url,
                        "body": delivery.body,
                        "attempt": delivery.attempt,
                        "status": status,
                        "error": error,
                        "delivered": delivered,
                        "will_retry": retry,
                        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    }
                )
            if current and retry and not self._closed:
                delivery.attempt += 1
                due = time.monotonic() + self.backoff(delivery.attempt - 1)
                heapq.heappush(self._timers, (due, next(self._sequence), delivery))
            else:
                self._pending -= 1
            self._lock.notify_all()
        if current and self.on_result is not None:
            self.on_result(delivery.webhook_id, delivered)

    def _run_timers(self) -> None:
        with self._lock:
            while not self._closed:
                if not self._timers:
                    self._lock.wait()
                    continue
                due = self._timers[0][0]
                now = time.monotonic()
                if due > now:
                    self._lock.wait(due - now)
                    continue
                _, _, delivery = heapq.heappop(self._timers)
                self._pool.submit(self._attempt, delivery)
