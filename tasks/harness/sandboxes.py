"""Both API sandboxes in this process, on free loopback ports, with fresh tokens each time.

The sandboxes are threads of the process that runs `rbsync run` / `rbsync demo` / a benchmark, so that
process can seed them, read their counters and check what reached e-conomic without going through HTTP;
the service's own processes (receiver, worker) reach them over HTTP like the real APIs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

# "No rate-limit pressure": buckets this large are never drained by a benchmark or a demo.
UNLIMITED_PER_MINUTE = 100_000_000


@dataclass
class StartedSandboxes:
    rackbeat: Any
    economic: Any
    servers: list[Any]
    settings_env: dict[str, str]
    # A second Rackbeat token, for writes made "as a user" (activity, demo, benchmark): they do not spend
    # the integration's request budget, just as a person working in Rackbeat's UI would not.
    user_token: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"StartedSandboxes(servers={self.servers!r})"


def start(
    *,
    rate_limits: bool = True,
    seed_size: str | None = None,
    seed_into: str = "rackbeat",
    latency_ms: float = 0,
) -> StartedSandboxes:
    """Start both sandboxes, seeding one (`seed_into`: "rackbeat", or "economic" for the start-up sync,
    which leaves Rackbeat empty) with a `sandbox.seed` preset when `seed_size` is given.

    `latency_ms` is added to every API answer of both (the faults layer's `latency_ms`, an asyncio sleep
    that holds no lock: concurrent requests wait side by side), as the real APIs take ~100-300 ms."""
    from sandbox.common.server import ServerThread
    from sandbox.economic import EconomicSandbox
    from sandbox.rackbeat import RackbeatSandbox

    rackbeat_token = secrets.token_hex(16)
    user_token = secrets.token_hex(16)
    app_secret = secrets.token_hex(16)
    grant = secrets.token_hex(16)

    rackbeat_kwargs: dict[str, Any] = {"token": rackbeat_token, "extra_tokens": [user_token]}
    economic_kwargs: dict[str, Any] = {"app_secret_token": app_secret, "agreement_grant_token": grant}
    if not rate_limits:
        rackbeat_kwargs["requests_per_minute"] = UNLIMITED_PER_MINUTE
        economic_kwargs["bucket_size"] = UNLIMITED_PER_MINUTE

    rackbeat = RackbeatSandbox(**rackbeat_kwargs)
    economic = EconomicSandbox(**economic_kwargs)
    if latency_ms:
        for sandbox in (rackbeat, economic):
            sandbox.faults.set(latency_ms=latency_ms)
    servers: list[Any] = []
    try:
        rackbeat_server = ServerThread(rackbeat.app).start()
        servers.append(rackbeat_server)
        economic_server = ServerThread(economic.app).start()
        servers.append(economic_server)
        if seed_size:
            if seed_into == "economic":
                seed_economic(economic, seed_size)
            else:
                seed_rackbeat(rackbeat, seed_size)
    except BaseException:
        for server in servers:
            server.stop()
        rackbeat.close()
        economic.close()
        raise
    env = {
        "RBSYNC_RACKBEAT_BASE_URL": f"{rackbeat_server.url}/api/",
        "RBSYNC_RACKBEAT_TOKEN": rackbeat_token,
        "RBSYNC_ECONOMIC_BASE_URL": f"{economic_server.url}/",
        "RBSYNC_ECONOMIC_OPENAPI_BASE_URL": f"{economic_server.url}/",
        "RBSYNC_ECONOMIC_APP_SECRET_TOKEN": app_secret,
        "RBSYNC_ECONOMIC_AGREEMENT_GRANT_TOKEN": grant,
    }
    return StartedSandboxes(rackbeat, economic, servers, env, user_token)


def seed_rackbeat(rackbeat: Any, size: str, seed: int = 42) -> dict[str, int]:
    """Load a generated company into the Rackbeat sandbox (no webhooks fire for seeded records)."""
    from sandbox.seed import generate

    return rackbeat.load(generate(seed=seed, size=size).rackbeat())


def seed_economic(economic: Any, size: Any, seed: int = 42) -> dict[str, int]:
    """Load a generated company into the e-conomic sandbox as e-conomic holds it (`size`: a preset name or a
    `SeedSize`), in batches, so a large one is never held whole (what `python -m sandbox economic --seed N
    --size S` loads)."""
    from collections import Counter

    from sandbox.seed import generate

    loaded: Counter[str] = Counter()
    for batch in generate(seed=seed, size=size).batches("economic"):
        loaded.update(economic.load(batch))
    return dict(loaded)


def served_requests(sandbox: Any) -> tuple[int, int]:
    """(requests served, of which rate-limited 429s) from a sandbox's request log (API routes only)."""
    entries = sandbox.request_log.entries()
    return len(entries), sum(1 for entry in entries if entry.get("status") == 429)
