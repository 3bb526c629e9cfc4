"""e-conomic's classic webhooks (§14): one subscriber URL per event type, called after matching writes.

Event types: ``customer`` (Customer updated), ``product`` (Product updated), ``order`` (Order updated) and
``invoice`` (Invoice booked). A subscription is a URL, or ``{"url", "postData", "contentType"}`` where
``postData`` is the template with merge fields ``[OLDNUMBER]``/``[NEWNUMBER]`` (``[INVOICENO]`` for
invoices). Defaults: ``old=[OLDNUMBER]&new=[NEWNUMBER]`` and ``invoiceNumber=[INVOICENO]``, sent as
``application/x-www-form-urlencoded``, the form integrators use. The reference does not say what the numbers
are on create and delete; the sandbox sends an empty ``old`` on create and an empty ``new`` on delete.

Merge values are form-encoded into a form template and JSON-escaped into any other (``application/json``)
one, so a product number with ``&`` or ``"`` cannot break either body (the reference does not say how
e-conomic escapes them).

Webhooks registered through the webhooks API (``webhooks_api.py``) are called the same way, each with its
own custom headers; :attr:`WebhookDispatcher.registered` is the hook that lists them for an event.

Calls run on one background thread (never blocking the API answer), in order, with a 5 s timeout and no
retry; every attempt is kept in :attr:`WebhookDispatcher.deliveries` (without the custom headers' values).

"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

EVENTS = ("customer", "product", "order", "invoice", "project")
DEFAULT_TEMPLATES = {"invoice": "invoiceNumber=[INVOICENO]"}
DEFAULT_TEMPLATE = "old=[OLDNUMBER]&new=[NEWNUMBER]"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Subscription:
    url: str
    post_data: str
    content_type: str = FORM
    headers: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "url": self.url,
            "postData": self.post_data,
            "contentType": self.content_type,
        }
        if self.headers:
            described["customHeaders"] = [name for name, _ in self.headers]
        return described


def subscription_from(event: str, value: Any) -> Subscription:
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}; known: {', '.join(EVENTS)}")
    template = DEFAULT_TEMPLATES.get(event, DEFAULT_TEMPLATE)
    if isinstance(value, str):
        return Subscription(value, template)
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        return Subscription(
            value["url"], str(value.get("postData") or template), str(value.get("contentType") or FORM)
        )
    raise ValueError(f"webhook {event!r}: expected a URL or an object with 'url'")


def render(
    template: str, *, old: Any = "", new: Any = "", invoice: Any = "", content_type: str = FORM
) -> str:
    form = content_type.split(";")[0].strip().lower() == FORM

    def text(value: Any) -> str:
        raw = "" if value is None else str(value)
        return quote(raw, safe="") if form else json.dumps(raw)[1:-1]

    return (
        template.replace("[OLDNUMBER]", text(old))
        .replace("[NEWNUMBER]", text(new))
        .replace("[INVOICENO]", text(invoice))
    )


class WebhookDispatcher:
    def __init__(self, subscriptions: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.registered: Callable[[str], list[Subscription]] = lambda event: []
        """The webhooks API's enabled webhooks for an event (set by ``webhooks_api.WebhooksApi``)."""
        self._queue: queue.Queue[tuple[str, Subscription, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.configure(subscriptions or {})

    def configure(self, subscriptions: dict[str, Any]) -> None:
        """Replace the subscriptions (``None`` as a value removes one)."""
        parsed = {event: subscription_from(event, value) for event, value in subscriptions.items() if value}
        with self._lock:
            self.subscriptions = parsed

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {event: sub.as_dict() for event, sub in self.subscriptions.items()}

    def notify(self, event: str, *, old: Any = "", new: Any = "", invoice: Any = "") -> None:
        with self._lock:
            classic = self.subscriptions.get(event)
        targets = ([classic] if classic is not None else []) + self.registered(event)
        for subscription in targets:
            body = render(
                subscription.post_data,
                old=old,
                new=new,
                invoice=invoice,
                content_type=subscription.content_type,
            )
            self._ensure_thread()
            self._queue.put((event, subscription, body))

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="economic-webhooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while (item := self._queue.get()) is not None:
                event, subscription, body = item
                record: dict[str, Any] = {"event": event, "url": subscription.url, "body": body}
                try:
                    answer = client.post(
                        subscription.url,
                        content=body.encode(),
                        headers=[("Content-Type", subscription.content_type), *subscription.headers],
                    )
                    record["status"] = answer.status_code
                except Exception as exc:  # any failure to deliver is recorded, never raised
                    record["error"] = type(exc).__name__
                with self._lock:
                    self.deliveries.append(record)
                self._queue.task_done()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every queued call has been attempted (tests); False on timeout."""
        done = threading.Event()

        def waiter() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    def reset(self) -> None:
        with self._lock:
            self.deliveries.clear()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(5)
