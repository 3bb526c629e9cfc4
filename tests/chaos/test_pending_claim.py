"""A delivery retried onto a pending claim that an outage left behind still transfers its record.

How `bench.chaos` found it (`redis-term`, Redis stopped while Rackbeat was still delivering): the receiver's
`enqueue_export` claimed `pending:product:<key>`, Redis stopped before the task was published, taking the
claim back failed too, and the delivery got a 503. Rackbeat delivered again 1 s and 2 s later; the second
retry met Redis back up and the claim still alive (it was in the AOF), and coalescing onto it was answered
202 with no task behind it. Now a claim older than a publish takes is known to be unconfirmed
(tasks/sync/pending.py), so the delivery queues a transfer of its own.

This test leaves that exact state on purpose (a claim whose task was never published) instead of waiting for
the race, then delivers the record the way Rackbeat's retry does.
"""

from __future__ import annotations

import time

import pytest

from bench._chaos_records import create_dependencies, deliveries, plan, tally
from bench._chaos_stack import ChaosSettings, ChaosStack
from bench.chaos import post_deliveries, settle
from tasks.sync.pending import PUBLISH_GRACE_MS, PendingMarkers

pytestmark = pytest.mark.slow

CLAIM_SECONDS = 3  # as left by the outage (the real claim lives pending_claim_seconds, 10 s by default)


def test_a_delivery_retried_onto_a_claim_an_outage_left_behind_still_transfers_its_record() -> None:
    with ChaosStack(ChaosSettings(), label="chaos-claim") as stack:
        batch = plan("claim", 4)  # the three dependencies and one product
        rackbeat = stack.rackbeat
        create_dependencies(rackbeat, batch, quietly=True)
        [number] = batch.products
        rackbeat.create(
            "products",
            {
                "number": number,
                "name": f"Chaos item {number} v1",
                "group_id": batch.product_group,
                "sales_price": 10.0,
            },
            suppress=True,
        )
        batch.customer_count = 0
        # What the receiver leaves when Redis stops between its claim and the publish:
        markers = PendingMarkers(stack.redis, stack.connection_id)
        assert markers.mark("product", number, "task-never-published", ttl_seconds=CLAIM_SECONDS)
        time.sleep(PUBLISH_GRACE_MS / 1000 + 0.1)  # Rackbeat's retry comes after the 503, not at once

        answers = post_deliveries(stack, deliveries(batch), threads=1)
        assert answers == {202: 4}  # Rackbeat is told every one was taken: it will not deliver again
        settled, _ = settle(stack, timeout=30, quiet=1.0)
        counted = tally(stack, batch)
    assert settled
    assert counted.lost == 0, "\n".join(counted.problems)
