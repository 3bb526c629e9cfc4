"""The dead-letter store: tasks that stayed failed, kept in Redis as JSON records an operator can act on.

Layout (all under ``rbsync:{connection_id}:``):
- ``dlq:entries``  hash, entry id -> JSON record;
- ``dlq:order``    zset, entry id scored by its first failure (epoch seconds): the listing order;
- ``dlq:by-record:{kind}:{key}`` set of the entry ids of one record.

Records never expire (production Redis runs with AOF and ``noeviction``). There is at most one *open*
entry (``new`` or ``retrying``) per (task, kind, key): a record that fails again updates its entry
instead of adding another. Every status change is an optimistic transaction (WATCH/MULTI), so two
operators, or an operator and a worker, cannot both move the same entry (e.g. retry it twice).
Records hold task arguments as JSON (tasks take kinds, keys and ids only, never tokens) and the
API's own error text.
"""

from __future__ import annotations

import builtins
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis

from tasks.redis import key as namespaced_key
from tasks.redis import texts
from tasks.timestamps import iso_utc
from tasks.timestamps import parse_iso as parse_iso_datetime

Classification = Literal["permanent", "transient-exhausted", "worker-lost", "unprocessable", "timeout"]
Status = Literal["new", "retrying", "resolved", "discarded", "superseded"]

OPEN_STATUSES = frozenset({"new", "retrying"})
STATUSES = ("new", "retrying", "resolved", "discarded", "superseded")
TRACEBACK_LIMIT = 4000
HISTORY_LIMIT = 50
_PAGE = 200


def utc_iso(epoch: float) -> str:
    return iso_utc(datetime.fromtimestamp(epoch, UTC), timespec="seconds")


def parse_iso(text: str) -> float:
    """Epoch seconds of an ISO timestamp (the DLQ orders and ages entries by them)."""
    return parse_iso_datetime(text).timestamp()


@dataclass(frozen=True)
class Failure:
    """One final failure of a task, as the task base reports it."""

    task_name: str
    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    kind: str
    key: str
    classification: Classification
    error_class: str
    error: str
    field_errors: Mapping[str, list[str]] | None = None
    status_code: int | None = None
    api: str | None = None
    error_code: str | None = None
    #: The API's own diagnostics (e-conomic: developerHint, logId, logTime), never a credential.
    api_details: Mapping[str, str] | None = None
    attempts: int = 1
    worker: str | None = None
    traceback: str | None = None
    at: float | None = None


