"""The legacy ``sort`` parameter (§9.2): ``field``, ``-field``, ``a,-b``, ``~field`` (alphabetical).

Strings sort case-insensitively; records without the property sort first (ascending).

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.economic.filters import getter


class SortError(ValueError):
    """A sort on an unknown or unsortable property."""


@dataclass(frozen=True)
class SortKey:
    path: str
    descending: bool
    alphabetical: bool


def parse_sort(text: str, sortable: dict[str, str]) -> list[SortKey]:
    keys: list[SortKey] = []
    for part in text.split(","):
        token = part.strip()
        descending = alphabetical = False
        while token[:1] in ("-", "~"):
            if token[0] == "-":
                descending = True
            else:
                alphabetical = True
            token = token[1:]
        if not token or token not in sortable:
            raise SortError("Could not parse query string sort parameter")
        keys.append(SortKey(token, descending, alphabetical))
    return keys


def sort_records(records: list[dict[str, Any]], keys: list[SortKey]) -> list[dict[str, Any]]:
    ordered = list(records)
    for key in reversed(keys):
        ordered.sort(key=_key_function(key), reverse=key.descending)
    return ordered


def _key_function(key: SortKey) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    get = getter(key.path)

    def extract(record: dict[str, Any]) -> tuple[int, Any]:
        value = get(record)
        if value is None:
            return (0, "")
        if key.alphabetical or isinstance(value, str):
            return (1, str(value).casefold())
        if isinstance(value, bool):
            return (1, int(value))
        return (2, value) if isinstance(value, int | float) else (1, str(value))

    return extract
