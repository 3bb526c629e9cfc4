"""bench.chaos_receiver_fuzz in small: 300 fuzzed requests (fixed seed) against a real `python -m web`.

No answer may be a 5xx, no bad request may be accepted or leave a transfer on the receiver's broker queue,
and every valid control mixed in must be accepted and queued once (so the test cannot pass by refusing all).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import redis

from bench.chaos_receiver_fuzz import EVENTS, generate, send, tally
from tests.web.support import WebProcess, queued_transfers, registered_token

SEED = 20260
REQUESTS = 300
TIME_BUDGET_SECONDS = 20


def test_fuzzed_deliveries_get_no_5xx_and_only_the_controls_are_queued(
    service_redis: redis.Redis, web_process: WebProcess
) -> None:
    tokens = {event: uuid.uuid4().hex for event in EVENTS}
    for event, token in tokens.items():
        registered_token(service_redis, web_process.settings, event, token)
    cases = generate(REQUESTS, SEED, tokens)
    before = queued_transfers(service_redis, web_process.settings)

    began = time.perf_counter()
    answers = send(web_process.receiver_url, cases, concurrency=4, max_seconds=TIME_BUDGET_SECONDS)
    seconds = time.perf_counter() - began

    after = Counter(queued_transfers(service_redis, web_process.settings))
    queued = list((after - Counter(before)).elements())
    figures = tally(cases, answers, queued, seconds)
    assert figures.sent == REQUESTS, figures.classes
    assert figures.server_errors == 0, figures.problems
    assert figures.bad_accepted == 0, figures.problems
    assert figures.bad_queued == 0, figures.problems
    controls = [case.control for case in cases if case.control is not None]
    assert len(controls) >= 20  # the mix really holds valid deliveries
    assert figures.controls_accepted == figures.controls == len(controls), figures.problems
    assert sorted(queued) == sorted(controls)  # each control queued once, nothing else
    assert seconds < TIME_BUDGET_SECONDS
    # the mix reached the checks it is about, not only the token check
    assert figures.classes["4xx"] > REQUESTS // 2
    assert any(defect.startswith("deep-nesting/right-token 4xx") for defect in figures.by_defect)
