"""The framework both API emulators build on: server runner, faults, admin, limits, persistence."""

from sandbox.common.base import BaseSandbox, Counters
from sandbox.common.faults import FaultConfig, FaultInjector, FaultMiddleware
from sandbox.common.idempotency import IdempotencyCache, IdempotencyMiddleware
from sandbox.common.persistence import StateFile
from sandbox.common.ratelimit import BucketResult, FixedWindows, TokenBuckets
from sandbox.common.requestlog import RequestLog
from sandbox.common.server import ServerThread, serve_forever

__all__ = [
    "BaseSandbox",
    "BucketResult",
    "Counters",
    "FaultConfig",
    "FaultInjector",
    "FaultMiddleware",
    "FixedWindows",
    "IdempotencyCache",
    "IdempotencyMiddleware",
    "RequestLog",
    "ServerThread",
    "StateFile",
    "TokenBuckets",
    "serve_forever",
]
