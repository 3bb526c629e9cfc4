"""Fixtures of the e-conomic sandbox tests about accounting years and accounts' ledgers: one server per
module, reset per test to a fresh agreement with the accounting years 2025 and 2026 (open), whatever the
machine's date. Import them into a test module: ``from tests.sandbox.economic_years import http, sandbox,
server  # noqa: F401``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.economic import EconomicSandbox
from sandbox.economic.seed import accounting_year_record
from sandbox.economic.testing import client, serve


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[EconomicSandbox, str]]:
    with serve() as running:
        yield running


@pytest.fixture
def sandbox(server: tuple[EconomicSandbox, str]) -> EconomicSandbox:
    sandbox = server[0]
    sandbox.reset()
    sandbox.load(
        {
            "accounting-years": [
                accounting_year_record("2025", "2025-01-01", "2025-12-31"),
                accounting_year_record("2026", "2026-01-01", "2026-12-31"),
            ]
        }
    )
    return sandbox


@pytest.fixture
def http(server: tuple[EconomicSandbox, str], sandbox: EconomicSandbox) -> Iterator[httpx.Client]:
    with client(server[1]) as session:
        yield session
