"""List queries: paging (``page``, ``limit``), sorting, filters and sparse fields, as pure functions.

Supported: ``page`` (1-based), ``limit`` (default 20, clamped to 1..1000), ``order_by`` / ``order_direction``
(ASC default), ``simple_filter[field]=value`` (exact match), ``<date field>_from`` / ``_to`` (inclusive; a
bare date as ``_to`` means the end of that day; values without an offset are UTC), boolean ``is_*`` filters,
``search`` (case-insensitive substring over the resource's search fields) and ``fields=a,b``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
DATE_RANGE_FIELDS = ("updated_at", "created_at", "invoice_date", "order_date", "booked_at", "due_date")
TRUE_WORDS = ("1", "true", "yes")

Predicate = Callable[[dict], bool]


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    limit: int = DEFAULT_LIMIT
    order_by: str | None = None
    descending: bool = False
    predicates: tuple[Predicate, ...] = ()
    fields: tuple[str, ...] = ()
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _int_param(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def parse_datetime(value: str, *, end_of_day: bool = False) -> datetime:
    """``2025-01-08``, ``2025-01-08 10:30:00`` or ISO with offset, as an aware UTC datetime."""
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    if len(text) == 10 and end_of_day:
        parsed = datetime.combine(parsed.date(), time.max)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _filter_value(raw: str) -> str:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return "1" if lowered == "true" else "0"
    return raw


def _equals(name: str, wanted: str) -> Predicate:
    wanted = _filter_value(wanted)
    return lambda record: _as_text(record.get(name)) == wanted


def _date_bound(name: str, bound: datetime, after: bool) -> Predicate:
    def check(record: dict) -> bool:
        value = record.get(name)
        if not value:
            return False
        try:
            moment = parse_datetime(str(value))
        except ValueError:
            return False
        return moment >= bound if after else moment <= bound

    return check


def _flag(name: str, wanted: bool) -> Predicate:
    return lambda record: bool(record.get(name)) is wanted


def _search(fields: tuple[str, ...], text: str) -> Predicate:
    needle = text.lower()
    return lambda record: any(needle in str(record.get(f) or "").lower() for f in fields)


def parse_list_query(params: Mapping[str, str], *, search_fields: tuple[str, ...]) -> ListQuery:
    """Turn query parameters into a :class:`ListQuery`; bad date filters become 422 errors."""
    predicates: list[Predicate] = []
    errors: dict[str, list[str]] = {}
    for name, raw in params.items():
        if name.startswith("simple_filter[") and name.endswith("]"):
            predicates.append(_equals(name[len("simple_filter[") : -1], raw))
        elif name.endswith(("_from", "_to")) and name.rsplit("_", 1)[0] in DATE_RANGE_FIELDS:
            column, side = name.rsplit("_", 1)
            try:
                bound = parse_datetime(raw, end_of_day=side == "to")
            except ValueError:
                errors[name] = [f"The {name.replace('_', ' ')} is not a valid date."]
                continue
            predicates.append(_date_bound(column, bound, after=side == "from"))
        elif name.startswith(("is_", "has_")) and raw != "":
            predicates.append(_flag(name, raw.lower() in TRUE_WORDS))
        elif name == "search" and raw:
            predicates.append(_search(search_fields, raw))
    direction = (params.get("order_direction") or "ASC").upper()
    fields = tuple(f.strip() for f in (params.get("fields") or "").split(",") if f.strip())
    return ListQuery(
        page=max(1, _int_param(params.get("page"), 1)),
        limit=min(MAX_LIMIT, max(1, _int_param(params.get("limit"), DEFAULT_LIMIT))),
        order_by=params.get("order_by") or None,
        descending=direction == "DESC",
        predicates=tuple(predicates),
        fields=fields,
        errors=errors,
    )


def pages_for(total: int, limit: int) -> int:
    """Laravel's last page: at least 1, even for an empty list."""
    return max(1, math.ceil(total / limit))


def select_fields(record: dict, fields: tuple[str, ...]) -> dict:
    """Sparse fieldsets: ``fields=number,name``; a nested form like ``locations(*)`` keeps the whole value."""
    if not fields:
        return record
    names = {f.split("(", 1)[0] for f in fields}
    return {k: v for k, v in record.items() if k in names}
