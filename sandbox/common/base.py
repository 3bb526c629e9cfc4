"""What every sandbox shares: faults, request log, idempotency cache, counters, state file, and the app stack.

A concrete sandbox (``RackbeatSandbox``, ``EconomicSandbox``) builds its data store, hands the store's lock to
``BaseSandbox.__init__``, builds its API around the store, then calls :meth:`_finish_init` with the API's
routes. It implements the data hooks (``_clear_data``, ``_fresh_data``, ``load``, ``counts``, ``dump``,
``snapshot``, ``restore``) and calls :meth:`data_changed` after each write so ``--state`` files stay
current.

The ASGI stack, outermost first::

    RequestLogMiddleware -> [rate limit] -> FaultMiddleware -> [auth] -> IdempotencyMiddleware
        -> Starlette(admin + API routes)

so the log shows what the client really saw (faults included), and a commit-then-fail write is still in the
idempotency cache, as it would be on a real server whose answer was lost on the way back. The bracketed
layers are hooks (:meth:`_rate_limit_middleware`, :meth:`_auth_middleware`), empty unless a sandbox fills
them: e-conomic does; Rackbeat checks its token and its limit inside its API, under ``/api`` only.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from sandbox.common.admin import admin_mount
from sandbox.common.faults import FaultConfig, FaultInjector, FaultMiddleware
from sandbox.common.idempotency import DEFAULT_TTL_SECONDS, IdempotencyCache, IdempotencyMiddleware
from sandbox.common.persistence import StateFile
from sandbox.common.requestlog import DEFAULT_MAX_ENTRIES, RequestLog, RequestLogMiddleware


class Counters:
    """Thread-safe named counters for ``/_sandbox/stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


class BaseSandbox:
    """Shared plumbing; see the module docstring for what a subclass adds."""

    #: header(s) whose values scope idempotency keys to one caller
    credential_headers: tuple[bytes, ...] = (b"authorization",)
    #: header added to a replayed answer
    replay_header: tuple[bytes, bytes] = (b"x-resultfromcache", b"true")

    def __init__(
        self,
        *,
        lock: threading.RLock | None = None,
        state_file: str | None = None,
        fault_config: FaultConfig | None = None,
        idempotency_ttl_seconds: float = DEFAULT_TTL_SECONDS,
        request_log_size: int = DEFAULT_MAX_ENTRIES,
        state_debounce_seconds: float = 0.5,
    ):
        self.lock = lock or threading.RLock()  # guards the data store (pass the store's own lock)
        self.faults = FaultInjector(fault_config)
        self.request_log = RequestLog(request_log_size)
        self.idempotency = IdempotencyCache(idempotency_ttl_seconds)
        self.counters = Counters()
        self.state_file = StateFile(state_file, self.snapshot, state_debounce_seconds) if state_file else None
        self.app: Any = None

    # -- to be called by the subclass at the end of its __init__ ---
    def _finish_init(
        self,
        api_routes: list[BaseRoute],
        use_idempotency: bool = True,
        admin_routes: list[BaseRoute] | None = None,
    ) -> None:
        """Restore the state file (else start with the fresh data) and build ``self.app``; ``admin_routes``
        go under ``/_sandbox``."""
        state = self.state_file.load() if self.state_file is not None else None
        with self.lock:
            if state is not None:
                self.restore(state)
            else:
                self._fresh_data()
        self.app = self._build_app(api_routes, use_idempotency, admin_routes)

    def _build_app(
        self, api_routes: list[BaseRoute], use_idempotency: bool, admin_routes: list[BaseRoute] | None = None
    ) -> Any:
        app: Any = Starlette(routes=[admin_mount(self, admin_routes), *api_routes])
        if use_idempotency:
            app = IdempotencyMiddleware(
                app,
                self.idempotency,
                credential_headers=self.credential_headers,
                replay_header=self.replay_header,
                on_replay=lambda: self.counters.incr("idempotent_replays"),
            )
        app = self._auth_middleware(app)
        app = FaultMiddleware(app, self.faults)
        app = self._rate_limit_middleware(app)
        return RequestLogMiddleware(app, self.request_log, self.counters)

    def _auth_middleware(self, app: Any) -> Any:
        """Wrap ``app`` in the credential check, inside the fault layer; override to have one."""
        return app

    def _rate_limit_middleware(self, app: Any) -> Any:
        """Wrap ``app`` in the rate limit, outside the fault layer (so faulted answers carry its headers too);
        override to have one."""
        return app

    # -- data hooks (subclass) ---
    def _clear_data(self) -> None:
        raise NotImplementedError

    def _fresh_data(self) -> None:
        """Put what a new account holds before anyone adds data (at start without saved state, and after a
        reset); override when that is not nothing."""

    def _reset_limits(self) -> None:
        """Refill rate buckets; override when the sandbox has any."""

    def load(self, data: dict[str, list[dict]]) -> dict[str, int]:
        raise NotImplementedError

    def counts(self) -> dict[str, int]:
        raise NotImplementedError

    def dump(self, resource: str) -> list[dict]:
        raise NotImplementedError

    def snapshot(self) -> dict:
        """JSON-safe copy of the whole data store (for the state file)."""
        raise NotImplementedError

    def restore(self, state: dict) -> None:
        raise NotImplementedError

    # -- shared behaviour ---
    def reset(self) -> None:
        """Back to a new account (cleared, then the fresh data); faults, request log, rate buckets,
        idempotency cache and counters emptied."""
        with self.lock:
            self._clear_data()
            self._fresh_data()
        self.faults.reset()
        self.request_log.clear()
        self.idempotency.clear()
        self.counters.clear()
        self._reset_limits()
        self.data_changed()

    def data_changed(self) -> None:
        if self.state_file is not None:
            self.state_file.changed()

    def stats(self) -> dict[str, Any]:
        counters = self.counters.snapshot()
        by_method = {k.removeprefix("requests:"): v for k, v in counters.items() if k.startswith("requests:")}
        by_status = {k.removeprefix("status:"): v for k, v in counters.items() if k.startswith("status:")}
        other = {k: v for k, v in counters.items() if ":" not in k}
        return {
            "requests": sum(by_method.values()),
            "requests_by_method": by_method,
            "responses_by_status": by_status,
            "faults": dict(self.faults.counters),
            **other,
        }

    def close(self) -> None:
        """Flush a pending state-file save (call on shutdown)."""
        if self.state_file is not None:
            self.state_file.close()
