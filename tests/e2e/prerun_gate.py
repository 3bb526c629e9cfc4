"""A test's hook in a chaos stack's worker (`ChaosSettings(worker_includes=("tests.e2e.prerun_gate",))`):
holds one transfer at Celery's `task_prerun`, before Celery writes the task's STARTED state, until the test
lets it go, so the test can take Redis away at exactly that moment.

With `CHAOS_PRERUN_GATE` naming a folder, a transfer of `kind`/`key` whose file `hold-<kind>-<key>` is there
writes `held-<kind>-<key>` (its pid) and waits (at most 60 s) until the hold file is gone. Imported by no
one else; without the variable it does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery.signals import task_prerun

GATE_ENV = "CHAOS_PRERUN_GATE"


def hold_file(folder: Path, kind: str, key: str) -> Path:
    return folder / f"hold-{kind}-{key}"


def held_file(folder: Path, kind: str, key: str) -> Path:
    return folder / f"held-{kind}-{key}"


@task_prerun.connect
def _hold(args: Any = None, **_: Any) -> None:
    folder = os.environ.get(GATE_ENV)
    if not folder or not args or len(args) < 2:
        return
    kind, key = str(args[0]), str(args[1])
    hold = hold_file(Path(folder), kind, key)
    if not hold.exists():
        return
    held_file(Path(folder), kind, key).write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while hold.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
