"""The shared token bucket against the real Redis (db 9, this session's namespace)."""

from __future__ import annotations

import multiprocessing
import threading
import uuid

import pytest
import redis

from clients.ratelimit import RedisTokenBucket

LONG_WINDOW = 3600.0  # refill is negligible while a test runs, so counts are exact


@pytest.fixture
def make_bucket(redis_client: redis.Redis, session_namespace: str):
    credential = f"cred-{uuid.uuid4().hex}"

    def make(capacity: int, window: float = LONG_WINDOW, api: str = "rackbeat", cred: str = credential):
        return RedisTokenBucket(redis_client, api, cred, capacity, window, namespace=session_namespace)

    return make


def _grab(redis_url: str, namespace: str, credential: str, capacity: int, attempts: int, out) -> None:
    client = redis.Redis.from_url(redis_url)
    bucket = RedisTokenBucket(client, "economic", credential, capacity, LONG_WINDOW, namespace=namespace)
    out.put(sum(1 for _ in range(attempts) if bucket.try_acquire() == 0))
    client.close()


def test_key_follows_the_contract_and_expires(make_bucket, redis_client, session_namespace) -> None:
    bucket = make_bucket(5)
    assert bucket.try_acquire() == 0
    assert bucket.key.startswith(f"rbsync:{session_namespace}:ratelimit:rackbeat:")
    assert redis_client.exists(bucket.key)
    assert 0 < redis_client.pttl(bucket.key) <= LONG_WINDOW * 2000
    assert "cred-" not in repr(bucket)


def test_threads_never_take_more_than_capacity(make_bucket) -> None:
    capacity, threads, attempts = 40, 8, 20
    bucket = make_bucket(capacity)
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(1 for _ in range(attempts) if bucket.try_acquire() == 0)
        with lock:
            granted.append(mine)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sum(granted) == capacity


def test_processes_share_one_budget(redis_url, session_namespace) -> None:
    credential = f"cred-{uuid.uuid4().hex}"
    capacity, processes, attempts = 50, 4, 30
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_grab, args=(redis_url, session_namespace, credential, capacity, attempts, out))
        for _ in range(processes)
    ]
    for p in workers:
        p.start()
    results = [out.get(timeout=60) for _ in workers]
    for p in workers:
        p.join(timeout=60)
    assert sum(results) == capacity
    assert all(p.exitcode == 0 for p in workers)


def test_waits_for_the_computed_refill_instead_of_polling(make_bucket) -> None:
    bucket = make_bucket(2, window=1.0)  # 2 tokens a second
    assert bucket.try_acquire() == 0 and bucket.try_acquire() == 0
    wait = bucket.try_acquire()
    assert 0 < wait <= 0.5 + 1e-6
    calls_before = bucket.script_calls
    assert bucket.acquire() is True
    assert 0 < bucket.last_wait <= 0.5 + 1e-6
    assert bucket.script_calls - calls_before == 1  # one reservation, one sleep, no polling


def test_waiting_processes_queue_behind_each_other(make_bucket) -> None:
    first, second = make_bucket(1, window=100.0), make_bucket(1, window=100.0)  # one token per 100 s
    assert first.reserve() == 0
    wait = second.reserve()  # the token due in ~100 s is now second's...
    assert wait is not None and 99 < wait <= 100 + 1e-6
    assert first.reserve(max_wait=150) is None  # ...so the next is due in ~200 s, not ~100 s
    assert 199 < first.last_wait <= 200 + 1e-6
    assert first.reserve(max_wait=250) is not None
    assert 299 < first.reserve() <= 300 + 1e-6


def test_acquire_gives_up_when_the_wait_exceeds_the_timeout(make_bucket) -> None:
    bucket = make_bucket(1)
    assert bucket.acquire(timeout=0) is True
    calls_before = bucket.script_calls
    assert bucket.acquire(timeout=0.05) is False
    assert bucket.script_calls - calls_before == 1
    assert bucket.last_wait > 0.05
    assert 0 <= bucket.available() < 0.01  # a refused acquire reserves nothing


def test_cost_larger_than_the_bucket_is_refused(make_bucket) -> None:
    with pytest.raises(ValueError):
        make_bucket(3).try_acquire(cost=4)


def test_penalize_makes_every_instance_wait_the_retry_after(make_bucket) -> None:
    first, second = make_bucket(100), make_bucket(100)
    other_credential = make_bucket(100, cred=f"cred-{uuid.uuid4().hex}")
    first.penalize(30)
    assert second.try_acquire() >= 29
    assert second.acquire(timeout=0.1) is False
    assert other_credential.try_acquire() == 0


def test_penalize_without_retry_after_empties_the_bucket(make_bucket) -> None:
    bucket = make_bucket(100)
    bucket.penalize(None)
    assert bucket.available() < 1
    assert bucket.try_acquire() > 0


def test_header_sync_takes_the_servers_higher_use(make_bucket) -> None:
    bucket = make_bucket(100)
    bucket.sync_from_header("token-limit-100-per-3600-seconds: 90/100")
    assert 10 <= bucket.available() < 10.5
    granted = sum(1 for _ in range(11) if bucket.try_acquire() == 0)
    assert granted == 10


def test_header_sync_never_gives_tokens_back(make_bucket) -> None:
    bucket = make_bucket(100)
    for _ in range(60):
        bucket.try_acquire()
    bucket.sync_from_header("token-limit-100-per-3600-seconds: 5/100")
    assert bucket.available() < 41


def test_header_sync_scales_a_different_server_limit(make_bucket) -> None:
    bucket = make_bucket(100)
    bucket.sync_from_header("token-limit-1000-per-60-seconds: 500/1000")
    assert 50 <= bucket.available() < 50.5
    bucket.sync_from_header("not a rate header")
    assert 50 <= bucket.available() < 50.5
