"""``rbsync.retry_dead_letter(entry_id)``: replay one dead-letter entry through its normal task.

Sent by ``rbsync dlq retry`` or from Flower (``POST /api/task/send-task/rbsync.retry_dead_letter`` with
``{"args": ["<entry id>"]}``). It moves the entry ``new`` -> ``retrying`` atomically (a second retry of
the same entry is refused), then sends the original task by name with the stored arguments under a new
task id, which is recorded on the entry first, so the task's success resolves exactly this entry and
the replay can be followed in Flower. The replay goes through the normal task: locks, hashes and
idempotency keys apply as on any transfer.

In Flower: this task's argument is the entry id and its result names the replay's task id; the replay is
its child (``parent_id``), with the original ``(kind, key)`` as arguments. The failed task of the entry
gets the note ``retried: sent again as task <id> (dead letter <entry>)`` as its result (a custom
``task-replayed`` event, the mechanism of ``tasks.base.note_on_task``); the replay's success replaces it
with ``resolved: ...`` (tasks/base.py), and a replay that fails again is the entry's new failed task,
whose exception names the same entry.
"""

from __future__ import annotations

import logging
import socket
import uuid
from typing import Any

import redis
from celery import signals

from tasks.base import note_on_task
from tasks.celery import app, queue_for
from tasks.deadletter import DeadLetterStore, Failure
from tasks.redis import get_redis

logger = logging.getLogger(__name__)

RETRY_TASK_NAME = "rbsync.retry_dead_letter"
#: The custom task event that notes on an entry's failed task that it was sent again (module docstring).
REPLAYED_EVENT = "task-replayed"
# Replay ids derive from (entry, retry request): a redelivered retry request re-sends the same id.
_REPLAY_NAMESPACE = uuid.UUID("6f1c8f44-3a51-4f0e-9a43-5a3f0b7c2d10")


def replay_task_id(entry_id: str, request_id: str) -> str:
    return str(uuid.uuid5(_REPLAY_NAMESPACE, f"{entry_id}:{request_id}"))


@app.task(name=RETRY_TASK_NAME, bind=True, acks_late=True, rate_limit="20/s")
def retry_dead_letter(self: Any, entry_id: str) -> dict[str, Any]:
    store = DeadLetterStore(get_redis())
    request_id = self.request.id or uuid.uuid4().hex
    entry = store.get(entry_id)
    if entry is None:
        logger.warning("dead-letter entry %s does not exist", entry_id)
        return {"entry_id": entry_id, "retried": False, "reason": "no such entry"}
    task_id = replay_task_id(entry_id, request_id)
    if not store.mark_retrying(entry_id, retry_task_id=task_id, requested_by=request_id):
        entry = store.get(entry_id) or entry
        last = entry["retries"][-1] if entry["retries"] else {}
        ours = entry["status"] == "retrying" and last.get("by") == request_id
        if not ours:
            logger.warning("dead-letter entry %s is %s: not retried", entry_id, entry["status"])
            return {"entry_id": entry_id, "retried": False, "reason": f"entry is {entry['status']}"}
        # This very request marked it before its worker died; sending again under the same id is safe.
    try:
        self.app.send_task(
            entry["task_name"],
            args=entry["args"],
            kwargs=entry["kwargs"],
            task_id=task_id,
            queue=entry["queue"],
        )
    except Exception:
        store.reopen(entry_id, "the retry could not be sent")
        raise
    logger.info("dead-letter entry %s: %s sent again as %s", entry_id, entry["task_name"], task_id)
    if entry["task_id"] != task_id:
        note_on_task(
            self.app,
            entry["task_id"],
            REPLAYED_EVENT,
            f"retried: sent again as task {task_id} (dead letter {entry_id})",
            hostname=entry.get("worker"),
        )
    return {"entry_id": entry_id, "retried": True, "task_id": task_id, "task_name": entry["task_name"]}


# --- messages a worker cannot even run: their own "unprocessable" bucket -----------------------------


def _message_arguments(message: Any) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) of a task message (protocol 2 body ``[args, kwargs, embed]``), empty if unreadable."""
    try:
        body = message.payload
    except Exception:  # content we refuse to decode (e.g. pickle) or garbage
        return [], {}
    if isinstance(body, list | tuple) and len(body) >= 2 and isinstance(body[1], dict):
        return list(body[0] or []), dict(body[1])
    return [], {}


def _record_unprocessable(
    message: Any, name: str | None, task_id: str | None, exc: BaseException | None, error_class: str
) -> None:
    args, kwargs = _message_arguments(message)
    name = name or (message.headers or {}).get("task") or "unknown"
    task_id = task_id or (message.headers or {}).get("id") or uuid.uuid4().hex
    looks_like_record = len(args) >= 2 and all(isinstance(part, str | int) for part in args[:2])
    kind, key = (str(args[0]), str(args[1])) if looks_like_record else ("unknown", task_id)
    failure = Failure(
        task_name=name,
        task_id=task_id,
        args=args,
        kwargs=kwargs,
        queue=(message.delivery_info or {}).get("routing_key") or queue_for(name),
        kind=kind,
        key=key,
        classification="unprocessable",
        error_class=error_class,
        error=str(exc) if exc is not None else f"unreadable message ({message.content_type!r})",
        worker=socket.gethostname(),
    )
    try:
        entry = DeadLetterStore(get_redis()).record_failure(failure)
    except redis.RedisError:
        logger.exception("message %s (%s) could not be processed NOR dead-lettered", task_id, name)
        return
    logger.error("message %s (%s) cannot be processed: dead-lettered as entry %s", task_id, name, entry["id"])


@signals.task_unknown.connect
def dead_letter_unknown_task(
    sender: Any = None,
    message: Any = None,
    exc: BaseException | None = None,
    name: str | None = None,
    id: str | None = None,
    **_: Any,
) -> None:
    """A message for a task this worker does not have (a typo, or a worker older than the sender)."""
    _record_unprocessable(message, name, id, exc, "NotRegistered")


@signals.task_rejected.connect
def dead_letter_rejected_message(
    sender: Any = None, message: Any = None, exc: BaseException | None = None, **_: Any
) -> None:
    """A message the worker rejected unread (refused content type, malformed task message)."""
    error_class = type(exc).__name__ if exc is not None else "UnknownMessage"
    _record_unprocessable(message, None, None, exc, error_class)
