"""Errors the export engine raises itself, placed in the one taxonomy of `clients.errors`.

A `MappingError` is found before any call is made (a payload e-conomic would refuse, a dependency
cycle, a required reference that cannot be resolved): it is permanent, so the task dead-letters it at
once, with the offending field named the same way an API validation error would name it.
A `RecordBusy` means another transfer holds a record's lock: transient, try again shortly.
"""

from __future__ import annotations

from collections.abc import Sequence

from clients.errors import PermanentError, TransientError


class MappingError(PermanentError):
    """The mapped payload breaks e-conomic's published rules; nothing was sent."""

    def __init__(self, field: str, problem: str, *, resource: str, method: str = "PUT") -> None:
        super().__init__(
            f"{field}: {problem} (refused before calling e-conomic)",
            api="economic",
            method=method,
            url=resource,
            status=None,
            field_errors={field: [problem]},
        )
        self.field = field
        self.problem = problem


class DependencyCycle(MappingError):
    """Records that depend on each other in a ring can never be exported in order."""

    def __init__(self, chain: Sequence[tuple[str, str]], *, resource: str) -> None:
        path = " -> ".join(f"{kind}:{key}" for kind, key in chain)
        super().__init__("dependencies", f"dependency cycle {path}", resource=resource)
        self.chain = list(chain)


class RecordBusy(TransientError):
    """Another transfer holds the record's lock; the task retries after a short backoff."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(
            f"{kind} {key} is being transferred by another worker",
            api="economic",
            method="LOCK",
            url=f"{kind}/{key}",
            status=None,
            request_sent=False,
        )
        self.kind = kind
        self.key = key
