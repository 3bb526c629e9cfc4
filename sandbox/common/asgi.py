"""Small helpers on raw ASGI scopes, for the middleware layers of both sandboxes."""

from __future__ import annotations

from typing import Any


def header(scope: dict[str, Any], name: bytes) -> str | None:
    """The first value of one request header, as text, or None; ``name`` in lower case (as ASGI gives
    names, though a server that does not is matched too)."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None
