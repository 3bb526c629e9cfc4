"""Known loss (product bug, reported, not fixed here): a delivery retried onto a pending claim that an outage
left behind is answered 202 and its record is never transferred.

How `bench.chaos` met it (`redis-term`, Redis stopped while Rackbeat was still delivering): the receiver's
`enqueue_export` claimed `pending:product:<key>` (SET NX, `pending_claim_seconds` = 10 s), Redis stopped
before the task was published, taking the claim back failed too, and the delivery got a 503. Rackbeat
delivered again 1 s and 2 s later; the second retry met Redis back up and the claim still alive (it was
written to the AOF and survived the restart), so `PendingMarkers.mark` said "already queued", the receiver
answered 202 `coalesced`, Rackbeat stopped retrying, and the claim expired with no task behind it. The AOF
of that run held `SET pending:product:<key> <task id> PXAT ...`, then only the expiry's `DEL`, and no
message for the task id.

This test leaves that exact state on purpose (a claim whose task was never published) instead of waiting for
the race, then delivers the record the way Rackbeat's retry does. It is expected to fail until the receiver
stops coalescing onto a claim that was never confirmed (for instance: answer 503 while the marker is an
unconfirmed claim, so Rackbeat retries until it expires, or take the claim over when it is older than a
publish takes); then strict xfail turns it into a failure, and the marker should go.
"""

from __future__ import annotations

import pytest

from bench._chaos_records import create_dependencies, deliveries, plan, tally
from bench._chaos_stack import ChaosSettings, ChaosStack
from bench.chaos import post_deliveries, settle
from tasks.sync.pending import PendingMarkers

pytestmark = pytest.mark.slow

CLAIM_SECONDS = 3  # as left by the outage (the real claim lives pending_claim_seconds, 10 s by default)


@pytest.mark.xfail(
    strict=True,
    reason="product bug: the receiver coalesces a delivery onto an unconfirmed pending claim left by a"
    " Redis outage between claim and publish (tasks/transfer.py enqueue_export, tasks/sync/pending.py)",
)
def test_a_delivery_retried_onto_a_claim_an_outage_left_behind_still_transfers_its_record() -> None:
    with ChaosStack(ChaosSettings(), label="chaos-claim") as stack:
        batch = plan("claim", 4)  # the three dependencies and one product
        rackbeat = stack.rackbeat
        create_dependencies(rackbeat, batch, quietly=True)
        [number] = batch.products
        rackbeat.create("products", {"number": number, "name": f"Chaos item {number} v1",
                                     "group_id": batch.product_group, "sales_price": 10.0}, suppress=True)
        batch.customer_count = 0
        # What the receiver leaves when Redis stops between its claim and the publish:
        markers = PendingMarkers(stack.redis, stack.connection_id)
        assert markers.mark("product", number, "task-never-published", ttl_seconds=CLAIM_SECONDS)

        answers = post_deliveries(stack, deliveries(batch), threads=1)
        assert answers == {202: 4}  # Rackbeat is told every one was taken: it will not deliver again
        settled, _ = settle(stack, timeout=30, quiet=1.0)
        counted = tally(stack, batch)
    assert settled
    assert counted.lost == 0, "\n".join(counted.problems)
