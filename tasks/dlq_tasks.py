"""``rbsync.retry_dead_letter(entry_id)``: replay one dead-letter entry through its normal task.

Sent by ``rbsync dlq retry`` or from Flower (``POST /api/task/send-task/rbsync.retry_dead_letter`` with
``{"args": ["<entry id>"]}``). It moves the entry ``new`` -> ``retrying`` atomically (a second retry of
the same entry is refused), then sends the original task by name with the stored arguments under a new
task id, which is recorded on the entry first, so the task's success resolves exactly this entry and
the replay can be followed in Flower. The replay goes through the normal task: locks, hashes and
idempotency keys apply as on any transfer.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from tasks.celery import app
from tasks.deadletter import DeadLetterStore
from tasks.redis import get_redis

logger = logging.getLogger(__name__)

RETRY_TASK_NAME = "rbsync.retry_dead_letter"
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
            entry["task_name"], args=entry["args"], kwargs=entry["kwargs"], task_id=task_id,
            queue=entry["queue"],
        )
    except Exception:
        store.reopen(entry_id, "the retry could not be sent")
        raise
    logger.info("dead-letter entry %s: %s sent again as %s", entry_id, entry["task_name"], task_id)
    return {"entry_id": entry_id, "retried": True, "task_id": task_id, "task_name": entry["task_name"]}
