"""The ``rbsync`` command line. Each sub-command lives in its own module and is registered here."""

from __future__ import annotations

import click

from tasks.cli.demo import demo_command
from tasks.cli.dlq import dlq
from tasks.cli.resend import resend_command
from tasks.cli.run import run_command
from tasks.cli.startup import startup_sync_command
from tasks.cli.stock_value import stock_value
from tasks.cli.webhooks import webhooks


@click.group()
def main() -> None:
    """Rackbeat <-> e-conomic sync: run it, watch it, and handle what failed."""


main.add_command(dlq)
main.add_command(run_command)
main.add_command(demo_command)
main.add_command(webhooks)
main.add_command(resend_command)
main.add_command(stock_value)
main.add_command(startup_sync_command)
