"""Both Redis locks (redis-py's leased lock and the SET NX PX spin lock) against real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from fcfs.adapters.redis.client import RedisClient
from fcfs.adapters.redis.locks import RedisDistributedLock, RedisSpinLock
from fcfs.domain.errors import GateError, WaitTimedOut
from fcfs.ports.locks import KeyedLock

LockMaker = Callable[..., KeyedLock]


@pytest.fixture
def client(adapter_redis: RedisClient) -> RedisClient:
    return adapter_redis


@pytest.fixture(params=["distributed", "spin"])
def make_lock(request: pytest.FixtureRequest, client: RedisClient, redis_prefix: str) -> LockMaker:
    kind = RedisDistributedLock if request.param == "distributed" else RedisSpinLock

    def make(*, lease: float = 10.0, wait: float = 5.0) -> KeyedLock:
        return kind(client, redis_prefix, lease, wait)

    return make


async def test_five_hundred_holders_never_overlap(make_lock: LockMaker) -> None:
    lock = make_lock(lease=30.0, wait=120.0)
    counter = 0
    inside = 0
    most_inside = 0

    async def increment() -> None:
        nonlocal counter, inside, most_inside
        async with lock.hold("c:1"):
            inside += 1
            most_inside = max(most_inside, inside)
            seen = counter
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            counter = seen + 1
            inside -= 1

    await asyncio.gather(*(increment() for _ in range(500)))

    assert counter == 500
    assert most_inside == 1


async def test_lock_key_carries_the_hash_tag_and_the_lease(
    make_lock: LockMaker, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    async with make_lock(lease=7.0).hold("c:42"):
        ttl_ms = await redis_client.pttl(f"{redis_prefix}:{{c:42}}:lock")
        assert 0 < ttl_ms <= 7_000

    assert await redis_client.exists(f"{redis_prefix}:{{c:42}}:lock") == 0


async def test_waiter_times_out_while_the_lock_is_held_past_its_wait(make_lock: LockMaker) -> None:
    holder, waiter = make_lock(), make_lock(wait=0.3)
    async with holder.hold("c:1"):
        started = time.monotonic()
        with pytest.raises(WaitTimedOut):
            async with waiter.hold("c:1"):
                pytest.fail("the waiter entered a held lock")
        waited = time.monotonic() - started

    assert 0.2 <= waited < 2.0


async def test_different_keys_do_not_block_each_other(make_lock: LockMaker) -> None:
    lock = make_lock(wait=0.2)
    async with lock.hold("c:1"), lock.hold("c:2"):
        pass


async def test_lease_expiry_frees_a_lock_abandoned_by_a_crashed_holder(make_lock: LockMaker) -> None:
    crashed = make_lock(lease=0.4).hold("c:1")
    await crashed.__aenter__()  # and never exits: the process died holding it
    started = time.monotonic()

    async with make_lock(wait=5.0).hold("c:1"):
        waited = time.monotonic() - started

    assert 0.2 <= waited < 3.0


async def test_late_release_never_frees_the_next_holders_lock(
    make_lock: LockMaker, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    key = f"{redis_prefix}:{{c:1}}:lock"
    slow = make_lock(lease=0.3).hold("c:1")
    await slow.__aenter__()
    await asyncio.sleep(0.5)  # the slow holder overran its lease

    async with make_lock(lease=10.0, wait=1.0).hold("c:1"):
        owner = await redis_client.get(key)
        await slow.__aexit__(None, None, None)  # releases late: must not delete the new holder's lock

        assert await redis_client.get(key) == owner
        with pytest.raises(WaitTimedOut):
            async with make_lock(wait=0.2).hold("c:1"):
                pytest.fail("a third holder entered while the second still held the lock")

    assert await redis_client.exists(key) == 0


async def test_release_after_the_body_raised_keeps_the_error_and_frees_the_lock(
    make_lock: LockMaker, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with make_lock().hold("c:1"):
            _ = 1 / 0

    assert await redis_client.exists(f"{redis_prefix}:{{c:1}}:lock") == 0


@pytest.mark.parametrize("kind", [RedisDistributedLock, RedisSpinLock])
async def test_unreachable_redis_is_a_gate_error_not_a_timeout(
    kind: type[RedisSpinLock], unreachable_redis: RedisClient
) -> None:
    with pytest.raises(GateError):
        async with kind(unreachable_redis, "fcfs-t-down", 1.0, 1.0).hold("c:1"):
            pytest.fail("entered a lock on a Redis that is down")


def test_lock_names_cannot_move_the_hash_tag(client: RedisClient, redis_prefix: str) -> None:
    lock = RedisSpinLock(client, redis_prefix, 1.0, 1.0)
    for bad in ["", "a}b", "{c:1}", "with space"]:
        with pytest.raises(ValueError):
            lock.hold(bad)
