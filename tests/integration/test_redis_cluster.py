"""The Redis adapters against a three-primary Redis Cluster started for this module.

Proves the hash tags keep each coupon in one slot (so the scripts run), that NOSCRIPT from
the node owning a slot is repaired by reloading, and that a burst larger than the pool waits
instead of failing.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from fcfs.adapters.redis.client import RedisClient, RedisHealthCheck, create_client
from fcfs.adapters.redis.gate import RedisIssuanceGate
from fcfs.adapters.redis.locks import RedisDistributedLock, RedisSpinLock
from fcfs.adapters.redis.scripting import script
from fcfs.adapters.redis.unconfirmed import RedisUnconfirmedEvents
from fcfs.domain.errors import GateError
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import GateVerdict
from tests.support.services import cluster_for_test

PRIMARIES = 3
SLOTS = 16384


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    for running in cluster_for_test(PRIMARIES):
        yield running.url


@pytest.fixture
async def cluster(cluster_url: str) -> AsyncIterator[RedisClient]:
    client = create_client(cluster_url, cluster=True, max_connections=50, timeout=5.0)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"fcfs-t-{time.monotonic_ns()}"


async def test_gate_works_for_coupons_on_every_node(cluster: RedisClient, prefix: str) -> None:
    gate = RedisIssuanceGate(cluster, prefix)
    coupons = range(1, 31)  # thirty hash tags spread over all three primaries

    for coupon in coupons:
        await gate.load_stock(coupon, 1, [99])
        assert await gate.try_issue(coupon, 1) is GateVerdict.ISSUED
        assert await gate.try_issue(coupon, 1) is GateVerdict.ALREADY_ISSUED
        assert await gate.try_issue(coupon, 2) is GateVerdict.SOLD_OUT
        assert await gate.compensate(coupon, 1) is True
        assert await gate.users(coupon) == {99}
        assert await gate.remaining(coupon) == 1
        await gate.forget(coupon)

    assert {key_slot(f"{prefix}:{{c:{coupon}}}".encode()) * PRIMARIES // SLOTS for coupon in coupons} == {0, 1, 2}


async def test_noscript_from_the_owning_node_is_repaired_by_reloading(cluster: RedisClient, prefix: str) -> None:
    assert isinstance(cluster, RedisCluster)
    gate = RedisIssuanceGate(cluster, prefix)
    await gate.load_stock(5, 3, [])
    assert await gate.try_issue(5, 1) is GateVerdict.ISSUED
    owner = cluster.get_node_from_key(f"{prefix}:{{c:5}}:stock")
    node = aioredis.Redis(host=owner.host, port=int(owner.port))
    await node.script_flush()  # only the node owning coupon 5's slot forgets the scripts

    assert await gate.try_issue(5, 2) is GateVerdict.ISSUED
    assert await node.script_exists(script("issue").sha) == [True]
    await cluster.script_flush()  # and now every primary
    assert await gate.compensate(5, 2) is True
    await node.aclose()
    await gate.forget(5)


async def test_a_burst_larger_than_the_pool_waits_instead_of_failing(cluster_url: str, prefix: str) -> None:
    client = create_client(cluster_url, cluster=True, max_connections=10, timeout=10.0)
    gate = RedisIssuanceGate(client, prefix)
    try:
        await gate.load_stock(9, 50, [])

        verdicts = await asyncio.gather(*(gate.try_issue(9, user) for user in range(1, 1001)))

        assert verdicts.count(GateVerdict.ISSUED) == 50
        assert len(await gate.users(9)) == 50
        assert await gate.remaining(9) == 0
        await gate.forget(9)
    finally:
        await client.aclose()


@pytest.mark.parametrize("kind", [RedisDistributedLock, RedisSpinLock])
async def test_locks_exclude_each_other_on_a_cluster(
    cluster: RedisClient, prefix: str, kind: type[RedisSpinLock]
) -> None:
    lock = kind(cluster, prefix, 10.0, 30.0)
    counter = 0

    async def increment() -> None:
        nonlocal counter
        async with lock.hold("c:3"):
            seen = counter
            await asyncio.sleep(0)
            counter = seen + 1

    await asyncio.gather(*(increment() for _ in range(100)))

    assert counter == 100


async def test_unconfirmed_events_round_trip_on_a_cluster(cluster: RedisClient, prefix: str) -> None:
    ledger = RedisUnconfirmedEvents(cluster, prefix)
    event = CouponIssued("e-1", 4, 8, datetime(2025, 1, 1, tzinfo=UTC))

    await ledger.record(event)
    assert await ledger.list(4) == [event]
    await ledger.settle(event)
    assert await ledger.list(4) == []


async def test_health_check_pings_the_cluster(cluster: RedisClient) -> None:
    await RedisHealthCheck(cluster).check()


async def test_unreachable_cluster_is_a_gate_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = create_client(f"redis://127.0.0.1:{port}/0", cluster=True, timeout=0.5)
    try:
        with pytest.raises(GateError):
            await RedisIssuanceGate(client, "fcfs-t-down").try_issue(1, 1)
        with pytest.raises(GateError):
            await RedisHealthCheck(client).check()
    finally:
        await client.aclose()
