"""The run's state in Redis: who runs it (a lock), how far each kind got (its checkpoint), and the
counts, all readable while it runs without any API call (`rbsync startup-sync --status`).

Layout (all under ``rbsync:{connection_id}:``):

- ``lock:startup-sync:run``: one run at a time (`tasks.sync.locks.RecordLock`, kept alive by the runner
  every few seconds, so a killed run's lock goes by itself within `LOCK_TTL_SECONDS`);
- ``startup:run`` (hash): ``run_id``, ``state`` (running / done / interrupted / failed), ``task_id``,
  ``started_at``, ``finished_at``, ``update_existing``, ``kinds`` (JSON list), ``kind`` (the one being
  brought across), ``error``, ``resumed`` (how many times this run was resumed);
- ``startup:kind:{kind}`` (hash): ``total`` (e-conomic's count), ``indexed`` (Rackbeat's records of the
  kind), ``done``, ``created``, ``matched``, ``bound`` (matched and bound before), ``updated``,
  ``unchanged``, ``refused``, ``started_at``, ``finished_at``, ``note``, and ``checkpoint``: JSON
  ``{"source": i, "page": position}`` of the first page not yet done;
- ``startup:diff:{kind}`` (hash): field -> how many matched records differ in it;
- ``startup:page:{kind}`` and ``startup:page-diff:{kind}`` (hashes): the same counts for the page in
  flight. A page's counts move into the kind's, with its checkpoint, in one MULTI when the page is done;
  a run that stops mid-page drops them on resume and does the page again (bindings make that harmless).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from tasks.redis import key as namespaced_key
from tasks.redis import text, text_map
from tasks.timestamps import iso_utc

COUNTERS = ("done", "created", "matched", "bound", "updated", "unchanged", "refused")
"""What a kind's records became (`done` counts every record, the others one each, `bound` within
`matched`)."""

LOCK_TTL_SECONDS = 15.0
"""A run's lock lasts this long unless renewed; the runner renews it every `LOCK_RENEW_SECONDS`."""
LOCK_RENEW_SECONDS = 3.0

RunStateName = str
RUNNING, DONE, INTERRUPTED, FAILED = "running", "done", "interrupted", "failed"


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))


@dataclass(frozen=True)
class Checkpoint:
    """The first page of a kind not yet done: the source (index in `EntitySpec.import_sources()`) and
    the page's position there (`tasks.startup.pages.PagePosition`)."""

    source: int = 0
    page: int | str | None = None

    def to_json(self) -> str:
        return json.dumps({"source": self.source, "page": self.page})

    @classmethod
    def from_json(cls, raw: str | None) -> Checkpoint | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(int(data.get("source", 0)), data.get("page"))


