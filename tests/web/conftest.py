"""Fixtures for the web service tests (helpers in tests/web/support.py)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tasks.settings import Settings
from tests.web.support import WebProcess, free_port

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def web_process_factory(
    service_settings: Settings, session_namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., WebProcess]]:
    """Factory: ``make(register_webhooks=False, log_level="info", **setting_overrides)`` starts a receiver."""
    started: list[WebProcess] = []

    def make(*, register_webhooks: bool = False, log_level: str = "info", **overrides: Any) -> WebProcess:
        number = next(_numbers)
        port = free_port()
        settings = service_settings.model_copy(
            update={
                "broker_key_prefix": f"{session_namespace}:web{number}:",
                "public_url": f"http://127.0.0.1:{port}",
                **overrides,
            }
        )
        log_path = tmp_path_factory.mktemp("web") / f"web-{number}.log"
        handle = WebProcess(settings=settings, port=port, log_path=log_path)
        started.append(handle)
        return handle.start(register_webhooks=register_webhooks, log_level=log_level)

    yield make
    for handle in started:
        handle.stop()


@pytest.fixture(scope="module")
def web_process(web_process_factory: Callable[..., WebProcess]) -> WebProcess:
    """One receiver process shared by a module's tests (they use distinct record keys)."""
    return web_process_factory()
