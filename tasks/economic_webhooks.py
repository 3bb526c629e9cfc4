"""Our webhooks at e-conomic: which changes we listen to, where they are delivered, and registering them.

e-conomic calls one URL per event type with a body made from a template (`postData`) whose merge fields
``[OLDNUMBER]``/``[NEWNUMBER]`` carry the record's number before and after the change (economic-api.md
§14). It signs nothing, so the receiver's shared secret (``RBSYNC_ECONOMIC_WEBHOOK_TOKEN``) travels in a
custom header (the webhooks API's ``customHeaders``), never in the URL: a path or query string is what
access logs and proxies write down, a header is not.

None of this serves HTTP, so it lives below `web/`: the receiver (web.economic_webhooks) reads the routes
and the header name from here, and `rbsync webhooks register --economic` registers through the webhooks API
(``webhooksapi/v1.0.0``, which needs the Superuser role): one webhook per event type (the API allows no
more), for the kinds these settings import, each pointing at ``<public_url>/webhooks/economic/<kind>``.

Registering again is safe: a webhook that already says what we would write is left alone, one that differs
is replaced (PUT with its ``objectVersion``), and one of ours for a kind these settings no longer import is
deleted. The token is never logged or printed; an outcome names what happened, not what was sent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import SecretStr

from tasks.settings import Settings

log = logging.getLogger(__name__)

RECEIVER_PREFIX = "/webhooks/economic"
TOKEN_HEADER = "X-Rbsync-Webhook-Token"
SERVICE = "webhooksapi/v1.0.0"
FORM = "application/x-www-form-urlencoded"
# The form integrators use (§14, S11); the receiver also reads a JSON object with the same two fields.
POST_DATA = "old=[OLDNUMBER]&new=[NEWNUMBER]"

# kind (and the receiver's path segment) -> e-conomic's event type. CUSTOMER_UPDATED is documented (S4);
# the other names follow it from the UI types "Product updated", "Order updated", "Project updated"
# (§14): registration reads GET /EventTypes and reports a type the agreement does not offer.
EVENT_TYPES: Mapping[str, str] = {
    "customer": "CUSTOMER_UPDATED",
    "product": "PRODUCT_UPDATED",
    "order": "ORDER_UPDATED",
    "project": "PROJECT_UPDATED",
}


def receiver_url(public_url: str, kind: str) -> str:
    return f"{public_url.rstrip('/')}{RECEIVER_PREFIX}/{kind}"


def imports_kind(settings: Settings) -> Callable[[str], bool]:
    """kind -> whether an e-conomic change to it is imported under these settings: the kinds
    `tasks.sync.direction` says e-conomic owns and that have import rules, and projects only while Project
    Management is switched on (rackbeat-api.md §4.3). Decided once; the answer is a set lookup."""
    from tasks.sync.direction import Directions

    imported = set(Directions.of(settings).imported)
    if not settings.project_management_enabled:
        imported.discard("project")
    kinds = frozenset(imported)
    return kinds.__contains__


class WebhooksApi(Protocol):
    """What registration needs from the e-conomic client (clients.economic.EconomicClient has it)."""

    def openapi_get(self, service_path: str, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def openapi_iter(
        self, service_path: str, path: str, filter: str | None = None
    ) -> Iterable[dict[str, Any]]: ...

    def openapi_post(self, service_path: str, path: str, body: Any, *, idempotency_key: str) -> Any: ...

    def openapi_put(self, service_path: str, path: str, body: Any, *, idempotency_key: str) -> Any: ...

    def openapi_delete(self, service_path: str, path: str, *, idempotency_key: str) -> Any: ...


Outcome = Literal["created", "updated", "unchanged", "removed", "not-offered", "not-imported"]


@dataclass(frozen=True)
class EconomicRegistration:
    """What happened to one event type's webhook. Never carries the token."""

    kind: str
    event_type: str
    outcome: Outcome
    url: str | None


def desired_webhook(kind: str, public_url: str, token: SecretStr) -> dict[str, Any]:
    return {
        "eventType": EVENT_TYPES[kind],
        "name": f"rbsync {kind} changes",
        "url": receiver_url(public_url, kind),
        "contentType": FORM,
        "postData": POST_DATA,
        "customHeaders": [{"key": TOKEN_HEADER, "value": token.get_secret_value()}],
        "isDisabled": False,
    }


