"""What the sandbox benchmarks share: a sandbox in its own process, a keep-alive load generator over
loopback, and one report line per scenario. (A leading underscore keeps `python -m bench` from running it.)"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tasks.harness.localredis import free_port

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def sandbox_process(kind: str, options: Sequence[str]) -> Iterator[str]:
    """`python -m sandbox <kind>` on a free port; yields its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "sandbox", kind, "--port", str(port), "--log-level", "warning", *options]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        give_up = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/_sandbox/counts", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > give_up:
                    raise SystemExit(f"the {kind} sandbox did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def hammer(
    base_url: str,
    headers: Mapping[str, str],
    threads: int,
    seconds: float,
    path_for: Callable[[int, int], str],
) -> dict[str, float]:
    """Every thread GETs `path_for(thread, i)` over its own keep-alive connection for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start_gate = threading.Barrier(threads + 1)
    stop_at = [float("inf")]

    def worker(index: int) -> None:
        with httpx.Client(base_url=base_url, headers=dict(headers), timeout=30) as client:
            client.get(path_for(index, 0))  # open the connection before the clock starts
            start_gate.wait()
            i = 0
            while time.perf_counter() < stop_at[0]:
                began = time.perf_counter()
                response = client.get(path_for(index, i))
                latencies[index].append(time.perf_counter() - began)
                errors[index] += response.status_code not in (200, 206)
                i += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = sorted(x for per_thread in latencies for x in per_thread)
    if not flat:
        return {"requests": 0, "errors": sum(errors), "rps": 0.0, "p50_ms": 0.0, "p95_ms": 0.0}
    return {
        "requests": len(flat),
        "errors": sum(errors),
        "rps": len(flat) / elapsed,
        "p50_ms": flat[len(flat) // 2] * 1000,
        "p95_ms": flat[max(int(len(flat) * 0.95) - 1, 0)] * 1000,
    }


def report(label: str, figures: Mapping[str, float], extra: str = "") -> None:
    print(
        f"{label:<40} {figures['rps']:>9.1f} req/s   p50 {figures['p50_ms']:>7.2f} ms   "
        f"p95 {figures['p95_ms']:>7.2f} ms   ({figures['requests']:.0f} requests, "
        f"{figures['errors']:.0f} errors){extra}",
        flush=True,
    )
