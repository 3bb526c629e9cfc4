"""POST /webhooks/rackbeat: authenticate a delivery, validate it, and enqueue one transfer for its record.

The request path makes no API call: it reads the token from Redis, sets the pending marker and sends one
Celery message (both inside `enqueue`), so Rackbeat gets its 2xx within milliseconds. The transfer fetches
the current record itself, which is also why delete events enqueue the same transfer as updates.

Order of checks: an over-long body is refused before it is read; then the token (401, nothing else is
revealed to a caller without one); then the body (400); then the event (handled or ignored); then the key
against the kind (400 for a key the kind's records cannot have).

The token is checked before the body is parsed whenever the event is known without it, i.e. whenever the
``Rackbeat-Webhook-Event`` header names it (Rackbeat sends it on every delivery): a caller without the token
then costs one Redis read and never reaches the JSON parser. Only a delivery without that header has its body
decoded first (to read ``event`` from it), and that decoding is bounded (web.deliveries.decode_body): size,
UTF-8, nesting depth, and every failure is a 400, never an exception. A missing token is refused before
anything else is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from tasks.webhooks import WebhookTokenStore
from web.deliveries import (
    MAX_BODY_BYTES,
    TOKEN_HEADER,
    MalformedDelivery,
    decode_body,
    event_in_header,
    event_name,
    integer_key,
    parse_delivery,
)
from web.metrics import Increment, WebhookMetrics
from web.tokens import is_authentic

log = logging.getLogger(__name__)


class RouteTarget(NamedTuple):
    """What the entity registry says about a handled event (tasks.entities.spec_for_event, reduced)."""

    kind: str
    action: str
    key_field: str  # the Rackbeat field the transfer looks the record up by


# event -> RouteTarget for handled events, None otherwise.
Route = Callable[[str], RouteTarget | None]
# kind -> False when e-conomic is the master for that kind, so Rackbeat changes are not pushed.
PushPolicy = Callable[[str], bool]
# (kind, key) -> True when a transfer was sent, False when one was already pending (tasks.transfer).
Enqueue = Callable[[str, str], bool]
# kind -> True when Rackbeat addresses that kind's records by an integer number.
IntegerKeyed = Callable[[str], bool]

# Rackbeat addresses items (products, lots, and the items/collections views of them) by a string `number`;
# every other record by an integer `number` or `id` (shared/reference/rackbeat-api.md §1.5).
ITEM_NUMBER_RESOURCES = frozenset({"products", "lots", "items", "collections"})


def integer_keyed_kind(kind: str) -> bool:
    """Whether the registered kind's Rackbeat resource is keyed by an integer (§1.5), from its spec."""
    from tasks.entities import REGISTRY

    spec = REGISTRY.get(kind)
    return spec is not None and spec.rackbeat.resource not in ITEM_NUMBER_RESOURCES


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    increments: list[Increment] = field(default_factory=list)
    ignored_event: str | None = None


class BodyTooLarge(Exception):
    pass


def refused(status: int, reason: str, message: str) -> Outcome:
    return Outcome(
        status=status,
        body={"status": "refused", "error": message},
        increments=[Increment("received"), Increment("refused", reason)],
    )


def failed() -> Outcome:
    return Outcome(
        status=503,
        body={"status": "error", "error": "the transfer could not be queued; deliver again later"},
        increments=[Increment("received"), Increment("failed")],
    )


def ignored(event: str, reason: str, message: str) -> Outcome:
    return Outcome(
        status=200,
        body={"status": "ignored", "event": event, "reason": message},
        increments=[Increment("received"), Increment("ignored", reason)],
        ignored_event=event,
    )


