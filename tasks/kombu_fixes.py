"""Three corrections to kombu 5.7's Redis transport, all found by the invoice chaos run with Redis restarts.

**Each delivery of a message owns its own unacked entry**: a fresh delivery tag whenever kombu puts a
message back (``fresh_tag_on_restore``).

kombu's Redis transport keeps a message a worker holds in the ``unacked`` hash under its delivery tag, and
an ack or a requeue finds it there by that tag. The tag is set once, at publish, and travels inside the
message; a message put back on its queue (a requeue, a lost connection's restore, the visibility timeout)
keeps it. So two deliveries of one message share one entry, and the first delivery's late ack or requeue
acts on the second's: found by the invoice chaos run with Redis restarts, reproduced in
tests/tasks/test_broker_restores.py.

1. A transfer is running (delivery 1); the broker connection drops while Redis still answers, or its
   visibility timeout passes, and the message is restored to its queue and delivered again (delivery 2,
   same tag, a new ``unacked`` entry).
2. Delivery 1 ends and is acknowledged: the ack deletes the entry, which is now delivery 2's.
3. Delivery 2 hands its message back (``Reject(requeue=True)``: Redis went away while it retried):
   the requeue finds no entry and puts nothing back. The message is gone, and so is the transfer.

``fresh_tag_on_restore`` gives the message a new delivery tag as it is put back, inside the same Redis
transaction that takes it out of ``unacked``. Delivery 1's ack or requeue then finds no entry of its tag
and does nothing (its message is already back), and delivery 2's entry is delivery 2's alone. Celery and
kombu read the tag from the message they hold, so nothing else notices the change.

**A channel closed after its connection says so as a connection error** (``closed_connection_is_a_
connection_error``). When the worker loses the broker, kombu clears the transport's client and then closes
the channels; a channel holding unacked messages tries to put them back, needs a new Redis pool for it, and
builds it from the cleared client: ``AttributeError: 'NoneType' object has no attribute 'hostname'``. kombu
and Celery ignore connection errors there, not an ``AttributeError``, so the whole worker ended
("Unrecoverable error"). Raised as Redis's ``ConnectionError`` instead, it is what it means: the messages
cannot be put back now, stay unacked in Redis and come back after the visibility timeout, as when Redis is
down; the worker reconnects.

**A publish to one of our queues that finds no queue bound fails instead of vanishing** (``no_silent_drop``,
below).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from tasks.patching import correct_once

logger = logging.getLogger(__name__)


def fresh_tag_on_restore() -> bool:
    """Install on kombu's Redis channel (idempotent); False when kombu's Redis transport is absent."""
    try:
        from kombu.transport.redis import Channel
    except ImportError:  # pragma: no cover - the redis package is a dependency
        return False

    def correction(original: Callable[..., Any]) -> Callable[..., Any]:
        def do_restore_message(
            self: Any, payload: Any, exchange: Any, routing_key: Any, pipe: Any, leftmost: bool = False
        ) -> Any:
            properties = payload.get("properties") if isinstance(payload, dict) else None
            if isinstance(properties, dict) and "delivery_tag" in properties:
                properties["delivery_tag"] = str(uuid.uuid4())
            return original(self, payload, exchange, routing_key, pipe, leftmost)

        return do_restore_message

    return correct_once(Channel, "_do_restore_message", correction)


def closed_connection_is_a_connection_error() -> bool:
    """Install on kombu's Redis channel (idempotent); False when kombu's Redis transport is absent."""
    try:
        import redis
        from kombu.transport.redis import Channel
    except ImportError:  # pragma: no cover - the redis package is a dependency
        return False

    def correction(original: Callable[..., Any]) -> Callable[..., Any]:
        def connparams(self: Any, asynchronous: bool = False) -> Any:
            if getattr(self.connection, "client", None) is None:
                raise redis.ConnectionError(
                    "the broker connection was closed; the channel cannot reach Redis"
                )
            return original(self, asynchronous=asynchronous)

        return connparams

    return correct_once(Channel, "_connparams", correction)


def no_silent_drop(exchanges: frozenset[str]) -> bool:
    """A publish to one of ``exchanges`` that finds no queue bound to it fails instead of vanishing.

    kombu routes a message by the exchange's bindings, a Redis set, and when it finds none it writes the
    message nowhere and reports success. For our own queues that is never right (their bindings are
    declared at every start): the caller would answer a webhook 202 for a transfer that does not exist.
    Raised as a connection error, kombu's publish retry declares the queue again and retries; if that
    fails too, the caller fails (the receiver answers 503 and Rackbeat delivers again)."""
    try:
        import redis
        from kombu.transport.redis import Channel
    except ImportError:  # pragma: no cover - the redis package is a dependency
        return False

    def correction(original: Callable[..., Any]) -> Callable[..., Any]:
        def lookup(self: Any, exchange: Any, routing_key: Any, default: Any = None) -> Any:
            queues = original(self, exchange, routing_key, default)
            if not queues and exchange in exchanges:
                logger.warning(
                    "no queue bound to exchange %r in Redis; the publish fails, not dropped", exchange
                )
                raise redis.ConnectionError(
                    f"no queue is bound to exchange {exchange!r} (routing key {routing_key!r})"
                )
            return queues

        return lookup

    return correct_once(Channel, "_lookup", correction)
