"""ISO 8601 timestamps in UTC, as every record we keep in Redis writes and reads them (``...Z``)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime, timespec: str = "milliseconds") -> str:
    """``2026-11-30T07:00:00.000Z``: ``moment`` in UTC, ``Z`` for the offset."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """An aware datetime from ISO 8601 (``Z`` or an offset; a naive time is read as UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