class DeadLetterStore:
    """Dead-letter records of one connection. Thread- and process-safe (all state lives in Redis)."""

    def __init__(self, redis_client: redis.Redis, namespace: str | None = None) -> None:
        self.redis = redis_client
        self.namespace = namespace
        self.entries_key = self._key("dlq", "entries")
        self.order_key = self._key("dlq", "order")

    def _key(self, *parts: object) -> str:
        return namespaced_key(*parts, connection_id=self.namespace)

    def record_key(self, kind: str, key: str) -> str:
        return self._key("dlq", "by-record", kind, key)

    # --- writing -------------------------------------------------------------------------------

    def record_failure(self, failure: Failure) -> dict[str, Any]:
        """Add a failure, or fold it into the open entry of the same (task, kind, key). Returns the entry."""
        at = failure.at if failure.at is not None else time.time()
        by_record = self.record_key(failure.kind, failure.key)
        while True:
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(by_record, self.entries_key)
                    open_entry = self._open_entry_for(pipe, by_record, failure.task_name)
                    if open_entry is None:
                        entry = self._new_entry(failure, at)
                        while pipe.hexists(self.entries_key, entry["id"]):  # 48-bit ids: never in practice
                            entry["id"] = _new_id()
                    else:
                        entry = _fold_failure(open_entry, failure, at)
                    pipe.multi()
                    pipe.hset(self.entries_key, entry["id"], _dump(entry))
                    pipe.zadd(self.order_key, {entry["id"]: parse_iso(entry["first_failed_at"])})
                    pipe.sadd(by_record, entry["id"])
                    pipe.execute()
                    return entry
                except redis.WatchError:
                    continue

    add = record_failure

    def _open_entry_for(self, pipe: Any, by_record: str, task_name: str) -> dict[str, Any] | None:
        ids = sorted(pipe.smembers(by_record))
        if not ids:
            return None
        for raw in pipe.hmget(self.entries_key, ids):
            if raw is None:
                continue
            entry = json.loads(raw)
            if entry["status"] in OPEN_STATUSES and entry["task_name"] == task_name:
                return entry
        return None

    @staticmethod
    def _new_entry(failure: Failure, at: float) -> dict[str, Any]:
        stamp = utc_iso(at)
        return {
            "id": _new_id(),
            "task_name": failure.task_name,
            "task_id": failure.task_id,
            "args": list(failure.args),
            "kwargs": dict(failure.kwargs),
            "queue": failure.queue,
            "kind": failure.kind,
            "key": failure.key,
            "classification": failure.classification,
            "error_class": failure.error_class,
            "error": failure.error,
            "field_errors": {k: list(v) for k, v in (failure.field_errors or {}).items()},
            "status_code": failure.status_code,
            "api": failure.api,
            "error_code": failure.error_code,
            "api_details": dict(failure.api_details or {}),
            "traceback": _clip(failure.traceback),
            "attempts": failure.attempts,
            "failures": 1,
            "first_failed_at": stamp,
            "last_failed_at": stamp,
            "worker": failure.worker,
            "status": "new",
            "retries": [],
            "discard_reason": None,
            "history": [_event(at, "failed", f"{failure.classification}: {failure.error_class}")],
        }

    def mark_retrying(
        self, entry_id: str, *, retry_task_id: str | None = None, requested_by: str | None = None
    ) -> bool:
        """Move ``new`` -> ``retrying`` atomically; False if the entry is missing or not ``new``.

        This is the guard against a double retry. ``retry_task_id`` (the id the original task will be
        sent under) is recorded in the same step, so a success of that task can resolve this entry.
        """

        def change(entry: dict[str, Any], at: float) -> bool:
            if entry["status"] != "new":
                return False
            entry["status"] = "retrying"
            if retry_task_id:
                entry["retries"].append({"task_id": retry_task_id, "at": utc_iso(at), "by": requested_by})
            _append_history(entry, at, "retrying", retry_task_id or "")
            return True

        return self._update(entry_id, change)

    def reopen(self, entry_id: str, reason: str) -> bool:
        """``retrying`` -> ``new`` (the retry could not even be sent)."""

        def change(entry: dict[str, Any], at: float) -> bool:
            if entry["status"] != "retrying":
                return False
            entry["status"] = "new"
            _append_history(entry, at, "reopened", reason)
            return True

        return self._update(entry_id, change)

    def discard(self, entry_id: str, reason: str) -> bool:
        """Close an open entry on purpose, keeping the reason; False if it is missing or already closed."""
        if not reason.strip():
            raise ValueError("a discard needs a reason")

        def change(entry: dict[str, Any], at: float) -> bool:
            if entry["status"] not in OPEN_STATUSES:
                return False
            entry["status"] = "discarded"
            entry["discard_reason"] = reason
            _append_history(entry, at, "discarded", reason)
            return True

        return self._update(entry_id, change)

    def resolve_for_record(
        self, kind: str, key: str, *, task_name: str | None = None, task_id: str | None = None
    ) -> list[str]:
        """A transfer of (kind, key) succeeded: close the record's open entries.

        The entry whose retry ran as ``task_id`` becomes ``resolved``; the others (older failures the
        success made moot) become ``superseded``. ``task_name`` limits this to entries of that task.
        Returns the ids changed. Cheap when the record has no entries (one SMEMBERS).
        """
        ids = texts(self.redis.smembers(self.record_key(kind, key)))
        changed = []
        for entry_id in sorted(ids):

            def change(entry: dict[str, Any], at: float) -> bool:
                if entry["status"] not in OPEN_STATUSES:
                    return False
                if task_name is not None and entry["task_name"] != task_name:
                    return False
                retried_as = {retry["task_id"] for retry in entry["retries"]}
                resolved = entry["status"] == "retrying" and task_id is not None and task_id in retried_as
                entry["status"] = "resolved" if resolved else "superseded"
                _append_history(entry, at, entry["status"], task_id or "")
                return True

            if self._update(entry_id, change):
                changed.append(entry_id)
        return changed

    def _update(self, entry_id: str, change: Callable[[dict[str, Any], float], bool]) -> bool:
        """Apply ``change`` to one entry under WATCH; it returns False to leave the entry alone."""
        while True:
            with self.redis.pipeline() as pipe:
                try:
                    pipe.watch(self.entries_key)
                    raw = pipe.hget(self.entries_key, entry_id)
                    if raw is None:
                        return False
                    entry = json.loads(raw)
                    if not change(entry, time.time()):
                        return False
                    pipe.multi()
                    pipe.hset(self.entries_key, entry_id, _dump(entry))
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    # --- reading -------------------------------------------------------------------------------

    def get(self, entry_id: str) -> dict[str, Any] | None:
        raw = self.redis.hget(self.entries_key, entry_id)
        return json.loads(raw) if raw else None

    def list(
        self,
        *,
        kind: str | None = None,
        error_class: str | None = None,
        status: str | None = None,
        task_name: str | None = None,
        older_than: float | None = None,
        newer_than: float | None = None,
        now: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entries oldest first, filtered; ``older_than``/``newer_than`` are ages in seconds of the first
        failure. Streams the zset a page at a time, so a long DLQ is never loaded at once."""
        now = time.time() if now is None else now
        high = now - older_than if older_than is not None else "+inf"
        low = now - newer_than if newer_than is not None else "-inf"
        offset = 0
        while True:
            ids = texts(self.redis.zrangebyscore(self.order_key, low, high, start=offset, num=_PAGE))
            if not ids:
                return
            offset += len(ids)
            for raw in self.redis.hmget(self.entries_key, ids):
                if raw is None:
                    continue
                entry = json.loads(raw)
                if kind is not None and entry["kind"] != kind:
                    continue
                if error_class is not None and entry["error_class"] != error_class:
                    continue
                if status is not None and entry["status"] != status:
                    continue
                if task_name is not None and entry["task_name"] != task_name:
                    continue
                yield entry

    # builtins.list: inside the class body, ``list`` names the method above.
    def entries_for_record(self, kind: str, key: str) -> builtins.list[dict[str, Any]]:
        ids = sorted(texts(self.redis.smembers(self.record_key(kind, key))))
        if not ids:
            return []
        entries = [json.loads(raw) for raw in self.redis.hmget(self.entries_key, ids) if raw]
        return sorted(entries, key=lambda entry: entry["first_failed_at"])

    def counts(self) -> dict[str, int]:
        """Entries per status (every status present, zero when none), plus ``total``."""
        counts = dict.fromkeys(STATUSES, 0)
        for entry in self.list():
            counts[entry["status"]] = counts.get(entry["status"], 0) + 1
        counts["total"] = sum(counts.values())
        return counts

    def oldest_open_age(self, now: float | None = None) -> float | None:
        """Seconds since the first failure of the oldest open entry (for alerting), None if none."""
        now = time.time() if now is None else now
        for entry in self.list():
            if entry["status"] in OPEN_STATUSES:
                return now - parse_iso(entry["first_failed_at"])
        return None


def _fold_failure(entry: dict[str, Any], failure: Failure, at: float) -> dict[str, Any]:
    """A repeated failure of an open entry's record: same entry, newer error, more attempts."""
    entry.update(
        task_id=failure.task_id,
        args=list(failure.args),
        kwargs=dict(failure.kwargs),
        queue=failure.queue,
        classification=failure.classification,
        error_class=failure.error_class,
        error=failure.error,
        field_errors={k: list(v) for k, v in (failure.field_errors or {}).items()},
        status_code=failure.status_code,
        api=failure.api,
        error_code=failure.error_code,
        api_details=dict(failure.api_details or {}),
        traceback=_clip(failure.traceback),
        attempts=int(entry.get("attempts", 0)) + failure.attempts,
        failures=int(entry.get("failures", 1)) + 1,
        last_failed_at=utc_iso(at),
        worker=failure.worker,
        status="new",
    )
    _append_history(entry, at, "failed", f"{failure.classification}: {failure.error_class}")
    return entry


def _event(at: float, event: str, detail: str) -> dict[str, str]:
    return {"at": utc_iso(at), "event": event, "detail": detail}


def _append_history(entry: dict[str, Any], at: float, event: str, detail: str) -> None:
    history = entry.setdefault("history", [])
    history.append(_event(at, event, detail))
    del history[:-HISTORY_LIMIT]


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= TRACEBACK_LIMIT:
        return text
    return "…" + text[-(TRACEBACK_LIMIT - 1) :]


def _dump(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def _new_id() -> str:
    return uuid.uuid4().hex[:12]
