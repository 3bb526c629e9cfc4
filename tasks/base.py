"""``SyncTask``: the base of every transfer-like task, and the one place the failure policy lives.

- ``TransientError`` (timeouts, 5xx, 429; also a soft time limit and a lost connection to our Redis):
  ``self.retry`` with capped exponential backoff and full jitter; a ``RateLimitedError.retry_after`` is
  honoured (the countdown is at least that long). When the retries are spent the task fails and is
  dead-lettered as ``transient-exhausted``.
- The engine's own errors (``tasks.errors.SyncError``) say what they are: one that does not spend a
  retry (``RecordBusy``: another worker holds the record's lock) is re-queued after a short pause without
  spending one, since contention is not a failure; a permanent one (``MappingError``) is dead-lettered at
  once; a transient one is retried like a ``TransientError``.
- ``PermanentError`` (4xx): dead-lettered at once, never retried.
- ``AuthError`` (401/403): one probe of that API tells a bad credential from a refused resource; while
  the credential is refused the task waits (re-queued every ``auth_wait_seconds``, no retry spent; see
  tasks/credentials.py), otherwise it is dead-lettered like any permanent error.
- Anything else is a defect or bad input that the same retry would hit again: dead-lettered at once as
  ``unprocessable``; a hard time limit as ``timeout``.
- Redeliveries: each delivery of a task id increments ``deliveries:{task_id}`` at start and deletes it
  when the delivery ends (success, retry or failure alike). So the counter only grows when a delivery
  never ended (its worker was killed) and the message came back; past ``max_redeliveries`` the task is
  dead-lettered as ``worker-lost`` instead of run again (the loop ``task_reject_on_worker_lost`` warns of).
- A success appends the transfer event (when the task returns a result with an ``outcome``) and closes
  the record's open dead-letter entries (``resolved`` for the entry this run retried, else ``superseded``).
- What Celery records for a dead-lettered failure (the result, the worker log, Flower's exception and
  traceback) is :class:`DeadLettered`: the original class, the reason in the API's words as ``rbsync dlq
  list`` shows it, and the entry, e.g. ``ValidationFailed: currency: currency does not exist. (dead
  letter 194ade84cf43)``. The entry is written from the original exception first, so its class,
  classification, field errors and whole traceback are the original's. ``DeadLettered`` carries the
  original's traceback but not its chain, so the worker's report is no larger than the original's would
  be (see ``_requeue``); it pickles and JSON-serialises as itself, where Celery could only rebuild an API
  error from a stand-in holding its generic message (``ValidationFailed('Validation error.')``).
- Resolved, in Flower: Flower knows tasks only from Celery's events, and a FAILURE stays one. When a
  success closes a dead-letter entry, a custom ``task-resolved`` event is sent for the entry's failed
  task (its last failure), as the worker that ran it. Celery's event state, which Flower keeps, merges it
  into that task without changing the state, and the task's ``result`` (empty for a failure) becomes
  ``resolved: product P-1 transferred by task <id> (dead letter <entry>)``, or ``superseded: ...`` when
  a later transfer rather than a retry of the entry did it: Flower's Result column, task page and search
  show it. ``rbsync.retry_dead_letter`` notes ``retried: ...`` on the failed task the same way
  (tasks/dlq_tasks.py). The entry's history names the task that closed it; a Flower that was not running
  then never learns it, and the dead-letter list stays the record.
- Each retry and dead-letter event carries ``api_calls``: the calls the failed attempt made, counted by
  this thread's API clients (:meth:`SyncTask.api_call_counter`); ``rbsync run`` prints them.
- Nothing is dropped when Redis (broker and store) is unreachable: a retry that cannot be published, a
  final failure that cannot be dead-lettered and a busy record that cannot be re-queued all end in
  ``Reject(requeue=True)``. Celery would otherwise turn the failed publish into ``Reject(requeue=False)``
  and drop the message. The requeue itself needs Redis: when it is still down the message simply stays in
  the broker's unacked set and is restored after the visibility timeout. Either way it runs again, and the
  delivery counter (which could not be cleared) bounds how often. Celery's own STARTED write, which ran
  before the task's code and so outside this policy (a failure there was acknowledged and the message
  dropped), is done by ``SyncTask`` itself, inside it.

Subclasses implement ``run`` and may override ``record_of(args, kwargs) -> (kind, key)``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis
from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery import Task, states
from celery.exceptions import Reject, Retry
from celery.utils.serialization import UnpickleableExceptionWrapper

from clients.errors import ApiError, AuthError, PermanentError, RateLimitedError, TransientError
from tasks.celery import queue_for
from tasks.credentials import LABEL_OF, CredentialStatus
from tasks.deadletter import Classification, DeadLetterStore, Failure
from tasks.dlq_actions import reason_of
from tasks.errors import SyncError
from tasks.events import record_event
from tasks.redis import get_redis
from tasks.redis import key as namespaced_key
from tasks.settings import get_settings
from tasks.sync.pending import PendingMarkers

logger = logging.getLogger(__name__)

DELIVERY_COUNTER_TTL_SECONDS = 86400
RETRYABLE = (TransientError, SoftTimeLimitExceeded, redis.ConnectionError, redis.TimeoutError)
#: Characters of the reason kept in a :class:`DeadLettered` text (the entry keeps all of it).
REPORT_REASON_LIMIT = 300
#: The custom task event that tells Flower a failed task's dead letter was closed (module docstring).
RESOLVED_EVENT = "task-resolved"


class RedeliveryLimitExceeded(Exception):
    """The task's message came back more often than ``max_redeliveries`` after its worker died."""


