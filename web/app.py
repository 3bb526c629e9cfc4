"""The web service: Starlette app factory wiring the receiver, health, metrics and start-up registration.

Routes:
- ``POST /webhooks/rackbeat``: Rackbeat deliveries (web.rackbeat_webhooks)
- ``POST /webhooks/economic/{kind}``: e-conomic deliveries (web.economic_webhooks)
- ``GET /healthz``: Redis store and broker PINGs (web.health)
- ``GET /metrics``: Prometheus text of the webhook counters, credential gauges and service metrics
  (web.metrics, tasks.metrics); basic auth with its own credentials, else loopback only
- ``GET /status``: each API's credential state and since when (tasks.credentials)
- ``/console/``: the operator console behind its own login (web.console)

Nothing here reads global state at import; ``create_app(settings)`` builds everything from the settings
it is given (the cached process settings by default), so tests can run several apps side by side.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tasks.credentials import CredentialStatus
from tasks.economic_webhooks import RECEIVER_PREFIX as ECONOMIC_RECEIVER_PREFIX
from tasks.economic_webhooks import imports_kind
from tasks.metrics import ServiceCollector
from tasks.redis import get_redis
from tasks.redis import key as namespaced_key
from tasks.settings import Settings, get_settings
from tasks.webhooks import RECEIVER_PATH, WebhookTokenStore
from web.console import console_routes
from web.economic_webhooks import EconomicWebhookCollector, EconomicWebhookMetrics, EconomicWebhookReceiver
from web.health import HealthEndpoint, broker_ping, ping_client, redis_for_health
from web.metrics import (
    MetricsAccess,
    MetricsEndpoint,
    WebhookCollector,
    WebhookMetrics,
    metrics_registry,
)
from web.rackbeat_webhooks import RackbeatWebhookReceiver, RouteTarget
from web.startup import StartupRegistration

log = logging.getLogger(__name__)


def route_event(event: str) -> RouteTarget | None:
    """Kind, action and key field for an event the entity registry handles, None otherwise."""
    from tasks.entities import spec_for_event

    found = spec_for_event(event)
    if found is None:
        return None
    spec, action = found
    return RouteTarget(kind=spec.kind, action=action, key_field=spec.rackbeat.key_field)


def push_policy(settings: Settings) -> Callable[[str], bool]:
    """Whether Rackbeat changes to a kind are pushed, as `tasks.sync.direction` decides for these settings
    (not when e-conomic owns the kind; lots follow the products setting, since they are products in
    e-conomic). Decided once, when the app is built."""
    from tasks.sync.direction import Directions

    return Directions.of(settings).exports


def enqueue_transfer(kind: str, key: str) -> bool:
    """tasks.transfer.enqueue_export, imported on first use so building the app does not load the engine.

    It works with the process's settings and Celery app (pending markers, broker), which is why
    `python -m web` builds its app from those same settings.
    """
    from tasks.transfer import enqueue_export

    return enqueue_export(kind, key)


def enqueue_import(kind: str, key: str) -> bool:
    """tasks.imports.enqueue_import, imported on first use (like enqueue_transfer)."""
    from tasks.imports import enqueue_import as enqueue

    return enqueue(kind, key)


REGISTER_ON_STARTUP_ENV = "RBSYNC_REGISTER_WEBHOOKS_ON_STARTUP"


def register_on_startup(settings: Settings, override: bool | None) -> bool:
    """Whether to register with Rackbeat at start-up: the explicit override, else the setting
    ``register_webhooks_on_startup`` (read from the environment while Settings has no such field), else true.
    """
    if override is not None:
        return override
    configured = getattr(settings, "register_webhooks_on_startup", None)
    if configured is not None:
        return bool(configured)
    raw = os.environ.get(REGISTER_ON_STARTUP_ENV, "").strip().lower()
    if raw in {"0", "false", "no", "off"}:
        return False
    if raw in {"", "1", "true", "yes", "on"}:
        return True
    raise SystemExit(f"rbsync: setting {REGISTER_ON_STARTUP_ENV}: expected true or false, got {raw!r}")


def create_app(settings: Settings | None = None, *, register_webhooks: bool | None = None) -> Starlette:
    """The web app for ``settings``. ``register_webhooks`` overrides the start-up registration setting."""
    settings = settings or get_settings()
    metrics_access = MetricsAccess(settings.metrics_username, settings.metrics_password)
    store = get_redis(settings.redis_url)

    def key(*parts: object) -> str:
        return namespaced_key(*parts, connection_id=settings.connection_id)

    tokens = WebhookTokenStore(store, key)
    metrics = WebhookMetrics(store, key)
    receiver = RackbeatWebhookReceiver(
        tokens=tokens,
        fixed_token=settings.webhook_token,
        metrics=metrics,
        route=route_event,
        pushes=push_policy(settings),
        enqueue=enqueue_transfer,
    )
    economic_metrics = EconomicWebhookMetrics(store, key)
    economic_receiver = EconomicWebhookReceiver(
        token=settings.economic_webhook_token,
        metrics=economic_metrics,
        imports=imports_kind(settings),
        enqueue=enqueue_import,
    )
    health = HealthEndpoint(
        {
            "redis": ping_client(redis_for_health(settings.redis_url)),
            "broker": broker_ping(settings.broker_url or settings.redis_url),
        }
    )

    credentials = CredentialStatus(store, settings.connection_id)

    metrics_page = MetricsEndpoint(
        metrics_registry(
            WebhookCollector(metrics, credentials.all),
            ServiceCollector(
                store,
                get_redis(settings.broker_url or settings.redis_url),
                connection_id=settings.connection_id,
                broker_prefix=settings.broker_key_prefix,
            ),
            EconomicWebhookCollector(economic_metrics),
        ),
        metrics_access,
    )

    async def status_page(request: Request) -> JSONResponse:
        """Each API's credential state and since when (not liveness: a refused token is no reason to
        restart the receiver, which keeps accepting webhooks meanwhile)."""
        return JSONResponse({"credentials": await run_in_threadpool(credentials.all)})

    startup = StartupRegistration(settings) if register_on_startup(settings, register_webhooks) else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        stop = threading.Event()
        if startup is not None:
            startup.start(stop)
        try:
            yield {}
        finally:
            stop.set()

    app = Starlette(
        routes=[
            Route(RECEIVER_PATH, receiver.endpoint, methods=["POST"]),
            Route(f"{ECONOMIC_RECEIVER_PREFIX}/{{kind}}", economic_receiver.endpoint, methods=["POST"]),
            Route("/healthz", health.endpoint, methods=["GET"]),
            Route("/metrics", metrics_page.endpoint, methods=["GET"]),
            Route("/status", status_page, methods=["GET"]),
            *console_routes(settings),  # the operator console, /console/ (web/console.py)
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.tokens = tokens
    app.state.economic_metrics = economic_metrics
    app.state.startup_registration = startup
    return app
