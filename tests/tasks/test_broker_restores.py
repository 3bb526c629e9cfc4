"""kombu's Redis transport under a lost broker, over the real Redis (tasks/kombu_fixes.py and the app's
transport options): a message put back gets a delivery tag of its own, a channel closed after its
connection fails as a connection error, and a restore scan cut short releases its mutex in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from kombu import Connection, Exchange, Queue

import tasks.celery  # noqa: F401  (installs the fix, as every process that imports the app does)
from tasks.kombu_fixes import closed_connection_is_a_connection_error, fresh_tag_on_restore


@pytest.fixture
def broker(redis_url: str, session_namespace: str, redis_client: redis.Redis) -> Iterator[dict[str, object]]:
    prefix = f"{session_namespace}:tags:"
    yield {"url": redis_url, "prefix": prefix}
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        redis_client.delete(*keys)


def _connection(broker: dict[str, object]) -> Connection:
    return Connection(
        str(broker["url"]),
        transport_options={"global_keyprefix": broker["prefix"], "visibility_timeout": 3600},
    )


def test_a_redelivered_message_survives_the_first_delivery_s_ack_and_its_own_requeue(
    broker: dict[str, object], redis_client: redis.Redis
) -> None:
    assert fresh_tag_on_restore(), "installed (and installing twice is harmless)"
    queue = Queue("transfers", Exchange("transfers", type="direct"), routing_key="transfers")
    prefix = str(broker["prefix"])
    with _connection(broker) as publisher:
        publisher.Producer().publish(
            {"record": 1}, exchange=queue.exchange, routing_key="transfers", declare=[queue]
        )

    first_connection, second_connection = _connection(broker), _connection(broker)
    try:
        first_channel = first_connection.channel()
        first = queue(first_channel).get(no_ack=False)
        assert first is not None
        # The first delivery's connection is lost while Redis answers: its message is restored to the queue.
        first_channel.qos.restore_unacked()
        second = queue(second_connection.channel()).get(no_ack=False)
        assert second is not None and second.payload == {"record": 1}
        assert second.delivery_tag != first.delivery_tag

        first.ack()  # the first delivery's transfer ends; its late ack
        assert redis_client.hlen(f"{prefix}unacked") == 1, "the second delivery's entry is still there"

        second.reject(requeue=True)  # the second hands its message back (its retry could not be published)
        assert redis_client.llen(f"{prefix}transfers") == 1, "the message is back on its queue, not lost"
        assert redis_client.hlen(f"{prefix}unacked") == 0
    finally:
        first_connection.release()
        second_connection.release()


def test_a_restore_scan_cut_short_by_redis_leaves_its_mutex_for_seconds_not_minutes(
    broker: dict[str, object], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kombu scans for messages past their visibility timeout under a Redis mutex; a scan that loses Redis
    cannot release it, and until it expires no worker restores anything. With the app's transport options
    it expires within UNACKED_MUTEX_EXPIRE_SECONDS."""
    from tasks.celery import UNACKED_MUTEX_EXPIRE_SECONDS, build_config
    from tasks.settings import StoreSettings

    options = build_config(StoreSettings())["broker_transport_options"]
    options = {**options, "global_keyprefix": broker["prefix"], "visibility_timeout": 1}
    queue = Queue("transfers", Exchange("transfers", type="direct"), routing_key="transfers")
    prefix = str(broker["prefix"])
    with Connection(str(broker["url"]), transport_options=options) as connection:
        connection.Producer().publish(
            {"record": 2}, exchange=queue.exchange, routing_key="transfers", declare=[queue]
        )
        channel = connection.channel()
        held = queue(channel).get(no_ack=False)
        assert held is not None
        redis_client.zadd(f"{prefix}unacked_index", {held.delivery_tag: 0})  # long past its timeout

        def redis_gone(*_: object, **__: object) -> None:
            raise redis.ConnectionError("Redis went away mid-scan")

        monkeypatch.setattr(type(channel.qos), "restore_by_tag", redis_gone)
        monkeypatch.setattr("redis.lock.Lock.release", lambda _: None)  # nor does its release reach Redis
        with pytest.raises(redis.ConnectionError):
            channel.qos.restore_visible(interval=1)

        ttl = redis_client.ttl(f"{prefix}unacked_mutex")
        assert 0 < ttl <= UNACKED_MUTEX_EXPIRE_SECONDS, f"the mutex lasts {ttl} s"


def test_a_channel_closed_after_its_connection_leaves_its_messages_unacked_with_a_connection_error(
    broker: dict[str, object], redis_client: redis.Redis
) -> None:
    """kombu clears the transport's client before it closes the channels (Connection.collect): the channel's
    attempt to put its unacked message back then fails as a connection error, which kombu and Celery
    ignore, not as the AttributeError that ended the worker; the message stays unacked in Redis."""
    assert closed_connection_is_a_connection_error()
    queue = Queue("transfers", Exchange("transfers", type="direct"), routing_key="transfers")
    prefix = str(broker["prefix"])
    connection = _connection(broker)
    try:
        connection.Producer().publish(
            {"record": 3}, exchange=queue.exchange, routing_key="transfers", declare=[queue]
        )
        channel = connection.channel()
        assert queue(channel).get(no_ack=False) is not None
        connection._do_close_transport()  # kombu's own step, as Connection.collect takes it

        with pytest.raises(connection.connection_errors):
            channel.close()

        assert redis_client.hlen(f"{prefix}unacked") == 1, "left unacked: it comes back after the timeout"
    finally:
        connection._closed = True


def test_a_publish_to_one_of_our_queues_with_no_binding_fails_instead_of_vanishing(
    broker: dict[str, object], redis_client: redis.Redis
) -> None:
    """kombu writes a message whose exchange has no queue bound nowhere and reports success; for our own
    queues that fails now (the receiver then answers 503 and Rackbeat delivers again). Other exchanges
    (Celery's events, with nobody listening) keep kombu's behaviour."""
    from tasks.celery import QUEUES
    from tasks.kombu_fixes import no_silent_drop

    assert no_silent_drop(frozenset(QUEUES))
    prefix = str(broker["prefix"])
    with _connection(broker) as connection:
        producer = connection.Producer()
        with pytest.raises(redis.ConnectionError, match="no queue is bound to exchange 'transfers'"):
            producer.publish({"record": 4}, exchange="transfers", routing_key="transfers", retry=False)
        producer.publish({"event": 1}, exchange="celeryev", routing_key="worker.heartbeat", retry=False)

        queue = Queue("transfers", Exchange("transfers", type="direct"), routing_key="transfers")
        producer.publish({"record": 4}, exchange=queue.exchange, routing_key="transfers", declare=[queue])
    assert redis_client.llen(f"{prefix}transfers") == 1, "declared, it is delivered"
