"""The ``rbsync`` command line. Each sub-command lives in its own module and is registered here."""

from __future__ import annotations

import click

from tasks.cli.dlq import dlq


@click.group()
def main() -> None:
    """Rackbeat <-> e-conomic sync: run it, watch it, and handle what failed."""


main.add_command(dlq)
