"""``rbsync startup-sync``: copy the company's e-conomic master data into Rackbeat once (issue 13,
tasks/startup).

- ``--dry-run`` prints the plan (per kind: e-conomic's records, Rackbeat's matches and how many of them
  are bound, creates, updates, the fields matched records differ in, the time at the Rackbeat budget);
  reads only. ``--json``: the plan as JSON.
- No flag: runs it in this process, with a progress bar per kind and a summary at the end. Ctrl-C stops
  it at the next document, its checkpoints intact: the same command continues it.
- ``--queue``: sends ``rbsync.startup_sync`` to the worker's ``bulk`` queue (Flower shows it) and follows
  its progress from Redis with the same bars; ``--no-wait`` returns with the task id at once.
- ``--status``: the current or last run's progress, once (``--json``: as JSON). No API call.
- ``--update-existing``: records Rackbeat already had get their mapped fields overwritten (else they are
  bound and left as they are).

Exit status: 0 done; 1 done, but Rackbeat refused records (``rbsync dlq list``); 2 cannot start (settings,
another run is running); 3 the run stopped before it was done (it continues when started again);
130 stopped by Ctrl-C (likewise).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

EXIT_REFUSED = 1
EXIT_CANNOT_START = 2
EXIT_NOT_FINISHED = 3
EXIT_CTRL_C = 130
REFRESH_SECONDS = 0.5
WAITING_HINT_SECONDS = 5.0


def _settings() -> Any:
    from tasks.settings import load_settings_or_exit

    return load_settings_or_exit()


def _console(err: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=err, highlight=False)


def _run_store(settings: Any) -> Any:
    from tasks.redis import get_redis
    from tasks.startup.state import RunStore

    return RunStore(get_redis(), settings.connection_id)


def _lock_held(settings: Any) -> bool:
    from tasks.redis import get_redis
    from tasks.startup.runner import LOCK_NAME
    from tasks.sync.locks import RecordLock

    lock = RecordLock(get_redis(), *LOCK_NAME, ttl_seconds=1, connection_id=settings.connection_id)
    return lock.owner() is not None


@click.command("startup-sync")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing to either API.")
@click.option("--queue", "queued", is_flag=True, help="Run it on the worker's bulk queue and follow it.")
@click.option("--no-wait", is_flag=True, help="With --queue: return with the task id at once.")
@click.option("--status", "show_status", is_flag=True, help="Print the current or last run's progress.")
@click.option("--update-existing", is_flag=True, help="Overwrite the mapped fields of records Rackbeat had.")
@click.option("--json", "as_json", is_flag=True, help="With --status or --dry-run: JSON for scripts.")
def startup_sync_command(
    dry_run: bool, queued: bool, no_wait: bool, show_status: bool, update_existing: bool, as_json: bool
) -> None:
    """Copy e-conomic's customers, suppliers, products, their groups, payment terms, layouts and
    employees into Rackbeat: once, resumable, safe to run twice."""
    if sum((dry_run, queued, show_status)) > 1:
        click.echo("rbsync: choose one of --dry-run, --queue and --status", err=True)
        sys.exit(EXIT_CANNOT_START)
    if no_wait and not queued:
        click.echo("rbsync: --no-wait goes with --queue", err=True)
        sys.exit(EXIT_CANNOT_START)
    if as_json and not (show_status or dry_run):
        click.echo("rbsync: --json goes with --status or --dry-run", err=True)
        sys.exit(EXIT_CANNOT_START)
    settings = _settings()
    if show_status:
        _status(settings, as_json)
    elif dry_run:
        _dry_run(settings, update_existing, as_json)
    elif queued:
        _queue(settings, update_existing, no_wait)
    else:
        _run_here(settings, update_existing)


# --- --status ---------------------------------------------------------------------------------------


def _status(settings: Any, as_json: bool) -> None:
    status = _run_store(settings).status()
    status["lock_held"] = _lock_held(settings)
    if status["state"] == "running" and not status["lock_held"]:  # killed: nobody holds its lock any more
        status["state"] = "interrupted"
        status["error"] = status["error"] or "its process is gone; start it again to continue"
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    if not status["run_id"]:
        click.echo("no start-up sync has run yet")
        return
    console = _console()
    console.print(_run_line(status))
    console.print(_summary_table(status))


def _run_line(status: dict[str, Any]) -> str:
    parts = [f"start-up sync {status['run_id']}: {status['state']}"]
    if status.get("current_kind"):
        parts.append(f"at {status['current_kind']}")
    if status.get("task_id"):
        parts.append(f"task {status['task_id']}")
    parts.append(f"started {status['started_at']}")
    if status.get("finished_at"):
        parts.append(f"ended {status['finished_at']}")
    if status.get("error"):
        parts.append(f"({status['error']})")
    return ", ".join(parts)


# --- --dry-run --------------------------------------------------------------------------------------


def _dry_run(settings: Any, update_existing: bool, as_json: bool) -> None:
    from tasks.entities import REGISTRY
    from tasks.entities.base import MappingDefaults
    from tasks.redis import get_redis
    from tasks.startup.plan import Planner
    from tasks.sync.connections import build_clients, usable_budget

    planner = Planner(
        redis_client=get_redis(),
        connection_id=settings.connection_id,
        clients=build_clients(settings),
        defaults=MappingDefaults.from_settings(settings),
        registry=REGISTRY,
        requests_per_minute=usable_budget(
            settings.rackbeat_requests_per_minute, settings.rate_limit_headroom
        ),
        update_existing=update_existing,
    )
    plan = planner.plan()
    if as_json:
        click.echo(json.dumps(plan.as_dict(), indent=2))
        return
    from rich.table import Table

    table = Table(title="Start-up sync plan (dry run: nothing is written)")
    table.add_column("kind", no_wrap=True, min_width=14)
    for column in ("e-conomic", "in Rackbeat", "matched", "bound", "create", "update"):
        table.add_column(column, justify="right")
    table.add_column("differing fields (matched records)")
    for row in plan.kinds:
        if row.note and row.total is None:
            table.add_row(row.kind, "-", "-", "-", "-", "-", "-", row.note)
            continue
        table.add_row(
            row.kind,
            str(row.total),
            str(row.in_rackbeat),
            str(row.matched),
            str(row.already_bound),
            str(row.create),
            str(row.update),
            _fields_text(row.differing_fields)
            + (f" ({row.refused} would be refused)" if row.refused else ""),
        )
    console = _console()
    console.print(table)
    console.print(
        f"{plan.rackbeat_writes} Rackbeat writes and {plan.rackbeat_reads} reads at "
        f"{plan.requests_per_minute} requests/min: about {_duration(plan.estimated_seconds)}"
        + ("" if update_existing else "; records Rackbeat has are bound and left as they are")
    )


def _fields_text(fields: dict[str, int]) -> str:
    return ", ".join(f"{name} ({count})" for name, count in fields.items()) or "-"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


# --- the run, here ----------------------------------------------------------------------------------


def _run_here(settings: Any, update_existing: bool) -> None:
    console = _console()
    with _log_through(console):
        _run_with(console, settings, update_existing)


def _run_with(console: Any, settings: Any, update_existing: bool) -> None:
    from tasks.startup.runner import AlreadyRunning
    from tasks.startup.state import DONE
    from tasks.startup.wiring import build_runner, options_from

    stop = threading.Event()
    outcome: dict[str, Any] = {}
    runner = build_runner(settings, options_from(settings, update_existing=update_existing), stop=stop)

    def work() -> None:
        try:
            outcome["report"] = runner.run()
        except AlreadyRunning as busy:
            outcome["busy"] = busy
        except BaseException as failed:  # shown by the main thread
            outcome["error"] = failed

    def on_ctrl_c(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.print("stopping at the next document (Ctrl-C again to leave at once)...")

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    worker = threading.Thread(target=work, name="startup-sync", daemon=True)
    worker.start()
    try:
        _follow(settings, console, lambda: not worker.is_alive(), task_id=None)
        worker.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    if "busy" in outcome:
        click.echo("rbsync: a start-up sync is already running (rbsync startup-sync --status)", err=True)
        sys.exit(EXIT_CANNOT_START)
    if "error" in outcome:
        error = outcome["error"]
        click.echo(f"rbsync: the start-up sync failed: {type(error).__name__}: {error}", err=True)
        sys.exit(EXIT_NOT_FINISHED)
    report = outcome["report"]
    console.print(_summary_table(report.status))
    if report.state != DONE:
        console.print(
            f"start-up sync {report.state}: {report.error or ''}\n"
            "Nothing is lost: run `rbsync startup-sync` again and it continues from its checkpoint."
        )
        sys.exit(EXIT_CTRL_C if stop.is_set() else EXIT_NOT_FINISHED)
    _exit_done(console, report.status)


def _exit_done(console: Any, status: dict[str, Any]) -> None:
    refused = sum(kind["refused"] for kind in status["kinds"])
    if refused:
        console.print(
            f"start-up sync done; Rackbeat refused {refused} record(s): see `rbsync dlq list` "
            "(`rbsync dlq retry` imports one again once fixed)"
        )
        sys.exit(EXIT_REFUSED)
    console.print("start-up sync done")


@contextmanager
def _log_through(console: Any) -> Iterator[None]:
    """Warnings (a refused record) printed above the bars instead of through them, while the run lasts:
    the handler is taken off again, so nothing else in the process (a test's next command) prints through
    it."""
    from rich.logging import RichHandler

    handler = RichHandler(console=console, show_path=False, show_time=False)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# --- --queue ----------------------------------------------------------------------------------------


def _queue(settings: Any, update_existing: bool, no_wait: bool) -> None:
    if _lock_held(settings):
        click.echo("rbsync: a start-up sync is already running (rbsync startup-sync --status)", err=True)
        sys.exit(EXIT_CANNOT_START)
    from tasks.startup_tasks import startup_sync

    task = startup_sync.apply_async(kwargs={"update_existing": update_existing})
    console = _console()
    console.print(f"queued: task {task.id} (rbsync.startup_sync on the bulk queue; Flower shows it)")
    if no_wait:
        return
    try:
        result = _follow(settings, console, task.ready, task_id=task.id)
    except KeyboardInterrupt:
        console.print(
            f"the task keeps running; follow it with `rbsync startup-sync --status` (task {task.id})"
        )
        sys.exit(EXIT_CTRL_C)
    answer = task.get(timeout=10, propagate=False) if result else None
    if isinstance(answer, dict) and answer.get("state") == "already running":
        click.echo("rbsync: a start-up sync is already running (rbsync startup-sync --status)", err=True)
        sys.exit(EXIT_CANNOT_START)
    status = _run_store(settings).status()
    console.print(_summary_table(status))
    if status["state"] != "done":
        console.print(
            f"start-up sync {status['state']}: {status.get('error') or ''}\n"
            "Run `rbsync startup-sync --queue` again and it continues from its checkpoint."
        )
        sys.exit(EXIT_NOT_FINISHED)
    _exit_done(console, status)


# --- bars and tables --------------------------------------------------------------------------------


def _follow(settings: Any, console: Any, finished: Any, *, task_id: str | None) -> bool:
    """Bars per kind from the run's progress in Redis, until `finished()`; True once finished."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    runs = _run_store(settings)
    bars: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<15}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[extra]}"),
        console=console,
        transient=False,
    ) as progress:
        waiting_since, told = time.monotonic(), False
        while True:
            done = bool(finished())
            status = runs.status()
            if task_id is None or status.get("task_id") == task_id:
                for kind in status["kinds"]:
                    _update_bar(progress, bars, kind)
            elif not told and time.monotonic() - waiting_since > WAITING_HINT_SECONDS:
                progress.console.print("waiting for a worker on the bulk queue to start it ...")
                told = True
            if done:
                return True
            time.sleep(REFRESH_SECONDS)


