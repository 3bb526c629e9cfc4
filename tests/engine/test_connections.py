"""The shared rate budgets the transfer clients draw from leave the configured headroom unused."""

from __future__ import annotations

from tasks.settings import Settings
from tasks.sync.connections import build_clients, usable_budget


def test_usable_budget_keeps_the_headroom_free() -> None:
    assert usable_budget(480, 0.05) == 456
    assert usable_budget(10_000, 0.05) == 9_500
    assert usable_budget(480, 0.0) == 480
    assert usable_budget(10, 0.99) == 1  # never a budget of zero


def test_transfer_clients_are_metered_below_the_published_limits(service_settings: Settings) -> None:
    settings = service_settings.model_copy(
        update={
            "rackbeat_requests_per_minute": 480,
            "economic_bucket_size": 10_000,
            "rate_limit_headroom": 0.05,
        }
    )
    clients = build_clients(settings)
    try:
        assert (clients.rackbeat.limiter.capacity, clients.rackbeat.limiter.window_seconds) == (456, 60.0)
        assert clients.economic.limiter.capacity == 9_500
    finally:
        clients.rackbeat.close()
        clients.economic.close()
