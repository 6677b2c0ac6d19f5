"""Resharding under load: `redis-cli --cluster reshard` moves a hot coupon's slot to another primary mid-burst.

While the slot migrates, the cluster answers ASK (keys already moved), TRYAGAIN (a script's
keys split between the two primaries) and, once it moved, MOVED; redis-py follows them. The
claim is that none of this turns into a wrong answer: every grant has its row, every
"already issued" is true, every "try again" issued nothing, and the invariants hold.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from fcfs.bootstrap.container import ensure_topics
from fcfs.entrypoints.demo import GRANTED, user_order
from tests.integration.cluster_support import RedisTestCluster, coupon_slot
from tests.integration.scale.support import (
    Deployment,
    assert_invariants,
    attempt_pairs,
    coupons_on_distinct_primaries,
    drained_audits,
    issue_requests,
    pairs_answered,
    scale_settings,
    split_burst,
    start_consumer,
    start_instances,
)

pytestmark = pytest.mark.faults

USERS, REPEATS, STOCK = 10_000, 1_000, 4_000


async def test_moving_a_hot_coupons_slot_to_another_primary_mid_burst_gives_no_wrong_answer(
    fresh_cluster: RedisTestCluster,
    database_url: str,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    settings = scale_settings(
        database_url=database_url,
        cluster_url=fresh_cluster.url,
        kafka_bootstrap=kafka_bootstrap,
        topics=topics,
        prefix=redis_prefix,
        data_dir=tmp_path,
        sold_out_ttl_seconds=0.0,  # every attempt, sold out or not, runs the gate's script on the moving slot
    )
    await ensure_topics(settings)
    deployment = Deployment(settings)
    try:
        await start_instances(deployment, 2, tmp_path)
        for name in ("consumer-1", "consumer-2"):
            start_consumer(deployment, tmp_path, name)
        coupon_id = next(iter(coupons_on_distinct_primaries(deployment.base_urls[0], fresh_cluster, 1, STOCK)))
        slot = coupon_slot(coupon_id)
        source = fresh_cluster.owner(slot)
        others = [primary for primary in fresh_cluster.primaries() if primary.port != source.port]
        if below := fresh_cluster.slots_below(slot):  # redis-cli moves a primary's lowest slots first
            fresh_cluster.reshard(below, source, others[0])
        source, target = fresh_cluster.owner(slot), others[1]
        assert fresh_cluster.slots_below(slot) == 0
        print(f"coupon {coupon_id}: slot {slot} moves from :{source.port} to :{target.port} during the burst")

        answered = 0
        marks: dict[str, int] = {}

        def count(_: int) -> None:
            nonlocal answered
            answered += 1

        async def reshard_when_busy() -> float:
            while answered < 2_500:  # the slot holds the stock, the users and thousands of idempotency keys
                await asyncio.sleep(0.01)
            marks["start"] = answered
            seconds = await asyncio.to_thread(fresh_cluster.reshard, 1, source, target)
            marks["end"] = answered
            return seconds

        requests = issue_requests(attempt_pairs(user_order(USERS, REPEATS), [coupon_id]), idempotency_keys=True)
        started = time.perf_counter()
        result, reshard_seconds = await asyncio.gather(
            split_burst(deployment.base_urls, requests, 500, on_answer=count), reshard_when_busy()
        )
        burst_seconds = time.perf_counter() - started
        audits = await drained_audits(settings, [coupon_id], pairs_answered(result, GRANTED))
    finally:
        deployment.close()

    print(f"reshard took {reshard_seconds:.2f}s, between answers {marks['start']} and {marks['end']} "
          f"of {len(result.answers)} ({burst_seconds:.1f}s): {dict(sorted(result.by_code.items()))}")  # fmt: skip
    assert fresh_cluster.owner(slot).port == target.port
    assert marks["end"] < len(requests), "the slot must finish moving while requests still arrive"
    assert_invariants(result, audits)
    assert audits[coupon_id].rows == STOCK
