"""`rbsync run`: the whole service on this machine, printing every transfer as it happens.

Without API tokens it runs against the built-in sandboxes (seeded, with webhooks registered and, by
default, a little scripted activity so something happens); with all three tokens configured (environment
or .env) it runs against the real APIs and starts no sandbox. A local Redis is started when none answers.
A receiver, worker, beat or Flower that exits on its own is restarted after a backoff (one console line per
restart); only one that keeps exiting stops the run. Ctrl-C or SIGTERM stops everything cleanly.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import click

from tasks.harness.processes import ChildExited, RestartPolicy
from tasks.harness.stack import Stack, StackError, StackOptions, read_dotenv, real_api_mode
from tasks.harness.workers import DEFAULT_GREEN_CONCURRENCY, DEFAULT_GREEN_PROCESSES, DEFAULT_POOL, POOLS

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
    """One line per finished transfer: time, kind, key, outcome, e-conomic number, API calls.

    A retry says why, how far along and what the failed attempt cost: ``e-conomic 503, retry 3 of 8 in
    16 s, 4 API calls`` (the calls it made, each call-level resend of a 5xx included)."""
    at = event.get("at")
    clock = time.strftime("%H:%M:%S", time.localtime(at)) if at else "--:--:--"
    outcome = str(event.get("outcome") or "?")
    economic = event.get("economic_key")
    calls = int(event.get("api_calls") or 0)
    target = f"e-conomic {economic}" if economic else ""
    cost = f"{calls} calls"
    if outcome == "dead-lettered" and event.get("entry_id"):
        target = f"dead letter {event['entry_id']}"
    elif outcome == "retrying" and event.get("retry_in") is not None:
        target = f"retry in {float(event['retry_in']):.0f} s"
        if event.get("reason") and event.get("max_retries"):  # why, and how far along
            target = (
                f"{event['reason']}, retry {event.get('attempt')} of {event['max_retries']} "
                f"in {float(event['retry_in']):.0f} s"
            )
        target += f", {calls} API call{'' if calls == 1 else 's'}"
        cost = ""
    kind, key = str(event.get("kind", "?")), str(event.get("key", "?"))
    line = f"{clock}  {kind:<16} {key:<20} {outcome:<13} {target:<24} {cost}".rstrip()
    if event.get("via"):
        line += f" (needed by {str(event['via']).replace(':', ' ', 1)})"
    return line


class _Stop(Exception):
    """Raised from the SIGTERM / SIGINT handler so the run loop unwinds and stops everything in order."""


class _StopSignals:
    """SIGTERM and SIGINT for the whole run, from start-up to the end of the stop.

    Only the first signal raises (:class:`_Stop`, to unwind the run loop); once stopping has begun, every
    further one is only noted. A handler that could raise again, or one swapped for another after the
    first signal, left a window where a second quick signal (`timeout -s INT` sends two: to us, then to
    our process group) cut the clean-up short and orphaned the worker and beat.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.stopping = False
        self._told = False
        self._previous: dict[int, Any] = {}

    def install(self) -> _StopSignals:
        # Both installed explicitly: a shell starts background jobs with SIGINT ignored, and `kill -INT`
        # should still stop us cleanly.
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            raise _Stop(signal.Signals(signum).name)
        if not self._told:
            self._told = True
            # os.write, not click.echo: the handler may run while the main thread is inside a write to
            # the same stream, and a buffered stream refuses a re-entrant write.
            with suppress(OSError):
                os.write(2, b"rbsync: still stopping (the worker finishes its current transfer) ...\n")


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
    help="Sandbox mode: size of the seeded Rackbeat company (sandbox.seed preset: tiny, small, medium);"
    " with --startup-sync, of the e-conomic one.",
)
@click.option(
    "--startup-sync",
    is_flag=True,
    help="Sandbox mode: seed e-conomic instead of Rackbeat, leave Rackbeat empty, and run the start-up sync"
    " (rbsync startup-sync --queue, on the worker) with its progress bars before the transfers.",
)
@click.option(
    "--web-port",
    type=int,
    default=None,
    help="Port of the webhook receiver (default: from RBSYNC_PUBLIC_URL, else any free port).",
)
@click.option("--concurrency", default=2, show_default=True, help="Celery worker processes.")
@click.option(
    "--pool",
    type=click.Choice(POOLS),
    default=DEFAULT_POOL,
    show_default=True,
    help="Worker pool: prefork (one worker, --concurrency processes, every queue) or gevent (transfers on"
    f" {DEFAULT_GREEN_PROCESSES} gevent processes of {DEFAULT_GREEN_CONCURRENCY} greenlets each,"
    " polls/bulk/dlq on --concurrency prefork processes).",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0,
    help="Sandbox mode: added to every answer of both sandboxes (the real APIs take ~100-300 ms).",
)
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
    startup_sync: bool,
    pool: str,
    latency_ms: float,
) -> None:
    """Start the whole service (sandboxes unless API tokens are configured) and print every transfer."""
    try:
        sandbox = not real_api_mode(read_dotenv()) if force_sandbox is None else force_sandbox
    except StackError as error:
        click.echo(str(error), err=True)
        sys.exit(2)
    if startup_sync and not sandbox:
        click.echo(
            "rbsync: --startup-sync is for the sandboxes only;"
            " against the real APIs run `rbsync startup-sync`",
            err=True,
        )
        sys.exit(2)
    options = StackOptions(
        sandbox=sandbox,
        web_port=web_port,
        concurrency=concurrency,
        pool=pool,
        latency_ms=latency_ms if sandbox else 0,
        seed_size=seed_size if sandbox else None,
        seed_into="economic" if startup_sync else "rackbeat",
        log_dir=log_dir,
        worker_loglevel="INFO",
        flower_port=flower_port or None,
        restart=RestartPolicy(),
        report=_report_restart,
    )
    signals = _StopSignals().install()
    stack = Stack(options)
    simulator = None
    status = 0
    try:
        try:
            click.echo(
                "rbsync: starting"
                + (" against the sandboxes" if sandbox else " against the real APIs")
                + " ..."
            )
            stack.start()
            click.echo("")
            for line in stack.endpoints.lines():
                click.echo("  " + line)
            click.echo("")
            if startup_sync:
                _run_startup_sync(stack)
            if sandbox and simulate:
                simulator = _start_simulator(stack, interval)
            click.echo("Transfers (Ctrl-C to stop):")
            _print_transfers(stack)
        except (StackError, ChildExited) as error:
            status = 1
            stack.keep_logs = True
            click.echo(f"rbsync: {str(error).removeprefix('rbsync: ')}", err=True)
            if stack.has_logs():
                click.echo(f"rbsync: the processes' logs are kept in {stack.endpoints.log_dir}", err=True)
    except (KeyboardInterrupt, _Stop):
        click.echo("\nrbsync: stopping ...")
    finally:
        _stop_everything(signals, stack, simulator)
        if not status:
            click.echo("rbsync: stopped")
        # Only now: a signal after this finds nothing left to stop.
        signals.restore()
    if status:
        sys.exit(status)