def _update_bar(progress: Any, bars: dict[str, Any], kind: dict[str, Any]) -> None:
    name = kind["kind"]
    if kind["total"] is None and not kind["done"]:
        if kind.get("note") and name not in bars:
            bars[name] = progress.add_task(name, total=None, rate="", extra=kind["note"], visible=True)
            progress.update(bars[name], total=0, completed=0)
        return
    total = kind["total"] if kind["total"] is not None else kind["done"]
    if name not in bars:
        bars[name] = progress.add_task(name, total=max(total, kind["done"]), rate="", extra="")
    rate = _rate(kind)
    refused = f"{kind['refused']} refused" if kind["refused"] else ""
    progress.update(
        bars[name],
        total=max(total, kind["done"]),
        completed=kind["done"],
        rate=f"{rate:.0f}/s" if rate else "",
        extra=refused,
    )


def _rate(kind: dict[str, Any]) -> float | None:
    if not kind.get("started_at") or not kind["done"]:
        return None
    from tasks.timestamps import parse_iso

    end = parse_iso(kind["finished_at"]) if kind.get("finished_at") else datetime.now(UTC)
    seconds = (end - parse_iso(kind["started_at"])).total_seconds()
    return kind["done"] / seconds if seconds > 0 else None


def _summary_table(status: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="Start-up sync")
    table.add_column("kind", no_wrap=True, min_width=14)
    for column in ("e-conomic", "done", "created", "matched", "unchanged", "updated", "refused"):
        table.add_column(column, justify="right")
    table.add_column("differing fields (matched records)")
    for kind in status["kinds"]:
        total = "-" if kind["total"] is None else str(kind["total"])
        matched = str(kind["matched"]) + (f" ({kind['bound']} bound before)" if kind["bound"] else "")
        table.add_row(
            kind["kind"],
            total,
            str(kind["done"]),
            str(kind["created"]),
            matched,
            str(kind["unchanged"]),
            str(kind["updated"]),
            str(kind["refused"]),
            kind.get("note") or _fields_text(kind["differing_fields"]),
        )
    return table
