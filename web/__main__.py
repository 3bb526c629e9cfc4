"""``python -m web --host 0.0.0.0 --port 8000``: the webhook receiver under uvicorn.

Settings come from RBSYNC_* (and .env); a wrong or missing one stops start-up with one line naming it, and
so do credentials that either API refuses (tasks/credentials.py).
Webhooks are registered with Rackbeat in the background once the server starts, unless
``--no-register-webhooks`` is given.
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from tasks.credentials import check_credentials_or_exit
from tasks.settings import check_public_url, load_settings_or_exit
from web.app import create_app

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m web", description="rbsync webhook receiver")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument(
        "--register-webhooks",
        dest="register_webhooks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="register the receiver with Rackbeat at start-up (default: the register_webhooks_on_startup "
        "setting, true when unset)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format=LOG_FORMAT)
    settings = load_settings_or_exit()
    app = create_app(settings, register_webhooks=args.register_webhooks)
    if app.state.startup_registration is not None:
        check_public_url(settings)  # Rackbeat must be able to call what we register
    check_credentials_or_exit(settings, "receiver")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, lifespan="on")


if __name__ == "__main__":
    main()
