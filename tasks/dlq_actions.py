"""What an operator does with dead letters, shared by ``rbsync dlq`` (tasks/cli/dlq.py) and the web console
(web/console.py), so both retry, discard and describe an entry the same way.

- Retry: :func:`retry_entry` sends the ``rbsync.retry_dead_letter`` task (never the task code itself, so
  the atomic retry guard, locks and idempotency keys all apply) and may wait for the transfer's outcome;
  :func:`send_paced_retries` sends a batch at a pace the APIs can take.
- Discard: :func:`discard_entry` closes an open entry with a reason.
- Presentation: :func:`reason_of` (the API's own words), :func:`entry_facts` (what ``dlq show`` lists),
  :func:`format_age` and :func:`parse_duration`, and the valid filter values (:func:`known_kinds`,
  :func:`known_error_classes`).

A refused action raises :class:`ActionRefused` with the sentence to show; the CLI prints it, the console
puts it on the page. Only Redis and the broker are needed (:class:`tasks.settings.StoreSettings`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tasks.deadletter import DeadLetterStore
from tasks.settings import StoreSettings


class ActionRefused(Exception):
    """An operator action that cannot be done (no such entry, entry not open); ``str()`` says why."""


# --- presentation ----------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``1h30m``, ``3d``, ``1w`` (or plain seconds) -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 1h30m, 3d)")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def format_age(seconds: float) -> str:
    """Compact age: 42s, 5m07s, 3h12m, 2d04h."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def reason_of(entry: Mapping[str, Any]) -> str:
    """The failure in the API's own words: its first field error when it gave one (e-conomic's message is
    the same "Validation error." for every 400), else its message."""
    for field, messages in (entry.get("field_errors") or {}).items():
        if messages:
            return f"{field}: {messages[0]}" if field else str(messages[0])
    return str(entry.get("error") or "")


# (label, entry field) in the order ``rbsync dlq show`` prints them; None is the record (kind and key).
ENTRY_FIELDS: tuple[tuple[str, str | None], ...] = (
    ("Entry", "id"),
    ("Status", "status"),
    ("Classification", "classification"),
    ("Task", "task_name"),
    ("Task id", "task_id"),
    ("Queue", "queue"),
    ("Record", None),
    ("Error class", "error_class"),
    ("HTTP status", "status_code"),
    ("API", "api"),
    ("Error", "error"),
    ("Error code", "error_code"),
    ("Attempts", "attempts"),
    ("Failures", "failures"),
    ("First failed", "first_failed_at"),
    ("Last failed", "last_failed_at"),
    ("Worker", "worker"),
    ("Discard reason", "discard_reason"),
)


def entry_facts(entry: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) of every field an entry has a value for, as ``rbsync dlq show`` lists them."""
    facts = []
    for label, name in ENTRY_FIELDS:
        value = f"{entry['kind']} {entry['key']}" if name is None else entry.get(name)
        if value not in (None, ""):
            facts.append((label, value))
    return facts


def known_kinds() -> list[str]:
    """Kinds a dead letter can have: every kind of the entity registry (so a kind is valid the day its
    module exists), the stock value's period runs, and ``unknown`` (a message that could not even be
    read)."""
    from tasks.entities import REGISTRY

    # stock_value: the period runs of tasks/stock_value (no entity spec; the key is the period)
    return sorted({*REGISTRY, "stock_value", "unknown"})


# Final failures that are not ApiError subclasses (tasks/base.py, tasks/dlq_tasks.py): a redelivery past
# the cap, a time limit, our Redis gone for good, a message no worker can run.
NON_API_ERROR_CLASSES = (
    "RedeliveryLimitExceeded",
    "SoftTimeLimitExceeded",
    "TimeLimitExceeded",
    "ConnectionError",
    "TimeoutError",
    "NotRegistered",
    "ContentDisallowed",
    "UnknownMessage",
)


def known_error_classes() -> list[str]:
    """Error classes a dead letter can carry: the API error taxonomy (every ``ApiError`` subclass) and the
    engine's own (every ``SyncError`` subclass), found by walking the classes so a new one is valid the day
    it exists, minus those that never end a transfer (``RecordBusy``: re-queued without spending a retry),
    plus :data:`NON_API_ERROR_CLASSES`. An ``unprocessable`` entry may carry any exception's name."""
    from clients.errors import ApiError
    from tasks.errors import SyncError

    names: set[str] = set()
    pending: list[type] = [ApiError, SyncError]
    while pending:
        cls = pending.pop()
        if getattr(cls, "spends_retry", True):
            names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return sorted(names | set(NON_API_ERROR_CLASSES))


# --- retry -----------------------------------------------------------------------------------------


def celery_app(settings: StoreSettings) -> Any:
    """The Celery app, configured from ``settings`` when nothing configured it yet: sending a retry
    request needs the broker, not the API tokens."""
    from tasks.celery import app, configure

    if not app.configured:
        configure(app, settings)
    return app


def send_retry(app: Any, entry_id: str) -> Any:
    """Queue ``rbsync.retry_dead_letter(entry_id)`` on the dlq queue; returns its AsyncResult."""
    from tasks.dlq_tasks import RETRY_TASK_NAME

    return app.send_task(RETRY_TASK_NAME, args=[entry_id], queue="dlq")


def retryable_entry(store: DeadLetterStore, entry_id: str) -> dict[str, Any]:
    """The entry, if it exists and is ``new``; else :class:`ActionRefused`. (The retry task checks again,
    atomically: this only spares an operator a request that would be refused.)"""
    entry = store.get(entry_id)
    if entry is None:
        raise ActionRefused(f"no dead-letter entry {entry_id}")
    if entry["status"] != "new":
        raise ActionRefused(f"entry {entry_id} is {entry['status']}: not retried")
    return entry