class DeadLettered(Exception):
    """What Celery records for a failure ``SyncTask`` dead-lettered (see the module docstring).

    One text argument (``str()`` is it), so it pickles and JSON-serialises as itself; ``error_class`` and
    ``entry_id`` travel beside it when pickled.
    """

    def __init__(self, text: str, *, error_class: str | None = None, entry_id: str | None = None) -> None:
        super().__init__(text)
        self.error_class = error_class
        self.entry_id = entry_id

    @classmethod
    def of(cls, exc: BaseException, entry_id: str) -> DeadLettered:
        """``<class>: <reason in the API's words> (dead letter <entry id>)`` for ``exc``."""
        details = failure_details(exc)
        reason = " ".join(reason_of(details).split()) or str(details["error_class"])
        if len(reason) > REPORT_REASON_LIMIT:
            reason = reason[: REPORT_REASON_LIMIT - 1] + "…"
        error_class = str(details["error_class"])
        return cls(
            f"{error_class}: {reason} (dead letter {entry_id})", error_class=error_class, entry_id=entry_id
        )


def retry_countdown(
    retries: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``retries + 1``.

    Full jitter: uniform in [0, min(cap, base * 2**retries)], which spreads a burst of failures out.
    When the server said how long to wait, wait that long plus a little spread (at most ``base``), so
    the workers that were told the same do not all come back in the same instant. Never above ``cap``:
    the visibility timeout is sized for it.
    """
    if retry_after is not None and retry_after > 0:
        return min(cap, retry_after + rng() * min(base, retry_after))
    return rng() * min(cap, base * (2 ** max(retries, 0)))


def retry_reason(exc: BaseException) -> str:
    """Why a transfer is retried, in a few words for the console (``e-conomic 503``, ``Rackbeat 429``,
    ``Rackbeat no answer``, ``Redis ConnectionError``)."""
    if isinstance(exc, ApiError):
        return f"{LABEL_OF.get(exc.api, exc.api)} {exc.status if exc.status is not None else 'no answer'}"
    if isinstance(exc, redis.RedisError):
        return f"Redis {type(exc).__name__}"
    return type(exc).__name__


def classify(exc: BaseException) -> Classification:
    """The dead-letter bucket of a final failure."""
    if isinstance(exc, RedeliveryLimitExceeded):
        return "worker-lost"
    if isinstance(exc, PermanentError) or (isinstance(exc, SyncError) and exc.permanent):
        return "permanent"
    if isinstance(exc, (*RETRYABLE, SyncError)):
        return "transient-exhausted"
    if isinstance(exc, TimeLimitExceeded):
        return "timeout"
    return "unprocessable"


def original_exception(exc: BaseException, remembered: BaseException | None) -> BaseException:
    """The exception the task raised: ``remembered`` when ``exc`` is Celery's pickle-safe stand-in for it."""
    if remembered is None or remembered is exc:
        return exc
    if isinstance(exc, UnpickleableExceptionWrapper) and exc.exc_cls_name == type(remembered).__name__:
        return remembered
    if type(exc) is type(remembered) and str(exc) == str(remembered):
        return remembered
    return exc


def failure_details(exc: BaseException) -> dict[str, Any]:
    """Error class, the API's own text, field errors, status and API of an exception (JSON-safe)."""
    if isinstance(exc, ApiError):
        return {
            "error_class": type(exc).__name__,
            "error": exc.message or str(exc),
            "field_errors": exc.field_errors,
            "status_code": exc.status,
            "api": exc.api,
            "error_code": exc.error_code,
            "api_details": exc.details,
        }
    if isinstance(exc, SyncError):
        return {
            "error_class": type(exc).__name__,
            "error": exc.message,
            "field_errors": exc.field_errors,
            "status_code": None,
            "api": exc.api,
        }
    if isinstance(exc, UnpickleableExceptionWrapper):
        return {
            "error_class": exc.exc_cls_name,
            "error": exc.text,
            "field_errors": None,
            "status_code": None,
            "api": None,
        }
    return {
        "error_class": type(exc).__name__,
        "error": str(exc) or type(exc).__name__,
        "field_errors": None,
        "status_code": None,
        "api": None,
    }


def _no_calls() -> int:
    return 0


def result_fields(result: Any) -> dict[str, Any] | None:
    """``outcome``/``economic_key``/``api_calls`` of a task result (a mapping or an object), if it has one."""
    if isinstance(result, Mapping):
        get = result.get
    elif hasattr(result, "outcome"):

        def get(name: str, default: Any = None) -> Any:
            return getattr(result, name, default)
    else:
        return None
    outcome = get("outcome")
    if not outcome:
        return None
    return {"outcome": str(outcome), "economic_key": get("economic_key"), "api_calls": get("api_calls") or 0}


class SyncTask(Task):
    """Base class of transfer-like tasks (see the module docstring for the policy)."""

    acks_late = True
    reject_on_worker_lost = True
    #: Celery writes a task's STARTED state (``task_track_started``) before the task's own code runs. Redis
    #: down at that moment was an error outside the task body, which Celery answers by acknowledging the
    #: message: the transfer never ran, and the receiver's pending marker coalesced every later delivery of
    #: the record onto it (an invoice lost in the Redis-restart chaos, issue 10). ``__call__`` writes the
    #: state itself instead (``_mark_started``), where a Redis error is retried or requeued like any other.
    track_started = False
    #: None: take ``transfer_max_retries`` from the settings.
    max_retries: int | None = None
    #: True for tasks queued behind a pending marker (``enqueue_export``): cleared when the task starts.
    clears_pending = False
    #: Range of the pause before trying a busy record again (uniform, not counted as a retry).
    busy_retry_seconds: tuple[float, float] = (1.0, 5.0)
    #: Range of the pause before trying again while an API refuses our credentials (not a retry either).
    auth_wait_seconds: tuple[float, float] = (50.0, 70.0)

    # --- hooks for subclasses ------------------------------------------------------------------

    def record_of(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[str, str]:
        """The (kind, key) a call is about; the default reads ``(kind, key, ...)`` or ``kind=, key=``."""
        kind = kwargs.get("kind", args[0] if len(args) > 0 else None)
        key = kwargs.get("key", args[1] if len(args) > 1 else None)
        if kind is None or key is None:
            raise ValueError(f"{self.name}: cannot tell which record the call is about")
        return str(kind), str(key)

    # --- the policy ----------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.request.called_directly:
            return super().__call__(*args, **kwargs)
        settings = get_settings()
        client = get_redis()
        kind, key = self.record_of(args, kwargs)
        counter = namespaced_key("deliveries", self.request.id)
        calls: Callable[[], int] = _no_calls
        try:
            try:
                calls = self.api_call_counter()
                deliveries = self._count_delivery(client, counter)
                if deliveries - 1 > settings.max_redeliveries:
                    raise RedeliveryLimitExceeded(
                        f"delivered {deliveries} times: the worker running it was lost "
                        f"{deliveries - 1} times (max_redeliveries={settings.max_redeliveries})"
                    )
                self._mark_started()
                if self.clears_pending:
                    PendingMarkers(client).clear(kind, key, self.request.id)
                result = self.run(*args, **kwargs)
            except (Retry, Reject):
                raise
            except SyncError as exc:
                if not exc.spends_retry:
                    raise self._retry_uncounted(exc, random.uniform(*self.busy_retry_seconds)) from exc
                retry = None if exc.permanent else self._retry_unless_spent(exc, kind, key, calls())
                if retry is None:  # permanent, or retries spent
                    raise self._dead_letter_or_requeue(exc, args, kwargs, calls()) from None
                raise retry from exc
            except AuthError as exc:
                if not self._credentials_refused(exc):  # the credential works: this one resource is refused
                    raise self._dead_letter_or_requeue(exc, args, kwargs, calls()) from None
                raise self._retry_uncounted(exc, random.uniform(*self.auth_wait_seconds)) from exc
            except RETRYABLE as exc:
                retry = self._retry_unless_spent(exc, kind, key, calls())
                if retry is None:  # retries spent
                    raise self._dead_letter_or_requeue(exc, args, kwargs, calls()) from None
                raise retry from exc
            except Exception as exc:
                raise self._dead_letter_or_requeue(exc, args, kwargs, calls()) from None
        finally:
            self._end_delivery(client, counter)
        try:
            self._after_success(client, kind, key, result)
        except redis.RedisError:  # the transfer itself succeeded: never fail (or dead-letter) it for this
            logger.warning("%s[%s] %s %s: success not recorded", self.name, self.request.id, kind, key)
        return result

    def _mark_started(self) -> None:
        """The STARTED state ``task_track_started`` asks for, as Celery writes it (the pool process's pid and
        the worker's name), written inside the policy rather than before it (see ``track_started``)."""
        if self.app.conf.task_track_started and not self.ignore_result:
            self.update_state(
                state=states.STARTED, meta={"pid": os.getpid(), "hostname": self.request.hostname}
            )

    def effective_max_retries(self) -> int:
        return self.max_retries if self.max_retries is not None else get_settings().transfer_max_retries

    def api_call_counter(self) -> Callable[[], int]:
        """Start counting an attempt's API calls: the returned function gives the calls made since.

        Counted by this task's API clients (``process_clients``: a set handed out per task from the
        process's pool and cleared on hand-out, so neither a gevent pool nor threads ever mix two transfers'
        calls), the ones every transfer uses; every request sent
        counts, the call-level retries of a 5xx included. A task that calls an API some other way
        overrides this.

        It only reads clients that exist (``cached_clients``) and never builds them: building them at the
        start of every delivery moved work ahead of the delivery count, and in the Redis-kill chaos
        scenario a transfer then ended before it could hand its message back (a record was lost).
        Clients built during the attempt count from zero."""
        from tasks.sync.connections import cached_clients  # the engine's clients, if built already

        at_start = cached_clients()
        start = at_start.call_count() if at_start is not None else 0

        def calls() -> int:
            now = cached_clients()
            if now is None:
                return 0
            return now.call_count() if now is not at_start else max(0, now.call_count() - start)

        return calls

    def _count_delivery(self, client: redis.Redis, counter: str) -> int:
        with client.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, DELIVERY_COUNTER_TTL_SECONDS)
            deliveries, _ = pipe.execute()
        return int(deliveries)

    @staticmethod
    def _end_delivery(client: redis.Redis, counter: str) -> None:
        try:
            client.delete(counter)
        except redis.RedisError:  # the counter expires on its own; never mask the task's own outcome
            logger.warning("could not clear the delivery counter %s", counter)

    def _retry_unless_spent(self, exc: BaseException, kind: str, key: str, api_calls: int) -> Retry | None:
        """Schedule the next attempt and return the Retry to raise; None when the retries are spent.
        ``api_calls``: the calls the failed attempt made (for the retry event)."""
        settings = get_settings()
        max_retries = self.effective_max_retries()
        retries = self.request.retries
        if retries >= max_retries:
            return None
        countdown = retry_countdown(
            retries,
            base=settings.retry_backoff_base_seconds,
            cap=settings.retry_backoff_max_seconds,
            retry_after=exc.retry_after if isinstance(exc, RateLimitedError) else None,
        )
        logger.warning(
            "%s[%s] %s %s: %s; retry %d/%d in %.1fs",
            self.name,
            self.request.id,
            kind,
            key,
            type(exc).__name__,
            retries + 1,
            max_retries,
            countdown,
        )
        try:
            record_event(
                get_redis(),
                kind=kind,
                key=key,
                outcome="retrying",
                task_id=self.request.id,
                api_calls=api_calls,
                retry_in=f"{countdown:.3f}",
                attempt=retries + 1,
                error_class=type(exc).__name__,
                max_retries=max_retries,
                reason=retry_reason(exc),
            )
        except redis.RedisError:
            logger.warning("could not record the retry event of %s", self.request.id)
        try:
            self.retry(exc=exc, countdown=countdown, max_retries=max_retries)
        except Retry as retry:
            return retry
        except Reject as rejected:
            # Task.retry could not publish the retry (the broker is unreachable) and asks Celery to drop
            # this message; keep it instead.
            raise self._requeue(f"could not publish retry {retries + 1}", rejected.reason, exc) from None
        raise AssertionError("Task.retry returned instead of raising Retry")

    def _retry_uncounted(self, exc: BaseException, countdown: float) -> Retry:
        """Send the same task id again after ``countdown`` without spending one of its retries."""
        signature = self.signature_from_request(
            self.request, countdown=countdown, retries=self.request.retries
        )
        try:
            signature.apply_async()
        except Exception as publish_error:
            raise self._requeue("could not re-queue a busy record", publish_error, exc) from None
        logger.info("%s[%s] busy (%s); again in %.1fs", self.name, self.request.id, exc, countdown)
        return Retry(exc=exc, when=countdown, sig=signature)

    def _requeue(self, what: str, cause: object, failure: BaseException) -> Reject:
        """The Reject that puts this very message back (see the module docstring).

        It is raised ``from None``: the log line below names the task's own failure and why the message
        could not be handled, and a chain of Redis tracebacks would make the worker child's report to its
        parent larger than a pipe holds. During an outage the parent does not read that pipe while it
        reconnects, so the child blocks mid-write, and a time-limit signal arriving then leaves a torn
        message that stops the whole worker (seen in tests/tasks/test_redis_outage.py).
        """
        logger.warning(
            "%s[%s] %s after %s: %s (%s: %s); the message goes back to the queue",
            self.name,
            self.request.id,
            what,
            type(failure).__name__,
            failure,
            type(cause).__name__,
            cause,
        )
        return Reject(f"{what}: {type(cause).__name__}", requeue=True)

    def _dead_letter_or_requeue(
        self, exc: BaseException, args: Sequence[Any], kwargs: Mapping[str, Any], api_calls: int
    ) -> DeadLettered:
        """Dead-letter a final failure now, while the original exception is at hand; returns the
        :class:`DeadLettered` to raise in its place (with its traceback: see the module docstring).

        Done here rather than in ``on_failure`` because only here can a store that is down still change
        the message's fate: Celery acks a failed task's message whatever ``on_failure`` manages, so a
        failure that could not be recorded would be lost. Instead it is requeued and fails again later.
        """
        self.request.sync_failure = exc
        try:
            entry_id = self._record_failure(
                exc, self.request.id, args, kwargs, traceback.format_exc(), api_calls=api_calls
            )
        except redis.RedisError as store_error:
            raise self._requeue("could not dead-letter the failure", store_error, exc) from None
        self.request.sync_dead_letter = entry_id
        return DeadLettered.of(exc, entry_id).with_traceback(exc.__traceback__)

    def _credentials_refused(self, error: AuthError) -> bool:
        """Whether ``error`` means our credentials for its API are bad (one probe call decides), recorded
        for ``/status``. Unsure (the probe could not get through) counts as bad: waiting loses nothing."""
        from tasks.credentials import probe, probes
        from tasks.sync.connections import process_clients  # the engine's clients; only needed here

        api = error.api
        outcome = probe(probes(process_clients())[api])
        if outcome is None:
            return False
        try:
            if CredentialStatus(get_redis()).record(api, "refused", error.message):
                logger.error(
                    "%s refused our credentials (%s: %s); transfers wait until they work again",
                    api,
                    error.status,
                    error.message,
                )
        except redis.RedisError:
            logger.warning("could not record that %s refused our credentials", api)
        return True

    def _after_success(self, client: redis.Redis, kind: str, key: str, result: Any) -> None:
        CredentialStatus(client).accepted()
        fields = result_fields(result)
        if fields is not None:
            record_event(client, kind=kind, key=key, task_id=self.request.id, **fields)
        store = DeadLetterStore(client)
        closed = store.resolve_for_record(kind, key, task_name=self.name, task_id=self.request.id)
        if closed:
            logger.info("%s %s succeeded: closed dead-letter entries %s", kind, key, ", ".join(closed))
            self._note_resolved(store, closed, kind, key)

    def _note_resolved(self, store: DeadLetterStore, closed: Sequence[str], kind: str, key: str) -> None:
        """Mark the last failed task of each entry this success closed as such in Flower (module docstring).
        Earlier failures folded into the entry were replayed, and their note says as what (dlq_tasks)."""
        for entry_id in closed:
            entry = store.get(entry_id)
            if entry is None or entry["task_id"] == self.request.id:
                continue
            note = f"{entry['status']}: {kind} {key} transferred by task {self.request.id}"
            note_on_task(
                self.app,
                entry["task_id"],
                RESOLVED_EVENT,
                f"{note} (dead letter {entry_id})",
                hostname=entry.get("worker"),
            )

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """Final failure: dead-letter what ``__call__`` has not (a hard time limit, reported by the
        worker's main process; a redelivery past the cap). There, Redis errors can only be logged."""
        request = self.request
        if getattr(request, "sync_dead_letter", None):
            return
        exc = original_exception(exc, getattr(request, "sync_failure", None))
        try:
            self._record_failure(exc, task_id, args, kwargs, getattr(einfo, "traceback", None))
        except redis.RedisError:
            logger.exception(
                "%s[%s] %s failed and could NOT be dead-lettered", self.name, task_id, list(args or [])
            )

    def _record_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: Any,
        kwargs: Any,
        traceback_text: str | None,
        *,
        api_calls: int = 0,
    ) -> str:
        """Write the dead-letter entry (and its event) for a final failure; returns the entry id."""
        request = self.request
        args = list(args or [])
        kwargs = dict(kwargs or {})
        try:
            kind, key = self.record_of(args, kwargs)
        except Exception:
            kind, key = "unknown", "unknown"
        delivery_info = getattr(request, "delivery_info", None) or {}
        failure = Failure(
            task_name=self.name,
            task_id=task_id,
            args=args,
            kwargs=kwargs,
            queue=delivery_info.get("routing_key") or queue_for(self.name),
            kind=kind,
            key=key,
            classification=classify(exc),
            attempts=(getattr(request, "retries", None) or 0) + 1,
            worker=getattr(request, "hostname", None) or socket.gethostname(),
            traceback=traceback_text,
            **failure_details(exc),
        )
        client = get_redis()
        entry = DeadLetterStore(client).record_failure(failure)
        try:
            record_event(
                client,
                kind=kind,
                key=key,
                outcome="dead-lettered",
                task_id=task_id,
                api_calls=api_calls,
                entry_id=entry["id"],
                error_class=failure.error_class,
            )
        except redis.RedisError:
            logger.warning("could not record the dead-letter event of %s", task_id)
        logger.error(
            "%s[%s] %s %s dead-lettered as %s (entry %s): %s: %s",
            self.name,
            task_id,
            kind,
            key,
            failure.classification,
            entry["id"],
            failure.error_class,
            failure.error,
        )
        return str(entry["id"])


def note_on_task(app: Any, task_id: str, event: str, note: str, *, hostname: str | None = None) -> None:
    """Show ``note`` as the ``result`` of task ``task_id`` in Flower, without changing its state.

    A custom task event (``event``, e.g. ``task-resolved``): Celery's event state (which Flower keeps)
    merges the fields of an event whose state ranks below the task's, FAILURE's included, and keeps the
    state. ``hostname`` is the worker the event is sent as, which Flower shows as the task's worker: the
    one that ran it, when known. Best effort: a broker that cannot take the event only loses the note."""
    try:
        with app.events.default_dispatcher(hostname=hostname) as dispatcher:
            dispatcher.send(event, uuid=task_id, result=note)
    except Exception as error:  # the task's own outcome never depends on a note for Flower
        logger.warning("could not send %s for task %s: %s: %s", event, task_id, type(error).__name__, error)
