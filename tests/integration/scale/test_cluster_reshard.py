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

from fcfs.entrypoints.demo import user_order
from tests.support.deployment import (
    ClusterSettings,
    assert_invariants,
    coupons_on_distinct_primaries,
    deployed,
)
from tests.support.redis_cluster import RedisTestCluster, coupon_slot

pytestmark = pytest.mark.faults

USERS, REPEATS, STOCK = 10_000, 1_000, 4_000


async def test_moving_a_hot_coupons_slot_to_another_primary_mid_burst_gives_no_wrong_answer(
    fresh_cluster: RedisTestCluster, cluster_settings: ClusterSettings, tmp_path: Path
) -> None:
    settings = cluster_settings(
        fresh_cluster,
        sold_out_ttl_seconds=0.0,  # every attempt, sold out or not, runs the gate's script on the moving slot
    )
    async with deployed(settings, tmp_path, instances=2, consumers=2) as deployment:
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

        users = user_order(USERS, REPEATS)
        started = time.perf_counter()
        result, reshard_seconds = await asyncio.gather(
            deployment.burst(users, [coupon_id], idempotency_keys=True, on_answer=count), reshard_when_busy()
        )
        burst_seconds = time.perf_counter() - started
        audits = await deployment.drained_audits([coupon_id], result)

    print(f"reshard took {reshard_seconds:.2f}s, between answers {marks['start']} and {marks['end']} "
          f"of {len(result.answers)} ({burst_seconds:.1f}s): {dict(sorted(result.by_code.items()))}")  # fmt: skip
    assert fresh_cluster.owner(slot).port == target.port
    assert marks["end"] < len(users), "the slot must finish moving while requests still arrive"
    assert_invariants(result, audits)
    assert audits[coupon_id].rows == STOCK
