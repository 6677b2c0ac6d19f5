"""Consumers joining and leaving the group mid-drain: the rows end as exactly the acked users.

Two API instances accept a burst on the cluster; the events wait on a 6-partition topic.
Two throttled `fcfs consume` processes start draining, a third joins (the group rebalances
while batches are in flight), then the first leaves on SIGTERM (rebalances again). Offsets
are committed only after the database commit and inserts are idempotent, so nothing is
lost and nothing is doubled.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from fcfs.entrypoints.demo import user_order
from tests.support.deployment import (
    ClusterSettings,
    Deployment,
    assert_invariants,
    assigned_partitions,
    coupons_on_distinct_primaries,
    deployed,
    granted_pairs,
    start_consumer,
)
from tests.support.pipeline import issued_pairs
from tests.support.redis_cluster import RedisTestCluster

pytestmark = pytest.mark.faults

USERS, STOCK, RATE = 6_000, 1_500, 300.0  # 4,500 events; 2 consumers at 300 records/s each need ~7.5 s


async def rows_reach(database_url: str, count: int, deployment: Deployment, timeout: float = 120.0) -> int:
    async with asyncio.timeout(timeout):
        while (rows := len(await issued_pairs(database_url))) < count:
            for consumer in deployment.consumers:
                assert consumer.poll() is None or consumer.returncode == 0, f"a consumer died ({consumer.returncode})"
            await asyncio.sleep(0.1)
    return rows


async def wait_for_assignment(tmp_path: Path, name: str, timeout: float = 60.0) -> list[int]:
    async with asyncio.timeout(timeout):
        while not (assignments := [found for found in assigned_partitions(tmp_path, name) if found]):
            await asyncio.sleep(0.1)
    return assignments[-1]


async def test_a_consumer_joining_and_one_leaving_mid_drain_leave_rows_equal_to_the_acked_users(
    redis_cluster: RedisTestCluster, cluster_settings: ClusterSettings, tmp_path: Path
) -> None:
    settings = cluster_settings(redis_cluster, consumer_batch=100, consumer_max_rate=RATE)
    async with deployed(settings, tmp_path, instances=2) as deployment:
        coupons = coupons_on_distinct_primaries(deployment.base_urls[0], redis_cluster, 3, STOCK)
        result = await deployment.burst(user_order(USERS, 0), list(coupons))
        granted = granted_pairs(result)
        total = len(granted)
        assert total == 3 * STOCK

        started = time.perf_counter()
        first = start_consumer(deployment, tmp_path, "consumer-1")
        start_consumer(deployment, tmp_path, "consumer-2")
        rows_at_join = await rows_reach(settings.database_url, total // 5, deployment)
        start_consumer(deployment, tmp_path, "consumer-3")
        third_got = await wait_for_assignment(tmp_path, "consumer-3")
        rows_at_leave = await rows_reach(settings.database_url, rows_at_join + total // 5, deployment)
        first.send_signal(signal.SIGTERM)
        first_exit = await asyncio.to_thread(first.wait, 30)
        audits = await deployment.drained_audits(coupons, result)
        drained = time.perf_counter() - started
        await asyncio.sleep(1.0)  # a redelivery after the last new row must add nothing
        pairs = await issued_pairs(settings.database_url)

    history = {name: assigned_partitions(tmp_path, name) for name in ("consumer-1", "consumer-2", "consumer-3")}
    print(f"{total} acked; third joined at {rows_at_join} rows (got partitions {third_got}), first left at "
          f"{rows_at_leave}; drained in {drained:.1f}s; assignments {history}")  # fmt: skip
    assert first_exit == 0
    assert rows_at_leave < total, "the first consumer must leave mid-drain"
    assert len(pairs) == len(set(pairs)) == total
    assert set(pairs) == granted
    assert_invariants(result, audits)
    assert history["consumer-2"][-1], "after the first left, the second still owns partitions"
    assert len(set(history["consumer-2"][-1]) | set(history["consumer-3"][-1])) == settings.topic_partitions
