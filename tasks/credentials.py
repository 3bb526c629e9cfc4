"""Whether each API accepts our credentials, known to every process through Redis.

A revoked or mistyped token must be loud, not a dead letter per transfer in silence:

- at start-up the worker and the receiver probe both APIs with one cheap call each (``GET self``, which
  both APIs answer for any valid credential: economic-api.md §2, rackbeat-api.md "Self / account"); a
  401/403 stops the process with one line naming the API and the setting to fix. An API that cannot be
  reached at start-up is only reported: the service waits for it like for any outage;
- while running, a transfer that meets a 401/403 probes that API once: if the probe is refused too the
  credential is bad, the state here says so (``/status``, ``/metrics``) and the transfer *waits* (re-queued
  every ``auth_wait_seconds``, no retry spent) until the credential works again; if the probe is accepted
  the refusal is about that one resource and the transfer is dead-lettered as usual.

``credentials:{api}`` is a hash: ``state`` (``accepted`` | ``refused``), ``since`` (ISO UTC of the last change
of state), ``detail`` (the API's own words, never the credential).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import redis

from clients.errors import AuthError, TransientError
from tasks.redis import field_map, text, text_map
from tasks.redis import key as namespaced_key

logger = logging.getLogger(__name__)

Api = Literal["rackbeat", "economic"]
APIS: tuple[Api, ...] = ("rackbeat", "economic")
State = Literal["accepted", "refused", "unknown"]

# What an operator changes when an API refuses us.
SETTING_OF: dict[str, str] = {
    "rackbeat": "RBSYNC_RACKBEAT_TOKEN",
    "economic": "RBSYNC_ECONOMIC_APP_SECRET_TOKEN / RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN",
}
LABEL_OF: dict[str, str] = {"rackbeat": "Rackbeat", "economic": "e-conomic"}


class CredentialStatus:
    """The shared view of each API's credential state."""

    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def name(self, api: str) -> str:
        return namespaced_key("credentials", api, connection_id=self.connection_id)

    def get(self, api: str) -> dict[str, Any]:
        fields = text_map(self.client.hgetall(self.name(api)))
        return {
            "state": fields.get("state", "unknown"),
            "since": fields.get("since"),
            "detail": fields.get("detail"),
        }

    def all(self) -> dict[str, dict[str, Any]]:
        return {api: self.get(api) for api in APIS}

    def is_refused(self, api: str) -> bool:
        return text(self.client.hget(self.name(api), "state")) == "refused"

    def refused(self, apis: Iterable[str] = APIS) -> list[str]:
        """Which of ``apis`` refuse our credentials, in one round trip (every successful task asks)."""
        apis = list(apis)
        with self.client.pipeline(transaction=False) as pipe:
            for api in apis:
                pipe.hget(self.name(api), "state")
            states = pipe.execute()
        return [api for api, state in zip(apis, states, strict=True) if state == "refused"]

    def record(self, api: str, state: State, detail: str = "") -> bool:
        """Set the state; ``since`` moves only when the state changes. True when it changed."""
        name = self.name(api)
        previous = text(self.client.hget(name, "state"))
        mapping = {"state": state, "detail": detail[:300]}
        if previous != state:
            mapping["since"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.client.hset(name, mapping=field_map(mapping))
        return previous != state

    def accepted(self, apis: Iterable[str] = APIS) -> None:
        """A call to these APIs went through: their credentials work (again)."""
        for api in self.refused(apis):
            self.record(api, "accepted")


def probe(call: Callable[[], Any]) -> AuthError | TransientError | None:
    """Run one cheap call; None when it went through, else the auth or transient error it met."""
    try:
        call()
    except (AuthError, TransientError) as error:
        return error
    return None


def probes(clients: Any) -> dict[Api, Callable[[], Any]]:
    """The cheap call per API for a pair of clients (``tasks.sync.ports.ApiClients``)."""
    return {
        "rackbeat": lambda: clients.rackbeat.request("GET", "self"),
        "economic": lambda: clients.economic.get("self"),
    }


def refusal_line(api: str, error: AuthError) -> str:
    status = error.status or "refused"
    return (
        f"rbsync: {LABEL_OF[api]} refused our credentials ({status}: {error.message}); "
        f"set a valid {SETTING_OF[api]} and start again"
    )


def check_at_start(clients: Any, status: CredentialStatus | None, who: str) -> None:
    """Probe both APIs; a refusal stops the process (one line, exit 2), an unreachable API is reported."""
    for api, call in probes(clients).items():
        error = probe(call)
        if isinstance(error, AuthError):
            if status is not None:
                _quietly(partial(status.record, api, "refused", error.message))
            print(refusal_line(api, error), file=sys.stderr, flush=True)
            raise SystemExit(2)
        if isinstance(error, TransientError):
            print(
                f"rbsync: {who}: {LABEL_OF[api]} cannot be reached at start-up ({error.message}); "
                "transfers wait for it",
                file=sys.stderr,
                flush=True,
            )
        elif status is not None:
            _quietly(partial(status.accepted, [api]))


def _quietly(action: Callable[[], Any]) -> None:
    """Keep a Redis hiccup from masking what the start-up check has to say (it is logged)."""
    try:
        action()
    except redis.RedisError as error:
        logger.warning("could not record the credential state: %s", error)


def check_credentials_or_exit(settings: Any, who: str) -> None:
    """The start-up check of a process (worker, receiver, ``rbsync run``) for ``settings``.

    Its own clients, without the call-level retry and with a short timeout: a start-up probe should
    answer in seconds, and an unreachable API is only reported anyway."""
    from tasks.redis import get_redis
    from tasks.sync.connections import build_clients

    clients = build_clients(settings)
    for client in (clients.rackbeat, clients.economic):
        client.call_retries = 0
    try:
        check_at_start(clients, CredentialStatus(get_redis(settings.redis_url), settings.connection_id), who)
    finally:
        clients.rackbeat.close()
        clients.economic.close()
