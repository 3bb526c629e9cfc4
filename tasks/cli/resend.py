"""``rbsync resend``: queue transfers by hand, for records whose webhook was lost (e.g. after an outage).

``rbsync resend product 1001 1002`` queues those records; ``rbsync resend --all product`` pages through
Rackbeat's list of products (1000 per page, one page in memory at a time) and queues every one. Both go
through ``tasks.transfer.enqueue_export``, so a record whose transfer is already queued is not queued
twice. The worker fetches each record when it runs, as for a webhook.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

PAGE_SIZE = 1000


def _known_kind(kind: str) -> None:
    from tasks.entities import REGISTRY

    if kind not in REGISTRY:
        click.echo(f"rbsync: unknown kind {kind!r}; valid kinds: {', '.join(sorted(REGISTRY))}", err=True)
        sys.exit(2)


class _Counts:
    queued = 0
    pending = 0

    def line(self, kind: str) -> str:
        return f"{kind}: {self.queued} queued, {self.pending} already pending"


def _queue(kind: str, keys: Iterable[str], counts: _Counts, progress: bool) -> None:
    """Queue a transfer of each key, counting what was queued and what was pending already."""
    from tasks.transfer import enqueue_export

    for key in keys:
        if enqueue_export(kind, key):
            counts.queued += 1
        else:
            counts.pending += 1
        if progress and (counts.queued + counts.pending) % PAGE_SIZE == 0:
            click.echo(f"rbsync: {counts.line(kind)} so far ...", err=True)


def _listed_keys(kind: str) -> Iterable[str]:
    """Every key of `kind` in Rackbeat, streamed page by page (only the key field is asked for)."""
    from tasks.entities import get_spec
    from tasks.polls import listed_keys
    from tasks.settings import get_settings
    from tasks.sync.connections import build_clients

    # The shared rate budget of the token applies: the workers use the same bucket.
    clients = build_clients(get_settings())
    try:
        yield from listed_keys(get_spec(kind), clients.rackbeat)
    finally:
        clients.rackbeat.close()
        clients.economic.close()


@click.command("resend")
@click.option("--all", "everything", is_flag=True, help="Every record of KIND that Rackbeat lists.")
@click.argument("kind")
@click.argument("keys", nargs=-1)
def resend_command(everything: bool, kind: str, keys: tuple[str, ...]) -> None:
    """Queue transfers of KIND records by hand (their webhooks were lost): the KEYs given, or --all.

    A record whose transfer is already queued is not queued again. Needs Redis and the service's
    settings; --all also reads Rackbeat's list of KIND (with the configured token).
    """
    _known_kind(kind)
    if everything == bool(keys):
        click.echo("rbsync: give the keys to resend, or --all (not both)", err=True)
        sys.exit(2)
    from tasks.settings import load_settings_or_exit

    load_settings_or_exit()
    import redis

    from clients.errors import ApiError

    counts = _Counts()
    try:
        _queue(kind, _listed_keys(kind) if everything else keys, counts, progress=everything)
    except (ApiError, redis.RedisError) as error:
        click.echo(f"rbsync: resend {kind} stopped: {error} ({counts.line(kind)})", err=True)
        sys.exit(1)
    click.echo(counts.line(kind))
