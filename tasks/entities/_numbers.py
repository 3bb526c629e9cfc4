"""The one rule for numbers e-conomic lets the caller choose within a range (customers, suppliers,
employees): Rackbeat's number is used when it fits, so a lost binding still finds the same record;
otherwise e-conomic assigns one, the binding records the pair, and the choice is logged."""

from __future__ import annotations

import logging
from typing import Any

from tasks.entities.base import Record

logger = logging.getLogger("tasks.entities")


def fitting_number(value: Any, maximum: int) -> int | None:
    """`value` as a number e-conomic can hold (1..maximum), or None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= maximum else None


def rackbeat_number_or_assigned(kind: str, record: Record, maximum: int) -> int | None:
    """The e-conomic key of a record of `kind`: Rackbeat's number when it fits, else None (logged)."""
    number = fitting_number(record.get("number"), maximum)
    if number is None:
        logger.info(
            "%s %r: e-conomic takes numbers 1..%d only, so it assigns one; the binding keeps the pair",
            kind,
            record.get("number"),
            maximum,
        )
    return number
