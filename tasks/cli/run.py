"""`rbsync run`: the whole service on this machine, printing every transfer as it happens.

Without API tokens it runs against the built-in sandboxes (seeded, with webhooks registered and, by
default, a little scripted activity so something happens); with all three tokens configured (environment
or .env) it runs against the real APIs and starts no sandbox. A local Redis is started when none answers.
A receiver, worker, beat or Flower that exits on its own is restarted after a backoff (one console line per
restart); only one that keeps exiting stops the run. Ctrl-C or SIGTERM stops everything cleanly.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from tasks.cli.processes import ChildExited, RestartPolicy
from tasks.cli.stack import Stack, StackError, StackOptions, read_dotenv, real_api_mode

OUTCOME_COLOURS = {
    "created": "green",
    "replaced": "cyan",
    "unchanged": None,
    "barred": "yellow",
    "ignored": None,
    "retrying": "yellow",
    "dead-lettered": "red",
}


def format_event(event: Mapping[str, Any]) -> str:
    """One line per finished transfer: time, kind, key, outcome, e-conomic number, API calls."""
    at = event.get("at")
    clock = time.strftime("%H:%M:%S", time.localtime(at)) if at else "--:--:--"
    outcome = str(event.get("outcome") or "?")
    economic = event.get("economic_key")
    target = f"e-conomic {economic}" if economic else ""
    if outcome == "dead-lettered" and event.get("entry_id"):
        target = f"dead letter {event['entry_id']}"
    elif outcome == "retrying" and event.get("retry_in") is not None:
        target = f"retry in {float(event['retry_in']):.0f} s"
    calls = int(event.get("api_calls") or 0)
    kind, key = str(event.get("kind", "?")), str(event.get("key", "?"))
    line = f"{clock}  {kind:<15} {key:<20} {outcome:<13} {target:<24} {calls} calls"
    if event.get("via"):
        line += f" (needed by {str(event['via']).replace(':', ' ', 1)})"
    return line


class _Stop(Exception):
    """Raised from the SIGTERM / SIGINT handler so the run loop unwinds and stops everything in order."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def _still_stopping(_signum: int, _frame: object) -> None:
    click.echo("rbsync: still stopping (the worker finishes its current transfer) ...", err=True)


@click.command("run")
@click.option(
    "--simulate/--no-simulate",
    default=True,
    show_default=True,
    help="Sandbox mode: create and update products in the Rackbeat sandbox every few seconds.",
)
@click.option("--interval", default=4.0, show_default=True, help="Seconds between simulated changes.")
@click.option(
    "--seed-size",
    default="small",
    show_default=True,
    help="Sandbox mode: size of the seeded Rackbeat company (sandbox.seed preset: tiny, small, medium).",
)
@click.option(
    "--web-port",
    type=int,
    default=None,
    help="Port of the webhook receiver (default: from RBSYNC_PUBLIC_URL, else any free port).",
)
@click.option("--concurrency", default=2, show_default=True, help="Celery worker processes.")
@click.option(
    "--sandbox/--real",
    "force_sandbox",
    default=None,
    help="Override the mode chosen from the configured tokens.",
)
@click.option(
    "--flower-port",
    type=int,
    default=5555,
    show_default=True,
    help="Start Flower here when FLOWER_BASIC_AUTH=user:password is set (environment or .env); 0: never.",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the processes' logs here (default: a temporary directory, removed at exit).",
)
def run_command(
    simulate: bool,
    interval: float,
    seed_size: str,
    web_port: int | None,
    concurrency: int,
    force_sandbox: bool | None,
    flower_port: int,
    log_dir: Path | None,
) -> None:
    """Start the whole service (sandboxes unless API tokens are configured) and print every transfer."""
    try:
        sandbox = not real_api_mode(read_dotenv()) if force_sandbox is None else force_sandbox
    except StackError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    options = StackOptions(
        sandbox=sandbox,
        web_port=web_port,
        concurrency=concurrency,
        seed_size=seed_size if sandbox else None,
        log_dir=log_dir,
        worker_loglevel="INFO",
        flower_port=flower_port or None,
        restart=RestartPolicy(),
        report=_report_restart,
    )
    # Both installed explicitly: a shell starts background jobs with SIGINT ignored, and `kill -INT` should
    # still stop us cleanly.
    previous = {signum: signal.signal(signum, _raise_stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    stack = Stack(options)
    simulator = None
    try:
        click.echo(
            "rbsync: starting" + (" against the sandboxes" if sandbox else " against the real APIs") + " ..."
        )
        stack.start()
        click.echo("")
        for line in stack.endpoints.lines():
            click.echo("  " + line)
        click.echo("")
        if sandbox and simulate:
            simulator = _start_simulator(stack, interval)
        click.echo("Transfers (Ctrl-C to stop):")
        _print_transfers(stack)
    except (KeyboardInterrupt, _Stop):
        click.echo("\nrbsync: stopping ...")
    except (StackError, ChildExited) as error:
        stack.keep_logs = True
        click.echo(f"rbsync: {str(error).removeprefix('rbsync: ')}", err=True)
        if stack.has_logs():
            click.echo(f"rbsync: the processes' logs are kept in {stack.endpoints.log_dir}", err=True)
        sys.exit(1)
    finally:
        # A second Ctrl-C must not cut the clean-up short (that would orphan the worker and beat).
        for signum in previous:
            signal.signal(signum, _still_stopping)
        if simulator is not None:
            simulator.stop()
            simulator.client.close()
        stack.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo("rbsync: stopped")


def _report_restart(line: str) -> None:
    """The supervisor's line, e.g. "worker exited with status 1; restarting in 2 s (restart 3)"."""
    click.echo(click.style(f"{time.strftime('%H:%M:%S')}  {line}", fg="yellow"))


def _start_simulator(stack: Stack, interval: float) -> Any:
    from tasks.cli.activity import ActivitySimulator

    client = stack.user_client()
    click.echo(
        f"Simulated activity: a product change in the Rackbeat sandbox every {interval:g} s"
        " (--no-simulate to turn off)"
    )
    return ActivitySimulator(
        client, interval=interval, report=lambda line: click.echo(click.style(line, dim=True))
    ).start()


def _print_transfers(stack: Stack) -> None:
    from tasks.events import follow_events
    from tasks.redis import get_redis

    for item in follow_events(get_redis(), after="$", block_ms=1000):
        # Every time round, not only when idle: events keep coming from the worker while beat or the
        # receiver is the child that gave up.
        stack.check()
        if item is None:
            continue
        _stream_id, event = item
        if not worth_a_line(event):
            continue
        colour = OUTCOME_COLOURS.get(str(event.get("outcome")))
        click.echo(click.style(format_event(event), fg=colour) if colour else format_event(event))


def worth_a_line(event: Mapping[str, Any]) -> bool:
    """Every transfer gets a line; a dependency checked inside one only when it had to be written."""
    return not event.get("via") or event.get("outcome") not in {"unchanged", "ignored"}
