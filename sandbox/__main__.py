"""Command line: run one sandbox on a port.

    python -m sandbox rackbeat --port 8081 [--token T] [--requests-per-minute N] [--state FILE] [--seed N ...]
    python -m sandbox economic --port 8082 [--app-secret-token T] [--agreement-grant-token T] [...]

Every option can also come from the environment (``SANDBOX_...``, named in ``--help``); a flag wins over the
environment. Tokens are never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.common.base import BaseSandbox
from sandbox.common.faults import FaultConfig
from sandbox.common.server import serve_forever

# The seed used when a size or a record count is given without --seed (sandbox.seed.generate's default).
DEFAULT_SEED = 42
DEFAULT_SIZE = "small"

SEED_COUNTS = (
    "products",
    "lots",
    "customers",
    "suppliers",
    "orders",
    "customer_invoices",
    "supplier_invoices",
    "projects",
    "economic_orders",
    "economic_invoices",
)


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(name, default)


def _add_common(parser: argparse.ArgumentParser, default_port: int) -> None:
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host", default=_env("SANDBOX_HOST", "127.0.0.1"), help="bind address [SANDBOX_HOST]"
    )
    server.add_argument(
        "--port",
        type=int,
        default=_env("SANDBOX_PORT", default_port),
        help="TCP port, 0 = any free [SANDBOX_PORT]",
    )
    server.add_argument(
        "--state",
        metavar="FILE",
        default=_env("SANDBOX_STATE_FILE"),
        help="keep the data in FILE: loaded at start, saved after changes and at exit [SANDBOX_STATE_FILE]",
    )
    server.add_argument(
        "--log-level", default=_env("SANDBOX_LOG_LEVEL", "info"), help="uvicorn log level [SANDBOX_LOG_LEVEL]"
    )
    seed = parser.add_argument_group(
        "seed data", "preload a generated company from sandbox.seed (upserted over any --state data)"
    )
    seed.add_argument(
        "--seed",
        type=int,
        default=_env("SANDBOX_SEED"),
        help=f"random seed; a --size or a count without it uses {DEFAULT_SEED} [SANDBOX_SEED]",
    )
    seed.add_argument(
        "--size",
        default=_env("SANDBOX_SEED_SIZE"),
        help=f"size preset: tiny, small, medium, large; {DEFAULT_SIZE} when only --seed is given "
        "[SANDBOX_SEED_SIZE]",
    )
    for name in SEED_COUNTS:
        env = f"SANDBOX_SEED_{name.upper()}"
        seed.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=_env(env),
            help=f"number of {name.replace('_', ' ')} [{env}]",
        )
    faults = parser.add_argument_group("faults (change later with PUT /_sandbox/faults)")
    faults.add_argument(
        "--latency-ms",
        type=float,
        default=_env("SANDBOX_LATENCY_MS", 0),
        help="added to every answer [SANDBOX_LATENCY_MS]",
    )
    faults.add_argument(
        "--error-rate",
        type=float,
        default=_env("SANDBOX_ERROR_RATE", 0),
        help="share answered 500/502/503 [SANDBOX_ERROR_RATE]",
    )
    faults.add_argument(
        "--drop-rate",
        type=float,
        default=_env("SANDBOX_DROP_RATE", 0),
        help="share of connections dropped [SANDBOX_DROP_RATE]",
    )
    faults.add_argument(
        "--fault-seed",
        type=int,
        default=_env("SANDBOX_FAULT_SEED"),
        help="seed of the fault dice [SANDBOX_FAULT_SEED]",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Run a local emulator of the Rackbeat or the Visma e-conomic API. Admin routes live "
        "under /_sandbox/ (reset, load, counts, dump, faults, requests, stats).",
    )
    sub = parser.add_subparsers(dest="api", required=True, metavar="{rackbeat,economic}")
    rackbeat = sub.add_parser("rackbeat", help="the Rackbeat API under /api/")
    _add_common(rackbeat, 8081)
    auth = rackbeat.add_argument_group("Rackbeat")
    auth.add_argument(
        "--token",
        default=_env("SANDBOX_RACKBEAT_TOKEN", "sandbox-token"),
        help="bearer token [SANDBOX_RACKBEAT_TOKEN]",
    )
    auth.add_argument(
        "--requests-per-minute",
        type=int,
        default=_env("SANDBOX_RACKBEAT_REQUESTS_PER_MINUTE", 480),
        help="rate limit per token [SANDBOX_RACKBEAT_REQUESTS_PER_MINUTE]",
    )
    auth.add_argument(
        "--rate-limit-style",
        choices=("token-bucket", "fixed-window"),
        default=_env("SANDBOX_RACKBEAT_RATE_LIMIT_STYLE", "token-bucket"),
        help="token-bucket refills continuously; fixed-window is Laravel's throttle "
        "[SANDBOX_RACKBEAT_RATE_LIMIT_STYLE]",
    )
    auth.add_argument(
        "--account-id",
        default=_env("SANDBOX_RACKBEAT_ACCOUNT_ID", "1001"),
        help="sent as Rackbeat-Account-Id with webhooks [SANDBOX_RACKBEAT_ACCOUNT_ID]",
    )
    auth.add_argument(
        "--webhook-attempts",
        type=int,
        default=_env("SANDBOX_RACKBEAT_WEBHOOK_ATTEMPTS", 5),
        help="delivery attempts per event before giving up [SANDBOX_RACKBEAT_WEBHOOK_ATTEMPTS]",
    )
    economic = sub.add_parser("economic", help="the e-conomic REST and OpenAPI services")
    _add_common(economic, 8082)
    eco = economic.add_argument_group("e-conomic")
    eco.add_argument(
        "--app-secret-token",
        default=_env("SANDBOX_ECONOMIC_APP_SECRET_TOKEN", "sandbox-app-secret"),
        help="X-AppSecretToken [SANDBOX_ECONOMIC_APP_SECRET_TOKEN]",
    )
    eco.add_argument(
        "--agreement-grant-token",
        default=_env("SANDBOX_ECONOMIC_AGREEMENT_GRANT_TOKEN", "sandbox-grant"),
        help="X-AgreementGrantToken [SANDBOX_ECONOMIC_AGREEMENT_GRANT_TOKEN]",
    )
    eco.add_argument(
        "--bucket-size",
        type=int,
        default=_env("SANDBOX_ECONOMIC_BUCKET_SIZE", 10000),
        help="rate-limit bucket size [SANDBOX_ECONOMIC_BUCKET_SIZE]",
    )
    eco.add_argument(
        "--bucket-window-seconds",
        type=float,
        default=_env("SANDBOX_ECONOMIC_BUCKET_WINDOW_SECONDS", 60),
        help="rate-limit window [SANDBOX_ECONOMIC_BUCKET_WINDOW_SECONDS]",
    )
    return parser


def _fault_config(args: argparse.Namespace) -> FaultConfig:
    config = FaultConfig(
        latency_ms=args.latency_ms, error_rate=args.error_rate, drop_rate=args.drop_rate, seed=args.fault_seed
    )
    config.validate()
    return config


def _make_rackbeat(args: argparse.Namespace) -> BaseSandbox:
    from sandbox.rackbeat import RackbeatSandbox

    return RackbeatSandbox(
        token=args.token,
        requests_per_minute=args.requests_per_minute,
        rate_limit_style=args.rate_limit_style,
        state_file=args.state,
        account_id=args.account_id,
        webhook_max_attempts=args.webhook_attempts,
    )


def _make_economic(args: argparse.Namespace) -> BaseSandbox:
    try:
        from sandbox.economic import EconomicSandbox
    except ImportError as exc:
        raise SystemExit(f"python -m sandbox: the e-conomic sandbox is not available ({exc})") from None
    return EconomicSandbox(
        app_secret_token=args.app_secret_token,
        agreement_grant_token=args.agreement_grant_token,
        bucket_size=args.bucket_size,
        bucket_window_seconds=args.bucket_window_seconds,
        state_file=args.state,
    )


def _seed(sandbox: BaseSandbox, args: argparse.Namespace) -> str | None:
    """Load generated data when --seed, --size or a record count is given; returns a one-line summary.

    Asking for a size or a count is asking for data: without --seed it is generated from
    :data:`DEFAULT_SEED` (and the summary says so), rather than silently loading nothing."""
    overrides = {name: getattr(args, name) for name in SEED_COUNTS if getattr(args, name) is not None}
    seed = args.seed
    label = f"seed {seed}"
    if seed is None:
        if args.size is None and not overrides:
            return None
        seed = DEFAULT_SEED
        label = f"seed {seed} (default)"
    try:
        from sandbox.seed import generate
        from sandbox.seed.size import resolve_size
    except ImportError as exc:
        raise SystemExit(f"python -m sandbox: seed data is not available ({exc})") from None
    try:
        size = resolve_size(args.size or DEFAULT_SIZE).with_(**overrides)
    except (KeyError, ValueError) as exc:
        raise SystemExit(f"python -m sandbox: {exc}") from None
    data = generate(seed=seed, size=size)
    loaded = sandbox.load(data.rackbeat() if args.api == "rackbeat" else data.economic())
    return f"{label}: " + ", ".join(f"{n} {r}" for r, n in loaded.items())


MAKERS: dict[str, Callable[[argparse.Namespace], BaseSandbox]] = {
    "rackbeat": _make_rackbeat,
    "economic": _make_economic,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        fault_config = _fault_config(args)
    except ValueError as exc:
        parser.error(str(exc))
    sandbox = MAKERS[args.api](args)
    try:
        sandbox.faults.set(**{k: v for k, v in vars(fault_config).items() if v})
        summary = _seed(sandbox, args)
        if summary:
            print(summary, flush=True)
        base = "/api/" if args.api == "rackbeat" else "/"
        print(f"{args.api} sandbox on http://{args.host}:{args.port}{base} (admin: /_sandbox/)", flush=True)
        serve_forever(sandbox.app, args.host, args.port, args.log_level)
    finally:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
