"""How a mapped payload is written to e-conomic, one strategy per kind of e-conomic surface.

The engine asks a writer to `read` an e-conomic record or `write` a payload; the writer knows whether
that is a legacy REST PUT at the resource address (a true replace that also creates, so a
caller-chosen key can never produce a duplicate) or an OpenAPI POST/PUT pair, where an update goes to
the collection with the record's current `objectVersion` and therefore reads first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from clients.economic import EconomicClient
from clients.errors import NotFoundError, PermanentError
from tasks.entities.base import EconomicSide, LegacyResource, OpenApiRoute
from tasks.sync.validation import is_writable

# A stale objectVersion (someone edited the record between our read and our write) is answered 409;
# reading again and writing once more is the documented way out.
_MAX_VERSION_CONFLICTS = 3


@dataclass(frozen=True)
class WriteOutcome:
    economic_key: Any
    created: bool


class EconomicWriter(Protocol):
    def read(self, key: Any) -> dict[str, Any] | None:
        """The record as e-conomic has it, or None when it does not exist."""

    def existing(self) -> Iterator[dict[str, Any]]:
        """Every record of the collection, a page at a time."""

    def write(
        self,
        key: Any,
        payload: dict[str, Any],
        *,
        idempotency_key: str,
        bound: bool,
        keep_current: bool = True,
    ) -> WriteOutcome:
        """Create or replace; `key` is None only for server-assigned keys of unbound records.
        `keep_current=False` sends the payload as it is, without the kind's `keep_on_update` fields."""


class LegacyWriter:
    def __init__(self, side: EconomicSide, resource: LegacyResource, economic: EconomicClient) -> None:
        self.side = side
        self.path = resource.path
        self.economic = economic

    def read(self, key: Any) -> dict[str, Any] | None:
        try:
            return self.economic.get_item(self.path, key)
        except NotFoundError:
            return None

    def existing(self) -> Iterator[dict[str, Any]]:
        return self.economic.iter_collection(self.path)

    def write(
        self,
        key: Any,
        payload: dict[str, Any],
        *,
        idempotency_key: str,
        bound: bool,
        keep_current: bool = True,
    ) -> WriteOutcome:
        if key is not None:
            body = self._replacement(key, payload, keep_current=bound and keep_current)
            self.economic.replace(self.path, key, body, idempotency_key=idempotency_key)
            return WriteOutcome(economic_key=key, created=not bound)
        created = self.economic.create(self.path, payload, idempotency_key=idempotency_key)
        return WriteOutcome(economic_key=created[self.side.key_field], created=True)

    def _replacement(self, key: Any, payload: dict[str, Any], *, keep_current: bool) -> dict[str, Any]:
        """The full document a PUT sends: the mapped payload; the record's own key where e-conomic takes
        it in the body (suppliers require it there, and a server-assigned key is not in the mapping);
        and, for a bound record, the `keep_on_update` fields as e-conomic has them now. A replace clears
        what it leaves out, so keeping a bookkeeper's setting costs one read first; kinds without such
        fields spend nothing."""
        body = dict(payload)
        if is_writable(self.side, self.side.key_field):
            body.setdefault(self.side.key_field, key)
        if keep_current and self.side.keep_on_update:
            current = self.read(key)
            if current is not None:
                body.update({name: current[name] for name in self.side.keep_on_update if name in current})
        return body


class OpenApiWriter:
    def __init__(self, side: EconomicSide, route: OpenApiRoute, economic: EconomicClient) -> None:
        self.side = side
        self.service_path = f"{route.service}/{route.version}"
        self.route = route.route
        self.economic = economic

    def _item(self, key: Any) -> str:
        return f"{self.route}/{self.economic.encode_key(key)}"

    def read(self, key: Any) -> dict[str, Any] | None:
        try:
            return self.economic.openapi_get(self.service_path, self._item(key))
        except NotFoundError:
            return None

    def existing(self) -> Iterator[dict[str, Any]]:
        return self.economic.openapi_iter(self.service_path, self.route)

    def write(
        self,
        key: Any,
        payload: dict[str, Any],
        *,
        idempotency_key: str,
        bound: bool,
        keep_current: bool = True,
    ) -> WriteOutcome:
        last_conflict: PermanentError | None = None
        for attempt in range(_MAX_VERSION_CONFLICTS):
            # A conflict answer may itself be cached under the key, so a re-read write needs its own key;
            # the first attempt keeps the caller's, which is what makes a retried task replay.
            attempt_key = f"{idempotency_key}-conflict-{attempt}" if attempt else idempotency_key
            existing = self.read(key) if key is not None else None
            try:
                if existing is None:
                    answer = self.economic.openapi_post(
                        self.service_path, self.route, payload, idempotency_key=attempt_key
                    )
                    new_key = key
                    if new_key is None and isinstance(answer, dict):
                        new_key = answer.get(self.side.key_field)
                    return WriteOutcome(economic_key=new_key, created=True)
                kept = (
                    {name: existing[name] for name in self.side.keep_on_update if name in existing}
                    if keep_current
                    else {}
                )
                body = {**payload, **kept}
                if existing.get("objectVersion"):
                    body["objectVersion"] = existing["objectVersion"]
                self.economic.openapi_put(self.service_path, self.route, body, idempotency_key=attempt_key)
                return WriteOutcome(economic_key=key, created=False)
            except PermanentError as error:
                if error.status != 409:
                    raise
                last_conflict = error
        assert last_conflict is not None
        raise last_conflict


def writer_for(side: EconomicSide, economic: EconomicClient) -> EconomicWriter:
    """The write strategy of the surface the kind is written through."""
    target = side.target
    if isinstance(target, LegacyResource):
        return LegacyWriter(side, target, economic)
    if isinstance(target, OpenApiRoute):
        return OpenApiWriter(side, target, economic)
    raise TypeError(f"{side.resource}: unknown e-conomic writer {target!r}")
