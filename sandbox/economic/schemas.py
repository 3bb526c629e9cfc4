"""e-conomic's published legacy JSON schemas (draft-03), loaded once at import time.

The folder is ``<repo>/../shared/reference/economic-schemas`` unless ``RBSYNC_SHARED_DIR`` names another
shared folder. When it is absent the sandbox still runs: write validation falls back to
:mod:`sandbox.economic.builtin_schemas` and filter/sort fields to the built-in tables there.

"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from sandbox.economic import builtin_schemas

REPO_ROOT = Path(__file__).resolve().parents[2]
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def shared_dir() -> Path:
    override = os.environ.get("RBSYNC_SHARED_DIR")
    return Path(override) if override else (REPO_ROOT.parent / "shared").resolve()


def schema_dir() -> Path:
    return shared_dir() / "reference" / "economic-schemas"


def parse_lenient(text: str) -> Any:
    """Parse JSON that may carry trailing commas (two of e-conomic's files do)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text))


def _load_all() -> dict[str, dict[str, Any]]:
    folder = schema_dir()
    if not folder.is_dir():
        return {}
    loaded: dict[str, dict[str, Any]] = {}
    for path in folder.glob("*.schema.json"):
        name = path.name[: -len(".schema.json")]
        loaded[name.lower()] = parse_lenient(path.read_text(encoding="utf-8"))
    return loaded


_FILES = _load_all()


def schemas_available() -> bool:
    return bool(_FILES)


def published(name: str) -> dict[str, Any] | None:
    """A published schema by its file name without ``.schema.json`` (case-insensitive), or None."""
    return _FILES.get(name.lower())


def write_schema(name: str) -> dict[str, Any] | None:
    """The schema that validates a write: the published one, else the built-in copy of its constraints."""
    return published(name) or builtin_schemas.WRITE_SCHEMAS.get(name.lower())


@cache
def collection_fields(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(filterable, sortable) field paths -> JSON type for a collection GET schema."""
    schema = published(name)
    if schema is None:
        table = builtin_schemas.COLLECTION_FIELDS.get(name.lower(), ({}, {}))
        return dict(table[0]), dict(table[1])
    items = schema.get("properties", {}).get("collection", {}).get("items", {})
    filterable: dict[str, str] = {}
    sortable: dict[str, str] = {}
    _walk_flags(items, "", filterable, sortable)
    return filterable, sortable


def _walk_flags(
    node: dict[str, Any], prefix: str, filterable: dict[str, str], sortable: dict[str, str]
) -> None:
    for prop, sub in (node.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        path = f"{prefix}{prop}"
        kind = sub.get("type")
        kind = kind if isinstance(kind, str) else "string"
        if sub.get("filterable") is True:
            filterable[path] = kind
        if sub.get("sortable") is True:
            sortable[path] = kind
        if kind == "object":
            _walk_flags(sub, f"{path}.", filterable, sortable)