def _stop_everything(signals: _StopSignals, stack: Stack, simulator: Any) -> None:
    """Stop the simulator, then the stack (its own Redis last), whatever signals come meanwhile."""
    while True:
        try:
            # From here on a signal raises nothing (see _StopSignals). The retry covers the one signal that
            # could still have raised before this line; each step below may safely run twice.
            signals.stopping = True
            if simulator is not None:
                simulator.stop()
                simulator.client.close()
            stack.stop()
            return
        except (KeyboardInterrupt, _Stop):
            continue


STARTUP_SYNC_ARGS = ("startup-sync", "--queue")


def startup_sync_argv() -> list[str]:
    """`rbsync startup-sync --queue` with this interpreter (the `rbsync` script may not be on the PATH)."""
    program = "import sys; from tasks.cli import main; sys.exit(main(prog_name='rbsync'))"
    return [sys.executable, "-c", program, *STARTUP_SYNC_ARGS]


def _run_startup_sync(stack: Stack) -> int:
    """The start-up sync as a user would start it against this stack: `rbsync startup-sync --queue` with this
    run's settings, in a child process that shares our console. The worker does the work (so it shows in
    Flower); the child follows it with its progress bars and prints the summary. Its own session: a Ctrl-C
    reaches us only, and we end it with everything else."""
    import subprocess

    click.echo("Start-up sync: e-conomic's master data into the empty Rackbeat (rbsync startup-sync --queue)")
    process = subprocess.Popen(startup_sync_argv(), env=stack.env, start_new_session=True)
    try:
        while True:
            try:
                status = process.wait(timeout=1)
                break
            except subprocess.TimeoutExpired:
                stack.check()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if status == 0:
        click.echo(click.style("rbsync: start-up sync done; the service keeps running", fg="green"))
    elif status == 1:
        click.echo(
            click.style(
                "rbsync: start-up sync done; Rackbeat refused some records (rbsync dlq list shows them);"
                " the service keeps running",
                fg="yellow",
            )
        )
    else:
        click.echo(
            click.style(
                f"rbsync: the start-up sync did not finish (exit {status}; see above; `rbsync startup-sync"
                " --queue` with this run's settings continues it); the service keeps running",
                fg="red",
            )
        )
    click.echo("")
    return status


