"""Webhook registration when the web service starts, in the background.

Registration talks to Rackbeat, which may be slow or briefly unreachable; the receiver and /healthz must
answer meanwhile, so it runs in a daemon thread. Transient failures are retried with a capped backoff until
it succeeds or the app shuts down; a permanent one (wrong token, rejected URL) is logged once and given up,
because retrying cannot fix it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from tasks.webhooks import Registration, register_from_settings

log = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0


class StartupRegistration:
    def __init__(
        self,
        settings: Any,
        register: Callable[[Any], list[Registration]] = register_from_settings,
    ) -> None:
        self._settings = settings
        self._register = register
        self.done = threading.Event()
        self.results: list[Registration] | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"StartupRegistration(done={self.done.is_set()}, error={self.error!r})"

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(stop,), name="rbsync-webhook-registration", daemon=True
        )
        self._thread.start()

    def run(self, stop: threading.Event) -> None:
        from clients.errors import PermanentError

        delay = FIRST_DELAY_SECONDS
        while not stop.is_set():
            try:
                self.results = self._register(self._settings)
            except PermanentError as exc:
                self.error = str(exc)
                log.error("webhook registration with Rackbeat failed and will not be retried: %s", exc)
                break
            except Exception as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("webhook registration with Rackbeat failed, retrying in %.0fs: %s", delay, exc)
                stop.wait(delay)
                delay = min(delay * 2, MAX_DELAY_SECONDS)
                continue
            self.error = None
            log.info("registered %d Rackbeat webhook(s) at %s", len(self.results), self._settings.public_url)
            break
        self.done.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
