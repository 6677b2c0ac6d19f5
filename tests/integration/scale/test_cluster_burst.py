"""Scale-out on a real 3-primary Redis Cluster: two API instances, two consumers, three coupons on three primaries.

Each coupon's keys share the hash tag `{c:<id>}`, so each coupon is served by the primary
owning that slot; the burst spreads over all three, and every invariant of docs/design.md §1
is checked per coupon against the rows, the cluster's keys and the answers.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from fcfs.entrypoints.demo import GRANTED, user_order
from tests.support.deployment import (
    ClusterSettings,
    assert_invariants,
    coupons_on_distinct_primaries,
    deployed,
)
from tests.support.redis_cluster import RedisTestCluster

USERS, REPEATS, STOCK = 10_000, 1_000, 1_000


async def test_ten_thousand_users_over_three_coupons_on_three_primaries_hold_every_invariant(
    redis_cluster: RedisTestCluster, cluster_settings: ClusterSettings, tmp_path: Path
) -> None:
    settings = cluster_settings(redis_cluster)
    async with deployed(settings, tmp_path, instances=2, consumers=2) as deployment:
        slots = coupons_on_distinct_primaries(deployment.base_urls[0], redis_cluster, 3, STOCK)
        for coupon_id, slot in slots.items():
            owner = redis_cluster.owner(slot)
            print(f"coupon {coupon_id}: slot {slot} on primary 127.0.0.1:{owner.port} ({owner.node_id[:8]})")
        assert len({redis_cluster.owner(slot).port for slot in slots.values()}) == 3

        started = time.perf_counter()
        result = await deployment.burst(user_order(USERS, REPEATS), list(slots))
        burst_seconds = time.perf_counter() - started
        audits = await deployment.drained_audits(slots, result)
        drained_seconds = time.perf_counter() - started

    print(f"{len(result.answers)} answers in {burst_seconds:.1f}s ({result.throughput:.0f} req/s), "
          f"drained after {drained_seconds:.1f}s: {dict(sorted(result.by_code.items()))}")  # fmt: skip
    assert_invariants(result, audits)
    assert all(audit.rows == STOCK for audit in audits.values()), "each coupon sells out: demand is 3x its stock"
    assert sum(result.by_code[code] for code in GRANTED) == 3 * STOCK


async def test_an_instance_in_cluster_mode_refuses_a_process_local_strategy(
    redis_cluster: RedisTestCluster, cluster_settings: ClusterSettings, tmp_path: Path
) -> None:
    settings = cluster_settings(redis_cluster, instances=1)
    async with deployed(settings, tmp_path, instances=1) as deployment:
        coupon_id = next(iter(coupons_on_distinct_primaries(deployment.base_urls[0], redis_cluster, 1, 10)))
        with httpx.Client(base_url=deployment.base_urls[0], timeout=30) as client:
            local = client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=atomic", json={"userId": 1})
            safe = client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=lua", json={"userId": 2})

    assert (local.status_code, local.json()["code"]) == (400, "C008")
    assert "FCFS_REDIS_CLUSTER" in local.json()["message"]
    assert "FCFS_ALLOW_PROCESS_LOCAL" in local.json()["message"]
    assert (safe.status_code, safe.json()["code"]) == (200, "200")
