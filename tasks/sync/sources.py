"""Reading a record as it is now, on the side it comes from."""

from __future__ import annotations

from clients.errors import NotFoundError
from clients.rackbeat import RackbeatClient
from tasks.entities.base import EntitySpec, Record


def current_rackbeat(spec: EntitySpec, key: str, rackbeat: RackbeatClient) -> Record | None:
    """The Rackbeat record as it is now; None when Rackbeat no longer has it (404)."""
    try:
        return rackbeat.get(spec.rackbeat.resource, key, spec.rackbeat.singular)
    except NotFoundError:
        return None
