"""The start-up sync's run: the kinds in order, each kind's pages in order, a page's documents side by
side.

For each kind (`tasks.startup.order`): the kind's Rackbeat index is built afresh (`index`), then its
e-conomic collections are read one page (1,000 documents) at a time from the kind's checkpoint, and each
document is handed to a `StartupImporter` in a pool of threads (each thread its own importer, all of them
one set of clients, whose connections stay warm across pages and kinds; documents of one kind are
independent, and the kinds before it are done). `concurrency` Rackbeat writes are in flight at most (a
semaphore around the importer's write), with twice as many threads, so the Redis work of some records
overlaps the writes of others. When a page is done its counts and the next checkpoint are committed
together (`state.RunStore.commit_page`).

- A record Rackbeat refuses (its 422, a mapper's `MappingError`, anything the same import would hit
  again) is dead-lettered in Rackbeat's own words under `rbsync.startup_import_record(kind, key)`, so
  `rbsync dlq retry` imports it through the start-up importer after the fix (whichever side owns the
  kind); it counts as `refused` and the run goes on. A later run that brings it across closes the entry.
- A record another worker holds is waited for (a killed run's record locks expire by themselves), up to
  `BUSY_WAIT_SECONDS`. An API that answers 5xx / times out after the client's own retries is tried
  again (`RECORD_ATTEMPTS`, with backoff); when neither helps, the run stops where it is
  (`interrupted`), its checkpoint intact, and the next start continues from there. So does a stop
  request (`stop` event: Ctrl-C, a worker's shutdown) and a lost run lock.

Known limit: e-conomic's legacy collections page by offset, so records deleted there between a stop and
its resume shift later ones onto pages already done, which the resume then does not see; the next run (a
finished run's successor starts over, and writes only what is missing) brings them.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import redis

from clients.errors import AuthError, PermanentError, TransientError
from tasks.deadletter import DeadLetterStore, Failure
from tasks.entities import REGISTRY
from tasks.entities.base import EconomicTarget, EntitySpec, MappingDefaults, Record
from tasks.errors import RecordBusy, SyncError
from tasks.startup import pages as page_reader
from tasks.startup.cached_bindings import CachedBindings
from tasks.startup.importer import Note, StartupImporter
from tasks.startup.index import RackbeatIndex
from tasks.startup.order import KINDS, choose_kinds, companions
from tasks.startup.state import (
    DONE,
    FAILED,
    INTERRUPTED,
    LOCK_RENEW_SECONDS,
    LOCK_TTL_SECONDS,
    Checkpoint,
    RunStore,
    now_iso,
)
from tasks.sync.direction import Directions
from tasks.sync.locks import RecordLock
from tasks.sync.ports import ApiClients, SyncStore
from tasks.sync.results import TransferResult

logger = logging.getLogger(__name__)

RECORD_ATTEMPTS = 4
RECORD_BACKOFF_SECONDS = 0.5
BUSY_WAIT_SECONDS = 300.0
"""How long a record another transfer holds is waited for (a killed run's record locks expire after the
transfer time limit) before the run stops (interrupted)."""
BUSY_PAUSE_SECONDS = 2.0
FLUSH_SECONDS = 0.5
THREADS_PER_WRITE = 2
"""Threads per Rackbeat write in flight: a record spends about as long on its lock, bindings and
look-ups in Redis as on its write, so twice the threads keep `concurrency` writes in flight."""
LOCK_NAME = ("startup-sync", "run")


class AlreadyRunning(RuntimeError):
    """Another start-up sync holds the run lock."""


class Interrupted(RuntimeError):
    """The run stopped before it was done; its checkpoints stand and the next start continues."""


@dataclass(frozen=True)
class RunOptions:
    update_existing: bool = False
    concurrency: int = 8
    """Rackbeat writes in flight (`settings.startup_sync_concurrency`)."""
    kinds: tuple[str, ...] = ()
    """Only these kinds (default: all of `KINDS`, in their order)."""
    page_size: int = 1000
    lock_wait_seconds: float = 0.0
    """How long to wait for a run lock another run holds (a task redelivered after its worker died
    waits for the dead run's lock to expire); 0: say it is taken at once."""


@dataclass
class RunReport:
    state: str
    run_id: str | None
    status: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def refused(self) -> int:
        return sum(int(kind.get("refused") or 0) for kind in self.status.get("kinds", []))


@dataclass
class _Done:
    """One document's fate, as the page loop counts it."""

    counter: str
    note: Note
    extra: list[tuple[str, str]] = field(default_factory=list)
    """(kind, counter) of companions brought across on the way."""


class StartupRunner:
    """One start-up sync run (see the module docstring)."""

    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        connection_id: str,
        clients: ApiClients,
        store: Callable[[], SyncStore],
        defaults: MappingDefaults,
        directions: Directions | None,
        options: RunOptions,
        task_id: str | None = None,
        stop: threading.Event | None = None,
        registry: dict[str, EntitySpec] | None = None,
    ) -> None:
        self.redis = redis_client
        self.connection_id = connection_id
        self.clients = clients
        self.store = store
        self.defaults = defaults
        self.directions = directions
        self.options = options
        self.task_id = task_id
        self.stop = stop or threading.Event()
        self.registry = registry if registry is not None else REGISTRY
        self.runs = RunStore(redis_client, connection_id)
        self.index = RackbeatIndex(redis_client, connection_id)
        self.dead_letters = DeadLetterStore(redis_client, connection_id)
        self.bindings = CachedBindings(redis_client, connection_id)
        self.writes = threading.BoundedSemaphore(options.concurrency)
        self._local = threading.local()
        self._lock_lost = threading.Event()

    # --- the run ------------------------------------------------------------------------------------

    def run(self) -> RunReport:
        """Run (or continue) the start-up sync under its lock; raises `AlreadyRunning` if another holds it."""
        lock = RecordLock(
            self.redis, *LOCK_NAME, ttl_seconds=LOCK_TTL_SECONDS, connection_id=self.connection_id
        )
        if not lock.acquire(wait_seconds=self.options.lock_wait_seconds, poll_seconds=0.5):
            raise AlreadyRunning("a start-up sync is already running")
        done = threading.Event()
        self._beat_done = done
        beat = threading.Thread(target=self._keep_lock, args=(lock,), name="startup-lock", daemon=True)
        beat.start()
        state, error = DONE, ""
        run: dict[str, str] = {}
        try:
            choices = choose_kinds(self.registry, self.options.kinds)
            fresh = not self.runs.resumable()
            listed = [choice.kind for choice in choices]
            for choice in choices:
                listed += [
                    spec.kind for spec in companions(choice.kind, self.registry) if spec.kind not in listed
                ]
            run = self.runs.begin(
                listed, update_existing=self.options.update_existing, task_id=self.task_id, fresh=fresh
            )
            logger.info("start-up sync %s %s", run.get("run_id"), "started" if fresh else "resumed")
            threads = self.options.concurrency * THREADS_PER_WRITE
            with ThreadPoolExecutor(threads, thread_name_prefix="startup") as pool:
                for choice in choices:
                    if choice.spec is None:
                        self.runs.set_kind(choice.kind, note=choice.note or "skipped", finished_at=now_iso())
                        continue
                    if not fresh and self.runs.kind_finished(choice.kind):
                        self.bindings.settle(choice.kind)
                        continue
                    self.bindings.start(choice.kind)
                    self._kind(choice.spec, pool)
                    self.bindings.settle(choice.kind)
                    for finished in (choice.spec, *companions(choice.kind, self.registry)):
                        self.index.clear(finished)  # a done kind's index is not read again
        except Interrupted as stopped:
            state, error = INTERRUPTED, str(stopped)
        except (TransientError, AuthError, redis.RedisError, SyncError) as failed:
            state, error = INTERRUPTED, f"{type(failed).__name__}: {failed}"
        except Exception as failed:
            logger.exception("start-up sync failed")
            state, error = FAILED, f"{type(failed).__name__}: {failed}"
        finally:
            done.set()
            beat.join(timeout=LOCK_RENEW_SECONDS * 2)
            try:
                self.runs.finish(state, error)
            finally:
                lock.release()
        if state != DONE:
            logger.warning("start-up sync %s: %s", state, error)
        return RunReport(state, run.get("run_id"), self.runs.status(), error or None)

    def _keep_lock(self, lock: RecordLock) -> None:
        while not self._beat_done.wait(LOCK_RENEW_SECONDS):
            try:
                if not lock.extend():
                    self._lock_lost.set()
                    self.stop.set()
                    return
            except redis.RedisError:
                logger.warning("could not renew the start-up sync's lock")

    # --- a kind -------------------------------------------------------------------------------------

    def _kind(self, spec: EntitySpec, pool: ThreadPoolExecutor) -> None:
        kind = spec.kind
        clients = self._clients()
        self.runs.set_run(kind=kind)
        progress = self.runs.kind(kind)
        sources = spec.import_sources()
        counted = [page_reader.count(clients.economic, source) for source in sources]
        total = "" if None in counted else sum(count or 0 for count in counted)  # "": e-conomic did not say
        indexed = self.index.build(spec, clients.rackbeat)
        for companion in companions(kind, self.registry):
            self.index.build(companion, clients.rackbeat)
        fields: dict[str, Any] = {"total": total, "indexed": indexed, "note": ""}
        if not progress.get("started_at"):
            fields["started_at"] = now_iso()
        self.runs.set_kind(kind, **fields)
        checkpoint = self.runs.checkpoint(kind) or Checkpoint(0, page_reader.first_position(sources[0]))
        with ThreadPoolExecutor(1, thread_name_prefix="startup-pages") as reader:
            for number in range(checkpoint.source, len(sources)):
                source = sources[number]
                position = (
                    checkpoint.page if number == checkpoint.source else page_reader.first_position(source)
                )
                upcoming = reader.submit(self._read_page, source, position)
                while True:
                    self._check_stop()
                    page = upcoming.result()
                    if page.next is not None:  # read the next page while this one is brought across
                        upcoming = reader.submit(self._read_page, source, page.next)
                    self._page(spec, page, pool)
                    if page.next is not None:
                        self.runs.commit_page(kind, Checkpoint(number, page.next))
                        continue
                    if number + 1 < len(sources):
                        following = Checkpoint(number + 1, page_reader.first_position(sources[number + 1]))
                        self.runs.commit_page(kind, following)
                    else:
                        self.runs.commit_page(kind, None)
                    break

    def _read_page(self, source: EconomicTarget, position: page_reader.PagePosition) -> page_reader.Page:
        return page_reader.read_page(self._clients().economic, source, position, self.options.page_size)

    def _page(self, spec: EntitySpec, page: page_reader.Page, pool: ThreadPoolExecutor) -> None:
        """Every document of the page brought across (or refused); raises `Interrupted` (after the
        documents under way are done) on a stop request or a failure the run cannot go past."""
        counts: Counter[str] = Counter()
        diff: Counter[str] = Counter()
        extra: dict[str, Counter[str]] = {}
        documents = iter(page.documents)
        window = self.options.concurrency * THREADS_PER_WRITE * 2  # a few per thread; `wait` stays cheap
        pending: set[Future[_Done]] = set()
        fatal: BaseException | None = None

        def fill() -> None:
            while len(pending) < window and fatal is None and not self.stop.is_set():
                document = next(documents, None)
                if document is None:
                    return
                pending.add(pool.submit(self._document, spec, document, page.read_at))

        fill()
        flushed = time.monotonic()
        while pending:
            finished, pending = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                error = future.exception()
                if error is not None:
                    fatal = fatal or error
                    continue
                done = future.result()
                counts["done"] += 1
                counts[done.counter] += 1
                if done.note.bound:
                    counts["bound"] += 1
                diff.update(done.note.differs)
                for other, counter in done.extra:
                    extra.setdefault(other, Counter())[counter] += 1
            fill()
            if time.monotonic() - flushed >= FLUSH_SECONDS or not pending:
                self._flush(spec.kind, counts, diff, extra)
                counts, diff, extra = Counter(), Counter(), {}
                flushed = time.monotonic()
        if fatal is not None:
            raise fatal
        self._check_stop()

    def _flush(
        self, kind: str, counts: Counter[str], diff: Counter[str], extra: dict[str, Counter[str]]
    ) -> None:
        if counts or diff:
            self.runs.add_live(kind, counts, diff)
        for other, other_counts in extra.items():
            # Companions (a product's units) come along outside any page of their own: counted as they come.
            self.runs.add_committed(other, {**other_counts, "done": sum(other_counts.values())})

    def _check_stop(self) -> None:
        if self._lock_lost.is_set():
            raise Interrupted("the run lost its lock (another start took over?)")
        if self.stop.is_set():
            raise Interrupted("stopped on request")

    # --- a document ---------------------------------------------------------------------------------

    def _document(self, spec: EntitySpec, document: Record, read_at: datetime) -> _Done:
        importer = self._importer()
        key = str(spec.economic_key_of(document))
        attempt = 1
        busy_until = time.monotonic() + BUSY_WAIT_SECONDS
        while True:
            if self.stop.is_set():
                raise Interrupted("stopped on request")
            try:
                result, note = importer.bring(spec, document, read_at)
            except RecordBusy as busy:
                # Another transfer holds the record, or a killed run's lock has not expired yet: wait
                # for it (its lock says how long at most), without spending an attempt.
                if time.monotonic() >= busy_until:
                    raise
                importer.notes.pop((spec.kind, key), None)
                self.stop.wait(min(BUSY_PAUSE_SECONDS, max(0.1, busy.held_for_seconds or BUSY_PAUSE_SECONDS)))
                continue
            except (TransientError, redis.RedisError) as error:
                retry = True
                failure: BaseException = error
            except AuthError:
                raise
            except SyncError as error:
                if error.permanent:
                    self._dead_letter(spec.kind, key, error, "permanent")
                    return _Done("refused", Note())
                retry, failure = True, error
            except PermanentError as error:
                self._dead_letter(spec.kind, key, error, "permanent")
                return _Done("refused", Note())
            except Exception as error:  # a record the same import would fail on again: not the run's end
                logger.exception("start-up sync: %s %s could not be imported", spec.kind, key)
                self._dead_letter(spec.kind, key, error, "unprocessable")
                return _Done("refused", Note())
            else:
                # A record refused by an earlier run and brought across now: its dead letter is moot.
                self.dead_letters.resolve_for_record(spec.kind, key)
                return _Done(_counter_of(result, note), note, self._companions(importer, result))
            if not retry or attempt >= RECORD_ATTEMPTS:
                raise failure
            importer.notes.pop((spec.kind, key), None)
            time.sleep(RECORD_BACKOFF_SECONDS * 2 ** (attempt - 1))
            attempt += 1

    @staticmethod
    def _companions(importer: StartupImporter, result: TransferResult) -> list[tuple[str, str]]:
        """(kind, count) of the companions (a product's unit) this transfer created or matched: a unit
        another thread brought across first is left to that thread's count."""
        found = []
        for dependency in result.dependencies:
            for done in dependency.all_results():
                note = importer.take_note(done.kind, done.key)  # taken whatever the kind: none is kept
                if done.kind in KINDS:
                    continue
                counter = _counter_of(done, note)
                if counter in ("created", "matched", "updated"):
                    found.append((done.kind, counter))
        return found

    def _dead_letter(self, kind: str, key: str, error: BaseException, classification: Any) -> None:
        # The task policy's own wording of a failure, and the import task a dead letter names, so that
        # `rbsync dlq retry` re-imports the record through it.
        from tasks.base import failure_details
        from tasks.celery import queue_for
        from tasks.startup_tasks import STARTUP_IMPORT_TASK_NAME

        self.dead_letters.record_failure(
            Failure(
                task_name=STARTUP_IMPORT_TASK_NAME,
                task_id=str(uuid.uuid4()),
                args=[kind, key],
                kwargs={"update_existing": self.options.update_existing},
                queue=queue_for(STARTUP_IMPORT_TASK_NAME),
                kind=kind,
                key=key,
                classification=classification,
                traceback=traceback.format_exc(),
                worker="startup-sync",
                **failure_details(error),
            )
        )
        logger.warning("start-up sync: %s %s refused: %s", kind, key, error)

    # --- per-thread engine --------------------------------------------------------------------------

    def _clients(self) -> ApiClients:
        """The clients every thread shares (httpx's pool is thread-safe; one pool keeps the connections
        warm across pages and kinds)."""
        return self.clients

    def _importer(self) -> StartupImporter:
        importer: StartupImporter | None = getattr(self._local, "importer", None)
        if importer is None:
            importer = StartupImporter(
                self._clients(),
                replace(self.store(), bindings=self.bindings),
                self.index,
                self.defaults,
                self.directions,
                update_existing=self.options.update_existing,
                writes=self.writes,
            )
            self._local.importer = importer
        return importer


def _counter_of(result: TransferResult, note: Note) -> str:
    """The count a transfer's outcome goes to."""
    if result.outcome == "created":
        return "created"
    if result.outcome in ("replaced", "barred"):
        return "updated"
    if note.existing:
        return "matched"
    return "unchanged"
