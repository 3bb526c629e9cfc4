"""The e-conomic polls driven by beat itself: two RedBeat beat processes and a prefork worker process, the
master poll's interval shortened by its setting (nothing is sent by hand, no time is mocked). A product
made and then changed in e-conomic reaches Rackbeat with the next polls, and only the beat holding RedBeat's
lock sends them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tasks.settings import Settings
from tests.engine.importer_support import economic_product, rackbeat_record
from tests.engine.test_exporter import forget_records
from tests.fixtures.service import wait_for
from tests.stock_value.test_stock_value_processes import Beat

POLL_SECONDS = 2


@pytest.fixture
def beats(tmp_path: Path, redis_client: redis.Redis, session_namespace: str) -> Iterator[list[Beat]]:
    started: list[Beat] = []
    yield started
    for beat in started:
        beat.stop()
    for pattern in ("redbeat:*", "economic-poll:*"):
        for name in redis_client.scan_iter(match=f"rbsync:{session_namespace}:{pattern}", count=1000):
            redis_client.delete(name)


def test_beat_polls_economic_and_a_product_made_and_changed_there_arrives(
    sandbox_settings: Settings,
    rackbeat_sandbox: Any,
    economic_sandbox: Any,
    redis_client: redis.Redis,
    session_namespace: str,
    worker_process: Any,
    beats: list[Beat],
    tmp_path: Path,
) -> None:
    forget_records(redis_client, session_namespace)
    worker = worker_process(
        products_master="economic",
        economic_master_poll_seconds=POLL_SECONDS,
        economic_orders_poll_seconds=0,
        poll_interval_seconds=0,
        deletion_sweep_interval_seconds=0,
    )
    economic_product(economic_sandbox, "BEAT-1", salesPrice=5.0)
    beats.extend(Beat(worker.settings, tmp_path / f"beat-{n}.log") for n in range(2))

    def logs() -> str:
        return f"\n{worker.log()[-2000:]}\n{beats[0].log()[-1500:]}\n{beats[1].log()[-1500:]}"

    wait_for(
        lambda: rackbeat_record(rackbeat_sandbox, "products", "BEAT-1"),
        timeout=60,
        interval=0.2,
        message=f"the product in Rackbeat{logs()}",
    )
    economic_product(economic_sandbox, "BEAT-1", salesPrice=6.5)
    wait_for(
        lambda: rackbeat_record(rackbeat_sandbox, "products", "BEAT-1")["sales_price"] == 6.5,  # type: ignore[index]
        timeout=30,
        interval=0.2,
        message=f"the change in Rackbeat{logs()}",
    )

    sending = [beat for beat in beats if "rbsync.poll_economic_master" in beat.log()]
    assert len(sending) == 1, "one beat holds RedBeat's lock and sends the poll"
    assert worker.log().count("Task rbsync.poll_economic_master[") >= 2
    assert "Task rbsync.import_record[" in worker.log()