class RackbeatWebhookReceiver:
    def __init__(
        self,
        *,
        tokens: WebhookTokenStore,
        fixed_token: SecretStr | None,
        metrics: WebhookMetrics,
        route: Route,
        pushes: PushPolicy,
        enqueue: Enqueue,
        integer_keyed: IntegerKeyed = integer_keyed_kind,
    ) -> None:
        self._tokens = tokens
        self._fixed_token = fixed_token
        self._metrics = metrics
        self._route = route
        self._pushes = pushes
        self._enqueue = enqueue
        self._integer_keyed = integer_keyed

    def __repr__(self) -> str:
        return f"RackbeatWebhookReceiver(fixed_token={'set' if self._fixed_token else 'unset'})"

    async def endpoint(self, request: Request) -> JSONResponse:
        try:
            body: bytes | None = await read_limited_body(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            body = None
        # One hop to a worker thread for all the blocking work (Redis, the Celery producer, the counters).
        outcome = await run_in_threadpool(self.handle_and_count, request.headers, body)
        return JSONResponse(outcome.body, status_code=outcome.status)

    def handle_and_count(self, headers: Mapping[str, str], body: bytes | None) -> Outcome:
        if body is None:
            outcome = refused(400, "body-too-large", f"body is longer than {MAX_BODY_BYTES} bytes")
        else:
            try:
                outcome = self.handle(headers, body)
            except Exception as exc:
                # Redis or the broker is unreachable: answer 5xx so Rackbeat delivers again later.
                log.error("could not handle a Rackbeat webhook: %s: %s", type(exc).__name__, exc)
                outcome = failed()
        try:
            self._metrics.record(outcome.increments, outcome.ignored_event)
        except Exception as exc:
            log.warning("could not count a Rackbeat webhook: %s: %s", type(exc).__name__, exc)
        return outcome

    def handle(self, headers: Mapping[str, str], body: bytes) -> Outcome:
        """Everything after the body is read; sync, because Redis and the Celery producer are."""
        presented = headers.get(TOKEN_HEADER)
        if not presented:
            log.warning("refused Rackbeat webhook for event %r: missing-token", event_name(headers, None))
            return refused(401, "missing-token", "missing or wrong Rackbeat-Webhook-Token")

        payload: Any = None
        decode_error: MalformedDelivery | None = None
        decoded = False
        if not event_in_header(headers):
            # The event can only come from the body: decode it (bounded, raises nothing but MalformedDelivery)
            # before the token check; an undecodable body names no event, so only the fixed token can pass.
            payload, decode_error = _decoded(body)
            decoded = True
        event = event_name(headers, payload)
        registered = self._tokens.get(event) if event else None
        if not is_authentic(presented, registered, self._fixed_token):
            log.warning("refused Rackbeat webhook for event %r: bad-token", event)
            return refused(401, "bad-token", "missing or wrong Rackbeat-Webhook-Token")

        if not decoded:
            payload, decode_error = _decoded(body)
        try:
            if decode_error is not None:
                raise decode_error
            delivery = parse_delivery(headers, payload)
        except MalformedDelivery as exc:
            log.warning("refused malformed Rackbeat webhook for event %r: %s", event, exc)
            return refused(400, "malformed", str(exc))

        routed = self._route(delivery.event)
        if routed is None:
            log.info(
                "ignored Rackbeat webhook %s for key %s: event not handled", delivery.event, delivery.key
            )
            return ignored(delivery.event, "unhandled-event", "event not handled by this service")
        kind, action, key_field = routed
        if delivery.key_name is not None and delivery.key_name != key_field:
            # Looking the record up by the wrong field could transfer a different record whose number
            # happens to equal this id; refuse to guess, but answer 2xx so Rackbeat does not retry.
            log.warning(
                "ignored Rackbeat webhook %s for %s %s=%s: transfers look %s up by %s",
                delivery.event,
                kind,
                delivery.key_name,
                delivery.key,
                kind,
                key_field,
            )
            reason = f"key_name must be {key_field!r} for {kind}"
            return ignored(delivery.event, "unexpected-key-name", reason)
        key = delivery.key
        if self._integer_keyed(kind):
            try:
                key = integer_key(key)
            except MalformedDelivery as exc:
                log.warning("refused Rackbeat webhook %s for %s: %s", delivery.event, kind, exc)
                return refused(400, "malformed", f"{exc} ({kind} records have integer numbers)")
        # Item numbers (products, lots) made only of dots ("." or "..") are accepted, on purpose. An item
        # number is free text (rackbeat-api.md §1.5: it may hold "/", "?", spaces and "+"; nothing documented
        # forbids dots, and the sandbox stores "." and ".."), so such a product can exist, and refusing its
        # deliveries would leave it unsynced for good: a 4xx is a failed delivery, retried for about a day
        # and then dropped (§3.2). Queuing it is safe: clients.rackbeat.path_key percent-encodes every dot,
        # so the transfer reads products/%252E (that record, never the collection or /api; a 404 when there
        # is none), and e-conomic's key encoding already turns "." into "_11_". Integer-keyed kinds refuse
        # them above.
        if not self._pushes(kind):
            log.info(
                "ignored Rackbeat webhook %s for %s %s: e-conomic is the master for %s",
                delivery.event,
                kind,
                key,
                kind,
            )
            return ignored(delivery.event, "economic-master", f"e-conomic is the master for {kind}")

        sent = self._enqueue(kind, key)
        log.debug(
            "accepted Rackbeat webhook %s (%s %s %s): %s",
            delivery.event,
            action,
            kind,
            key,
            "enqueued" if sent else "coalesced",
        )
        return Outcome(
            status=202,
            body={"status": "accepted", "kind": kind, "key": key, "enqueued": sent},
            increments=[
                Increment("received"),
                Increment("accepted"),
                Increment("enqueued" if sent else "coalesced"),
            ],
        )


def _decoded(body: bytes) -> tuple[Any, MalformedDelivery | None]:
    try:
        return decode_body(body), None
    except MalformedDelivery as exc:
        return None, exc


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body, refusing early (by Content-Length, else while streaming) once it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
