"""POST /webhooks/economic/{kind}: authenticate an e-conomic webhook, read its numbers, queue the import.

e-conomic calls one URL per event type (economic-api.md §14), so the kind comes from the path: ``customer``,
``product``, ``order`` or ``project`` (tasks.economic_webhooks.EVENT_TYPES). The body is the template we
registered, ``old=[OLDNUMBER]&new=[NEWNUMBER]`` form-encoded; a JSON object with the same two fields is read
too (a webhook set up by hand with a JSON template). The request path makes no API call: the import fetches
the current record itself, so the numbers are all we take from the body (§14: "re-read the resource through
the API instead of trusting the payload").

Authentication: e-conomic signs nothing, so the shared secret ``RBSYNC_ECONOMIC_WEBHOOK_TOKEN`` comes in the
``X-Rbsync-Webhook-Token`` header (registered as a custom header), compared in constant time. A header,
not the URL: paths are what access logs and proxies record. With the setting unset the route stays mounted
and refuses every delivery with the same 401 (counted as ``not-configured`` and logged as a warning naming
the setting), so a webhook left behind in e-conomic shows up in the metrics instead of as a bare 404.

Order of checks, each refusal counted and nothing queued: the token (401, before the body is read or
anything else is told); the kind (404 for a path we do not serve); the size (413 past MAX_BODY_BYTES, by
Content-Length or while streaming); the body (400: not UTF-8, not a form or JSON object, a field given
twice, no number, a number the kind's records cannot have). Then an authentic delivery for a kind these
settings do not import (its master is Rackbeat, or projects with Project Management off) is answered 200 and
counted as ignored, like Rackbeat's unhandled events; anything else queues `tasks.imports.enqueue_import`
and answers 202. Redis or the broker down: 503, so e-conomic delivers again later.

What is queued: the new number; and the old one too when it differs (a record renumbered, or deleted: new
is empty), so the import of the old number finds what became of it. A create has no old number. A burst for
one record coalesces in enqueue_import (one pending import per record).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import redis
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from tasks.economic_webhooks import EVENT_TYPES, TOKEN_HEADER
from web.metrics import Increment, labelled_counter, reason_counters
from web.rackbeat_webhooks import BodyTooLarge, read_limited_body

log = logging.getLogger(__name__)

# postData is at most 4,000 characters (§14, S4 Webhook); the merged numbers add a few dozen. Twice that
# leaves room for any template while refusing what is clearly not a webhook.
MAX_BODY_BYTES = 8 * 1024
MAX_FIELDS = 20
# e-conomic's numbers (S3 schemas): customerNumber and orderNumber 1..999 999 999; a project's number
# 0..999 999 999 (S4 Projects); productNumber a string of 1..25 characters.
INTEGER_RANGES: Mapping[str, tuple[int, int]] = {
    "customer": (1, 999_999_999),
    "order": (1, 999_999_999),
    "project": (0, 999_999_999),
}
MAX_PRODUCT_NUMBER = 25
_DIGITS = re.compile(r"[0-9]{1,20}")

# (kind, key) -> True when an import was sent, False when one was already pending (tasks.imports).
Enqueue = Callable[[str, str], bool]
# kind -> whether these settings import e-conomic's changes to it (tasks.economic_webhooks.imports_kind).
ImportPolicy = Callable[[str], bool]


class MalformedDelivery(ValueError):
    """The body cannot be used; the message says why and is safe to return to the caller."""


class Numbers(NamedTuple):
    old: str | None
    new: str | None


# --------------------------------------------------------------------------------------------- pure parts


def authentic(presented: str | None, expected: SecretStr | None) -> bool:
    """Whether the presented header equals the configured token, compared in constant time."""
    given = (presented or "").encode()
    if expected is None:
        hmac.compare_digest(given, given)  # the same work as a comparison, so unset costs the same
        return False
    return bool(presented) and hmac.compare_digest(given, expected.get_secret_value().encode())


def parse_numbers(content_type: str | None, body: bytes) -> Numbers:
    """``old`` and ``new`` from a form-encoded body (or a JSON object when the Content-Type says JSON);
    empty values are None. Raises MalformedDelivery, nothing else, for any input."""
    if len(body) > MAX_BODY_BYTES:
        raise MalformedDelivery(f"body is longer than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedDelivery("body is not UTF-8") from None
    media = (content_type or "").split(";")[0].strip().lower()
    fields = (
        _json_fields(text) if media == "application/json" or media.endswith("+json") else _form_fields(text)
    )
    return Numbers(old=_number(fields, "old"), new=_number(fields, "new"))


def _form_fields(text: str) -> dict[str, str]:
    if not text.strip():
        raise MalformedDelivery("body is empty; expected old=<number>&new=<number>")
    try:
        pairs = parse_qsl(
            text.strip(), keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS
        )
    except ValueError:
        raise MalformedDelivery("body is not form-encoded; expected old=<number>&new=<number>") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise MalformedDelivery(f"field {name!r} is given twice")
        fields[name] = value
    return fields


def _json_fields(text: str) -> dict[str, str]:
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedDelivery("body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise MalformedDelivery('body must be a JSON object like {"old": ..., "new": ...}')
    fields: dict[str, str] = {}
    for name in ("old", "new"):
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise MalformedDelivery(f"{name!r} must be a string or an integer")
        fields[name] = str(value)
    return fields


def _number(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name)
    return value if value else None


def normalise_number(kind: str, value: str) -> str:
    """A record number as the import and its pending marker use it: integers canonical (``"007"`` and
    ``"7"`` coalesce), product numbers as e-conomic wrote them, within the limits of the kind."""
    bounds = INTEGER_RANGES.get(kind)
    if bounds is not None:
        if not _DIGITS.fullmatch(value):
            raise MalformedDelivery(f"{kind} numbers are integers, got {value[:40]!r}")
        number = int(value)
        if not bounds[0] <= number <= bounds[1]:
            raise MalformedDelivery(f"{kind} numbers are {bounds[0]}..{bounds[1]}, got {number}")
        return str(number)
    if len(value) > MAX_PRODUCT_NUMBER:
        raise MalformedDelivery(f"{kind} numbers are at most {MAX_PRODUCT_NUMBER} characters")
    if not value.isprintable() or not value.strip():
        raise MalformedDelivery(f"{kind} number contains control characters or only spaces")
    return value


def keys_to_import(kind: str, numbers: Numbers) -> list[str]:
    """The records to import for one delivery: the new number, then the old one when it differs."""
    keys = [normalise_number(kind, value) for value in (numbers.new, numbers.old) if value is not None]
    if not keys:
        raise MalformedDelivery("no number: expected old=<number>&new=<number> with at least one of them")
    return list(dict.fromkeys(keys))


# --------------------------------------------------------------------------------------------- metrics

METRICS_HASH = ("stats", "economic-webhooks")
IGNORED_HASH = ("stats", "economic-webhooks-ignored")
PREFIX = "rbsync_economic_webhooks"
COUNTERS: dict[str, str] = {
    "received": "Webhook deliveries received from e-conomic.",
    "accepted": "Deliveries accepted for an import (enqueued or coalesced).",
    "ignored": "Authentic deliveries answered 2xx without an import, by reason.",
    "refused": "Deliveries refused (401/404/413/400), by reason.",
    "enqueued": "Imports enqueued by the receiver.",
    "coalesced": "Records of a delivery folded into an import that was already pending.",
    "failed": "Deliveries answered 503 because Redis or the broker could not be reached.",
}


class EconomicWebhookMetrics:
    """Counters in Redis (hash ``stats:economic-webhooks``), as web.metrics.WebhookMetrics keeps Rackbeat's:
    they survive restarts and add up across receiver processes; one pipeline round trip per delivery."""

    def __init__(self, client: redis.Redis, key: Callable[..., str]) -> None:
        self._redis = client
        self._hash = key(*METRICS_HASH)
        self._ignored = key(*IGNORED_HASH)

    def record(self, increments: Iterable[Increment], ignored_kind: str | None = None) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for inc in increments:
            if inc.counter not in COUNTERS:
                raise ValueError(f"unknown webhook counter {inc.counter!r}")
            pipe.hincrby(self._hash, inc.field, 1)
        if ignored_kind is not None:
            pipe.hincrby(self._ignored, ignored_kind, 1)
        pipe.execute()

    def snapshot(self) -> dict[str, int]:
        return _ints(self._redis.hgetall(self._hash))

    def ignored_kinds(self) -> dict[str, int]:
        return _ints(self._redis.hgetall(self._ignored))


def _ints(raw: Mapping[Any, Any]) -> dict[str, int]:
    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    return {text(name): int(value) for name, value in raw.items()}


class EconomicWebhookCollector(Collector):
    """``rbsync_economic_webhooks_<counter>_total`` (``{reason}`` where the counter has reasons) and
    ``rbsync_economic_webhooks_ignored_by_kind_total{kind}``."""

    def __init__(self, metrics: EconomicWebhookMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from reason_counters(PREFIX, COUNTERS, self.metrics.snapshot())
        yield from labelled_counter(
            f"{PREFIX}_ignored_by_kind",
            "Authentic e-conomic deliveries answered 2xx without an import, by kind.",
            "kind",
            self.metrics.ignored_kinds(),
        )


# --------------------------------------------------------------------------------------------- receiver


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    increments: list[Increment] = field(default_factory=list)
    ignored_kind: str | None = None


def refused(status: int, reason: str, message: str) -> Outcome:
    return Outcome(
        status, {"status": "refused", "error": message}, [Increment("received"), Increment("refused", reason)]
    )


UNAUTHENTIC = "missing or wrong " + TOKEN_HEADER


class EconomicWebhookReceiver:
    def __init__(
        self,
        *,
        token: SecretStr | None,
        metrics: EconomicWebhookMetrics,
        imports: ImportPolicy,
        enqueue: Enqueue,
    ) -> None:
        self._token = token
        self._metrics = metrics
        self._imports = imports
        self._enqueue = enqueue

    def __repr__(self) -> str:
        return f"EconomicWebhookReceiver(token={'set' if self._token else 'unset'})"

    async def endpoint(self, request: Request) -> JSONResponse:
        kind = request.path_params.get("kind", "")
        outcome = self.before_body(kind, request.headers.get(TOKEN_HEADER))
        if outcome is None:
            try:
                body = await read_limited_body(request, MAX_BODY_BYTES)
            except BodyTooLarge:
                outcome = refused(413, "body-too-large", f"body is longer than {MAX_BODY_BYTES} bytes")
            else:
                outcome = self.parse(kind, request.headers.get("content-type"), body)
        # One hop to a worker thread for the blocking work (the Celery producer, Redis, the counters).
        outcome = await run_in_threadpool(self.finish_and_count, kind, outcome)
        return JSONResponse(outcome.body, status_code=outcome.status)

    def before_body(self, kind: str, presented: str | None) -> Outcome | None:
        """The checks made from the request line and headers alone: the token, then the kind."""
        if not authentic(presented, self._token):
            if self._token is None:
                reason = "not-configured"
                log.warning(
                    "refused e-conomic webhook for %r: RBSYNC_ECONOMIC_WEBHOOK_TOKEN is unset, so every "
                    "delivery is refused",
                    kind[:40],
                )
            else:
                reason = "missing-token" if not presented else "bad-token"
                log.warning("refused e-conomic webhook for %r: %s", kind[:40], reason)
            return refused(401, reason, UNAUTHENTIC)
        if kind not in EVENT_TYPES:
            log.warning("refused e-conomic webhook for unknown kind %r", kind[:40])
            known = ", ".join(sorted(EVENT_TYPES))
            return refused(404, "unknown-kind", f"no e-conomic webhook {kind[:40]!r} here; known: {known}")
        return None

    def parse(self, kind: str, content_type: str | None, body: bytes) -> Outcome:
        """The body's records, or the refusal; what is queued is decided in finish_and_count."""
        try:
            keys = keys_to_import(kind, parse_numbers(content_type, body))
        except MalformedDelivery as exc:
            log.warning("refused malformed e-conomic webhook for %s: %s", kind, exc)
            return refused(400, "malformed", str(exc))
        return Outcome(202, {"status": "accepted", "kind": kind, "keys": keys})

    def finish_and_count(self, kind: str, outcome: Outcome) -> Outcome:
        if outcome.status == 202:
            try:
                outcome = self.queue(kind, outcome.body["keys"])
            except Exception as exc:
                # Redis or the broker is unreachable: answer 5xx so e-conomic delivers again later.
                log.error("could not queue an e-conomic webhook's import: %s: %s", type(exc).__name__, exc)
                outcome = Outcome(
                    503,
                    {"status": "error", "error": "the import could not be queued; deliver again later"},
                    [Increment("received"), Increment("failed")],
                )
        try:
            self._metrics.record(outcome.increments, outcome.ignored_kind)
        except Exception as exc:
            log.warning("could not count an e-conomic webhook: %s: %s", type(exc).__name__, exc)
        return outcome

    def queue(self, kind: str, keys: list[str]) -> Outcome:
        if not self._imports(kind):
            log.info("ignored e-conomic webhook for %s %s: not imported under these settings", kind, keys)
            return Outcome(
                200,
                {
                    "status": "ignored",
                    "kind": kind,
                    "reason": f"{kind} changes in e-conomic are not imported",
                },
                [Increment("received"), Increment("ignored", "not-imported")],
                ignored_kind=kind,
            )
        sent = [self._enqueue(kind, key) for key in keys]
        log.debug("accepted e-conomic webhook for %s %s: enqueued %s", kind, keys, sent)
        increments = [Increment("received"), Increment("accepted")]
        increments += [Increment("enqueued" if one else "coalesced") for one in sent]
        return Outcome(202, {"status": "accepted", "kind": kind, "keys": keys, "enqueued": sent}, increments)