def retry_entry(
    store: DeadLetterStore, app: Any, entry_id: str, wait_seconds: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Retry one entry; returns ``(entry, answer)``.

    ``answer``: ``entry_id``, ``retry_request`` (the retry task's id) and ``retried`` (None while no worker
    answered); once answered, the retry task's own answer (``task_id`` of the replay, or ``reason``); with
    ``wait_seconds`` > 0, ``transfer`` (see :func:`wait_for_transfer`) or a ``note`` when no worker answered
    in time. Raises :class:`ActionRefused` for a missing or not-``new`` entry."""
    entry = retryable_entry(store, entry_id)
    deadline = time.monotonic() + wait_seconds
    request = send_retry(app, entry_id)
    answer: dict[str, Any] = {"entry_id": entry_id, "retry_request": request.id, "retried": None}
    if wait_seconds > 0:
        # The replay's task id follows from the entry and the request (tasks.dlq_tasks.replay_task_id), and
        # its outcome is in the store: both are read from Redis, never through the result backend. Celery's
        # AsyncResult.get() shares one result consumer per process, which hung for a second caller thread
        # (the console serves each request in its own thread) once another thread had used it.
        from tasks.dlq_tasks import replay_task_id

        task_id = replay_task_id(entry_id, request.id)
        transfer = wait_for_transfer(store, app, entry, task_id, deadline)
        current = store.get(entry_id) or entry
        if any(retry.get("task_id") == task_id for retry in current.get("retries") or []):
            answer.update({"retried": True, "task_id": task_id, "transfer": transfer})
        elif current.get("status") == "new":
            answer["note"] = "no answer from a worker yet; the request stays queued"
        else:
            answer.update({"retried": False, "reason": f"entry is {current.get('status')}"})
    return entry, answer


def transfer_outcome(store: DeadLetterStore, entry: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    """How the replay ``task_id`` of ``entry`` ended, or None while it has not.

    ``failed``: a dead letter of the record now carries that task id (the failure folds into the same
    entry, which is ``new`` again, with the API's new error text); ``succeeded``: the entry was closed by
    the replay (``resolved``) or by another successful transfer of the record (``superseded``)."""
    for candidate in reversed(store.entries_for_record(entry["kind"], entry["key"])):
        if candidate["task_id"] == task_id and candidate["status"] == "new":
            return {
                "outcome": "failed",
                "entry_id": candidate["id"],
                "error_class": candidate["error_class"],
                "error": candidate["error"],
                "field_errors": candidate.get("field_errors") or {},
                "status_code": candidate.get("status_code"),
                "api": candidate.get("api"),
                "classification": candidate["classification"],
            }
    current = store.get(entry["id"]) or entry
    if current["status"] in ("resolved", "superseded"):
        return {"outcome": "succeeded", "status": current["status"]}
    if current["status"] == "discarded":
        return {"outcome": "discarded", "status": "discarded"}
    return None


def wait_for_transfer(
    store: DeadLetterStore, app: Any, entry: dict[str, Any], task_id: str, deadline: float
) -> dict[str, Any]:
    """Poll :func:`transfer_outcome` until ``deadline`` (monotonic); ``{"outcome": "pending"}`` after it.
    A success also says what the transfer did (``result``: created, replaced, ...) when its result is in."""
    while True:
        outcome = transfer_outcome(store, entry, task_id)
        if outcome is not None:
            break
        if time.monotonic() >= deadline:
            return {"outcome": "pending"}
        time.sleep(0.1)
    if outcome["outcome"] == "succeeded":
        result = app.AsyncResult(task_id)
        if result.ready() and isinstance(result.result, dict) and result.result.get("outcome"):
            outcome["result"] = result.result["outcome"]
    return outcome


def matching_new_ids(
    store: DeadLetterStore,
    *,
    kind: str | None = None,
    error_class: str | None = None,
    older_than: float | None = None,
    newer_than: float | None = None,
    limit: int | None = None,
) -> list[str]:
    """Ids of the ``new`` entries a batch retry takes, oldest first."""
    ids: list[str] = []
    for entry in store.list(
        kind=kind, error_class=error_class, status="new", older_than=older_than, newer_than=newer_than
    ):
        ids.append(entry["id"])
        if limit is not None and len(ids) >= limit:
            break
    return ids


def send_paced_retries(
    app: Any, ids: Iterable[str], per_second: float, sleep: Callable[[float], None] = time.sleep
) -> list[dict[str, str]]:
    """Send a retry request for each id, ``per_second`` at most (so a batch cannot flood the APIs)."""
    sent = []
    interval = 1.0 / per_second
    for index, entry_id in enumerate(ids):
        if index:
            sleep(interval)
        sent.append({"entry_id": entry_id, "retry_request": send_retry(app, entry_id).id})
    return sent


# --- discard ---------------------------------------------------------------------------------------


def discard_entry(store: DeadLetterStore, entry_id: str, reason: str) -> None:
    """Close an open entry without retrying it, keeping the reason; :class:`ActionRefused` otherwise."""
    if not reason.strip():
        raise ActionRefused("a discard needs a reason")
    if store.discard(entry_id, reason):
        return
    entry = store.get(entry_id)
    if entry is None:
        raise ActionRefused(f"no dead-letter entry {entry_id}")
    raise ActionRefused(f"entry {entry_id} is {entry['status']}: not discarded")