def _same(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    fields = ("url", "contentType", "postData", "customHeaders")
    return all((existing.get(name) or None) == (wanted.get(name) or None) for name in fields) and not bool(
        existing.get("isDisabled")
    )


def _write_key(action: str, event_type: str) -> str:
    # Fresh per attempt: a retry of this call replays it, a later run writes what it wants then.
    return f"rbsync-webhook-{action}-{event_type}-{uuid.uuid4().hex}"


def register_economic_webhooks(
    client: WebhooksApi, public_url: str, token: SecretStr, wanted: Iterable[str]
) -> list[EconomicRegistration]:
    """Make e-conomic's webhooks for the `wanted` kinds point at our receiver with the token; remove ours
    for the other kinds. Client errors (403 without the Superuser role, 401, ...) propagate."""
    wanted = [kind for kind in EVENT_TYPES if kind in set(wanted)]
    offered = {item.get("name") for item in client.openapi_get(SERVICE, "EventTypes") or []}
    existing = {item.get("eventType"): item for item in client.openapi_iter(SERVICE, "webhooks")}
    results: list[EconomicRegistration] = []
    for kind, event_type in EVENT_TYPES.items():
        found = existing.get(event_type)
        if kind not in wanted:
            ours = found is not None and str(found.get("url", "")).startswith(
                public_url.rstrip("/") + RECEIVER_PREFIX + "/"
            )
            if ours:
                client.openapi_delete(
                    SERVICE, f"webhooks/{event_type}", idempotency_key=_write_key("delete", event_type)
                )
                results.append(EconomicRegistration(kind, event_type, "removed", None))
                log.info("removed e-conomic webhook %s: %s changes are not imported", event_type, kind)
            else:
                results.append(EconomicRegistration(kind, event_type, "not-imported", None))
            continue
        if event_type not in offered:
            results.append(EconomicRegistration(kind, event_type, "not-offered", None))
            log.warning(
                "e-conomic offers no event type %s on this agreement; %s changes arrive with the polls only",
                event_type,
                kind,
            )
            continue
        body = desired_webhook(kind, public_url, token)
        if found is None:
            client.openapi_post(SERVICE, "webhooks", body, idempotency_key=_write_key("create", event_type))
            outcome: Outcome = "created"
        elif _same(found, body):
            outcome = "unchanged"
        else:
            body["objectVersion"] = found.get("objectVersion")
            client.openapi_put(SERVICE, "webhooks", body, idempotency_key=_write_key("update", event_type))
            outcome = "updated"
        results.append(EconomicRegistration(kind, event_type, outcome, body["url"]))
        log.info("e-conomic webhook %s -> %s: %s", event_type, body["url"], outcome)
    return results


def public_url_problem(settings: Settings) -> str | None:
    """The one-line refusal when e-conomic could never reach ``public_url`` (a loopback address while
    e-conomic is elsewhere), else None; like tasks.settings.public_url_problem for Rackbeat."""
    from urllib.parse import urlsplit

    from tasks.settings import ENV_PREFIX, is_loopback_host

    if is_loopback_host(settings.public_url) and not is_loopback_host(settings.economic_openapi_base_url):
        host = urlsplit(settings.public_url.strip()).hostname or settings.public_url
        return (
            f"rbsync: setting {ENV_PREFIX}PUBLIC_URL: {host} is this machine only, which e-conomic at "
            f"{urlsplit(settings.economic_openapi_base_url).hostname} can never reach (set the receiver's "
            "public address, e.g. https://rbsync.example.com)"
        )
    return None


def register_economic_from_settings(settings: Settings) -> list[EconomicRegistration]:
    """Register with the configured agreement for the kinds these settings import.

    The client draws from the same Redis rate bucket as the workers (one budget per agreement grant token,
    shared by legacy REST and the OpenAPI services: economic-api.md §2)."""
    from tasks.sync.connections import build_clients

    if settings.economic_webhook_token is None:
        raise ValueError("RBSYNC_ECONOMIC_WEBHOOK_TOKEN is unset: the receiver would refuse every delivery")
    imported = imports_kind(settings)
    clients = build_clients(settings)
    try:
        return register_economic_webhooks(
            clients.economic,
            settings.public_url,
            settings.economic_webhook_token,
            [kind for kind in EVENT_TYPES if imported(kind)],
        )
    finally:
        clients.rackbeat.close()
        clients.economic.close()
