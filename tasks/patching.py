"""Installing a correction to a third-party method once (tasks/kombu_fixes.py, tasks/pool_guard.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_MARK = "_rbsync_corrected"


def correct_once(
    owner: Any, name: str, correction: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> bool:
    """Replace ``owner.name`` by ``correction(original)`` unless it was replaced already; True either way."""
    original = getattr(owner, name)
    if getattr(original, _MARK, False):
        return True
    corrected = functools.wraps(original)(correction(original))
    setattr(corrected, _MARK, True)
    setattr(owner, name, corrected)
    return True
