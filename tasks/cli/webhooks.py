"""`rbsync webhooks register`: point Rackbeat's webhooks for every handled event at our receiver; with
`--economic`, e-conomic's instead (tasks.economic_webhooks).

Safe to run any number of times: Rackbeat updates the webhook of an existing event + URL pair, and the
token it returned the first time stays stored in Redis; e-conomic's webhooks are left alone when they
already say what we would write, replaced when they differ, and removed for kinds no longer imported.
Tokens are never printed, only what happened to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from tasks.settings import Settings

TOKEN_OUTCOME_TEXT = {
    "stored": "token stored",
    "kept": "token kept from an earlier registration",
    "missing": "NO TOKEN: deliveries will be refused unless RBSYNC_WEBHOOK_TOKEN is set",
}


@click.group("webhooks")
def webhooks() -> None:
    """Rackbeat webhooks of this service."""


ECONOMIC_OUTCOME_TEXT = {
    "created": "created",
    "updated": "updated",
    "unchanged": "already registered",
    "removed": "removed: these settings do not import {kind} changes",
    "not-offered": "NOT OFFERED by this agreement: {kind} changes arrive with the polls only",
    "not-imported": "skipped: these settings do not import {kind} changes",
}


@webhooks.command("register")
@click.option(
    "--public-url",
    default=None,
    help="Base URL where Rackbeat (or e-conomic) reaches the receiver (default: RBSYNC_PUBLIC_URL).",
)
@click.option(
    "--economic",
    is_flag=True,
    help="Register e-conomic's webhooks (one per event type, through its webhooks API, which needs the "
    "Superuser role) instead of Rackbeat's.",
)
def register(public_url: str | None, economic: bool) -> None:
    """Register <public_url>/webhooks/rackbeat for every event the entity registry handles, or with
    --economic <public_url>/webhooks/economic/<kind> for every kind these settings import from e-conomic."""
    from clients.errors import ApiError
    from tasks.settings import check_public_url, load_settings_or_exit
    from tasks.webhooks import receiver_url, register_from_settings

    settings = load_settings_or_exit()
    if public_url:
        settings = settings.model_copy(update={"public_url": public_url})
    if economic:
        register_economic(settings)
        return
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


def register_economic(settings: Settings) -> None:
    """`--economic`: register with e-conomic and print one line per event type."""
    from clients.errors import ApiError
    from tasks.economic_webhooks import RECEIVER_PREFIX, public_url_problem, register_economic_from_settings

    problem = public_url_problem(settings)
    if problem:
        click.echo(problem, err=True)
        raise SystemExit(2)
    if settings.economic_webhook_token is None:
        raise click.ClickException(
            "setting RBSYNC_ECONOMIC_WEBHOOK_TOKEN is unset: set it (a long random secret) for the receiver "
            "and run this again; without it every e-conomic delivery is refused"
        )
    target = settings.public_url.rstrip("/") + RECEIVER_PREFIX + "/<kind>"
    click.echo(f"registering {target} with e-conomic at {settings.economic_openapi_base_url}")
    try:
        results = register_economic_from_settings(settings)
    except ApiError as exc:
        hint = " (the webhooks API needs a grant with the Superuser role)" if exc.status == 403 else ""
        raise click.ClickException(f"registration failed: {exc}{hint}") from None
    for result in results:
        outcome = ECONOMIC_OUTCOME_TEXT[result.outcome].format(kind=result.kind)
        click.echo(f"  {result.event_type:<18} {result.kind:<9} {outcome}")
    active = sum(1 for result in results if result.outcome in ("created", "updated", "unchanged"))
    click.echo(f"{active} e-conomic webhook(s) registered; the polls stay the safety net")
