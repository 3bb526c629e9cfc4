"""The worker topology per pool (tasks/harness/workers.py): which worker serves which queue, how."""

from __future__ import annotations

import pytest

from tasks.celery import QUEUES
from tasks.harness.workers import POOLS, worker_argv, worker_specs


def test_prefork_is_one_worker_on_every_queue() -> None:
    (only,) = worker_specs("prefork", 3)
    assert (only.name, only.pool, only.concurrency) == ("worker", "prefork", 3)
    assert set(only.queues) == set(QUEUES)


def test_gevent_runs_the_transfers_on_greenlets_and_the_rest_on_prefork() -> None:
    transfers, other = worker_specs("gevent", 2, green_concurrency=40, green_processes=1)
    assert (transfers.name, transfers.pool, transfers.concurrency, transfers.queues) == (
        "worker",
        "gevent",
        40,
        ("transfers",),
    )
    assert (other.pool, other.concurrency) == ("prefork", 2)
    assert sorted(transfers.queues + other.queues) == sorted(QUEUES)
    assert transfers.heartbeat_name != other.heartbeat_name


@pytest.mark.parametrize("pool", POOLS)
def test_every_worker_takes_one_message_at_a_time_and_writes_its_heartbeat(pool: str) -> None:
    for spec in worker_specs(pool, 2):
        argv = worker_argv(spec, hostname="h@%h", includes=("extra.module",), extra=("--without-mingle",))
        assert argv[:6] == ["python", "-m", "celery", "-A", "tasks", "worker"]
        assert f"--pool={spec.pool}" in argv and f"--concurrency={spec.concurrency}" in argv
        assert "--prefetch-multiplier=1" in argv
        assert f"--queues={','.join(spec.queues)}" in argv
        assert "--include=tasks.cli.healthcheck,extra.module" in argv
        assert argv[-1] == "--without-mingle"


def test_unknown_pools_and_empty_workers_are_refused() -> None:
    with pytest.raises(ValueError, match="threads"):
        worker_specs("threads", 2)  # no hard time limit: not an option (issue 14)
    with pytest.raises(ValueError):
        worker_specs("gevent", 2, green_concurrency=0)


def test_a_green_worker_can_ack_from_every_greenlet_at_once() -> None:
    """kombu's Redis channel opens at most 10 connections unless told otherwise; a gevent worker acks from
    up to its concurrency at once (past 10, acks failed with "Too many connections" and the messages ran
    again after the visibility timeout)."""
    from tasks.celery import build_config
    from tasks.harness.workers import DEFAULT_GREEN_CONCURRENCY
    from tasks.settings import Settings

    tokens = {"rackbeat_token": "x", "economic_app_secret_token": "x", "economic_agreement_grant_token": "x"}
    settings = Settings(_env_file=None, **tokens)  # type: ignore[arg-type, call-arg]
    transport = build_config(settings)["broker_transport_options"]
    assert transport["max_connections"] >= 4 * DEFAULT_GREEN_CONCURRENCY


def test_gevent_can_run_the_transfers_on_several_processes() -> None:
    """One process per core: a gevent worker is one process, so it uses one core at most."""
    *green, other = worker_specs("gevent", 2, green_concurrency=25, green_processes=2)
    assert [(s.name, s.pool, s.concurrency, s.queues) for s in green] == [
        ("worker", "gevent", 25, ("transfers",)),
        ("worker-2", "gevent", 25, ("transfers",)),
    ]
    assert (other.name, other.queues) == ("worker-other", ("polls", "bulk", "dlq"))
    assert len({spec.heartbeat_name for spec in [*green, other]}) == 3
    with pytest.raises(ValueError):
        worker_specs("gevent", 2, green_processes=0)


def test_gevent_is_the_default_with_one_green_process_per_core_of_a_2_core_machine() -> None:
    from tasks.harness.workers import DEFAULT_POOL

    assert DEFAULT_POOL == "gevent"
    assert [spec.pool for spec in worker_specs(DEFAULT_POOL, 2)] == ["gevent", "gevent", "prefork"]
