"""`rbsync webhooks register`: point Rackbeat's webhooks for every handled event at our receiver.

Safe to run any number of times: Rackbeat updates the webhook of an existing event + URL pair, and the
token it returned the first time stays stored in Redis. Tokens are never printed, only what happened to
them.
"""

from __future__ import annotations

import click

TOKEN_OUTCOME_TEXT = {
    "stored": "token stored",
    "kept": "token kept from an earlier registration",
    "missing": "NO TOKEN: deliveries will be refused unless RBSYNC_WEBHOOK_TOKEN is set",
}


@click.group("webhooks")
def webhooks() -> None:
    """Rackbeat webhooks of this service."""


@webhooks.command("register")
@click.option(
    "--public-url",
    default=None,
    help="Base URL where Rackbeat reaches the receiver (default: the RBSYNC_PUBLIC_URL setting).",
)
def register(public_url: str | None) -> None:
    """Register <public_url>/webhooks/rackbeat for every event the entity registry handles."""
    from clients.errors import ApiError
    from tasks.settings import check_public_url, load_settings_or_exit
    from tasks.webhooks import receiver_url, register_from_settings

    settings = load_settings_or_exit()
    if public_url:
        settings = settings.model_copy(update={"public_url": public_url})
    check_public_url(settings)
    target = receiver_url(settings.public_url)
    click.echo(f"registering {target} with Rackbeat at {settings.rackbeat_base_url}")
    try:
        results = register_from_settings(settings)
    except ApiError as exc:
        raise click.ClickException(f"registration failed: {exc}") from None
    for result in results:
        outcome = TOKEN_OUTCOME_TEXT[result.token]
        click.echo(f"  {result.event:<28} webhook {result.webhook_id!s:<8} {outcome}")
    missing = sum(1 for result in results if result.token == "missing")
    click.echo(f"{len(results)} webhook(s) registered" + (f", {missing} without a token" if missing else ""))
    if missing and settings.webhook_token is None:
        raise SystemExit(1)
