"""Files a user attached to a supplier invoice in Rackbeat, and the routes that read them.

The reference says such a file exists and what becomes of it (/work/shared/reference/rackbeat-api.md §4.5:
"A PDF attached to the supplier invoice in Rackbeat (max 5 MB) is sent to e-conomic together with Rackbeat's
own PDF") but documents no endpoint for it (§2.2 lists none). The sandbox's choice, in the shape of the
endpoints the reference does document:

- ``GET supplier-invoices/{n}/attachments``: a list like every other (§1.2, §1.3: 206 with
  ``{"attachments": [...], "total", "pages", "limit", "page"}``, ``page``/``limit`` paging), because the
  documented sub-lists of a record (``customers/{n}/addresses``, ``customers/{n}/contacts``) are.
- ``GET supplier-invoices/{n}/attachments/{id}``: ``{"attachment": {...}}`` (§1.2 single envelope);
  sub-records are addressed by ``id`` (§1.5).
- ``GET supplier-invoices/{n}/attachments/{id}/download``: the bytes with the file's own Content-Type and
  ``Content-Disposition: attachment; filename="…"``; "download" is Rackbeat's own word for fetching a
  file (§2.2: ``orders/shipments/{id}/download``, ``reports/orders/download``), and binary answers carry
  their media type (§5.1, ``application/pdf`` for ``*.pdf``).
- One attachment: ``{"id", "filename", "mime_type", "size", "created_at", "updated_at", "self",
  "download_url"}``: snake_case like every Rackbeat field, ``size`` in bytes (so a caller can tell a file
  is too big before it downloads it), ``self`` and ``download_url`` absolute, like records' ``self``.
- Auth, the rate limit and the error bodies are those of every route under ``/api`` (the attachment routes
  are answered by ``RackbeatApi``). Only GET: the API has no way to upload, and no record of the reference
  says how a user's file arrives; tests and tools attach one with ``RackbeatSandbox.attach`` or
  ``POST /_sandbox/attachments/{resource}/{n}?filename=…`` (raw body, its Content-Type is the file's).
- Only supplier invoices (:data:`ATTACHABLE`), the one document the reference gives attachments. The
  sandbox keeps no 5 MB limit (that is Rackbeat's UI's), so a caller's own limit can be tested; attaching
  a file fires no webhook and leaves the invoice's ``updated_at`` alone (a file is not a field of the
  invoice). Deleting the invoice deletes its files.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from typing import Any

from sandbox.rackbeat import records as rec

ATTACHABLE = frozenset({"supplier-invoices"})
"""Resources whose records may carry attachments."""


@dataclass(frozen=True)
class FileBody:
    """A route's answer that is a file, not JSON."""

    content: bytes
    media_type: str
    filename: str


class Attachments:
    """The attached files, per (resource path, record key); ids are unique across all of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_record: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        self._next_id = 1

    def add(self, resource: str, key: Any, filename: str, content: bytes, mime_type: str) -> dict[str, Any]:
        now = rec.now_iso()
        with self._lock:
            stored = {
                "id": self._next_id,
                "filename": filename,
                "mime_type": mime_type,
                "size": len(content),
                "created_at": now,
                "updated_at": now,
                "content": content,
            }
            self._next_id += 1
            self._by_record.setdefault((resource, key), []).append(stored)
        return stored

    def of(self, resource: str, key: Any) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._by_record.get((resource, key), []))

    def find(self, resource: str, key: Any, attachment_id: int) -> dict[str, Any] | None:
        return next((a for a in self.of(resource, key) if a["id"] == attachment_id), None)

    def drop(self, resource: str, key: Any) -> None:
        with self._lock:
            self._by_record.pop((resource, key), None)

    def clear(self) -> None:
        with self._lock:
            self._by_record.clear()
            self._next_id = 1

    def __len__(self) -> int:
        with self._lock:
            return sum(len(files) for files in self._by_record.values())

    def snapshot(self) -> list[dict[str, Any]]:
        """JSON-safe: the bytes as base64."""
        with self._lock:
            return [
                {
                    "resource": resource,
                    "key": key,
                    **{k: v for k, v in stored.items() if k != "content"},
                    "content": base64.b64encode(stored["content"]).decode(),
                }
                for (resource, key), files in self._by_record.items()
                for stored in files
            ]

    def restore(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._by_record.clear()
            self._next_id = 1
            for row in rows:
                stored = {k: v for k, v in row.items() if k not in ("resource", "key")}
                stored["content"] = base64.b64decode(row.get("content", ""))
                self._by_record.setdefault((row["resource"], row["key"]), []).append(stored)
                self._next_id = max(self._next_id, int(stored["id"]) + 1)


def public_view(stored: dict[str, Any], record_url: str) -> dict[str, Any]:
    """An attachment as the API shows it; ``record_url`` is the absolute URL of the record it belongs to."""
    own = f"{record_url}/attachments/{stored['id']}"
    view = {k: v for k, v in stored.items() if k != "content"}
    return view | {"self": own, "download_url": f"{own}/download"}
