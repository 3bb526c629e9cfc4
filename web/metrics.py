"""``GET /metrics``: webhook counters, the credential gauge and the service's metrics, and who may read them.

Webhook counters live in Redis (hash ``stats:webhooks``) rather than in process memory so they survive
restarts and add up across several receiver processes; every request updates them in one pipeline round
trip. Field names are ``<counter>`` or ``<counter>|<reason>``.

The page is ``prometheus_client``'s text exposition (version 0.0.4) of a private ``CollectorRegistry``
holding two custom collectors that read Redis at each scrape: ``WebhookCollector`` here (webhooks, and
``rbsync_api_credentials_ok``) and ``tasks.metrics.ServiceCollector`` (transfers, latency, queues, APIs,
dead letters, polls).

Access (``MetricsAccess``): with ``RBSYNC_METRICS_USERNAME`` and ``RBSYNC_METRICS_PASSWORD`` set, HTTP basic
auth with those (compared in constant time; 401 with ``WWW-Authenticate`` otherwise). With neither set, only
a request made from this machine (a loopback peer, and no ``Forwarded``/``X-Forwarded-For``/``X-Real-IP``
header, which a reverse proxy on this host would add) is answered; any other gets 403. A blank one counts
as unset; setting only one of the two stops the receiver at start with one line. The credentials never
reach a log, a metric or a label.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

KeyFn = Callable[..., str]

METRICS_HASH = ("stats", "webhooks")
IGNORED_EVENTS_HASH = ("stats", "ignored-events")

# name -> help text; the order is the order of the webhook part of the /metrics page.
COUNTERS: dict[str, str] = {
    "received": "Webhook deliveries received from Rackbeat.",
    "accepted": "Deliveries accepted for a transfer (enqueued or coalesced).",
    "ignored": "Authentic deliveries answered 2xx without a transfer, by reason.",
    "refused": "Deliveries refused (401/400), by reason.",
    "enqueued": "Transfers enqueued by the receiver.",
    "coalesced": "Deliveries folded into a transfer that was already pending.",
    "failed": "Deliveries answered 503 because Redis or the broker could not be reached.",
}
PREFIX = "rbsync_webhooks"


@dataclass(frozen=True)
class Increment:
    counter: str
    reason: str | None = None

    @property
    def field(self) -> str:
        return self.counter if self.reason is None else f"{self.counter}|{self.reason}"


class WebhookMetrics:
    def __init__(self, client: redis.Redis, key: KeyFn) -> None:
        self._redis = client
        self._hash = key(*METRICS_HASH)
        self._ignored_events = key(*IGNORED_EVENTS_HASH)

    def record(self, increments: Iterable[Increment], ignored_event: str | None = None) -> None:
        """Add one to each counter (and to the per-event ignored count) in a single round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for inc in increments:
            if inc.counter not in COUNTERS:
                raise ValueError(f"unknown webhook counter {inc.counter!r}")
            pipe.hincrby(self._hash, inc.field, 1)
        if ignored_event is not None:
            pipe.hincrby(self._ignored_events, ignored_event, 1)
        pipe.execute()

    def snapshot(self) -> dict[str, int]:
        return {field: int(value) for field, value in _decoded(self._redis.hgetall(self._hash)).items()}

    def ignored_events(self) -> dict[str, int]:
        return {
            field: int(value) for field, value in _decoded(self._redis.hgetall(self._ignored_events)).items()
        }


