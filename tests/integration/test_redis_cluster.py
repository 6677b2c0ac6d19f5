"""The Redis adapters against a three-primary Redis Cluster started for this module.

Proves the hash tags keep each coupon in one slot (so the scripts run), that NOSCRIPT from
the node owning a slot is repaired by reloading, and that a burst larger than the pool waits
instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from fcfs.adapters.redis.client import RedisClient, RedisHealthCheck, create_client
from fcfs.adapters.redis.gate import RedisIssuanceGate
from fcfs.adapters.redis.locks import RedisDistributedLock, RedisSpinLock
from fcfs.adapters.redis.scripting import script
from fcfs.adapters.redis.unconfirmed import RedisUnconfirmedEvents
from fcfs.bootstrap.embedded import EmbeddedServiceMissing, redis_server_binary, wait_for_port
from fcfs.domain.errors import GateError
from fcfs.domain.events import CouponIssued
from fcfs.domain.issuance import GateVerdict

PRIMARIES = 3
SLOTS = 16384


def _cluster_ports() -> list[int]:
    """Free ports whose cluster bus ports (port + 10000) are free too."""
    ports: list[int] = []
    while len(ports) < PRIMARIES:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 > 65535 or port in ports:
            continue
        with contextlib.suppress(OSError), socket.socket() as bus:
            bus.bind(("127.0.0.1", port + 10000))
            ports.append(port)
    return ports


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    try:
        binary = redis_server_binary()
    except EmbeddedServiceMissing as exc:
        pytest.skip(str(exc))
    workdir = Path(tempfile.mkdtemp(prefix="fcfs-redis-cluster-"))
    ports = _cluster_ports()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            node_dir = workdir / str(port)
            node_dir.mkdir()
            argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no",
                    "--dir", str(node_dir)]  # fmt: skip
            log = (node_dir / "redis.log").open("ab")
            processes.append(subprocess.Popen(argv, cwd=node_dir, stdout=log, stderr=subprocess.STDOUT))
            wait_for_port(port, process=processes[-1])
        _form_cluster(ports)
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def _form_cluster(ports: list[int]) -> None:
    nodes = [redis.Redis(port=port) for port in ports]
    share = SLOTS // PRIMARIES
    for index, node in enumerate(nodes):
        last = SLOTS - 1 if index == PRIMARIES - 1 else (index + 1) * share - 1
        node.execute_command("CLUSTER ADDSLOTS", *range(index * share, last + 1))
    for port in ports[1:]:
        nodes[0].execute_command("CLUSTER MEET", "127.0.0.1", port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        infos = [node.cluster("INFO") for node in nodes]
        if all(info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == PRIMARIES for info in infos):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the test cluster did not converge")
    for node in nodes:
        node.close()


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