def _report_restart(line: str) -> None:
    """The supervisor's line, e.g. "worker exited with status 1; restarting in 2 s (restart 3)"."""
    click.echo(click.style(f"{time.strftime('%H:%M:%S')}  {line}", fg="yellow"))


def _start_simulator(stack: Stack, interval: float) -> Any:
    from tasks.harness.activity import ActivitySimulator

    client = stack.user_client()
    click.echo(
        f"Simulated activity: a product change in the Rackbeat sandbox every {interval:g} s"
        " (--no-simulate to turn off)"
    )
    return ActivitySimulator(
        client, interval=interval, report=lambda line: click.echo(click.style(line, dim=True))
    ).start()


def _print_transfers(stack: Stack) -> None:
    from tasks.credentials import CredentialStatus
    from tasks.events import follow_events
    from tasks.redis import get_redis

    credentials = CredentialStatus(get_redis())
    known: dict[str, dict[str, Any]] = {}
    for item in follow_events(get_redis(), after="$", block_ms=1000):
        # Every time round, not only when idle: events keep coming from the worker while beat or the
        # receiver is the child that gave up.
        stack.check()
        current = credentials.all()
        for line in credential_changes(known, current):
            click.echo(click.style(line, fg="red" if "refuses" in line else "green"))
        known = current
        if item is None:
            continue
        _stream_id, event = item
        if not worth_a_line(event):
            continue
        colour = OUTCOME_COLOURS.get(str(event.get("outcome")))
        click.echo(click.style(format_event(event), fg=colour) if colour else format_event(event))


def credential_changes(
    before: Mapping[str, Mapping[str, Any]], now: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """A console line for each API whose credential state changed since the last look."""
    from tasks.credentials import LABEL_OF, SETTING_OF

    lines = []
    for api, state in now.items():
        previous = (before.get(api) or {}).get("state", "unknown")
        if state.get("state") == previous:
            continue
        if state.get("state") == "refused":
            lines.append(
                f"rbsync: {LABEL_OF[api]} refuses our credentials since {state.get('since')} "
                f"({state.get('detail') or 'unauthorised'}); transfers wait. Fix {SETTING_OF[api]}."
            )
        elif previous == "refused":
            lines.append(f"rbsync: {LABEL_OF[api]} accepts our credentials again; waiting transfers resume.")
    return lines


def worth_a_line(event: Mapping[str, Any]) -> bool:
    """Every transfer gets a line; a dependency checked inside one only when it had to be written."""
    return not event.get("via") or event.get("outcome") not in {"unchanged", "ignored"}
