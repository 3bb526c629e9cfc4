"""Which Celery workers serve which queues, with which pool: the one place `rbsync run`, the benchmarks and
the chaos stack (and, by hand, docker-compose.yml) take the worker topology from.

- ``prefork``: one worker, every queue, ``--concurrency`` processes (the service until issue 14).
- ``gevent`` (the default): the ``transfers`` queue on ``green_processes`` gevent workers (one per core),
  each with ``green_concurrency`` greenlets in one process (a transfer spends nearly all its time waiting
  for an API answer, ~100-300 ms each on the real APIs, so a handful of processes leaves the rate budgets
  unused), and ``polls,bulk,dlq`` on a small prefork worker beside them, so a poll or a start-up sync
  batch never waits behind thousands of queued transfers and
  keeps the soft time limit that only the prefork pool enforces.

Both keep acks_late, ``task_reject_on_worker_lost`` and ``worker_prefetch_multiplier=1`` (tasks/celery.py):
a gevent worker reserves at most ``green_concurrency`` messages, which stay unacked until their transfer
returns, so a killed worker's transfers come back after the visibility timeout like a prefork worker's.
The gevent pool enforces the hard time limit (a ``gevent.Timeout`` in the task's greenlet); the soft one
is enforced for it by tasks/celery.py (``green_soft_time_limit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

POOLS = ("prefork", "gevent")
# What `rbsync run`, the harness's stacks and the benchmarks start unless told otherwise: gevent, measured
# with bench.e2e_products at 100 ms API latency (1,000 products: p99 ~22 s on gevent against ~71 s on
# prefork's 2 processes; issue 14).
DEFAULT_POOL = "gevent"
ALL_QUEUES = ("transfers", "polls", "bulk", "dlq")
GREEN_QUEUES = ("transfers",)
# Greenlets per transfers worker process: e-conomic allows ~166 calls/s and an answer takes ~0.1-0.3 s, so
# about 50 transfers in flight in all use the budget; more only queue up at the shared rate limiter.
DEFAULT_GREEN_CONCURRENCY = 25
# gevent workers on the transfers queue, each one process (one core at most) with its own greenlets: a
# transfer costs ~20-25 ms of the worker's CPU, so one process tops out near 40 transfers/s. Two (one per
# core of a 2-core machine), measured with bench.e2e_products (1,000 products, 100 ms latency, same load):
# 2 x 25 greenlets p99 21.7 s, 45.7/s; 1 x 50 p99 31.0 s, 31.9/s.
DEFAULT_GREEN_PROCESSES = 2


@dataclass(frozen=True)
class WorkerSpec:
    """One worker process to start: its name (log file, heartbeat file), queues, pool and concurrency."""

    name: str
    queues: tuple[str, ...]
    pool: str
    concurrency: int

    @property
    def heartbeat_name(self) -> str:
        return f"{self.name}.heartbeat"


def worker_specs(
    pool: str,
    concurrency: int,
    green_concurrency: int = DEFAULT_GREEN_CONCURRENCY,
    green_processes: int = DEFAULT_GREEN_PROCESSES,
) -> list[WorkerSpec]:
    """The workers of a pool choice; the first one serves the transfers queue (with gevent, the first
    `green_processes` do: ``worker``, ``worker-2``, ...)."""
    if pool not in POOLS:
        raise ValueError(f"unknown worker pool {pool!r} (choose from {', '.join(POOLS)})")
    if concurrency < 1 or green_concurrency < 1 or green_processes < 1:
        raise ValueError("a worker needs a concurrency of at least 1")
    if pool == "prefork":
        return [WorkerSpec("worker", ALL_QUEUES, "prefork", concurrency)]
    rest = tuple(queue for queue in ALL_QUEUES if queue not in GREEN_QUEUES)
    green = [
        WorkerSpec("worker" if index == 1 else f"worker-{index}", GREEN_QUEUES, "gevent", green_concurrency)
        for index in range(1, green_processes + 1)
    ]
    return [*green, WorkerSpec("worker-other", rest, "prefork", concurrency)]


def worker_argv(
    spec: WorkerSpec,
    *,
    hostname: str,
    loglevel: str = "INFO",
    includes: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> list[str]:
    """``python -m celery -A tasks worker ...`` for `spec` (``python``: the harness's interpreter)."""
    return [
        "python",
        "-m",
        "celery",
        "-A",
        "tasks",
        "worker",
        f"--pool={spec.pool}",
        f"--concurrency={spec.concurrency}",
        f"--queues={','.join(spec.queues)}",
        "--prefetch-multiplier=1",
        f"--hostname={hostname}",
        f"--loglevel={loglevel}",
        f"--include={','.join(('tasks.cli.healthcheck', *includes))}",
        *extra,
    ]
