"""The errors the sync engine raises itself, for every direction and with no HTTP in them.

The clients translate what an API answered into `clients.errors` (status, the API's own words); the
engine's own findings are these. Each class says what the task policy (`tasks.base.SyncTask`) does:

- `permanent`: repeating the same transfer cannot help; the record is dead-lettered at once.
- `spends_retry`: for a transient error, whether trying again counts against the task's retries.
  Waiting for another worker's lock is not a failure, so it does not.

Every error names the API the record was being written to (`api`, the *target*), the collection there
(`resource`) and, where one field is at fault, that field in the target's own spelling, so a dead-letter
entry reads the same whether an API refused the record or the engine did before any call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from clients.errors import Api


class SyncError(Exception):
    """Base of the engine's errors (see the module docstring)."""

    permanent: ClassVar[bool] = True
    spends_retry: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        api: Api | None = None,
        resource: str | None = None,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.api: Api | None = api
        self.resource = resource
        self.field_errors: dict[str, list[str]] = {k: list(v) for k, v in (field_errors or {}).items()}
        self.status: int | None = None
        """Always None: no API answered (kept so a dead-letter record has one shape for every error)."""

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by state, not by constructor arguments, so the worker's report, the result backend and
        Flower keep the real class (Celery otherwise falls back to the nearest class it can rebuild)."""
        return (_restore, (type(self), self.message, dict(self.__dict__)))


def _restore(cls: type[SyncError], message: str, state: dict[str, object]) -> SyncError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class MappingError(SyncError):
    """The record cannot become a valid document for its target (a field the target would refuse, a
    reference that cannot be resolved); nothing was sent."""

    def __init__(self, field: str, problem: str, *, api: Api, resource: str) -> None:
        target = "e-conomic" if api == "economic" else "Rackbeat"
        super().__init__(
            f"{field}: {problem} (refused before calling {target})",
            api=api,
            resource=resource,
            field_errors={field: [problem]},
        )
        self.field = field
        self.problem = problem


class DependencyCycle(MappingError):
    """Records that depend on each other in a ring can never be transferred in order."""

    def __init__(self, chain: Sequence[tuple[str, str]], *, api: Api, resource: str) -> None:
        path = " -> ".join(f"{kind}:{key}" for kind, key in chain)
        super().__init__("dependencies", f"dependency cycle {path}", api=api, resource=resource)
        self.chain = list(chain)


class RecordBusy(SyncError):
    """Another transfer holds the record's lock. Not a failure: the task tries again after a short
    pause without spending a retry. `held_for_seconds` is how long the lock can last at most (it expires
    by itself only when its holder died), so an operator reading the log knows the longest wait."""

    permanent = False
    spends_retry = False

    def __init__(self, kind: str, key: str, *, held_for_seconds: float | None = None) -> None:
        longest = f"; the lock lasts {held_for_seconds:.0f} s more at most" if held_for_seconds else ""
        super().__init__(
            f"{kind} {key} is being transferred by another worker{longest}; tried again shortly, "
            "without spending a retry"
        )
        self.kind = kind
        self.key = key
        self.held_for_seconds = held_for_seconds


class OutcomeUnknown(SyncError):
    """A write was sent and its answer lost, and the target cannot yet tell whether it happened (a
    document posted without an idempotency key the target honours). Transient: the next attempt looks
    for the document before it writes anything again."""

    permanent = False


class PostedDocumentChanged(SyncError):
    """A document already posted in the books no longer matches its source. Accounting documents are
    never rewritten by the service; an operator decides (a credit note, a correction)."""


class TotalsDiffer(SyncError):
    """The target priced the document differently from its source; nothing is booked and the draft written
    is taken back, so the books never hold a silently different invoice."""

    def __init__(self, source_total: str, target_total: str, *, api: Api, resource: str, field: str) -> None:
        problem = f"Rackbeat's total is {source_total}, e-conomic priced it {target_total}"
        super().__init__(f"{field}: {problem}", api=api, resource=resource, field_errors={field: [problem]})
        self.source_total = source_total
        self.target_total = target_total


class AttachmentTooLarge(SyncError):
    """A file attached to a document in Rackbeat is larger than the service sends along; the document went
    without it, and this error is the file's own dead letter, with the size named."""

    def __init__(self, filename: str, size: int, limit: int, *, api: Api, resource: str) -> None:
        problem = f"{filename} is {size:,} bytes, over the {limit:,} bytes a voucher attachment may have here"
        super().__init__(
            f"attachment: {problem}", api=api, resource=resource, field_errors={"attachment": [problem]}
        )
        self.filename = filename
        self.size = size
        self.limit = limit


class PeriodOutOfOrder(SyncError):
    """A stock-value period older than one the books already follow. Its adjustment, dated at its own end,
    would also move every later balance, so the newer period's value would be counted twice
    (rackbeat-api.md 4.6: no retroactive transfer; post it by hand from the "Finanslagerværdi" report)."""

    def __init__(self, period: str, newer: str) -> None:
        problem = (
            f"period {period} is older than {newer}, whose stock value the books already follow; posting "
            f"{period} now would count its difference twice from {newer} on (no retroactive transfer)"
        )
        super().__init__(
            f"period: {problem}",
            api="economic",
            resource="journals/vouchers",
            field_errors={"period": [problem]},
        )
        self.period = period
        self.newer = newer