class RunStore:
    """One connection's start-up sync state (see the module docstring)."""

    def __init__(self, client: redis.Redis, connection_id: str | None = None) -> None:
        self.client = client
        self.connection_id = connection_id

    def name(self, *parts: object) -> str:
        return namespaced_key("startup", *parts, connection_id=self.connection_id)

    @property
    def run_name(self) -> str:
        return self.name("run")

    # --- the run ------------------------------------------------------------------------------------

    def run(self) -> dict[str, str]:
        return text_map(self.client.hgetall(self.run_name))

    def begin(
        self, kinds: Iterable[str], *, update_existing: bool, task_id: str | None, fresh: bool
    ) -> dict[str, str]:
        """Start a run: a fresh one (every count and checkpoint of `kinds` dropped, a new run id) or a
        resumed one (the run id and checkpoints kept, the pages in flight dropped)."""
        kinds = list(kinds)
        previous = self.run()
        with self.client.pipeline(transaction=True) as pipe:
            for kind in kinds:
                pipe.delete(self.name("page", kind), self.name("page-diff", kind))
                if fresh:
                    pipe.delete(self.name("kind", kind), self.name("diff", kind))
            if fresh:
                pipe.delete(self.run_name)
            fields: dict[Any, Any] = {
                "state": RUNNING,
                "task_id": task_id or "",
                "update_existing": "1" if update_existing else "",
                "kinds": json.dumps(kinds),
                "error": "",
                "finished_at": "",
                "kind": "",
            }
            if fresh or not previous.get("run_id"):
                fields.update(run_id=uuid.uuid4().hex[:12], started_at=now_iso(), resumed="0")
            else:
                fields["resumed"] = str(int(previous.get("resumed") or 0) + 1)
                fields["resumed_at"] = now_iso()
            pipe.hset(self.run_name, mapping=fields)
            pipe.execute()
        return self.run()

    def resumable(self) -> bool:
        """Whether the last run stopped before it was done (then the next start continues it)."""
        run = self.run()
        return bool(run.get("run_id")) and run.get("state") != DONE

    def set_run(self, **fields: str) -> None:
        mapping: dict[Any, Any] = dict(fields)  # redis-py's mapping type is invariant in its key types
        self.client.hset(self.run_name, mapping=mapping)

    def finish(self, state: RunStateName, error: str = "") -> None:
        self.client.hset(
            self.run_name, mapping={"state": state, "finished_at": now_iso(), "error": error, "kind": ""}
        )

    # --- a kind -------------------------------------------------------------------------------------

    def kind(self, kind: str) -> dict[str, str]:
        return text_map(self.client.hgetall(self.name("kind", kind)))

    def set_kind(self, kind: str, **fields: Any) -> None:
        self.client.hset(self.name("kind", kind), mapping={k: str(v) for k, v in fields.items()})

    def checkpoint(self, kind: str) -> Checkpoint | None:
        return Checkpoint.from_json(text(self.client.hget(self.name("kind", kind), "checkpoint")))

    def kind_finished(self, kind: str) -> bool:
        return bool(text(self.client.hget(self.name("kind", kind), "finished_at")))

    def add_live(self, kind: str, counts: Mapping[str, int], diff: Mapping[str, int]) -> None:
        """Add what was done of the page in flight (one round trip)."""
        with self.client.pipeline(transaction=False) as pipe:
            for name, value in counts.items():
                if value:
                    pipe.hincrby(self.name("page", kind), name, value)
            for name, value in diff.items():
                pipe.hincrby(self.name("page-diff", kind), name, value)
            pipe.execute()

    def add_committed(self, kind: str, counts: Mapping[str, int]) -> None:
        """Add counts straight to the kind's (records that come along outside any page: units)."""
        with self.client.pipeline(transaction=False) as pipe:
            for name, value in counts.items():
                if value:
                    pipe.hincrby(self.name("kind", kind), name, value)
            pipe.execute()

    def commit_page(self, kind: str, next_checkpoint: Checkpoint | None) -> None:
        """The page in flight is done: its counts join the kind's and the checkpoint moves past it (one
        MULTI, so a crash leaves either both or neither). None: the kind is done."""
        page, page_diff = self.name("page", kind), self.name("page-diff", kind)
        counts = text_map(self.client.hgetall(page))
        diff = text_map(self.client.hgetall(page_diff))
        with self.client.pipeline(transaction=True) as pipe:
            for name, value in counts.items():
                pipe.hincrby(self.name("kind", kind), name, int(value))
            for name, value in diff.items():
                pipe.hincrby(self.name("diff", kind), name, int(value))
            pipe.delete(page, page_diff)
            if next_checkpoint is None:
                pipe.hset(self.name("kind", kind), mapping={"finished_at": now_iso(), "checkpoint": ""})
            else:
                pipe.hset(self.name("kind", kind), "checkpoint", next_checkpoint.to_json())
            pipe.execute()

    def progress(self, kind: str) -> dict[str, Any]:
        """The kind's counts, the page in flight's included, its differing fields and its times."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.name("kind", kind))
            pipe.hgetall(self.name("diff", kind))
            pipe.hgetall(self.name("page", kind))
            pipe.hgetall(self.name("page-diff", kind))
            committed, diff, page, page_diff = (text_map(raw) for raw in pipe.execute())
        counts = {name: int(committed.get(name) or 0) + int(page.get(name) or 0) for name in COUNTERS}
        fields: dict[str, int] = {name: int(value) for name, value in diff.items()}
        for name, value in page_diff.items():
            fields[name] = fields.get(name, 0) + int(value)
        total = committed.get("total")
        return {
            "kind": kind,
            "total": int(total) if total not in (None, "") else None,
            **counts,
            "differing_fields": dict(sorted(fields.items(), key=lambda item: (-item[1], item[0]))),
            "indexed": int(committed.get("indexed") or 0),
            "started_at": committed.get("started_at") or None,
            "finished_at": committed.get("finished_at") or None,
            "note": committed.get("note") or None,
        }

    def status(self) -> dict[str, Any]:
        """The current or last run, kind by kind (what `--status --json` prints)."""
        run = self.run()
        kinds = json.loads(run["kinds"]) if run.get("kinds") else []
        return {
            "run_id": run.get("run_id") or None,
            "state": run.get("state") or None,
            "task_id": run.get("task_id") or None,
            "started_at": run.get("started_at") or None,
            "finished_at": run.get("finished_at") or None,
            "update_existing": bool(run.get("update_existing")),
            "current_kind": run.get("kind") or None,
            "resumed": int(run.get("resumed") or 0),
            "error": run.get("error") or None,
            "kinds": [self.progress(kind) for kind in kinds],
        }
