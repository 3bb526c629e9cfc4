"""``rbsync stock-value``: the stock-value adjustment by hand (issue 11, tasks/stock_value).

- ``rbsync stock-value run [--period P] [--dry-run]`` shows the figures of a period (the newest ended
  one by default): Rackbeat's value at its end, the value booked on the stock account, the difference, the
  accounts and the journal. ``--dry-run`` only reads. Without it the period is posted by the same task beat
  runs (``rbsync.post_stock_value``, visible in Flower) and the command waits for its answer.
- ``rbsync stock-value status`` lists what was done for each period (posted, booked, no change,
  superseded, removed) and the periods missed since the newest one.

Exit status: 0 done; 1 refused or failed (dead-lettered: ``rbsync dlq list --kind stock_value``); 2 wrong
usage or settings; 3 queued but not answered within ``--wait`` (is a worker running?).
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import click

EXIT_FAILED = 1
EXIT_NOT_FINISHED = 3


def _amount(value: Any) -> str:
    if value is None:
        return "-"
    return f"{Decimal(str(value)):,.2f}"


def _direction(difference: Decimal, stock: int | None, offset: int | None) -> str:
    if difference > 0:
        return f"debit {stock} (stock) / credit {offset} (offset): the value rose"
    if difference < 0:
        return f"debit {offset} (offset) / credit {stock} (stock): the value fell"
    return "no change: nothing is posted"


def _period_or_exit(text: str | None, adjuster: Any) -> Any:
    from tasks.stock_value.periods import parse_period

    if text is None:
        return adjuster.due().period
    try:
        return parse_period(text)
    except ValueError as error:
        click.echo(f"rbsync: --period: {error}", err=True)
        sys.exit(2)


def _adjuster() -> Any:
    from tasks.redis import get_redis
    from tasks.settings import load_settings_or_exit
    from tasks.stock_value.adjuster import Adjuster, StockValueConfig
    from tasks.sync.connections import build_clients

    settings = load_settings_or_exit()
    return Adjuster(
        build_clients(settings),
        get_redis(),
        settings.connection_id,
        StockValueConfig.from_settings(settings),
        lock_ttl_seconds=settings.transfer_time_limit_seconds,
    )


@click.group("stock-value")
def stock_value() -> None:
    """The daily / weekly / monthly stock-value voucher ("Rackbeat Justering") in e-conomic."""


@stock_value.command("run")
@click.option(
    "--period", help="2026-11-29 (daily), 2026-W48 (weekly) or 2026-11 (monthly); default: the newest ended"
)
@click.option("--dry-run", is_flag=True, help="Show the figures; post nothing.")
@click.option(
    "--wait", "wait_seconds", default=120.0, show_default=True, help="Seconds to wait for the worker."
)
def run_command(period: str | None, dry_run: bool, wait_seconds: float) -> None:
    """Show a period's figures and, without --dry-run, post its adjustment once."""
    from tasks.errors import MappingError

    adjuster = _adjuster()
    chosen = _period_or_exit(period, adjuster)
    config = adjuster.config
    zone = config.zone.key
    click.echo(
        f"stock value {chosen.id}: {chosen.first_day} .. {chosen.last_day}, "
        f"ends {chosen.end(config.zone):%Y-%m-%d %H:%M} {zone}"
    )
    state = adjuster.log.get(chosen)
    click.echo(f"  status            {_status_line(state)}")
    if dry_run:
        try:
            figures = adjuster.figures(chosen)
        except MappingError as refused:
            click.echo(f"rbsync: {refused}", err=True)
            sys.exit(EXIT_FAILED)
        _print_figures(figures.current_value, figures.booked_value, config)
        if figures.year_closed:
            click.echo(f"  accounting year   {figures.year} is closed: e-conomic will refuse the voucher")
        click.echo("dry run: nothing posted")
        return
    _post(chosen.id, wait_seconds)


def _print_figures(current: Decimal, booked: Decimal, config: Any) -> None:
    difference = current - booked
    click.echo(f"  current value     {_amount(current)}  (Rackbeat, every location at the period's end)")
    click.echo(
        f"  booked value      {_amount(booked)}  (account {config.stock_account} up to the period's end)"
    )
    click.echo(
        f"  difference        {_amount(difference)}  "
        + _direction(difference, config.stock_account, config.offset_account)
    )
    click.echo(
        "  journal           "
        + (str(config.journal) if config.journal is not None else "not set: nothing can be posted")
    )


def _status_line(state: Any) -> str:
    if state is None:
        return "not handled yet"
    voucher = f" voucher {state.voucher}" if state.voucher else ""
    extra = f" by {state.superseded_by}" if state.superseded_by else ""
    return f"{state.status}{voucher}{extra} ({state.at})"


def _post(period: str, wait_seconds: float) -> None:
    from celery.exceptions import TimeoutError as CeleryTimeout

    from tasks.stock_value.jobs import post_stock_value

    task = post_stock_value.apply_async(args=(period,))
    click.echo(f"  queued            task {task.id} (rbsync.post_stock_value in Flower)")
    try:
        answer = task.get(timeout=wait_seconds, propagate=True, disable_sync_subtasks=False)
    except CeleryTimeout:
        click.echo(
            f"rbsync: no answer within {wait_seconds:g} s; the task stays queued (is a worker running?)",
            err=True,
        )
        sys.exit(EXIT_NOT_FINISHED)
    except Exception as failed:  # the task's own failure, as Celery rebuilt it (DeadLettered names the entry)
        click.echo(f"rbsync: {type(failed).__name__}: {failed}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(
        f"  result            {answer['status']}"
        + (f" voucher {answer['voucher']}" if answer.get("voucher") else "")
    )
    if answer.get("difference") is not None:
        click.echo(f"  current value     {_amount(answer['current_value'])}")
        click.echo(f"  booked value      {_amount(answer['booked_value'])}")
        click.echo(f"  difference        {_amount(answer['difference'])}")
    for replaced in answer.get("superseded") or []:
        click.echo(f"  replaced          the unbooked voucher of {replaced}")


@stock_value.command("status")
def status_command() -> None:
    """What was done for each period, newest last, and the periods missed since."""
    adjuster = _adjuster()
    states = adjuster.log.all()
    if not states:
        click.echo("no stock-value period handled yet")
    for state in states:
        click.echo(f"{state.period:<11} {_status_line(state)}  difference {_amount(state.difference)}")
    due = adjuster.due()
    if due.state is None:
        click.echo(f"due: {due.period.id} (not handled yet)")
    if due.missed:
        click.echo("missed: " + ", ".join(p.id for p in due.missed))