def _decoded(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return {text(k): text(v) for k, v in raw.items()}


class WebhookCollector(Collector):
    """``rbsync_webhooks_<counter>_total`` (``{reason}`` where the counter has reasons; a counter never seen
    is 0), ``rbsync_webhooks_ignored_by_event_total{event}`` (once an event was ignored) and
    ``rbsync_api_credentials_ok{api}`` (1 while the API accepts our credentials or never refused them)."""

    def __init__(
        self, metrics: WebhookMetrics, credentials: Callable[[], Mapping[str, Mapping[str, object]]]
    ):
        self.metrics = metrics
        self.credentials = credentials

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from reason_counters(PREFIX, COUNTERS, self.metrics.snapshot())
        yield from labelled_counter(
            f"{PREFIX}_ignored_by_event",
            "Authentic deliveries answered 2xx without a transfer, by event.",
            "event",
            self.metrics.ignored_events(),
        )
        gauge = GaugeMetricFamily(
            "rbsync_api_credentials_ok",
            "1 when the API accepts our credentials, 0 while it refuses them (see /status).",
            labels=["api"],
        )
        for api, state in sorted(self.credentials().items()):
            gauge.add_metric([api], 0 if state.get("state") == "refused" else 1)
        yield gauge


def metrics_registry(*collectors: Collector) -> CollectorRegistry:
    """A private registry (not prometheus_client's global one) holding ``collectors``."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return registry


PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
REALM = 'Basic realm="rbsync metrics", charset="UTF-8"'


class MetricsAccess:
    """Who may read ``/metrics`` (see the module docstring)."""

    def __init__(self, username: SecretStr | None, password: SecretStr | None) -> None:
        # Blank is unset (.env.example lists both empty), so a copied .env serves loopback only.
        username, password = (_given(username), _given(password))
        if (username is None) != (password is None):
            missing = "RBSYNC_METRICS_PASSWORD" if password is None else "RBSYNC_METRICS_USERNAME"
            raise SystemExit(
                f"rbsync: setting {missing}: unset or blank while the other /metrics credential is set "
                "(set both, or neither to serve /metrics on loopback only)"
            )
        self._expected = (
            None
            if username is None or password is None
            else (username.get_secret_value().encode(), password.get_secret_value().encode())
        )

    @property
    def needs_credentials(self) -> bool:
        return self._expected is not None

    def refusal(self, request: Request) -> Response | None:
        """None when ``request`` may read the metrics, else the answer to give it (403 or 401)."""
        if self._expected is None:
            if is_local(request):
                return None
            return PlainTextResponse(
                "/metrics answers only on this machine while RBSYNC_METRICS_USERNAME/PASSWORD are unset\n",
                status_code=403,
            )
        if self._matches(request.headers.get("authorization")):
            return None
        return PlainTextResponse(
            "authentication required\n", status_code=401, headers={"WWW-Authenticate": REALM}
        )

    def _matches(self, header: str | None) -> bool:
        assert self._expected is not None
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        username, separator, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(username, self._expected[0])
        password_ok = hmac.compare_digest(password, self._expected[1])
        return bool(separator) and user_ok and password_ok


def _given(secret: SecretStr | None) -> SecretStr | None:
    return secret if secret is not None and secret.get_secret_value().strip() else None


def is_local(request: Request) -> bool:
    """Whether ``request`` comes from this machine directly: a loopback peer that no proxy forwarded."""
    if any(request.headers.get(name) for name in FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class MetricsEndpoint:
    """``GET /metrics``: the access rule, then the registry's exposition (read in a worker thread)."""

    def __init__(self, registry: CollectorRegistry, access: MetricsAccess) -> None:
        self.registry = registry
        self.access = access

    async def endpoint(self, request: Request) -> Response:
        refused = self.access.refusal(request)
        if refused is not None:
            return refused
        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, media_type=PROMETHEUS_CONTENT_TYPE)


def reason_counters(
    prefix: str, counters: Mapping[str, str], snapshot: Mapping[str, float]
) -> Iterator[CounterMetricFamily]:
    """``<prefix>_<counter>_total`` per counter, labelled ``{reason}`` where the snapshot holds
    ``<counter>|<reason>`` fields, else one value (0 for a counter never seen)."""
    for counter, help_text in counters.items():
        name = f"{prefix}_{counter}"
        by_reason = {
            field.partition("|")[2]: value
            for field, value in snapshot.items()
            if field.startswith(f"{counter}|")
        }
        if by_reason:
            family = CounterMetricFamily(name, help_text, labels=["reason"])
            for reason, value in sorted(by_reason.items()):
                family.add_metric([reason], value)
            yield family
        else:
            yield CounterMetricFamily(name, help_text, value=snapshot.get(counter, 0))


def labelled_counter(
    name: str, help_text: str, label: str, values: Mapping[str, float]
) -> Iterator[CounterMetricFamily]:
    """One counter family labelled by ``label``, once anything was counted."""
    if values:
        family = CounterMetricFamily(name, help_text, labels=[label])
        for value_label, value in sorted(values.items()):
            family.add_metric([value_label], value)
        yield family
