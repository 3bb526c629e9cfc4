"""``--state FILE``: a sandbox's data survives restarts.

The file is read once at start; after a change the sandbox calls :meth:`StateFile.changed`, which saves
after a short quiet period (debounced, so a bulk load writes once); :meth:`StateFile.close` saves whatever
is pending. Every write goes to a temporary file in the same directory, is fsynced, then renamed over the
old one, so a crash leaves either the old state or the new one, never half of it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1


def atomic_write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"), ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class StateFile:
    def __init__(
        self, path: str | os.PathLike[str], snapshot: Callable[[], dict], debounce_seconds: float = 0.5
    ):
        self.path = Path(path)
        self._snapshot = snapshot
        self.debounce_seconds = debounce_seconds
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self.saves = 0

    def load(self) -> dict | None:
        """The saved state, or None when there is no file yet."""
        if not self.path.exists():
            return None
        with self.path.open(encoding="utf-8") as handle:
            document = json.load(handle)
        if document.get("format") != FORMAT_VERSION:
            raise ValueError(f"{self.path}: unsupported state format {document.get('format')!r}")
        return document["state"]

    def changed(self) -> None:
        """Schedule a save after the quiet period (restarting the wait)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_seconds, self.save)
            self._timer.daemon = True
            self._timer.start()

    def save(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            atomic_write_json(self.path, {"format": FORMAT_VERSION, "state": self._snapshot()})
            self.saves += 1

    def close(self) -> None:
        """Save now if a save is pending."""
        with self._lock:
            pending = self._timer is not None
        if pending:
            self.save()

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"
