"""Scale-out on a real 3-primary Redis Cluster: two API instances, two consumers, three coupons on three primaries.

Each coupon's keys share the hash tag `{c:<id>}`, so each coupon is served by the primary
owning that slot; the burst spreads over all three, and every invariant of DESIGN.md §1
is checked per coupon against the rows, the cluster's keys and the answers.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from fcfs.bootstrap.container import ensure_topics
from fcfs.entrypoints.demo import GRANTED, user_order
from tests.integration.cluster_support import RedisTestCluster
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

USERS, REPEATS, STOCK = 10_000, 1_000, 1_000


async def test_ten_thousand_users_over_three_coupons_on_three_primaries_hold_every_invariant(
    redis_cluster: RedisTestCluster,
    database_url: str,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    settings = scale_settings(
        database_url=database_url,
        cluster_url=redis_cluster.url,
        kafka_bootstrap=kafka_bootstrap,
        topics=topics,
        prefix=redis_prefix,
        data_dir=tmp_path,
    )
    await ensure_topics(settings)
    deployment = Deployment(settings)
    try:
        await start_instances(deployment, 2, tmp_path)
        for name in ("consumer-1", "consumer-2"):
            start_consumer(deployment, tmp_path, name)
        slots = coupons_on_distinct_primaries(deployment.base_urls[0], redis_cluster, 3, STOCK)
        for coupon_id, slot in slots.items():
            owner = redis_cluster.owner(slot)
            print(f"coupon {coupon_id}: slot {slot} on primary 127.0.0.1:{owner.port} ({owner.node_id[:8]})")
        assert len({redis_cluster.owner(slot).port for slot in slots.values()}) == 3

        started = time.perf_counter()
        result = await split_burst(
            deployment.base_urls, issue_requests(attempt_pairs(user_order(USERS, REPEATS), list(slots))), 500
        )
        burst_seconds = time.perf_counter() - started
        audits = await drained_audits(settings, slots, pairs_answered(result, GRANTED))
        drained_seconds = time.perf_counter() - started
    finally:
        deployment.close()

    print(f"{len(result.answers)} answers in {burst_seconds:.1f}s ({result.throughput:.0f} req/s), "
          f"drained after {drained_seconds:.1f}s: {dict(sorted(result.by_code.items()))}")  # fmt: skip
    assert_invariants(result, audits)
    assert all(audit.rows == STOCK for audit in audits.values()), "each coupon sells out: demand is 3x its stock"
    assert sum(result.by_code[code] for code in GRANTED) == 3 * STOCK


async def test_an_instance_in_cluster_mode_refuses_a_process_local_strategy(
    redis_cluster: RedisTestCluster,
    database_url: str,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    settings = scale_settings(
        database_url=database_url,
        cluster_url=redis_cluster.url,
        kafka_bootstrap=kafka_bootstrap,
        topics=topics,
        prefix=redis_prefix,
        data_dir=tmp_path,
        instances=1,
    )
    deployment = Deployment(settings)
    try:
        await start_instances(deployment, 1, tmp_path)
        coupon_id = next(iter(coupons_on_distinct_primaries(deployment.base_urls[0], redis_cluster, 1, 10)))
        with httpx.Client(base_url=deployment.base_urls[0], timeout=30) as client:
            local = client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=atomic", json={"userId": 1})
            safe = client.post(f"/api/v1/coupons/{coupon_id}/issue?strategy=lua", json={"userId": 2})
    finally:
        deployment.close()

    assert (local.status_code, local.json()["code"]) == (400, "C008")
    assert "FCFS_REDIS_CLUSTER" in local.json()["message"]
    assert "FCFS_ALLOW_PROCESS_LOCAL" in local.json()["message"]
    assert (safe.status_code, safe.json()["code"]) == (200, "200")
